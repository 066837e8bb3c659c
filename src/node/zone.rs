//! `bns zone export`: a namespace zone of a local index as an RFC 1035
//! master file, the same RRs a secondary gets by AXFR.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{anyhow, Context};

use crate::dns::xfr::{export, Exported};
use crate::store::Store;

use super::names::StoreNames;

/// The DNS view of the index in `data_dir`, as the node that serves it
/// answers (read-only: nothing is written).
pub fn view(data_dir: &Path) -> anyhow::Result<std::sync::Arc<crate::dns::Snapshot>> {
    let db = super::db_path(data_dir);
    if !db.exists() {
        return Err(anyhow!(
            "no index in {}: start `bns dev` or `bns node` there first (or pass --data-dir)",
            data_dir.display()
        ));
    }
    let params = crate::api::inspect::stored_params(&Store::open_readonly(&db)?)?;
    let faces = crate::config::load_faces(&data_dir.join("bns.toml"), false)?;
    let names = StoreNames::open_view(&db, params, super::apex_config(&faces, None)?)?;
    Ok(names.snapshot())
}

/// Writes namespace `ns` of the index in `data_dir` to `out` (stdout when
/// `None`; a file is written to a temporary name and renamed when complete).
pub fn export_zone(data_dir: &Path, ns: &str, out: Option<&Path>) -> anyhow::Result<Exported> {
    let snap = view(data_dir)?;
    let missing = || {
        let known: Vec<String> = snap.namespace_ids().iter().map(|n| String::from_utf8_lossy(n).into_owned()).collect();
        anyhow!(
            "{ns} is not a namespace of this index (ready, or revealed and in its window); namespaces: {}",
            known.join(", ")
        )
    };
    match out {
        None => {
            let mut w = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let done = export(&snap, ns, &mut w)?.ok_or_else(missing)?;
            w.flush()?;
            Ok(done)
        }
        Some(path) => {
            let tmp = path.with_extension("tmp");
            let file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let done = match export(&snap, ns, &mut w)? {
                Some(d) => d,
                None => {
                    drop(w);
                    let _ = std::fs::remove_file(&tmp);
                    return Err(missing());
                }
            };
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))?;
            Ok(done)
        }
    }
}
