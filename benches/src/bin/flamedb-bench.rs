//! flamedb's macro benchmark driver (see benches/README.md).
//!
//! `flamedb-bench ingest --data DIR` ingests a generated fleet (../shared/bench
//! gen_workload.py, normalized layout) into a store on local disk through the real write
//! path (pprof bytes -> decode -> WAL with fsync -> heads -> Parquet blocks), and prints
//! rows/s and bytes on disk per (profile x stack) row as JSON. `--via-cli FLAMEDB` ingests
//! with `flamedb ingest` processes instead, `--via-http FLAMEDB` through a `flamedb serve`
//! (and then also times the flame graph endpoints on that store). `--input folded` (with
//! either) ingests gen_workload's folded files instead of pprof (see `folded`).
//!
//! `flamedb-bench query` runs Q1-Q7 on that store; `flamedb-bench flame3m` times a flame
//! graph of 3M distinct stacks through SQL (and `/api/v1/flamegraph`).

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use flamedb_benches::folded::{self, FoldedFleet};
use flamedb_benches::server::Server;
use flamedb_benches::via_cli;
use flamedb_benches::via_http::{self, Payload};
use flamedb_benches::workload::Workload;
use flamedb_profile::{Format, pprof};
use flamedb_storage::{CompactionConfig, DataDir, PartitionFilter, Store, StoreConfig, WalRecord};
use futures::StreamExt;
use std::path::PathBuf;
use std::time::Instant;

