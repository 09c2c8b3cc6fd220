//! Command-line interface: one clap-derive struct per subcommand.

mod config_file;
mod ingest;
mod inspect;
mod limits_args;
mod remote;
mod serve;
mod server_args;
mod storage_args;

pub use config_file::parse;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// flamedb: a columnar store for continuous-profiling data.
#[derive(Debug, Parser)]
#[command(name = "flamedb", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode profile files (pprof, folded, perf script) and print what they contain.
    Inspect(inspect::InspectArgs),
    /// Ingest profile files into the store (a local data directory or S3).
    Ingest(Box<ingest::IngestArgs>),
    /// Serve the HTTP API (ingest) on a local data directory or S3.
    Serve(Box<serve::ServeArgs>),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Ingest(args) => runtime()?.block_on(ingest::run(*args)),
        Command::Serve(args) => runtime()?.block_on(serve::run(*args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
