//! A flame graph of 3M distinct stacks, end to end through SQL (`flamedb-bench flame3m`).
//!
//! ```text
//! distinct::DistinctStacks ──► a few pprof profiles (gzipped) ──► Store::append (WAL, heads)
//!   ──► close: Parquet blocks ──► SELECT flamegraph(stack, value) FROM samples   (timed)
//!                              └─► flamedb serve: GET /api/v1/flamegraph          (timed)
//! ```
//!
//! Each stack gets a seeded value; the sum of the values, counted while generating, must
//! equal the root total of every answer.

use crate::distinct::{DistinctStacks, MAX_STACKS};
use crate::server::Server;
use anyhow::{Context, Result, ensure};
use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use bytes::Bytes;
use flamedb_profile::testing::Rng;
use flamedb_profile::{Format, FrameKind, LabelSetId, LocationId, Profile, pprof};
use flamedb_query::{FlameContext, QueryConfig, tenant_session};
use flamedb_storage::{DataDir, PartitionFilter, StoreConfig, WalRecord};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The tenant and app the stacks are written under.
pub const TENANT: &str = "bench";
const APP: &str = "flame3m";
/// 2025-06-02T00:00:00Z, ns.
const TIME_NANOS: i64 = 1_748_822_400_000_000_000;

/// The SQL timed.
pub const SQL: &str = "SELECT flamegraph(stack, value) FROM samples";

/// What to run.
#[derive(Debug, Clone)]
pub struct Flame3mArgs {
    /// Distinct stacks (at most [`MAX_STACKS`]).
    pub stacks: usize,
    /// Profiles the stacks are split into (contiguous ranges), one WAL record each.
    pub profiles: usize,
    /// Timed runs after one cold run.
    pub reps: usize,
    /// Also time `/api/v1/flamegraph` through this `flamedb` binary.
    pub flamedb: Option<std::path::PathBuf>,
}

/// Profile `k` of `parts`: the stacks of its range, values from a seeded generator; also
/// returns the sum of its values.
fn profile(s: &DistinctStacks, range: std::ops::Range<usize>, seed: u64) -> (Profile, i64) {
    let mut p = Profile::new();
    p.add_sample_type("cpu", "nanoseconds");
    p.period = 10_000_000;
    p.time_nanos = TIME_NANOS;
    p.duration_nanos = 10_000_000_000;
    let mut location: Vec<Option<LocationId>> = vec![None; s.names.len()];
    let (mut frames, mut locs) = (Vec::new(), Vec::new());
    let mut rng = Rng::new(seed);
    let mut sum = 0;
    for j in range {
        s.frames(j, &mut frames);
        locs.clear();
        for &f in &frames {
            let id = *location[f].get_or_insert_with(|| {
                p.intern_named_location(&s.names[f], None, 0, FrameKind::Unspecified)
            });
            locs.push(id);
        }
        let stack = p.stacks.intern(locs.iter().copied());
        let value = 10_000_000 * (1 + rng.below(20) as i64);
        sum += value;
        p.push_sample(stack, &[value], LabelSetId::EMPTY, None);
    }
    (p, sum)
}

/// Writes the stacks into a store at `dir` through the write path; returns the expected
/// total and a JSON report of the write.
async fn write_store(dir: &Path, args: &Flame3mArgs) -> Result<(i64, Value)> {
    let s = DistinctStacks::new(42, 50_000);
    let t = Instant::now();
    let parts = args.profiles.max(1);
    let mut bodies = Vec::with_capacity(parts);
    let mut expected = 0;
    for k in 0..parts {
        let range = args.stacks * k / parts..args.stacks * (k + 1) / parts;
        let (p, sum) = profile(&s, range, 7 + k as u64);
        expected += sum;
        bodies.push(Bytes::from(pprof::encode_gzip(&p)));
    }
    let generate_s = t.elapsed().as_secs_f64();
    let input_bytes: usize = bodies.iter().map(Bytes::len).sum();
    let t = Instant::now();
    let (store, _) = DataDir(dir).open_local(StoreConfig::default()).await?;
    for data in bodies {
        store
            .append(WalRecord {
                tenant: TENANT.into(),
                labels: vec![
                    ("app".into(), APP.into()),
                    ("version".into(), "v1".into()),
                    ("dc".into(), "local".into()),
                ],
                format: Some(Format::Pprof),
                time_nanos: TIME_NANOS,
                perf_event: String::new(),
                data,
            })
            .await?;
    }
    store.close().await?;
    let write_s = t.elapsed().as_secs_f64();
    let blocks = store.blocks(TENANT, &PartitionFilter::default()).await?;
    let rows: u64 = blocks.iter().map(|b| b.meta.rows).sum();
    ensure!(
        rows == args.stacks as u64,
        "blocks hold {rows} rows, {} distinct stacks were written",
        args.stacks
    );
    eprintln!(
        "flame3m: {} stacks in {parts} profiles ({input_bytes} bytes of gzipped pprof, generated in {generate_s:.1}s), \
         written to {} block(s) in {write_s:.1}s",
        args.stacks,
        blocks.len()
    );
    Ok((
        expected,
        json!({"stacks": args.stacks, "profiles": parts, "blocks": blocks.len(),
               "input_pprof_gzip_bytes": input_bytes, "generate_seconds": generate_s,
               "write_seconds": write_s}),
    ))
}