/// A caching allocator, as the server uses: decoding frees and reallocates the same
/// buffers for every profile (benches/RESULTS.md measures the difference).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest a generated workload and report rate and bytes per row.
    Ingest {
        /// Output directory of gen_workload.py.
        #[arg(long)]
        data: PathBuf,
        /// Where the store goes (default: a temporary directory).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Stop after this many profiles (0 = all).
        #[arg(long, default_value_t = 0)]
        max_profiles: usize,
        /// What is ingested: pprof encoded here from the normalized data (cached beside
        /// it), or gen_workload's folded files (`DATA/folded/`, sample counts at 100 Hz;
        /// with --via-http or --via-cli only).
        #[arg(long, value_enum, default_value_t = Input::Pprof)]
        input: Input,
        /// Appends in flight.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Ingest through this `flamedb` binary (`flamedb ingest`, one process per pod, pprof
        /// files written beside the data) instead of in this process; the peak RSS is then
        /// the ingesting processes', not this driver's.
        #[arg(long)]
        via_cli: Option<PathBuf>,
        /// Ingest through a `flamedb serve` of this binary: POST every profile to
        /// `/api/v1/ingest` (`--http-concurrency` in flight), then `/api/v1/flush`; then time
        /// the flame graph endpoints (merge as Q1, diff as Q3) on the same store.
        #[arg(long, conflicts_with = "via_cli")]
        via_http: Option<PathBuf>,
        /// Requests in flight with `--via-http`.
        #[arg(long, default_value_t = 4)]
        http_concurrency: usize,
        /// Timed runs of each flame graph endpoint with `--via-http` (after one warm-up).
        #[arg(long, default_value_t = 5)]
        endpoint_reps: usize,
    },
    /// A flame graph of distinct stacks (3M by default) through SQL: writes them through
    /// the store's write path, then times `SELECT flamegraph(stack, value) FROM samples`.
    Flame3m {
        /// Where the store goes (default: a temporary directory).
        #[arg(long)]
        store: Option<PathBuf>,
        /// Distinct stacks.
        #[arg(long, default_value_t = 3_000_000)]
        stacks: usize,
        /// Profiles (WAL records) the stacks are split into.
        #[arg(long, default_value_t = 6)]
        profiles: usize,
        /// Timed runs after one cold run.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Also time `GET /api/v1/flamegraph` on a `flamedb serve` of this binary.
        #[arg(long)]
        flamedb: Option<PathBuf>,
    },
    /// Run Q1-Q7 (benches/queries/*.sql) against a store written by `ingest --store`.
    Query {
        /// The store directory given to `ingest --store`.
        #[arg(long)]
        store: PathBuf,
        /// Output directory of gen_workload.py (for the query parameters).
        #[arg(long)]
        data: PathBuf,
        /// Comma-separated query ids.
        #[arg(long, default_value = "Q1,Q2,Q3,Q4,Q5,Q6,Q7")]
        queries: String,
        /// Timed runs per query (after one warm-up run).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Where each query's answer is written as `{id}.arrow`.
        #[arg(long)]
        out: PathBuf,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Ingest {
            data,
            store,
            max_profiles,
            input,
            concurrency,
            via_cli,
            via_http,
            http_concurrency,
            endpoint_reps,
        } => {
            let path = match (via_cli, via_http) {
                (Some(f), _) => IngestPath::Cli(f),
                (None, Some(f)) => IngestPath::Http {
                    flamedb: f,
                    concurrency: http_concurrency,
                    endpoint_reps,
                },
                (None, None) => IngestPath::InProcess { concurrency },
            };
            ingest(data, store, max_profiles, input, path).await
        }
        Command::Flame3m {
            store,
            stacks,
            profiles,
            reps,
            flamedb,
        } => {
            let tmp = tempfile::tempdir()?;
            let dir = store.unwrap_or_else(|| tmp.path().to_path_buf());
            let args = flamedb_benches::flame3m::Flame3mArgs {
                stacks,
                profiles,
                reps,
                flamedb,
            };
            let report = flamedb_benches::flame3m::run(&dir, &args).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Query {
            store,
            data,
            queries,
            reps,
            out,
        } => {
            let ids: Vec<String> = queries.split(',').map(|s| s.trim().to_string()).collect();
            let report =
                flamedb_benches::queries::run(&store, &data, TENANT, &ids, reps, &out).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// The input format of `ingest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Input {
    /// Gzipped pprof, one profile per (pod, time), encoded from the normalized data.
    Pprof,
    /// gen_workload.py's gzipped folded files.
    Folded,
}

/// The profiles to ingest: (rows, pprof bodies) or the folded files.
enum Source {
    Pprof((usize, Vec<Body>)),
    Folded(FoldedFleet),
}

/// The workload's (profile x stack) rows and its profiles as gzipped pprof, encoded once
/// and cached beside the data.
fn pprof_bodies(data: &std::path::Path, max_profiles: usize) -> Result<(usize, Vec<Body>)> {
    let t = Instant::now();
    let w = Workload::load(data, max_profiles)?;
    let rows = w.rows();
    eprintln!(
        "loaded {} profiles, {rows} rows in {:.1}s",
        w.profiles.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cache = data.join(format!("flamedb-pprof-{}.cache", w.profiles.len()));
    let bodies = match read_cache(&cache, &w) {
        Some(b) => b,
        None => {
            let mut bodies = Vec::with_capacity(w.profiles.len());
            for p in &w.profiles {
                bodies.push((
                    p.labels.clone(),
                    p.time_nanos,
                    Bytes::from(pprof::encode_gzip(&w.to_profile(p)?)),
                ));
            }
            write_cache(&cache, &bodies)?;
            bodies
        }
    };
    let input_bytes: usize = bodies.iter().map(|b| b.2.len()).sum();
    eprintln!(
        "encoded pprof ({input_bytes} bytes gzipped) in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    Ok((rows, bodies))
}

/// The (profile x stack) rows of the CPU profiles, from `DATA/workload.json`.
fn workload_rows(data: &std::path::Path) -> Result<usize> {
    let w: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("workload.json")).context("reading workload.json")?,
    )?;
    let rows = w["rows"]["cpu"]
        .as_u64()
        .context("workload.json has no rows.cpu")?;
    Ok(usize::try_from(rows)?)
}

/// How `ingest` writes the workload.
enum IngestPath {
    /// `Store::append` in this process.
    InProcess { concurrency: usize },
    /// `flamedb ingest` processes of this binary.
    Cli(PathBuf),
    /// `flamedb serve` of this binary, `/api/v1/ingest`.
    Http {
        flamedb: PathBuf,
        concurrency: usize,
        endpoint_reps: usize,
    },
}

async fn ingest(
    data: PathBuf,
    store_dir: Option<PathBuf>,
    max_profiles: usize,
    input: Input,
    path: IngestPath,
) -> Result<()> {
    let source = match input {
        Input::Pprof => Source::Pprof(pprof_bodies(&data, max_profiles)?),
        Input::Folded => {
            anyhow::ensure!(
                !matches!(path, IngestPath::InProcess { .. }),
                "--input folded goes through flamedb's ingest paths: add --via-http or --via-cli"
            );
            Source::Folded(FoldedFleet::load(&data, max_profiles)?)
        }
    };
    let (profiles, rows, input_bytes) = match &source {
        Source::Pprof((rows, bodies)) => (
            bodies.len(),
            Some(*rows),
            bodies.iter().map(|b| b.2.len() as u64).sum::<u64>(),
        ),
        Source::Folded(f) => {
            let mut bytes = 0;
            for p in &f.profiles {
                bytes += std::fs::metadata(&p.path)
                    .with_context(|| format!("{}", p.path.display()))?
                    .len();
            }
            // The generated rows, when every profile goes in.
            let rows = (max_profiles == 0)
                .then(|| workload_rows(&data))
                .transpose()?;
            (f.profiles.len(), rows, bytes)
        }
    };
    let rate = match &source {
        Source::Folded(f) => f.rate_hz,
        Source::Pprof(_) => 0,
    };
    let input_format = match input {
        Input::Pprof => "gzipped pprof".to_string(),
        Input::Folded => format!("gzipped folded (sample counts at {rate} Hz)"),
    };

    let tmp = tempfile::tempdir()?;
    let dir = store_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let mut endpoints = serde_json::Value::Null;
    let ingest_path = match (&path, input) {
        (IngestPath::InProcess { .. }, _) => "in process (Store::append)".to_string(),
        (IngestPath::Cli(_), Input::Pprof) => {
            "flamedb ingest (CLI), one process per pod".to_string()
        }
        (IngestPath::Cli(_), Input::Folded) => {
            format!(
                "flamedb ingest --format folded --sample-rate {rate} FILE@TIME... (CLI), one process per pod"
            )
        }
        (IngestPath::Http { concurrency, .. }, Input::Pprof) => format!(
            "flamedb serve, POST /api/v1/ingest ({concurrency} in flight) and /api/v1/flush"
        ),
        (IngestPath::Http { concurrency, .. }, Input::Folded) => format!(
            "flamedb serve, POST /ingest?name=APP.cpu{{..}}&from=&until=&format=folded&sampleRate={rate} ({concurrency} in flight) and /api/v1/flush"
        ),
    };
    let (store, acked, durable, peak_rss) = match path {
        IngestPath::InProcess { concurrency } => {
            let Source::Pprof((_, bodies)) = source else {
                unreachable!("checked above: folded input has no in-process path")
            };
            let (store, acked, durable) = ingest_in_process(&dir, bodies, concurrency).await?;
            (store, acked, durable, peak_rss_mib())
        }
        IngestPath::Cli(flamedb) => {
            let (extra, groups) = match source {
                Source::Pprof((_, bodies)) => (vec![], via_cli::write_pprof_files(&data, bodies)?),
                Source::Folded(f) => (
                    vec![
                        "--format".to_string(),
                        "folded".to_string(),
                        "--sample-rate".to_string(),
                        f.rate_hz.to_string(),
                    ],
                    via_cli::per_pod(
                        f.profiles
                            .iter()
                            .map(|p| (p.labels.clone(), folded::cli_arg(p))),
                    ),
                ),
            };
            let (acked, rss) = via_cli::ingest(&flamedb, &dir, TENANT, &extra, &groups)?;
            let (store, _) = DataDir(&dir).open_local(StoreConfig::default()).await?;
            (store, acked, acked, rss)
        }
        IngestPath::Http {
            flamedb,
            concurrency,
            endpoint_reps,
        } => {
            let posts = match source {
                Source::Pprof((_, bodies)) => via_http::pprof_posts(bodies),
                Source::Folded(f) => f
                    .profiles
                    .iter()
                    .map(|p| {
                        (
                            folded::pyroscope_path(p, f.rate_hz),
                            Payload::File(p.path.clone()),
                        )
                    })
                    .collect(),
            };
            let server = Server::start(&flamedb, &dir).await?;
            let r = via_http::ingest(&server, TENANT, posts, concurrency).await?;
            eprintln!(
                "posted in {:.1}s, flushed at {:.1}s",
                r.acked_s, r.durable_s
            );
            endpoints = via_http::endpoints(&server, TENANT, &data, endpoint_reps).await?;
            let rss = server_peak_rss_mib(&server);
            server.stop()?;
            let (store, _) = DataDir(&dir).open_local(StoreConfig::default()).await?;
            (store, r.acked_s, r.durable_s, rss)
        }
    };
    let (flushed_blocks, flushed_by_file) = sizes(&store).await?;
    let stored_rows: u64 = store
        .blocks(TENANT, &PartitionFilter::default())
        .await?
        .iter()
        .map(|b| b.meta.rows)
        .sum();
    if let Some(rows) = rows {
        anyhow::ensure!(
            stored_rows == rows as u64,
            "blocks hold {stored_rows} rows, the workload has {rows}"
        );
    }
    let rows = stored_rows as usize;
    // Steady state: compaction merges each partition's blocks (what a running server's
    // compactor does in the background), then superseded blocks are collected.
    let t = Instant::now();
    let now = CompactionConfig {
        min_blocks: 2,
        grace: std::time::Duration::ZERO,
        ..CompactionConfig::default()
    };
    store.maintain(TENANT, &now).await?;
    let compaction_s = t.elapsed().as_secs_f64();
    let (blocks, by_file) = sizes(&store).await?;
    let minute = 60_000_000_000;
    let rollups = store
        .blocks_at_resolution(TENANT, &PartitionFilter::default(), minute)
        .await?;
    let rollup_bytes: u64 = rollups
        .iter()
        .filter(|b| b.meta.rollup_nanos == minute)
        .flat_map(|b| b.meta.file_sizes.iter().map(|(_, n)| n))
        .sum();
    let total: u64 = by_file.values().sum();
    let flushed_total: u64 = flushed_by_file.values().sum();
    let report = serde_json::json!({
        "profiles": profiles,
        "rows": rows,
        "stored_rows": stored_rows,
        "blocks_after_flush": flushed_blocks,
        "bytes_per_row_after_flush": flushed_total as f64 / rows as f64,
        "bytes_by_file_after_flush": flushed_by_file,
        "compaction_seconds": compaction_s,
        "blocks": blocks,
        "input_format": input_format,
        "input_bytes": input_bytes,
        "seconds_to_ack_all": acked,
        "seconds_to_durable_blocks": durable,
        "rows_per_second": rows as f64 / durable,
        "bytes_on_disk": total,
        "bytes_per_row": total as f64 / rows as f64,
        "minute_rollup_bytes_per_row": rollup_bytes as f64 / rows as f64,
        "bytes_by_file": by_file,
        "peak_rss_mib": peak_rss,
        "ingest_path": ingest_path,
        "http_endpoints": endpoints,
    });
    println!("{}", serde_json::to_string_pretty(&report).context("json")?);
    Ok(())
}

const TENANT: &str = "bench";

/// Appends every body through a store in this process; returns the store and the seconds
/// until all were acknowledged and until all were in blocks.
async fn ingest_in_process(
    dir: &std::path::Path,
    bodies: Vec<Body>,
    concurrency: usize,
) -> Result<(Store, f64, f64)> {
    let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
    let flusher = store.spawn_background(std::time::Duration::from_secs(1));
    let t = Instant::now();
    let results: Vec<_> = futures::stream::iter(bodies.into_iter().map(|(labels, time, body)| {
        let store = store.clone();
        async move {
            store
                .append(WalRecord {
                    tenant: TENANT.into(),
                    labels,
                    format: Some(Format::Pprof),
                    time_nanos: time,
                    perf_event: String::new(),
                    data: body,
                })
                .await
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    let acked = t.elapsed().as_secs_f64();
    flusher.abort();
    store.close().await?;
    let durable = t.elapsed().as_secs_f64();
    for r in results {
        r?;
    }
    Ok((store, acked, durable))
}

type Body = (Vec<(String, String)>, i64, Bytes);

/// The encoded pprof bodies of a workload, cached next to it: encoding the medium fleet
/// takes minutes. The file is the bodies, each as a u64 length and the bytes, in profile
/// order; labels and times come from the workload.
fn read_cache(path: &std::path::Path, w: &Workload) -> Option<Vec<Body>> {
    let data = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let mut out = Vec::with_capacity(w.profiles.len());
    let data = Bytes::from(data);
    for p in &w.profiles {
        let len = u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?) as usize;
        let body = data.slice(at + 8..(at + 8 + len).min(data.len()));
        at += 8 + len;
        out.push((p.labels.clone(), p.time_nanos, body));
    }
    (at == data.len()).then_some(out)
}

fn write_cache(path: &std::path::Path, bodies: &[Body]) -> Result<()> {
    let mut out = Vec::new();
    for (_, _, b) in bodies {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    std::fs::write(path, out).with_context(|| format!("write {}", path.display()))
}

/// Number of current blocks and bytes per file kind.
async fn sizes(store: &Store) -> Result<(usize, std::collections::BTreeMap<String, u64>)> {
    let blocks = store.blocks(TENANT, &PartitionFilter::default()).await?;
    let mut by_file: std::collections::BTreeMap<String, u64> = Default::default();
    for b in &blocks {
        for (f, n) in &b.meta.file_sizes {
            *by_file.entry(f.clone()).or_default() += n;
        }
    }
    Ok((blocks.len(), by_file))
}

fn peak_rss_mib() -> f64 {
    peak_rss_mib_of("self")
}

/// The server process's peak RSS so far (it ingested; the driver only posted).
fn server_peak_rss_mib(server: &Server) -> f64 {
    peak_rss_mib_of(&server.pid().to_string())
}

fn peak_rss_mib_of(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
