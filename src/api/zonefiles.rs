//! Zone files over HTTP, as Core's and the Stacks API serve them (so a bns
//! node is a `--zonefile-source` for others), and the node's Atlas state.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v1/zonefiles/{hash}` | the zone file's bytes (`application/octet-stream`); 404 if not held |
//! | `GET /v1/names/{name}/zonefile/{hash}` | `{"zonefile": text}` if the chain announced `hash` for `name` and it is held |
//! | `GET /v1/atlas/status` | [`crate::atlas::report::status`] |
//! | `GET /v1/atlas/peers` | [`crate::atlas::report::peers`] |

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::{fail, with_store, Ctx, Failure};
use crate::atlas::report;
use crate::hash::ValueHash;

fn parse_hash(text: &str) -> Result<ValueHash, Failure> {
    text.parse().map_err(|_| fail(StatusCode::BAD_REQUEST, format!("{text:?} is not a zone-file hash (40 hex digits)")))
}

/// `GET /v1/zonefiles/{hash}`.
pub(super) async fn by_hash(
    State(ctx): State<Ctx>,
    path: Result<UrlPath<String>, PathRejection>,
) -> Result<Response, Failure> {
    let UrlPath(text) = path.map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))?;
    let hash = parse_hash(&text)?;
    let bytes = with_store(&ctx, move |s| Ok(s.zonefile(&hash)?)).await?;
    match bytes.filter(|b| ValueHash::of_zonefile(b) == hash) {
        Some(b) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], b).into_response()),
        None => Err(fail(StatusCode::NOT_FOUND, format!("zone file {hash} is not held here"))),
    }
}

/// `GET /v1/names/{name}/zonefile/{hash}`.
pub(super) async fn by_name_and_hash(
    State(ctx): State<Ctx>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
) -> Result<Response, Failure> {
    let UrlPath((name, text)) = path.map_err(|e| fail(StatusCode::BAD_REQUEST, e.body_text()))?;
    let hash = parse_hash(&text)?;
    let name = name.to_ascii_lowercase();
    let found = with_store(&ctx, move |s| {
        let announced = s.inventory_name_of(&hash)?.is_some()
            && s.history(&name)?
                .iter()
                .any(|e| e.record.get("value_hash").and_then(|v| v.as_str()) == Some(hash.to_hex().as_str()));
        Ok(if announced { s.zonefile(&hash)? } else { None })
    })
    .await?;
    match found.filter(|b| ValueHash::of_zonefile(b) == hash) {
        Some(b) => match String::from_utf8(b) {
            Ok(text) => Ok(Json(json!({ "zonefile": text })).into_response()),
            Err(_) => Err(fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("zone file {hash} is not UTF-8 text; GET /v1/zonefiles/{hash} for its bytes"),
            )),
        },
        None => Err(fail(StatusCode::NOT_FOUND, format!("no zone file {hash} for this name"))),
    }
}

/// `GET /v1/atlas/status`.
pub(super) async fn atlas_status(State(ctx): State<Ctx>) -> Result<Response, Failure> {
    let (state, listen) = ctx.atlas.clone().ok_or_else(|| fail(StatusCode::NOT_FOUND, "Atlas is not running"))?;
    Ok(Json(report::status(&state, &listen)).into_response())
}

/// `GET /v1/atlas/peers`.
pub(super) async fn atlas_peers(State(ctx): State<Ctx>) -> Result<Response, Failure> {
    let (state, _) = ctx.atlas.clone().ok_or_else(|| fail(StatusCode::NOT_FOUND, "Atlas is not running"))?;
    Ok(Json(report::peers(&state)).into_response())
}
