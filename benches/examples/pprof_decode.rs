//! Decodes google-pprof/large.cpu in a loop, for CPU-time and instruction-count measurement
//! (`perf stat -e task-clock,instructions`, `valgrind --tool=callgrind`), which are steadier
//! than wall time on a shared machine.
//!
//! `cargo run --release -p flamedb-benches --example pprof_decode -- [raw|gzip|gunzip] [rounds]`

use flamedb_profile::{DecodeLimits, gzip, pprof};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "raw".into());
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let dir = std::env::var_os("FLAMEDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    let gz = std::fs::read(dir.join("pprof/google-pprof/large.cpu"))?;
    let limits = DecodeLimits::default();
    let raw = gzip::maybe_gunzip(&gz, &limits)?.into_owned();
    let start = Instant::now();
    let mut samples = 0;
    for _ in 0..rounds {
        samples += match mode.as_str() {
            "raw" => pprof::decode(&raw, &limits)?.samples.len(),
            "gzip" => pprof::decode_maybe_gzip(&gz, &limits)?.samples.len(),
            "gunzip" => gzip::maybe_gunzip(&gz, &limits)?.len(),
            other => anyhow::bail!("unknown mode {other}: raw, gzip or gunzip"),
        };
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{mode}: {rounds} rounds, {:.2} ms wall per round, {:.2} M items/s wall",
        secs * 1e3 / rounds as f64,
        samples as f64 / secs / 1e6
    );
    Ok(())
}
