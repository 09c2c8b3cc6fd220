//! Command-line interface: one clap-derive struct per subcommand.

mod inspect;

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
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Inspect(args) => inspect::run(args),
    }
}
