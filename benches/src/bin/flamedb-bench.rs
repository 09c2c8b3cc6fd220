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
use clap::{Parser, Subcommand};
use flamedb_benches::folded;
use flamedb_benches::input::{Input, Source};
use flamedb_benches::server::Server;
use flamedb_benches::via_cli;
use flamedb_benches::via_http::{self, Body, Payload};
use flamedb_profile::Format;
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
    /// Compare every consecutive version pair of every app of a store written by
    /// `ingest --store` and score the findings against the data's ground_truth.json.
    Regressions {
        /// The store directory given to `ingest --store`.
        #[arg(long)]
        store: PathBuf,
        /// Output directory of gen_workload.py (for ground_truth.json).
        #[arg(long)]
        data: PathBuf,
        /// Smallest change reported, percentage points.
        #[arg(long, default_value_t = 0.5)]
        min_pp: f64,
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
    flamedb_query::alloc::keep_freed_memory();
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
        Command::Regressions {
            store,
            data,
            min_pp,
        } => {
            let report = flamedb_benches::regressions::run(&store, &data, TENANT, min_pp).await?;
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

impl IngestPath {
    /// The path in words, for the report.
    fn describe(&self, source: &Source) -> String {
        let rate = match source {
            Source::Folded(f) => f.rate_hz,
            Source::Pprof { .. } | Source::Parquet(_) => 0,
        };
        match (self, source) {
            (IngestPath::InProcess { .. }, Source::Parquet(_)) => {
                "bulk import in process (Store::import)".to_string()
            }
            (IngestPath::Cli(_), Source::Parquet(_)) => {
                "bulk import, `flamedb import --stacks stacks.parquet samples/*.parquet` (CLI)"
                    .to_string()
            }
            (IngestPath::Http { .. }, Source::Parquet(_)) => "-".to_string(),
            (IngestPath::InProcess { .. }, _) => "in process (Store::append)".to_string(),
            (IngestPath::Cli(_), Source::Pprof { .. }) => {
                "flamedb ingest (CLI), one process per pod".to_string()
            }
            (IngestPath::Cli(_), Source::Folded(_)) => format!(
                "flamedb ingest --format folded --sample-rate {rate} FILE@TIME... (CLI), one process per pod"
            ),
            (IngestPath::Http { concurrency, .. }, Source::Pprof { .. }) => format!(
                "flamedb serve, POST /api/v1/ingest ({concurrency} in flight) and /api/v1/flush"
            ),
            (IngestPath::Http { concurrency, .. }, Source::Folded(_)) => format!(
                "flamedb serve, POST /ingest?name=APP.cpu{{..}}&from=&until=&format=folded&sampleRate={rate} ({concurrency} in flight) and /api/v1/flush"
            ),
        }
    }
}

/// What an ingest path left: the store and its timings.
struct Ingested {
    store: Store,
    /// Seconds until every profile was acknowledged.
    acked: f64,
    /// Seconds until every profile was in blocks.
    durable: f64,
    /// Peak RSS of the ingesting process, MiB.
    peak_rss: f64,
    /// The flame graph endpoint timings (HTTP only).
    endpoints: serde_json::Value,
}

async fn ingest(
    data: PathBuf,
    store_dir: Option<PathBuf>,
    max_profiles: usize,
    input: Input,
    path: IngestPath,
) -> Result<()> {
    anyhow::ensure!(
        input != Input::Folded || !matches!(path, IngestPath::InProcess { .. }),
        "--input folded goes through flamedb's ingest paths: add --via-http or --via-cli"
    );
    let source = Source::load(&data, input, max_profiles)?;
    let profiles = source.profiles();
    let expected_rows = source.expected_rows(&data)?;
    let input_bytes = source.input_bytes()?;
    let input_format = source.describe();
    let ingest_path = path.describe(&source);
    let tmp = tempfile::tempdir()?;
    let dir = store_dir.unwrap_or_else(|| tmp.path().to_path_buf());
    let run = run_path(&data, &dir, source, path).await?;
    let mut report = store_report(&run.store, expected_rows).await?;
    // Whole tables carry no profile count of their own: the store's.
    let profiles = if profiles == 0 {
        report["stored_profiles"].as_u64().unwrap_or(0) as usize
    } else {
        profiles
    };
    let rows = report["rows"].as_f64().unwrap_or(f64::NAN);
    let extra = serde_json::json!({
        "profiles": profiles,
        "input_format": input_format,
        "input_bytes": input_bytes,
        "seconds_to_ack_all": run.acked,
        "seconds_to_durable_blocks": run.durable,
        "rows_per_second": rows / run.durable,
        "peak_rss_mib": run.peak_rss,
        "ingest_path": ingest_path,
        "http_endpoints": run.endpoints,
    });
    if let (Some(r), Some(e)) = (report.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    println!("{}", serde_json::to_string_pretty(&report).context("json")?);
    Ok(())
}

/// Sends `source` through `path` into the data directory `dir`.
async fn run_path(
    data: &std::path::Path,
    dir: &std::path::Path,
    source: Source,
    path: IngestPath,
) -> Result<Ingested> {
    let mut endpoints = serde_json::Value::Null;
    let (store, acked, durable, peak_rss) = match (path, source) {
        (IngestPath::InProcess { concurrency }, Source::Pprof { bodies, .. }) => {
            let (store, acked, durable) = ingest_in_process(dir, bodies, concurrency).await?;
            (store, acked, durable, peak_rss_mib())
        }
        (IngestPath::InProcess { .. }, Source::Folded(_)) => {
            anyhow::bail!("folded input has no in-process path")
        }
        (IngestPath::InProcess { .. }, Source::Parquet(tables)) => {
            let (store, secs) = import_in_process(dir, &tables).await?;
            (store, secs, secs, peak_rss_mib())
        }
        (IngestPath::Cli(flamedb), Source::Parquet(tables)) => {
            let (secs, rss) = via_cli::import(&flamedb, dir, TENANT, &tables)?;
            let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
            (store, secs, secs, rss)
        }
        (IngestPath::Http { .. }, Source::Parquet(_)) => {
            anyhow::bail!(
                "--input parquet is imported in process or with `flamedb import` (--via-cli)"
            )
        }
        (IngestPath::Cli(flamedb), source) => {
            let (extra, groups) = match source {
                Source::Parquet(_) => unreachable!("matched above"),
                Source::Pprof { bodies, .. } => (vec![], via_cli::write_pprof_files(data, bodies)?),
                Source::Folded(f) => (
                    [
                        "--format",
                        "folded",
                        "--sample-rate",
                        &f.rate_hz.to_string(),
                    ]
                    .map(String::from)
                    .to_vec(),
                    via_cli::per_pod(
                        f.profiles
                            .iter()
                            .map(|p| (p.labels.clone(), folded::cli_arg(p))),
                    ),
                ),
            };
            let (acked, rss) = via_cli::ingest(&flamedb, dir, TENANT, &extra, &groups)?;
            let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
            (store, acked, acked, rss)
        }
        (
            IngestPath::Http {
                flamedb,
                concurrency,
                endpoint_reps,
            },
            source,
        ) => {
            let posts = match source {
                Source::Parquet(_) => unreachable!("matched above"),
                Source::Pprof { bodies, .. } => via_http::pprof_posts(bodies),
                Source::Folded(f) => f
                    .profiles
                    .iter()
                    .map(|p| {
                        let path = folded::pyroscope_path(p, f.rate_hz);
                        (path, Payload::File(p.path.clone()))
                    })
                    .collect(),
            };
            let server = Server::start(&flamedb, dir).await?;
            let r = via_http::ingest(&server, TENANT, posts, concurrency).await?;
            eprintln!(
                "posted in {:.1}s, flushed at {:.1}s",
                r.acked_s, r.durable_s
            );
            endpoints = via_http::endpoints(&server, TENANT, data, endpoint_reps).await?;
            let rss = server_peak_rss_mib(&server);
            server.stop()?;
            let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
            (store, r.acked_s, r.durable_s, rss)
        }
    };
    Ok(Ingested {
        store,
        acked,
        durable,
        peak_rss,
        endpoints,
    })
}

/// Checks the rows stored (when `expected_rows` is known), compacts, and reports rows,
/// blocks and bytes per row before and after compaction.
async fn store_report(store: &Store, expected_rows: Option<usize>) -> Result<serde_json::Value> {
    let (flushed_blocks, flushed_by_file) = sizes(store).await?;
    let stored_rows: u64 = store
        .blocks(TENANT, &PartitionFilter::default())
        .await?
        .iter()
        .map(|b| b.meta.rows)
        .sum();
    if let Some(rows) = expected_rows {
        anyhow::ensure!(
            stored_rows == rows as u64,
            "blocks hold {stored_rows} rows, the workload has {rows}"
        );
    }
    let stored_profiles: u64 = store
        .blocks(TENANT, &PartitionFilter::default())
        .await?
        .iter()
        .map(|b| b.meta.profiles)
        .sum();
    let rows = stored_rows as f64;
    // Steady state: compaction merges each partition's blocks and gives each app and day
    // one shared dictionary (what a running server's compactor does in the background once
    // a day has settled), then superseded blocks are collected.
    let t = Instant::now();
    let now = CompactionConfig {
        min_blocks: 2,
        grace: std::time::Duration::ZERO,
        share_after: Some(std::time::Duration::ZERO),
        ..CompactionConfig::default()
    };
    store.maintain(TENANT, &now).await?;
    let compaction_s = t.elapsed().as_secs_f64();
    let (blocks, by_file) = sizes(store).await?;
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
    Ok(serde_json::json!({
        "rows": stored_rows,
        "stored_rows": stored_rows,
        "stored_profiles": stored_profiles,
        "blocks_after_flush": flushed_blocks,
        "bytes_per_row_after_flush": flushed_total as f64 / rows,
        "bytes_by_file_after_flush": flushed_by_file,
        "compaction_seconds": compaction_s,
        "blocks": blocks,
        "bytes_on_disk": total,
        "bytes_per_row": total as f64 / rows,
        "minute_rollup_bytes_per_row": rollup_bytes as f64 / rows,
        "bytes_by_file": by_file,
    }))
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

/// Imports the normalized tables through a store in this process; returns the store and
/// the seconds until every block was written (the stacks table read included).
async fn import_in_process(
    dir: &std::path::Path,
    tables: &flamedb_benches::input::ParquetTables,
) -> Result<(Store, f64)> {
    use flamedb_benches::input::ParquetTables;
    let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
    let t = Instant::now();
    let opts = ParquetTables::options();
    let stacks = flamedb_storage::StackTable::load(tables.stacks.clone().into(), &opts).await?;
    let report = store
        .import(TENANT, tables.samples.clone(), Some(stacks), opts)
        .await?;
    store.close().await?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "imported {} input rows into {} blocks in {secs:.1}s",
        report.input_rows, report.blocks
    );
    Ok((store, secs))
}

/// Number of current blocks and bytes per file kind.
async fn sizes(store: &Store) -> Result<(usize, std::collections::BTreeMap<String, u64>)> {
    let blocks = store.blocks(TENANT, &PartitionFilter::default()).await?;
    let mut by_file: std::collections::BTreeMap<String, u64> = Default::default();
    let mut shared = std::collections::BTreeMap::new();
    for b in &blocks {
        for (f, n) in &b.meta.file_sizes {
            *by_file.entry(f.clone()).or_default() += n;
        }
        if let Some(s) = &b.meta.shared_symbols {
            shared.insert(s.id.clone(), s.bytes);
        }
    }
    // Shared dictionaries (one per app and day) count once however many blocks use them.
    if !shared.is_empty() {
        by_file.insert("shared symbols.bin".into(), shared.values().sum());
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
