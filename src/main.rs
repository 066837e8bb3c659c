//! `bns`: the command line. Parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use bns::config::{self, DevSettings};
use bns::hash::ValueHash;

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
        settings: DevSettings,
    },
    /// Zone-file tools
    Zonefile {
        #[command(subcommand)]
        command: ZonefileCommand,
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
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { config, settings } => {
            let file: DevSettings = match &config {
                Some(path) => config::load(path, true)?,
                None => config::load(&settings.data_dir().join("bns.toml"), false)?,
            };
            let settings = settings.or(file);
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(bns::node::run_dev(settings))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Zonefile { command } => zonefile(command),
    }
}

fn zonefile(cmd: ZonefileCommand) -> anyhow::Result<ExitCode> {
    match cmd {
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
