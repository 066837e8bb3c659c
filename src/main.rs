//! `bns`: the command line. Parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bns::bns::ChainParams;
use bns::config::{self, DevSettings, FaceSettings, NodeSettings};
use bns::hash::ValueHash;
use bns::node::inspect;
use bns::node::owner::{self, OwnerArgs, RevealArgs};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Blockstack naming system (BNS) node and local DNS resolver.
#[derive(Parser)]
#[command(name = "bns", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node on an embedded dev chain with the names in zones/ registered on it
    Dev {
        /// TOML config file; keys are the flag names [default: <data-dir>/bns.toml if present]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<DevSettings>,
    },
    /// Run a node following a Bitcoin node (bitcoind JSON-RPC): index BNS, answer DNS and HTTP
    Node {
        /// TOML config file; keys are the flag names [default: <data-dir>/bns.toml if present]
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        settings: Box<NodeSettings>,
    },
    /// Where the local index stands: height, chain tip, lag, consensus hash, names, zone files
    Status {
        #[command(flatten)]
        index: IndexArgs,
        /// Print JSON instead of lines
        #[arg(long)]
        json: bool,
    },
    /// Owner keys (WIF files) for the name commands
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Zone-file tools
    Zonefile {
        #[command(subcommand)]
        command: ZonefileCommand,
    },
    /// Namespace zones as a DNS secondary sees them
    Zone {
        #[command(subcommand)]
        command: ZoneCommand,
    },
    /// TLS keys pinned by the chain (DANE): make one for a name, check a server against its TLSA
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// DNSSEC of the namespace zones: the trust anchor validators need
    Dnssec {
        #[command(subcommand)]
        command: DnssecCommand,
    },
    /// The DANE proxy's local CA, which a browser imports once
    Dane {
        #[command(subcommand)]
        command: DaneCommand,
    },
    /// Zone-file replication (Atlas) of a running node: status, peers
    Atlas {
        #[command(subcommand)]
        command: AtlasCommand,
    },
    /// Look up names in the local index, or register and manage them on Bitcoin
    Name {
        #[command(subcommand)]
        command: NameCommand,
    },
    /// Look up namespaces in the local index, or create them on Bitcoin
    Namespace {
        #[command(subcommand)]
        command: NamespaceCommand,
    },
    /// List the namespaces in the local index with their DNS collision policy (JSON)
    Namespaces {
        #[command(flatten)]
        index: IndexArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Price of a name at the indexed tip, with the rule that produced it
    Price {
        /// Fully-qualified name, e.g. werner.id
        name: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// The evidence behind the answer for a name (JSON): namespace, owner, registering and
    /// last transactions, zone-file hash and where the zone file came from, tip consensus hash
    Explain {
        /// A BNS name (werner.id) or a name below one (www.werner.id)
        name: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Decode BNS operations
    Op {
        #[command(subcommand)]
        command: OpCommand,
    },
    /// Write the index's state at a height to one file, for another node to start from (`bns import`)
    Export {
        /// The snapshot file to write
        file: PathBuf,
        /// Export the state after this block [default: the index's tip; at most --reorg-depth below it]
        #[arg(long, value_name = "HEIGHT")]
        height: Option<u64>,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Start a fresh data dir from a snapshot, checked against a consensus hash you trust
    Import {
        /// The snapshot file (`bns export`)
        file: PathBuf,
        /// The consensus hash at the snapshot's height, from a source you trust (e.g. your own node's `bns status`)
        #[arg(long, value_name = "CONSENSUS_HASH")]
        trust: String,
        /// Data directory to create the index in (must hold no index) [default: ~/.bns]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

/// Which namespaces are BNS's own (the config file and `--namespace-policy`).
#[derive(clap::Args)]
struct PolicyArgs {
    /// TOML config file to read `namespace-policy` from [default: <data-dir>/bns.toml if present]
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Collision policy of a namespace, NS=POLICY (repeatable; overrides the config file)
    #[arg(long = "namespace-policy", value_name = "NS=POLICY")]
    namespace_policy: Vec<String>,
}

/// Where the local index lives.
#[derive(clap::Args)]
struct IndexArgs {
    /// Data directory of the node whose index to read [default: ~/.bns if a node indexed there, else ~/.bns-dev]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

impl IndexArgs {
    fn dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(config::default_index_dir)
    }

    fn open_rw(&self) -> anyhow::Result<bns::store::Store> {
        let db = bns::node::db_path(&self.dir());
        if !db.exists() {
            anyhow::bail!("no index at {}: start `bns node` or `bns dev` (or pass --data-dir)", db.display());
        }
        Ok(bns::store::Store::open(&db)?)
    }

    fn open(&self) -> anyhow::Result<bns::store::Store> {
        let dir = self.dir();
        let db = bns::node::db_path(&dir);
        if !db.exists() {
            anyhow::bail!("no index at {}: start `bns node` or `bns dev` (or pass --data-dir)", db.display());
        }
        Ok(bns::store::Store::open_readonly(&db)?)
    }
}

#[derive(Subcommand)]
enum NameCommand {
    /// A name's owner, zone file, expiry and status (JSON)
    Show {
        /// Fully-qualified name
        name: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Every accepted operation on a name, by block (JSON, as Core's /v1/names/NAME/history)
    History {
        /// Fully-qualified name
        name: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Names owned by an address (JSON list)
    Owned {
        /// Base58 address
        address: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Send a NAME_PREORDER: commit to a name for this key, paying its price (step 1 of 2; `register` does both)
    Preorder {
        /// Fully-qualified name
        name: String,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Register a name to this key: preorder, wait, register with the zone file's hash, wait, store the
    /// zone file in the index. Resumable: rerun after a crash or timeout and it continues
    Register {
        /// Fully-qualified name
        name: String,
        /// Zone file the name points at (checked before anything is spent)
        #[arg(long, value_name = "FILE")]
        zonefile: Option<PathBuf>,
        /// Only send the NAME_REGISTRATION, from this key's existing preorder (`bns name preorder`)
        #[arg(long)]
        from_preorder: bool,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAME_UPDATE pointing a name owned by this key at a zone file, then store the file in the index
    Update {
        /// Fully-qualified name
        name: String,
        /// The new zone file
        #[arg(long, value_name = "FILE")]
        zonefile: PathBuf,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAME_TRANSFER giving a name owned by this key to another address
    Transfer {
        /// Fully-qualified name
        name: String,
        /// The new owner's address (P2PKH or P2SH)
        #[arg(long, value_name = "ADDRESS")]
        to: String,
        /// Keep the name's zone-file hash (default: clear it, as Blockstack Core does)
        #[arg(long)]
        keep_data: bool,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAME_REVOKE: a name owned by this key stops resolving, for good
    Revoke {
        /// Fully-qualified name
        name: String,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAME_RENEWAL of a name owned by this key (also in its grace period), paying its price again
    Renew {
        /// Fully-qualified name
        name: String,
        /// Also point the name at this zone file (stored in the index once renewed)
        #[arg(long, value_name = "FILE")]
        zonefile: Option<PathBuf>,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
}

#[derive(Subcommand)]
enum NamespaceCommand {
    /// A namespace's parameters and state (JSON)
    Show {
        /// Namespace id, e.g. id
        id: String,
        #[command(flatten)]
        index: IndexArgs,
    },
    /// Send a NAMESPACE_PREORDER: commit to a namespace revealed later by this key, paying its price
    Preorder {
        /// Namespace id
        id: String,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAMESPACE_REVEAL of a namespace this key preordered: its lifetime and name price function
    Reveal {
        /// Namespace id
        id: String,
        #[command(flatten)]
        params: Box<RevealArgs>,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
    /// Send a NAMESPACE_READY: open a namespace this key revealed for name registrations
    Ready {
        /// Namespace id
        id: String,
        #[command(flatten)]
        owner: Box<OwnerArgs>,
    },
}

#[derive(Subcommand)]
enum OpCommand {
    /// Decode a raw transaction or an OP_RETURN payload (hex) to its fields (JSON)
    Decode {
        /// Raw transaction hex, or payload hex with or without the magic bytes
        hex: String,
        /// Block height whose epoch rules apply (mainnet table) [default: newest epoch]
        #[arg(long)]
        height: Option<u64>,
        /// Magic bytes (2 ASCII characters)
        #[arg(long, default_value = "id")]
        magic: String,
        /// Address encoding of the outputs: mainnet, testnet or regtest (the dev chain)
        #[arg(long, default_value = "mainnet")]
        network: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a new secp256k1 key in FILE (WIF, mode 0600, never overwritten); prints its address to fund
    New {
        /// Where to write the key
        file: PathBuf,
        /// Network the key and its address are for
        #[arg(long, value_enum, default_value = "mainnet")]
        network: config::NetworkName,
    },
    /// Print the P2PKH address of the key in FILE (send coins there to pay for names)
    Address {
        /// WIF key file
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum AtlasCommand {
    /// Inventory, zone files held and missing, peers, traffic of the running node
    Status {
        #[command(flatten)]
        node: NodeApiArgs,
    },
    /// The running node's Atlas peers with their health and what they hold
    Peers {
        #[command(flatten)]
        node: NodeApiArgs,
    },
}

/// How to reach a running node's API.
#[derive(clap::Args)]
struct NodeApiArgs {
    /// The node's REST API address [default: api-addr of <data-dir>/bns.toml, else 127.0.0.1:6270]
    #[arg(long, value_name = "IP:PORT")]
    api_addr: Option<std::net::SocketAddr>,
    #[command(flatten)]
    index: IndexArgs,
    /// Print JSON instead of lines
    #[arg(long)]
    json: bool,
}

impl NodeApiArgs {
    /// The node's API address: the flag, else the one the node serving the index recorded,
    /// else `api-addr` of the data dir's config.
    fn addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        match self.api_addr {
            Some(a) => Ok(a),
            None => match self.index.open() {
                Ok(store) => node_api_addr(&store, &self.index),
                Err(_) => Ok(config::load_faces(&self.index.dir().join("bns.toml"), false)?.api_addr()),
            },
        }
    }
}

/// The REST API of the node serving `store`: as it recorded it at start, else the config's.
fn node_api_addr(store: &bns::store::Store, index: &IndexArgs) -> anyhow::Result<std::net::SocketAddr> {
    match store.meta(bns::node::META_API_ADDR)?.and_then(|a| a.parse().ok()) {
        Some(a) => Ok(a),
        None => Ok(config::load_faces(&index.dir().join("bns.toml"), false)?.api_addr()),
    }
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Make a key and certificate for NAME and print the TLSA line for its zone file
    Cert {
        /// The BNS name (e.g. werner.id)
        name: String,
        /// Port of the service the TLSA record is for
        #[arg(long, default_value_t = 443)]
        port: u16,
        /// Where to write NAME.cert.pem and NAME.key.pem (never overwritten)
        #[arg(long, value_name = "DIR", default_value = ".")]
        out_dir: PathBuf,
    },
    /// Connect to HOST:PORT and say whether its key matches NAME's TLSA records on the chain (exit 0/1)
    Verify {
        /// Server to connect to, HOST:PORT
        addr: String,
        /// The BNS name whose `_PORT._tcp` TLSA records pin the key (also the TLS server name)
        #[arg(long)]
        name: String,
        /// Port of the TLSA records to check [default: the port of HOST:PORT]
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        index: IndexArgs,
    },
}

#[derive(Subcommand)]
enum DaneCommand {
    /// Print the CA certificate (made now if there is none) that the DANE proxy signs BNS names with;
    /// it is name-constrained to the namespaces whose policy is `bns`
    Ca {
        #[command(flatten)]
        index: IndexArgs,
        /// Make a new CA (for namespaces revealed since), replacing the old one
        #[arg(long)]
        renew: bool,
        /// Write the certificate to FILE instead of standard output
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

#[derive(Subcommand)]
enum DnssecCommand {
    /// Print the trust anchor (DS of this install's key) for every namespace whose policy is `bns`
    Anchor {
        #[command(flatten)]
        index: IndexArgs,
        /// ds (DS lines), unbound (trust-anchor: lines), bind (trust-anchors clause, also delv -a), resolved (a .positive file)
        #[arg(long, value_enum, default_value = "ds")]
        format: bns::node::anchor::AnchorFormat,
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

#[derive(Subcommand)]
enum ZoneCommand {
    /// Write a namespace as an RFC 1035 master file (apex SOA and NS, every name and subdomain with
    /// its records): what a secondary gets by AXFR
    Export {
        /// Namespace (e.g. id)
        namespace: String,
        #[command(flatten)]
        index: IndexArgs,
        /// Write to FILE (complete or not at all) instead of standard output
        #[arg(long, short, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ZonefileCommand {
    /// Print a zone file's hash (hash160 of its exact bytes), as names on the chain carry it
    Hash {
        /// Zone file
        file: PathBuf,
    },
    /// Check a zone file: size limit, syntax, and optionally its hash; exits 1 with the reason
    Check {
        /// Zone file
        file: PathBuf,
        /// Hash the chain announced for it (40 hex chars)
        #[arg(long, value_name = "HEX")]
        hash: Option<ValueHash>,
        /// Name it belongs to, used as the origin when the file has no $ORIGIN
        #[arg(long)]
        name: Option<String>,
    },
    /// Import zone files, each verified against its hash and the chain: a Stacks 2.0 genesis export
    /// (`name_zonefiles.txt`: a hash line, then the zone file with newlines written `\n`) or Core's
    /// zone-file directory (`ab/cd/<hash>.txt`); prints accepted / not announced / hash mismatch
    Import {
        /// Genesis export file, or Core's zonefiles directory
        path: PathBuf,
        #[command(flatten)]
        index: IndexArgs,
        /// Print JSON instead of lines
        #[arg(long)]
        json: bool,
    },
    /// Store a zone file in a `bns node` index, if a name on the chain has its hash; the running node
    /// then answers DNS from it
    Put {
        /// Zone file
        file: PathBuf,
        /// Data directory of the node [default: ~/.bns]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // hickory-server logs every request at INFO: not at the default level
        // (`--log-queries` logs queries, as unbound's `log-queries`).
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_server=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a serving command on a tokio runtime. Blocking work still running
/// when it returns (e.g. waiting on a dead indexer) gets 5 s, then the
/// process exits anyway.
fn serve(node: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new()?;
    let result = rt.block_on(node);
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    result.map(|()| ExitCode::SUCCESS)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { config, settings } => {
            let file: DevSettings = match &config {
                Some(path) => config::load(path, true)?,
                None => config::load(&settings.data_dir().join("bns.toml"), false)?,
            };
            let settings = settings.or(file);
            serve(bns::node::run_dev(settings))
        }
        Command::Node { config, settings } => {
            let dir = settings.data_dir();
            let file: NodeSettings = match &config {
                Some(path) => config::load(path, true)?,
                None => config::load(&dir.join("bns.toml"), false)?,
            };
            let settings = settings.or(file);
            serve(bns::node::run_node(settings))
        }
        Command::Status { index, json } => {
            let store = index.open()?;
            let mut v = bns::node::follow::status(&store)?;
            // The running node's live Atlas figures (peers' health, traffic), if it answers.
            let api = node_api_addr(&store, &index)?;
            v["atlas"] = bns::node::follow::api_get(api, "/v1/atlas/status", 2).unwrap_or(serde_json::Value::Null);
            if json {
                print_json(Ok(v))
            } else {
                print!("{}", bns::node::follow::status_text(&v));
                Ok(ExitCode::SUCCESS)
            }
        }
        Command::Key { command } => {
            match command {
                KeyCommand::New { file, network } => {
                    if file.exists() {
                        anyhow::bail!("{} exists; pick another file (bns never overwrites a key)", file.display());
                    }
                    let w = bns::tx::Wallet::load_or_create(&file, network.bitcoin())?;
                    println!("{}", w.address());
                    eprintln!("key written to {}; fund the address above, keep the file secret", file.display());
                }
                KeyCommand::Address { file } => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("cannot read key file {}: {e}", file.display()))?;
                    println!("{}", bns::tx::Wallet::from_wif(&text)?.address());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Zonefile { command } => zonefile(command),
        Command::Zone { command: ZoneCommand::Export { namespace, index, out } } => {
            let done = bns::node::zone::export_zone(&index.dir(), &namespace, out.as_deref())?;
            eprintln!(
                "{namespace}: {} RRs from {} names and subdomains, serial {}",
                done.rrs, done.entries, done.serial
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Atlas { command } => {
            let (node, path, text): (_, _, fn(&serde_json::Value) -> String) = match &command {
                AtlasCommand::Status { node } => (node, "/v1/atlas/status", bns::atlas::report::status_text),
                AtlasCommand::Peers { node } => (node, "/v1/atlas/peers", bns::atlas::report::peers_text),
            };
            let v = bns::node::follow::api_get(node.addr()?, path, 10)?;
            if node.json {
                return print_json(Ok(v));
            }
            print!("{}", text(&v));
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { file, height, index } => {
            bns::node::snapshot::export_cmd(&index.dir(), &file, height)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { file, trust, data_dir } => {
            let dir = data_dir.unwrap_or_else(|| config::NodeSettings::default().data_dir());
            bns::node::snapshot::import_cmd(&dir, &file, &trust)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Name { command } => name(command),
        Command::Namespace { command } => namespace(command),
        Command::Namespaces { index, policy } => {
            let policies = policies(&index.dir(), policy)?;
            print_json(inspect::namespaces(&index.open()?, &policies))
        }
        Command::Tls { command: TlsCommand::Cert { name, port, out_dir } } => {
            let made = bns::dane::cert::make(&name, port, &out_dir)?;
            eprintln!("wrote {} and {} (mode 0600)", made.cert.display(), made.key.display());
            eprintln!("add this line to the zone file of {name}, then `bns name update {name} --zonefile FILE`:");
            println!("{}", made.tlsa_line);
            Ok(ExitCode::SUCCESS)
        }
        Command::Tls { command: TlsCommand::Verify { addr, name, port, index } } => {
            bns::node::dane::tls_verify(&addr, &name, port, &index.dir())
        }
        Command::Dane { command: DaneCommand::Ca { index, renew, out, policy } } => {
            let policies = policies(&index.dir(), policy)?;
            bns::node::dane::ca_command(&index.dir(), &policies, renew, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dnssec { command: DnssecCommand::Anchor { index, format, policy } } => {
            let policies = policies(&index.dir(), policy)?;
            let (text, skipped) = bns::node::anchor::anchor(&index.dir(), &policies, format)?;
            for note in skipped {
                eprintln!("{note}");
            }
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Price { name, index } => print_json(inspect::price(&index.open()?, &name.to_ascii_lowercase())),
        Command::Explain { name, index } => print_json(inspect::explain(&index.open()?, &name)),
        Command::Op { command: OpCommand::Decode { hex, height, magic, network } } => {
            let network = match network.as_str() {
                "mainnet" | "main" | "bitcoin" => bitcoin::Network::Bitcoin,
                "testnet" | "test" => bitcoin::Network::Testnet,
                "regtest" | "dev" => bitcoin::Network::Regtest,
                other => anyhow::bail!("--network {other:?}: use mainnet, testnet or regtest"),
            };
            let magic: [u8; 2] =
                magic.as_bytes().try_into().map_err(|_| anyhow::anyhow!("--magic takes exactly 2 ASCII characters"))?;
            let epoch = height.map(|h| ChainParams::mainnet().epoch_at(h).number).unwrap_or(6);
            print_json(inspect::op_decode(&hex, epoch, magic, network))
        }
    }
}

/// Namespace policies from `--namespace-policy` over the config file's.
fn policies(
    dir: &std::path::Path,
    PolicyArgs { config, namespace_policy }: PolicyArgs,
) -> anyhow::Result<std::collections::HashMap<String, bns::dns::Policy>> {
    let file: FaceSettings = match config.as_deref() {
        Some(path) => config::load_faces(path, true)?,
        None => config::load_faces(&dir.join("bns.toml"), false)?,
    };
    let settings = FaceSettings { namespace_policy, ..Default::default() }.or(file);
    bns::node::namespace_policies(&settings)
}

fn print_json(v: anyhow::Result<serde_json::Value>) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(&v?)?;
    // A closed pipe (`| head`) is not an error worth a panic.
    match writeln!(std::io::stdout(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn read_file(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))
}

fn name(cmd: NameCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NameCommand::Show { name, index } => {
            return print_json(inspect::name_show(&index.open()?, &name.to_ascii_lowercase()))
        }
        NameCommand::History { name, index } => {
            return print_json(inspect::history(&index.open()?, &name.to_ascii_lowercase()))
        }
        NameCommand::Owned { address, index } => {
            return print_json(Ok(serde_json::json!(index.open()?.names_by_address(&address)?)))
        }
        NameCommand::Preorder { name, owner } => {
            owner.open()?.name_preorder(&name.to_ascii_lowercase())?;
        }
        NameCommand::Register { name, zonefile, from_preorder, owner } => {
            let name = name.to_ascii_lowercase();
            let zonefile = zonefile.as_deref().map(read_file).transpose()?;
            let owner = owner.open()?;
            if from_preorder {
                let hash = zonefile.as_deref().map(|z| owner::check_zonefile(&name, z)).transpose()?;
                let txid = owner.name_register_only(&name, hash)?;
                if let Some(z) = &zonefile {
                    owner.store_zonefile_after(txid, z)?;
                }
            } else {
                owner.name_register(&name, zonefile.as_deref())?;
            }
        }
        NameCommand::Update { name, zonefile, owner } => {
            let zonefile = read_file(&zonefile)?;
            owner.open()?.name_update(&name.to_ascii_lowercase(), &zonefile)?;
        }
        NameCommand::Transfer { name, to, keep_data, owner } => {
            owner.open()?.name_transfer(&name.to_ascii_lowercase(), &to, keep_data)?;
        }
        NameCommand::Revoke { name, owner } => {
            owner.open()?.name_revoke(&name.to_ascii_lowercase())?;
        }
        NameCommand::Renew { name, zonefile, owner } => {
            let zonefile = zonefile.as_deref().map(read_file).transpose()?;
            owner.open()?.name_renew(&name.to_ascii_lowercase(), zonefile.as_deref())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn namespace(cmd: NamespaceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NamespaceCommand::Show { id, index } => return print_json(inspect::namespace_show(&index.open()?, &id)),
        NamespaceCommand::Preorder { id, owner } => {
            owner.open()?.namespace_preorder(&id)?;
        }
        NamespaceCommand::Reveal { id, params, owner } => {
            let params = params.params(&id)?;
            owner.open()?.namespace_reveal(&id, &params)?;
        }
        NamespaceCommand::Ready { id, owner } => {
            owner.open()?.namespace_ready(&id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn zonefile(cmd: ZonefileCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ZonefileCommand::Put { file, data_dir } => {
            let dir = NodeSettings { data_dir, ..Default::default() }.data_dir();
            owner::zonefile_put(&dir, &file)?;
            Ok(ExitCode::SUCCESS)
        }
        ZonefileCommand::Import { path, index, json } => {
            let store = index.open_rw()?;
            let source = format!("import {}", path.display());
            let r = bns::atlas::import::import(&store, &path, &source)?;
            if json {
                return print_json(Ok(serde_json::to_value(&r)?));
            }
            println!(
                "accepted {}, already held {}, not announced {}, hash mismatch {}, too large {}, unreadable {}",
                r.accepted, r.already_held, r.not_announced, r.hash_mismatch, r.too_large, r.unreadable
            );
            if r.not_announced > 0 {
                println!("(not announced: no name on this node's chain points at those hashes, yet; import again after the node has synced)");
            }
            Ok(ExitCode::SUCCESS)
        }
        ZonefileCommand::Hash { file } => {
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            println!("{}", ValueHash::of_zonefile(&bytes));
            Ok(ExitCode::SUCCESS)
        }
        ZonefileCommand::Check { file, hash, name } => {
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let result = bns::zonefile::check_with_origin(&bytes, hash.as_ref(), name.as_deref());
            match result {
                Ok(zf) if zf.warnings.is_empty() => {
                    println!("ok: {} records, hash {}", zf.records.len(), ValueHash::of_zonefile(&bytes));
                    Ok(ExitCode::SUCCESS)
                }
                Ok(zf) => {
                    for w in &zf.warnings {
                        println!("{}: {w}", file.display());
                    }
                    println!("invalid: {} line(s) skipped, {} records usable", zf.warnings.len(), zf.records.len());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    println!("invalid: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}
