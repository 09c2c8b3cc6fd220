//! The `flamedb` binary: the server and the command-line tools share one executable.
//!
//! Subcommands:
//! - `flamedb inspect FILE...`: decode profile files and print what they contain.
//! - `flamedb ingest FILE... --app A`: store profile files (local data directory, S3, or a
//!   server with `--server URL`).
//! - `flamedb serve`: the HTTP server (see [`http`]), wired over the service
//!   (`flamedb_service`) in `cli/serve.rs`.
//! - `flamedb query "SQL"`, `flamedb flamegraph`, `flamedb diff`: queries on a server or
//!   a local data directory (the service's query engine in process).
//!
//! Modules: [`cli`] (the commands; `serve` wires the HTTP front door), [`http`] (the HTTP
//! front doors: the REST API and Pyroscope's routes), [`params`] (the REST API's query
//! parameters as the service's typed requests, which the CLI builds too). The CLI never
//! imports an HTTP handler, and the HTTP modules never import the CLI.

mod cli;
mod http;
mod params;

/// A caching allocator: decoding frees and reallocates the same large buffers for every
/// profile, which glibc's allocator returns to the kernel each time (measured in
/// benches/RESULTS.md: pprof decode 1.5 -> 2.5 M samples/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

fn main() -> ExitCode {
    flamedb_query::alloc::keep_freed_memory();
    match cli::parse(std::env::args_os().collect()).and_then(cli::run) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("flamedb: {err:#}");
            ExitCode::FAILURE
        }
    }
}
