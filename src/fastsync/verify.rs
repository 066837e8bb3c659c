//! Checking an imported snapshot against a trusted consensus hash.
//!
//! Recomputed: every accepted op's consensus serialization (from the
//! record its history rebuilds, the preorder or namespace record, or the
//! stored line), each block's ops hash from them, and each block's
//! consensus hash from its ops hash and the earlier ones, up to the trusted
//! one at the snapshot's height; that names, namespaces and outstanding
//! preorders are what the history leaves; the Atlas inventory and the
//! zone files. Taken as given: token balances and importer keyrings (they
//! need a replay of the rules), and the Bitcoin block hashes (checked as
//! the node follows the chain on from the snapshot's height).

use std::collections::HashMap;

use crate::bns::consensus_fields as cf;
use crate::bns::ChainParams;
use crate::hash::ConsensusHash;
use crate::store::{Import, Material, OpEvidence};
use crate::virtualchain::consensus::{
    consensus_hash, op_digest, ops_hash_of_leaves, prev_consensus_heights, serialize_op,
};

/// What an import verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// First and last block.
    pub blocks: (u64, u64),
    /// The trusted consensus hash the chain of hashes ended at.
    pub consensus_hash: String,
    /// Accepted ops whose serialization was rebuilt.
    pub ops: u64,
    /// Names checked against their history.
    pub names: u64,
    /// Atlas inventory rows checked.
    pub inventory: u64,
    /// What was not recomputed, and why.
    pub not_verified: Vec<String>,
}

/// The consensus serialization of an op, rebuilt from what the store keeps.
pub fn line(e: &OpEvidence) -> Result<String, String> {
    let x = &e.extra;
    let missing = |what: &str| format!("{} at {}/{} has no {what}", e.opcode, e.height, e.vtxindex);
    let (opchar, fields) = match (&e.material, e.opcode.as_str()) {
        (Material::Line(l), _) => return Ok(l.clone()),
        (Material::Name(r), "NAME_REGISTRATION") => (':', cf::name_register(r)),
        (Material::Name(r), "NAME_RENEWAL") => (':', cf::name_renew_or_import(r)),
        (Material::Name(r), "NAME_IMPORT") => (';', cf::name_renew_or_import(r)),
        (Material::Name(r), "NAME_REVOKE") => ('~', cf::name_revoke(r)),
        (Material::Name(r), "NAME_UPDATE") => {
            let nch = x.name_consensus_hash.ok_or_else(|| missing("name consensus hash"))?;
            let ch = x.consensus_hash.ok_or_else(|| missing("consensus hash"))?;
            ('+', cf::name_update(r, &nch, &ch))
        }
        (Material::Name(r), "NAME_TRANSFER") => {
            let h = x.name_hash128.ok_or_else(|| missing("name hash"))?;
            let ch = x.consensus_hash.ok_or_else(|| missing("consensus hash"))?;
            ('>', cf::name_transfer(r, &h, &ch, x.keep_data.ok_or_else(|| missing("keep_data"))?))
        }
        (Material::Preorder(p), "NAME_PREORDER") => ('?', cf::name_preorder(p)),
        (Material::Preorder(p), "NAMESPACE_PREORDER") => ('*', cf::namespace_preorder(p)),
        (Material::Namespace(n), "NAMESPACE_REVEAL") => ('&', cf::namespace(n, false)),
        (Material::Namespace(n), "NAMESPACE_READY") => ('!', cf::namespace(n, true)),
        (_, op) => return Err(format!("{op} at {}/{}: the record kept is not that op's", e.height, e.vtxindex)),
    };
    Ok(serialize_op(opchar, &fields))
}

