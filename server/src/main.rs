//! The `flamedb` binary: the server and the command-line tools share one executable.
//!
//! Subcommands:
//! - `flamedb inspect FILE...`: decode profile files and print what they contain.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("flamedb: {err:#}");
            ExitCode::FAILURE
        }
    }
}
