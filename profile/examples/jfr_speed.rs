//! Measures JFR decoding speed on the corpus: samples (events added to a profile) per
//! second and MB/s of raw JFR, gzip decompression excluded, per second of this thread's
//! CPU time (`/proc/thread-self/schedstat`, so a busy machine does not skew it; wall
//! time where that file is missing).
//!
//! `cargo run --release -p flamedb-profile --example jfr_speed [FILE...]`; without files,
//! every recording in the corpus (`FLAMEDB_CORPUS` or `../shared/corpus`).

use flamedb_profile::jfr::{JfrOptions, decode_with};
use flamedb_profile::{DecodeLimits, gzip};
use std::time::Instant;

fn main() -> anyhow_free::Result {
    let mut files: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    if files.is_empty() {
        let corpus = flamedb_profile::testing::corpus_dir().ok_or("no corpus")?;
        for dir in ["jfr/jfr-parser", "jfr/speedscope"] {
            for e in std::fs::read_dir(corpus.join(dir))? {
                let p = e?.path();
                if p.is_file() {
                    files.push(p);
                }
            }
        }
        files.sort();
    }
    let (mut total_samples, mut total_secs, mut total_bytes) = (0u64, 0f64, 0usize);
    for f in &files {
        let raw = gzip::maybe_gunzip(&std::fs::read(f)?, &DecodeLimits::default())?.into_owned();
        let opts = JfrOptions::default();
        let first = decode_with(&raw, &opts)?;
        let samples = first.stats.samples;
        // Repeat for at least 0.5 s.
        let (start, cpu, mut runs) = (Instant::now(), cpu_nanos(), 0u32);
        while runs < 3 || start.elapsed().as_secs_f64() < 0.5 {
            std::hint::black_box(decode_with(&raw, &opts)?);
            runs += 1;
        }
        let secs = match (cpu, cpu_nanos()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => start.elapsed().as_secs_f64(),
        } / f64::from(runs);
        println!(
            "{:<52} {:>8.1} ms {:>8} samples {:>6.2} M samples/s {:>7.1} MB/s  period {} ns",
            f.file_name().unwrap_or_default().to_string_lossy(),
            secs * 1e3,
            samples,
            samples as f64 / secs / 1e6,
            raw.len() as f64 / secs / 1e6,
            first.period_nanos
        );
        total_samples += samples;
        total_secs += secs;
        total_bytes += raw.len();
    }
    println!(
        "all: {total_samples} samples in {:.1} ms: {:.2} M samples/s, {:.1} MB/s",
        total_secs * 1e3,
        total_samples as f64 / total_secs / 1e6,
        total_bytes as f64 / total_secs / 1e6
    );
    Ok(())
}

/// CPU time of this thread in nanoseconds, if the kernel says.
fn cpu_nanos() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// `Box<dyn Error>` results without a dependency.
mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
