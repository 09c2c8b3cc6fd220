//! The macro run through flamedb's HTTP server (`flamedb-bench ingest --via-http FLAMEDB`):
//! every generated profile is POSTed over a few parallel connections, as gzipped pprof to
//! `/api/v1/ingest` or, with `--input folded`, as gen_workload's gzipped folded file to
//! Pyroscope's `/ingest` ([`crate::folded::pyroscope_path`]); `POST /api/v1/flush` makes it
//! all queryable, and then the flame
//! graph endpoints are timed on the same store: the merge (`/api/v1/flamegraph`, as Q1)
//! and the diff (`/api/v1/diff`, as Q3). Each endpoint's totals must equal the SQL totals
//! of Q1 and Q3 (`benches/queries/`) asked through `/api/v1/sql` of the same server.

use crate::queries::render;
use crate::server::Server;
use anyhow::{Context, Result, ensure};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;

/// A profile to post: its series labels, start time (ns) and gzipped pprof.
pub type Body = (Vec<(String, String)>, i64, Bytes);

/// What one request sends: bytes at hand or a file read when the request is made.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The body.
    Bytes(Bytes),
    /// A file whose content is the body.
    File(std::path::PathBuf),
}

/// The `/api/v1/ingest` request of each gzipped pprof body.
pub fn pprof_posts(bodies: Vec<Body>) -> Vec<(String, Payload)> {
    bodies
        .into_iter()
        .map(|(labels, time, body)| (ingest_path(&labels, time), Payload::Bytes(body)))
        .collect()
}

/// Seconds until every post was answered (durable in the WAL) and until the flush returned
/// (queryable in blocks).
#[derive(Debug, Clone, Copy)]
pub struct HttpIngest {
    /// Every `/api/v1/ingest` answered.
    pub acked_s: f64,
    /// `/api/v1/flush` answered too.
    pub durable_s: f64,
}

