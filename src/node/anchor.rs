//! `bns dnssec anchor`: what a validator needs to trust this install's
//! answers, for every namespace whose DNS policy is `bns` (a `bns-first` or
//! `icann` namespace also carries ICANN names bns does not sign, so an
//! anchor there would break them).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::dns::dnssec::{ZoneKey, ALGORITHM};
use crate::dns::{tld, Policy};

/// Output format of the anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AnchorFormat {
    /// DS records, one per line (also a systemd-resolved `.positive` file).
    Ds,
    /// unbound `trust-anchor:` lines (`server:` section).
    Unbound,
    /// A BIND / delv `trust-anchors { ... };` clause.
    Bind,
    /// systemd-resolved `/etc/dnssec-trust-anchors.d/bns.positive`.
    Resolved,
}

/// The namespaces of `ids` whose policy is `bns` (the ones bns signs and
/// the DANE proxy pins), and a note for each one left out ("is not `done`").
pub fn pinned_namespaces(
    ids: impl IntoIterator<Item = String>,
    policies: &HashMap<String, Policy>,
    done: &str,
) -> (Vec<String>, Vec<String>) {
    let (mut kept, mut skipped) = (Vec::new(), Vec::new());
    for id in ids {
        let policy = policies.get(&id).copied().unwrap_or_else(|| tld::default_policy(&id));
        if policy == Policy::Bns {
            kept.push(id);
        } else {
            skipped.push(format!(
                ".{id} is not {done}: its policy is {policy}, so it also holds names bns forwards unsigned \
                 (include it with --namespace-policy {id}=bns, which stops those names)"
            ));
        }
    }
    (kept, skipped)
}

/// The anchor text for the namespaces of the index at `data_dir` under
/// `policies`, and a note per namespace left out (and why).
pub fn anchor(
    data_dir: &Path,
    policies: &HashMap<String, Policy>,
    format: AnchorFormat,
) -> anyhow::Result<(String, Vec<String>)> {
    let db = super::db_path(data_dir);
    if !db.exists() {
        anyhow::bail!("no index at {}: start `bns node` (or `bns dev`) with this --data-dir first", db.display());
    }
    let store = crate::store::Store::open_readonly(&db)?;
    let (key, _) = ZoneKey::load_or_create(&data_dir.join(super::DNSSEC_KEY_FILE))?;
    let (ids, skipped) = pinned_namespaces(store.namespace_ids()?, policies, "anchored");
    let mut lines = Vec::new();
    for id in ids {
        let Some(wire) = crate::dns::snapshot::zone::name_wire(&id) else { continue };
        let digest = hex::encode_upper(key.ds_digest(&wire));
        let (tag, line) = (key.tag(), String::new());
        let mut line = line;
        let _ = match format {
            AnchorFormat::Ds | AnchorFormat::Resolved => write!(line, "{id}. IN DS {tag} {ALGORITHM} 2 {digest}"),
            AnchorFormat::Unbound => write!(line, "trust-anchor: \"{id}. DS {tag} {ALGORITHM} 2 {digest}\""),
            AnchorFormat::Bind => write!(line, "  \"{id}.\" static-ds {tag} {ALGORITHM} 2 \"{digest}\";"),
        };
        lines.push(line);
    }
    let body = lines.join("\n");
    let text = match format {
        AnchorFormat::Bind => format!("trust-anchors {{\n{body}\n}};\n"),
        _ if body.is_empty() => String::new(),
        _ => format!("{body}\n"),
    };
    Ok((text, skipped))
}
