//! Command-line interface: one clap-derive struct per subcommand.

mod config_file;
mod events;
mod flamegraph;
mod import;
mod ingest;
mod inspect;
mod limits_args;
mod query;
mod query_args;
mod query_target;
mod regressions;
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
    /// Bulk-import Parquet tables of samples (normalized with a stacks table, or folded
    /// stacks) straight into blocks.
    Import(Box<import::ImportArgs>),
    /// Serve the HTTP API (ingest and query) on a local data directory or S3.
    Serve(Box<serve::ServeArgs>),
    /// Run read-only SQL on a server or a data directory.
    Query(Box<query::QueryCmdArgs>),
    /// Draw the flame graph of a selection (SVG, flamebearer JSON, pprof, folded).
    Flamegraph(Box<flamegraph::FlamegraphArgs>),
    /// Draw the difference between two selections (left = baseline, right = compared).
    Diff(Box<flamegraph::DiffArgs>),
    /// The functions whose cost changed between two versions of an app, where each
    /// change originates, and how sure that is.
    Regressions(Box<regressions::RegressionsArgs>),
    /// Change events (commits, flags, configs, deploys) that regressions are traced to.
    Events(Box<events::EventsArgs>),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Ingest(args) => runtime()?.block_on(ingest::run(*args)),
        Command::Import(args) => runtime()?.block_on(import::run(*args)),
        Command::Serve(args) => runtime()?.block_on(serve::run(*args)),
        Command::Query(args) => runtime()?.block_on(query::run(*args)),
        Command::Flamegraph(args) => runtime()?.block_on(flamegraph::run(*args)),
        Command::Diff(args) => runtime()?.block_on(flamegraph::run_diff(*args)),
        Command::Regressions(args) => runtime()?.block_on(regressions::run(*args)),
        Command::Events(args) => runtime()?.block_on(events::run(*args)),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
