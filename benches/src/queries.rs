//! Q1-Q7 of ../shared/bench/QUERIES.md in flamedb SQL (`benches/queries/Q*.sql`), run
//! against a store written by `flamedb-bench ingest --store DIR`.
//!
//! Each query runs once to warm caches, then `reps` times (execute and collect, as
//! peers.py times the peers); the last answer is written as an Arrow IPC file so that
//! `scripts/queries.py` computes its checksum with the peers' own code. With
//! `FLAMEDB_BENCH_EXPLAIN=1` each query's `EXPLAIN ANALYZE` goes to stderr.

use anyhow::{Context, Result};
use arrow::ipc::writer::FileWriter;
use flamedb_query::{FlameContext, QueryConfig, tenant_session};
use flamedb_storage::DataDir;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The query ids, in order.
pub const QUERIES: [&str; 7] = ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7"];

/// `sql` with `$name` replaced by the workload's query parameters (longest names first,
/// so `$version` is not read as `$v` + `ersion`). Quotes in values are doubled.
pub fn render(sql: &str, params: &serde_json::Map<String, Value>) -> String {
    let mut names: Vec<&String> = params.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = sql.to_string();
    for n in names {
        let v = match &params[n] {
            Value::String(s) => s.replace('\'', "''"),
            v => v.to_string(),
        };
        out = out.replace(&format!("${n}"), &v);
    }
    out
}

/// Runs the queries of `ids`; returns per-query timings and writes `{out}/{id}.arrow`.
pub async fn run(
    store: &Path,
    data: &Path,
    tenant: &str,
    ids: &[String],
    reps: usize,
    out: &Path,
) -> Result<Value> {
    let workload: Value = serde_json::from_slice(
        &std::fs::read(data.join("workload.json")).context("reading workload.json")?,
    )?;
    let params = workload["query_params"]
        .as_object()
        .context("workload.json has no query_params")?
        .clone();
    let blocks = DataDir(store).blocks();
    let objects = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(
        &blocks,
    )?);
    let ctx = FlameContext::new(objects, Default::default(), QueryConfig::default());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    std::fs::create_dir_all(out)?;
    let mut results = serde_json::Map::new();
    for id in ids {
        let sql = render(
            &std::fs::read_to_string(dir.join(format!("{id}.sql")))?,
            &params,
        );
        let mut times = vec![];
        let mut last = vec![];
        for rep in 0..=reps {
            let session = tenant_session(&ctx, tenant)?;
            let t = Instant::now();
            let batches = session
                .sql(&sql)
                .await
                .with_context(|| format!("planning {id}"))?
                .collect()
                .await
                .with_context(|| format!("running {id}"))?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if rep > 0 {
                times.push(ms);
            }
            last = batches;
        }
        if std::env::var_os("FLAMEDB_BENCH_EXPLAIN").is_some() {
            let session = tenant_session(&ctx, tenant)?;
            let plan = session
                .sql(&format!("EXPLAIN ANALYZE {sql}"))
                .await?
                .collect()
                .await?;
            eprintln!(
                "{id}:\n{}",
                arrow::util::pretty::pretty_format_batches(&plan)?
            );
        }
        let rows: usize = last.iter().map(|b| b.num_rows()).sum();
        if let Some(first) = last.first() {
            let f = std::fs::File::create(out.join(format!("{id}.arrow")))?;
            let mut w = FileWriter::try_new(f, &first.schema())?;
            for b in &last {
                w.write(b)?;
            }
            w.finish()?;
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        eprintln!("{id}: {median:.1} ms median of {reps}, {rows} rows");
        results.insert(
            id.clone(),
            json!({"median_ms": median, "runs_ms": times, "rows": rows}),
        );
    }
    Ok(json!({"system": "flamedb", "queries": results}))
}