/// Verifies an import in progress (see the module doc).
pub fn verify(
    import: &Import<'_>,
    header: &super::Header,
    params: &ChainParams,
    trusted: &ConsensusHash,
) -> anyhow::Result<Report> {
    let blocks = import.blocks()?;
    let (Some(first), Some(last)) = (blocks.first(), blocks.last()) else {
        anyhow::bail!("the snapshot holds no blocks");
    };
    if first.height != params.first_block || last.height != header.height {
        anyhow::bail!(
            "the snapshot's blocks run {}..={}, not from the chain's first block {} to its stated height {}",
            first.height,
            last.height,
            params.first_block,
            header.height
        );
    }
    if let Some(w) = blocks.windows(2).find(|w| w[1].height != w[0].height + 1) {
        anyhow::bail!("the snapshot has no block {}", w[0].height + 1);
    }
    // Every op's leaf, by block.
    let mut leaves: Vec<(u64, [u8; 32])> = Vec::new();
    let mut preorders: HashMap<[u8; 20], [u8; 32]> = HashMap::new();
    let inventory = import.for_each_op(&mut |e| {
        let l = line(&e)?;
        let d = op_digest(&l);
        if let Material::Preorder(p) = &e.material {
            preorders.insert(p.preorder_hash.0, d);
        }
        leaves.push((e.height, d));
        Ok(())
    })?;
    let ops = leaves.len() as u64;
    leaves.sort_unstable();
    let mut computed: HashMap<u64, ConsensusHash> = HashMap::with_capacity(blocks.len());
    let mut at = 0;
    for b in &blocks {
        let mut hexes = Vec::new();
        while at < leaves.len() && leaves[at].0 == b.height {
            hexes.push(hex::encode(leaves[at].1));
            at += 1;
        }
        let ops_hash = ops_hash_of_leaves(hexes);
        if ops_hash != b.ops_hash {
            anyhow::bail!(
                "block {}: the ops hash rebuilt from the history the snapshot carries is {ops_hash}, the snapshot states {}: its history was altered",
                b.height,
                b.ops_hash
            );
        }
        let prev: Vec<ConsensusHash> = prev_consensus_heights(b.height, params.first_block)
            .into_iter()
            .map(|k| computed.get(&k).copied().ok_or_else(|| anyhow::anyhow!("no consensus hash for block {k}")))
            .collect::<anyhow::Result<_>>()?;
        let ch = consensus_hash(&ops_hash, &prev)?;
        if ch != b.consensus_hash {
            anyhow::bail!(
                "block {}: its consensus hash recomputed is {ch}, the snapshot states {}: a prior consensus hash was altered",
                b.height,
                b.consensus_hash
            );
        }
        computed.insert(b.height, ch);
    }
    if at != leaves.len() {
        anyhow::bail!("the snapshot has ops in block {}, which it does not list", leaves[at].0);
    }
    if last.consensus_hash != *trusted {
        anyhow::bail!(
            "the consensus hash at block {} is {}, not the trusted {trusted}: this snapshot is not of the chain you trust",
            last.height,
            last.consensus_hash
        );
    }
    for (hash, p) in import.preorders()? {
        let rebuilt = line(&OpEvidence {
            height: p.block_number,
            vtxindex: p.vtxindex,
            opcode: if p.op == "*" { "NAMESPACE_PREORDER" } else { "NAME_PREORDER" }.into(),
            extra: Default::default(),
            material: Material::Preorder(p),
        })
        .map_err(|e| anyhow::anyhow!(e))?;
        if preorders.get(&hash.0) != Some(&op_digest(&rebuilt)) {
            anyhow::bail!("outstanding preorder {hash} is not one the history holds");
        }
    }
    let (accounts, keyrings) = import.unverified_counts()?;
    Ok(Report {
        blocks: (first.height, last.height),
        consensus_hash: trusted.to_hex(),
        ops,
        names: import.name_count()?,
        inventory,
        not_verified: vec![
            format!("{accounts} token balances and {keyrings} importer keyrings are taken as given (they need a replay of the rules from block {})", params.first_block),
            format!("the Bitcoin block hashes are checked as the node follows the chain on from block {} (a wrong one stops it)", last.height + 1),
        ],
    })
}
