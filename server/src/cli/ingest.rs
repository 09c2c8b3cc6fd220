//! `flamedb ingest FILE[@TIME]... --app A [--version V] [--dc D] [--label K=V] [--format F]
//! [--time T] [--sample-rate HZ] (--data DIR | --server URL)`
//!
//! A file's profile time is its own (pprof `time_nanos`), else `FILE@TIME`'s, else
//! `--time`, else now; folded text carries no time. `--sample-rate HZ` stores folded
//! sample counts as CPU time, as Pyroscope's `/ingest?sampleRate=` does
//! ([`flamedb_service::ingest::sample_rate`]).

use super::inspect::FormatArg;
use super::limits_args::LimitArgs;
use super::storage_args::StorageArgs;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use flamedb_profile::{DecodeOptions, Format};
use flamedb_service::ingest::sample_rate::counts_to_nanos;
use flamedb_service::parse::parse_time;
use flamedb_storage::{StoreConfig, WalRecord};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `flamedb ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Profile files (pprof, folded, perf script, JFR, speedscope, OTLP; gzipped or not). `FILE@TIME` (when no
    /// file is named so) gives the file's profile time, as `--time` does.
    #[arg(required = true, value_name = "FILE[@TIME]")]
    files: Vec<PathBuf>,
    /// Application name (required).
    #[arg(long)]
    app: String,
    /// Application version.
    #[arg(long)]
    version: Option<String>,
    /// Data center (region, zone).
    #[arg(long)]
    dc: Option<String>,
    /// More series labels, `KEY=VALUE`; repeat for several.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Input format; `auto` detects it from the content.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// For perf script input: the event type to keep (default: the first in the file).
    #[arg(long)]
    event: Option<String>,
    /// Profile time of files that carry none (folded): unix seconds (or ms, us, ns by digit
    /// count), YYYYMMDD, or now-DURATION like now-1h (default: now).
    #[arg(long)]
    time: Option<String>,
    /// The files' values are CPU sample counts taken at HZ per second (folded): store
    /// them as cpu/nanoseconds, each count times the period 1e9/HZ ns, as Pyroscope's
    /// `sampleRate` does. A file that is not one column of counts fails.
    #[arg(long, value_name = "HZ")]
    sample_rate: Option<u32>,
    /// Tenant to ingest into.
    #[arg(long, env = "FLAMEDB_TENANT", default_value = "default")]
    tenant: String,
    /// Files read and appended at once (appends share write-ahead log syncs).
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// Send the files to a flamedb server (`http://HOST:PORT`) instead of writing the
    /// store directly.
    #[arg(long, env = "FLAMEDB_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Bearer token for --server.
    #[arg(long, env = "FLAMEDB_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Ingests every file into the local store; a file that fails is reported and the others
/// still go in. The exit status is non-zero when any file failed.
pub async fn run(args: IngestArgs) -> Result<ExitCode> {
    let labels = labels(&args)?;
    if let Some(server) = &args.server {
        let client = super::remote::Remote::new(server, args.token.clone(), args.tenant.clone())?;
        return ingest_remote(&args, &client, &labels).await;
    }
    ingest_local(&args, labels).await
}

/// The series labels the flags give.
fn labels(args: &IngestArgs) -> Result<Vec<(String, String)>> {
    let mut labels = vec![("app".to_string(), args.app.clone())];
    labels.extend(
        args.version
            .iter()
            .map(|v| ("version".to_string(), v.clone())),
    );
    labels.extend(args.dc.iter().map(|d| ("dc".to_string(), d.clone())));
    for l in &args.labels {
        let Some((k, v)) = l.split_once('=') else {
            bail!("--label {l:?}: expected KEY=VALUE");
        };
        labels.push((k.to_string(), v.to_string()));
    }
    Ok(labels)
}

async fn ingest_local(args: &IngestArgs, labels: Vec<(String, String)>) -> Result<ExitCode> {
    let config = StoreConfig {
        decode: args.limits.limits(),
        ..StoreConfig::default()
    };
    let files = files(args)?;
    let store = args.storage.open(config.clone()).await?;
    let bar = progress_bar(files.len());
    let started = Instant::now();
    let (mut profiles, mut samples, mut bytes, mut failed) = (0u64, 0u64, 0u64, 0usize);
    for chunk in files.chunks(args.parallel.max(1)) {
        let appends = chunk.iter().map(|(path, time_nanos)| {
            let store = store.clone();
            let labels = labels.clone();
            async move {
                let (n, format, data) = read_file(args, path).await?;
                let record = WalRecord {
                    tenant: args.tenant.clone(),
                    labels: flamedb_service::ingest::canonical_labels(labels),
                    format,
                    time_nanos: *time_nanos,
                    perf_event: args.event.clone().unwrap_or_default(),
                    data,
                };
                // A file of several profiles (JFR, speedscope, OTLP) is one entry each,
                // stored together or not at all.
                let limits = config.decode;
                let entries = tokio::task::spawn_blocking(move || {
                    flamedb_service::ingest::expand(vec![record.into()], &limits)
                })
                .await??;
                let receipts = store.append_batch(entries).await?;
                anyhow::Ok((n, receipts))
            }
        });
        for ((path, _), result) in chunk.iter().zip(futures::future::join_all(appends).await) {
            bar.inc(1);
            match result {
                Ok((n, receipts)) => {
                    profiles += receipts.len() as u64;
                    samples += receipts.iter().map(|r| r.samples).sum::<u64>();
                    bytes += n;
                }
                Err(e) => {
                    failed += 1;
                    bar.suspend(|| eprintln!("flamedb ingest: {}: {e:#}", path.display()));
                }
            }
        }
    }
    bar.finish_and_clear();
    store.close().await?;
    Ok(summary(started, profiles, samples, bytes, failed))
}

