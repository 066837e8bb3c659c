//! The SQLite schema, as ordered migrations behind `PRAGMA user_version`.
//!
//! Migrations 1-5 built the first schema (JSON records, hex text); migration
//! 6 replaces its chain-derived tables with the compact ones below and keeps
//! what the chain cannot give back (zone files, Atlas peers, meta), so the
//! indexer replays the chain from the first block ([`CHAIN_TABLES`]).

/// Migrations in order; migration `i` moves the schema to version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the pipeline.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

    -- One row per processed block: the block locator and the consensus hash.
    CREATE TABLE blocks (
        height INTEGER PRIMARY KEY,
        block_hash TEXT NOT NULL,
        consensus_hash TEXT NOT NULL,
        ops_hash TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        rejected INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX blocks_by_ch ON blocks(consensus_hash);

    -- Every BNS-looking transaction seen, accepted or not.
    CREATE TABLE ops (
        height INTEGER NOT NULL,
        vtxindex INTEGER NOT NULL,
        txid TEXT NOT NULL,
        op TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        reason TEXT,
        consensus_line TEXT,
        PRIMARY KEY (height, vtxindex)
    ) STRICT;
    CREATE INDEX ops_by_txid ON ops(txid);

    CREATE TABLE preorders (
        preorder_hash TEXT PRIMARY KEY,
        consumed INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;

    CREATE TABLE namespaces (
        namespace_id TEXT PRIMARY KEY,
        ready INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;

    CREATE TABLE names (
        name TEXT PRIMARY KEY,
        namespace_id TEXT NOT NULL,
        sender TEXT NOT NULL,
        address TEXT NOT NULL,
        value_hash TEXT,
        first_registered INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;
    CREATE INDEX names_by_sender ON names(sender);
    CREATE INDEX names_by_address ON names(address);
    CREATE INDEX names_by_value_hash ON names(value_hash);
    CREATE INDEX names_by_namespace ON names(namespace_id);

    -- Accepted ops per name or namespace, with the record as it stood after.
    CREATE TABLE history (
        key TEXT NOT NULL,
        height INTEGER NOT NULL,
        vtxindex INTEGER NOT NULL,
        txid TEXT NOT NULL,
        op TEXT NOT NULL,
        value_hash TEXT,
        record TEXT NOT NULL,
        PRIMARY KEY (key, height, vtxindex)
    ) STRICT;
    CREATE INDEX history_by_height ON history(height);
    CREATE INDEX history_by_value_hash ON history(value_hash);

    -- Undo rows: the prior state of every row a block changed.
    CREATE TABLE undo (
        height INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        tbl TEXT NOT NULL,
        key TEXT NOT NULL,
        prev TEXT,
        PRIMARY KEY (height, seq)
    ) STRICT;

    -- Zone files whose hash the chain announced.
    CREATE TABLE zonefiles (
        value_hash TEXT PRIMARY KEY,
        content BLOB NOT NULL,
        source TEXT NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    "#,
    // 2: token accounts (epoch >= 4 payments in STACKs).
    r#"
    CREATE TABLE accounts (address TEXT PRIMARY KEY, balance INTEGER NOT NULL) STRICT;
    "#,
    // 3: transfers find names by hash128(name); imports remember their keyring root.
    // (`Store::migrate` fills name_hash128 for rows written before this migration.)
    r#"
    ALTER TABLE names ADD COLUMN name_hash128 TEXT;
    CREATE INDEX names_by_hash128 ON names(name_hash128);
    CREATE TABLE import_keyrings (namespace_id TEXT PRIMARY KEY, pubkey TEXT NOT NULL) STRICT;
    "#,
    // 4: drop an index no query uses (each index costs a random B-tree write per row).
    r#"
    DROP INDEX ops_by_txid;
    "#,
    // 5: Atlas. The zone-file inventory, as Core's atlasdb `zonefiles` table: one row per accepted
    // op carrying a value hash, in block then vtxindex order; bit i of the inventory is row i+1.
    // Rows of blocks written before this migration come from their history records.
    // And the Atlas peer table.
    r#"
    CREATE TABLE atlas_inventory (
        inv_index INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        value_hash TEXT NOT NULL,
        txid TEXT NOT NULL UNIQUE,
        height INTEGER NOT NULL,
        vtxindex INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX atlas_inventory_by_height ON atlas_inventory(height);
    CREATE INDEX atlas_inventory_by_hash ON atlas_inventory(value_hash);
    INSERT OR IGNORE INTO atlas_inventory(name, value_hash, txid, height, vtxindex)
        SELECT key, value_hash, txid, height, vtxindex FROM history
        WHERE value_hash IS NOT NULL
          AND json_extract(record, '$.opcode') IN ('NAME_REGISTRATION', 'NAME_UPDATE', 'NAME_IMPORT', 'NAME_RENEWAL')
        ORDER BY height, vtxindex;

    CREATE TABLE atlas_peers (
        addr TEXT PRIMARY KEY,
        added_at INTEGER NOT NULL,
        last_ok INTEGER NOT NULL
    ) STRICT;
    "#,
    // 6: store v2. Chain state is replayed (see the module doc); zone files keep their order.
    r#"
    DROP TABLE blocks; DROP TABLE ops; DROP TABLE preorders; DROP TABLE namespaces; DROP TABLE names;
    DROP TABLE history; DROP TABLE undo; DROP TABLE accounts; DROP TABLE import_keyrings;
    DROP TABLE atlas_inventory;
    DELETE FROM meta WHERE key IN ('atlas_inventory_resets', 'undo_horizon', 'names_total');
    CREATE TABLE zonefiles_v2 (
        value_hash BLOB PRIMARY KEY,
        content BLOB NOT NULL,
        source TEXT NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    INSERT OR IGNORE INTO zonefiles_v2(value_hash, content, source, received_at)
        SELECT unhex(value_hash), content, source, received_at FROM zonefiles
        WHERE unhex(value_hash) IS NOT NULL ORDER BY rowid;
    DROP TABLE zonefiles;
    ALTER TABLE zonefiles_v2 RENAME TO zonefiles;
    "#,
];

/// The chain-derived tables of store v2 (created by [`create_chain_tables`],
/// dropped and re-created by a reindex).
pub const CHAIN_TABLES: &[&str] = &[
    "blocks",
    "ops",
    "preorders",
    "namespaces",
    "names",
    "undo",
    "accounts",
    "import_keyrings",
    "atlas_inventory",
    "subdomains",
];

/// Creates the chain-derived tables of store v2 (if missing).
///
/// - `blocks`: the locator; `inv_end` = inventory length after the block.
/// - `ops`: every BNS-looking transaction (`reason` NULL = accepted); an
///   accepted op that wrote a name (`subject`, a `names.id`) or namespace
///   (`ns_subject`) carries its history row: `delta` = opcode and the op's
///   own fields, then the record fields it changed (`store::codec`).
/// - `names`: `rec` = the record's other fields (`store::codec::name_body`);
///   `hash128` = the first 8 bytes of hash128(name), big-endian, as i64: a
///   name is found by `hash128 = ? AND name = ?` (no index on the text:
///   one random B-tree insert fewer per name). The rules keep names unique
///   (a snapshot import checks it).
/// - `subdomains`: see `store::subdomains` (derived from the inventory and
///   the zone files held).
/// - `undo`: prior row images of everything a block changed, kept only for
///   blocks above the reorg horizon.
pub const CREATE_CHAIN_TABLES: &str = r#"
    CREATE TABLE IF NOT EXISTS blocks (
        height INTEGER PRIMARY KEY,
        block_hash BLOB NOT NULL,
        consensus_hash BLOB NOT NULL,
        ops_hash BLOB NOT NULL,
        accepted INTEGER NOT NULL,
        rejected INTEGER NOT NULL,
        inv_end INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS blocks_by_ch ON blocks(consensus_hash);

    CREATE TABLE IF NOT EXISTS ops (
        height INTEGER NOT NULL,
        vtxindex INTEGER NOT NULL,
        txid BLOB NOT NULL,
        op TEXT NOT NULL,
        reason TEXT,
        subject INTEGER,
        ns_subject TEXT,
        delta BLOB,
        PRIMARY KEY (height, vtxindex)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ops_by_subject ON ops(subject) WHERE subject IS NOT NULL;
    CREATE INDEX IF NOT EXISTS ops_by_ns_subject ON ops(ns_subject) WHERE ns_subject IS NOT NULL;

    CREATE TABLE IF NOT EXISTS preorders (
        preorder_hash BLOB PRIMARY KEY,
        block_number INTEGER NOT NULL,
        rec BLOB NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS namespaces (
        namespace_id TEXT PRIMARY KEY,
        ready INTEGER NOT NULL,
        record TEXT NOT NULL
    ) STRICT;

    CREATE TABLE IF NOT EXISTS names (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        namespace_id TEXT NOT NULL,
        sender BLOB NOT NULL,
        value_hash BLOB,
        hash128 INTEGER NOT NULL,
        rec BLOB NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS names_by_sender ON names(sender);
    CREATE INDEX IF NOT EXISTS names_by_hash128 ON names(hash128);

    CREATE TABLE IF NOT EXISTS undo (
        height INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        tbl INTEGER NOT NULL,
        key BLOB NOT NULL,
        prev BLOB,
        PRIMARY KEY (height, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE IF NOT EXISTS accounts (address TEXT PRIMARY KEY, balance INTEGER NOT NULL) STRICT;
    CREATE TABLE IF NOT EXISTS import_keyrings (namespace_id TEXT PRIMARY KEY, pubkey TEXT NOT NULL) STRICT;

    CREATE TABLE IF NOT EXISTS atlas_inventory (
        inv_index INTEGER PRIMARY KEY,
        name_id INTEGER NOT NULL,
        value_hash BLOB NOT NULL,
        height INTEGER NOT NULL,
        vtxindex INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX IF NOT EXISTS atlas_inventory_by_hash ON atlas_inventory(value_hash);
    -- A domain's rows in chain order: the subdomain index re-judges one domain from a row.
    CREATE INDEX IF NOT EXISTS atlas_inventory_by_name ON atlas_inventory(name_id, inv_index);

    CREATE TABLE IF NOT EXISTS subdomains (
        inv_index INTEGER NOT NULL,
        position INTEGER NOT NULL,
        fqn TEXT NOT NULL,
        domain TEXT NOT NULL,
        seqn INTEGER NOT NULL,
        owner TEXT NOT NULL,
        zonefile BLOB NOT NULL,
        sig TEXT,
        resolver TEXT,
        reason TEXT,
        PRIMARY KEY (inv_index, position)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS subdomains_by_fqn ON subdomains(fqn, seqn);
    CREATE INDEX IF NOT EXISTS subdomains_by_domain ON subdomains(domain, inv_index);
"#;
