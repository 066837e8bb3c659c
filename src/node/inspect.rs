//! What the query commands print. The JSON builders live in the API face
//! ([`crate::api::inspect`], [`crate::api::explain`]) so the CLI and
//! `GET /v1/...` print the same thing; re-exported here for the CLI.

pub use crate::api::explain::explain;
pub use crate::api::inspect::*;