fn median(times: &[f64]) -> f64 {
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Times `SQL` on the store at `dir`: a cold run on a fresh context, then `reps` warm ones.
async fn time_sql(dir: &Path, reps: usize, expected: i64) -> Result<Value> {
    let objects = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(
        DataDir(dir).blocks(),
    )?);
    let ctx = FlameContext::new(objects, Default::default(), QueryConfig::default());
    let mut times = vec![];
    let mut nodes = 0;
    for _ in 0..=reps {
        let session = tenant_session(&ctx, TENANT)?;
        let t = Instant::now();
        let batches = session.sql(SQL).await?.collect().await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let (root, n) = root_total(&batches)?;
        ensure!(
            root == expected,
            "flamegraph root total {root}, the stacks sum to {expected}"
        );
        nodes = n;
    }
    let cold = times.remove(0);
    eprintln!(
        "flame3m SQL: cold {cold:.0} ms, warm median {:.0} ms ({nodes} nodes returned)",
        median(&times)
    );
    Ok(
        json!({"sql": SQL, "cold_ms": cold, "median_ms": median(&times), "runs_ms": times,
              "nodes_returned": nodes}),
    )
}

/// The root's total (the first node) and the number of nodes of a `flamegraph` answer.
fn root_total(batches: &[arrow::array::RecordBatch]) -> Result<(i64, usize)> {
    let b = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .context("no rows")?;
    let list = b.column(0).as_list::<i32>();
    let nodes = list.value(0);
    let nodes = nodes.as_struct();
    let total = nodes
        .column_by_name("total")
        .context("no total field")?
        .as_primitive::<Int64Type>();
    ensure!(!total.is_empty(), "empty flame graph");
    Ok((total.value(0), total.len()))
}

/// Times `/api/v1/flamegraph?app=..&format=flamebearer` on a server over the store.
async fn time_endpoint(flamedb: &Path, dir: &Path, reps: usize, expected: i64) -> Result<Value> {
    let server = Server::start(flamedb, dir).await?;
    let path = format!("/api/v1/flamegraph?app={APP}&format=flamebearer");
    let mut times = vec![];
    for _ in 0..=reps {
        let t = Instant::now();
        let body = server.get(TENANT, &path).await?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        let fb: Value = serde_json::from_slice(&body)?;
        let ticks = fb["flamebearer"]["numTicks"].as_i64().context("numTicks")?;
        ensure!(
            ticks == expected,
            "{path}: numTicks {ticks}, the stacks sum to {expected}"
        );
    }
    server.stop()?;
    let cold = times.remove(0);
    eprintln!(
        "flame3m HTTP: cold {cold:.0} ms, warm median {:.0} ms",
        median(&times)
    );
    Ok(json!({"path": path, "cold_ms": cold, "median_ms": median(&times), "runs_ms": times}))
}

/// Writes the store under `dir` and times the flame graph; returns the JSON report.
pub async fn run(dir: &Path, args: &Flame3mArgs) -> Result<Value> {
    ensure!(
        args.stacks <= MAX_STACKS,
        "at most {MAX_STACKS} distinct stacks"
    );
    let (expected, write) = write_store(dir, args).await?;
    let sql = time_sql(dir, args.reps, expected).await?;
    let http = match &args.flamedb {
        Some(f) => time_endpoint(f, dir, args.reps, expected).await?,
        None => Value::Null,
    };
    Ok(json!({"write": write, "expected_total": expected, "sql": sql, "http": http}))
}