/// `/api/v1/ingest?app=..&version=..&dc=..&label.pod=..&time=NS&format=pprof`.
fn ingest_path(labels: &[(String, String)], time_nanos: i64) -> String {
    let mut q: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| match k.as_str() {
            "app" | "version" | "dc" => (k.clone(), v.clone()),
            _ => (format!("label.{k}"), v.clone()),
        })
        .collect();
    q.push(("time".into(), time_nanos.to_string()));
    q.push(("format".into(), "pprof".into()));
    // Names and values are plain here, but encode them anyway.
    let q: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("/api/v1/ingest?{}", q.join("&"))
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Makes every request (path and body) with `concurrency` in flight, then flushes.
pub async fn ingest(
    server: &Server,
    tenant: &str,
    posts: Vec<(String, Payload)>,
    concurrency: usize,
) -> Result<HttpIngest> {
    let t = Instant::now();
    let mut posts = futures::stream::iter(posts.into_iter().map(|(path, payload)| async move {
        let body = match payload {
            Payload::Bytes(b) => b,
            Payload::File(f) => Bytes::from(
                tokio::fs::read(&f)
                    .await
                    .with_context(|| format!("reading {}", f.display()))?,
            ),
        };
        server.post(tenant, &path, body).await
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(r) = posts.next().await {
        r?;
    }
    let acked_s = t.elapsed().as_secs_f64();
    server.post(tenant, "/api/v1/flush", "").await?;
    Ok(HttpIngest {
        acked_s,
        durable_s: t.elapsed().as_secs_f64(),
    })
}

/// The numbers of the first row of a JSON answer of `/api/v1/sql`.
async fn sql_row(server: &Server, tenant: &str, sql: &str) -> Result<Vec<i64>> {
    let body = server
        .post(tenant, "/api/v1/sql?format=json", sql.to_string())
        .await?;
    let rows: Value = serde_json::from_slice(&body)?;
    let row = rows.get(0).and_then(Value::as_object).context("no row")?;
    row.values()
        .map(|v| {
            v.as_i64()
                .with_context(|| format!("{sql}: {v} is not a number"))
        })
        .collect()
}

/// Times one GET: a warm-up, then `reps` runs; returns the median ms and the last body.
async fn time_get(server: &Server, tenant: &str, path: &str, reps: usize) -> Result<(f64, Value)> {
    let mut times = vec![];
    let mut last = Value::Null;
    for rep in 0..=reps {
        let t = Instant::now();
        let body = server.get(tenant, path).await?;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if rep > 0 {
            times.push(ms);
        }
        last = serde_json::from_slice(&body)?;
    }
    times.sort_by(f64::total_cmp);
    Ok((
        times.get(times.len() / 2).copied().unwrap_or(f64::NAN),
        last,
    ))
}

/// Times the merge and diff endpoints with Q1's and Q3's parameters and checks their
/// totals against Q1's and Q3's SQL totals.
pub async fn endpoints(server: &Server, tenant: &str, data: &Path, reps: usize) -> Result<Value> {
    let workload: Value = serde_json::from_slice(
        &std::fs::read(data.join("workload.json")).context("reading workload.json")?,
    )?;
    let params = workload["query_params"]
        .as_object()
        .context("workload.json has no query_params")?;
    let p = |k: &str| params.get(k).and_then(Value::as_str).unwrap_or_default();
    let queries = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    let q = |id: &str| -> Result<String> {
        Ok(render(
            &std::fs::read_to_string(queries.join(format!("{id}.sql")))?,
            params,
        ))
    };
    let q1 = sql_row(
        server,
        tenant,
        &format!("SELECT sum(value) AS total FROM ({})", q("Q1")?),
    )
    .await?;
    let q3 = sql_row(
        server,
        tenant,
        &format!(
            "SELECT sum(left_value) AS l, sum(right_value) AS r FROM ({})",
            q("Q3")?
        ),
    )
    .await?;

    let merge_path = format!(
        "/api/v1/flamegraph?app={}&format=flamebearer",
        encode(p("app"))
    );
    let (merge_ms, fb) = time_get(server, tenant, &merge_path, reps).await?;
    let ticks = fb["flamebearer"]["numTicks"].as_i64().context("numTicks")?;
    ensure!(
        ticks == q1[0],
        "{merge_path}: total {ticks}, Q1's SQL total {}",
        q1[0]
    );
    let diff_path = format!(
        "/api/v1/diff?app={}&left.version={}&right.version={}&format=flamebearer",
        encode(p("app")),
        encode(p("v1")),
        encode(p("v2"))
    );
    let (diff_ms, fb) = time_get(server, tenant, &diff_path, reps).await?;
    let (l, r) = (fb["leftTicks"].as_i64(), fb["rightTicks"].as_i64());
    ensure!(
        l == Some(q3[0]) && r == Some(q3[1]),
        "{diff_path}: totals {l:?} / {r:?}, Q3's SQL totals {} / {}",
        q3[0],
        q3[1]
    );
    eprintln!(
        "flame graph endpoints: merge {merge_ms:.1} ms, diff {diff_ms:.1} ms (totals equal Q1's and Q3's)"
    );
    Ok(json!({
        "merge": {"path": merge_path, "median_ms": merge_ms, "total": ticks, "q1_sql_total": q1[0]},
        "diff": {"path": diff_path, "median_ms": diff_ms, "left_total": l, "right_total": r,
                 "q3_sql_totals": [q3[0], q3[1]]},
        "reps": reps,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_paths_name_labels_and_encode_values() {
        let labels = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let cases = [
            (
                labels(&[
                    ("app", "api"),
                    ("version", "v1.2"),
                    ("dc", "eu"),
                    ("pod", "p-1"),
                ]),
                5,
                "/api/v1/ingest?app=api&version=v1.2&dc=eu&label.pod=p-1&time=5&format=pprof",
            ),
            (
                labels(&[("app", "a b&c"), ("pod", "x/y")]),
                -1,
                "/api/v1/ingest?app=a%20b%26c&label.pod=x%2Fy&time=-1&format=pprof",
            ),
        ];
        for (labels, time, want) in cases {
            assert_eq!(ingest_path(&labels, time), want);
        }
    }
}