/// Posts every file to the server's `/api/v1/ingest`, `--parallel` at a time.
async fn ingest_remote(
    args: &IngestArgs,
    client: &super::remote::Remote,
    labels: &[(String, String)],
) -> Result<ExitCode> {
    let files = files(args)?;
    let bar = progress_bar(files.len());
    let started = Instant::now();
    let (mut profiles, mut samples, mut bytes, mut failed) = (0u64, 0u64, 0u64, 0usize);
    for chunk in files.chunks(args.parallel.max(1)) {
        let posts = chunk.iter().map(|(path, time_nanos)| async move {
            let (n, format, data) = read_file(args, path).await?;
            let format = format.map_or("auto", |f| f.name());
            let stored = client
                .ingest(labels, format, *time_nanos, args.event.as_deref(), data)
                .await?;
            anyhow::Ok((n, stored))
        });
        for ((path, _), result) in chunk.iter().zip(futures::future::join_all(posts).await) {
            bar.inc(1);
            match result {
                Ok((n, stored)) => {
                    profiles += stored.profiles;
                    samples += stored.samples;
                    bytes += n;
                }
                Err(e) => {
                    failed += 1;
                    bar.suspend(|| eprintln!("flamedb ingest: {}: {e:#}", path.display()));
                }
            }
        }
    }
    bar.finish_and_clear();
    Ok(summary(started, profiles, samples, bytes, failed))
}

/// Each file with its profile time (0: the profile's own, else now): `FILE@TIME` when no
/// file is named so, else `--time`.
fn files(args: &IngestArgs) -> Result<Vec<(PathBuf, i64)>> {
    let time =
        |t: &str, what: &str| parse_time(t).map_err(|e| anyhow::anyhow!("{what}: {}", e.message));
    let default = match &args.time {
        Some(t) => time(t, "--time")?,
        None => 0,
    };
    args.files
        .iter()
        .map(|f| {
            let text = f.to_string_lossy();
            match text.rsplit_once('@') {
                Some((file, t)) if !f.exists() => Ok((PathBuf::from(file), time(t, &text)?)),
                _ => Ok((f.clone(), default)),
            }
        })
        .collect()
}

/// Reads a file: its size, format and the bytes to store (with `--sample-rate`, the
/// profile decoded, its counts converted to CPU time and encoded as pprof).
async fn read_file(args: &IngestArgs, path: &Path) -> Result<(u64, Option<Format>, Bytes)> {
    let data = tokio::fs::read(path).await?;
    let n = data.len() as u64;
    let Some(rate) = args.sample_rate else {
        return Ok((n, args.format.format(), Bytes::from(data)));
    };
    let options = DecodeOptions {
        limits: args.limits.limits(),
        perf_event: args.event.clone(),
    };
    let format = args.format.format();
    let pprof = tokio::task::spawn_blocking(move || {
        let (_, mut profile) = flamedb_profile::decode(&data, format, &options)?;
        counts_to_nanos(&mut profile, "cpu", rate).context("--sample-rate")?;
        anyhow::Ok(flamedb_profile::pprof::encode(&profile))
    })
    .await??;
    Ok((n, Some(Format::Pprof), Bytes::from(pprof)))
}

fn progress_bar(n: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {per_sec} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Prints the summary line; the exit status is non-zero when a file failed.
fn summary(started: Instant, profiles: u64, samples: u64, bytes: u64, failed: usize) -> ExitCode {
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let failed_note = if failed > 0 {
        format!("; {failed} failed")
    } else {
        String::new()
    };
    let rss_note = peak_rss_mib().map_or(String::new(), |m| format!("; peak RSS {m:.0} MiB"));
    eprintln!(
        "ingested {profiles} profiles ({samples} samples, {bytes} bytes) in {secs:.2} s: {:.0} samples/s, {:.1} MB/s{failed_note}{rss_note}",
        samples as f64 / secs,
        bytes as f64 / secs / 1e6,
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The process's peak resident memory (Linux `VmHWM`), in MiB.
pub(super) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
