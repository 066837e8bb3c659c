//! The SQLite schema, as ordered migrations behind `PRAGMA user_version`.

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
];
