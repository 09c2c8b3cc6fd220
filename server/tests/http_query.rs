//! The query API end to end: corpus files ingested into the real server, then read back
//! through SQL (JSON, CSV, Arrow), the flame graph and diff endpoints in every format,
//! series, apps and labels, and the CLI's `query`, `flamegraph` and `diff` (on the
//! server and on the data directory); totals are checked against `expected.json`, and a
//! small hand-made flame graph against values computed by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::Api;
use common::{Server, corpus, expected, flamedb};
use flamedb_profile::DecodeLimits;
use serde_json::json;

const PPROF: &str = "pprof/google-pprof/sample.cpu";
const HEAP: &str = "pprof/parca/query/alloc_objects.pb.gz";
const FOLDED: &str = "folded/inferno/base-flames.txt";

fn value_sums(dir: &std::path::Path, file: &str) -> Vec<(String, i64)> {
    let e = expected(dir, file);
    let types = e["sample_types"].as_array().unwrap();
    let sums = e["value_sums"].as_array().unwrap();
    types
        .iter()
        .zip(sums)
        .map(|(t, s)| (t["type"].as_str().unwrap().to_string(), s.as_i64().unwrap()))
        .collect()
}

fn profile_total(p: &flamedb_profile::Profile) -> i64 {
    let n = p.sample_types.len().max(1);
    p.values.iter().step_by(n).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_files_read_back_through_sql_and_flame_graphs() {
    let Some(dir) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);
    let api = Api::new(&server, "default");
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    api.ingest("app=cpu-app&version=1&dc=eu", read(PPROF)).await;
    api.ingest("app=heap-app&version=1", read(HEAP)).await;
    api.ingest("app=folded-app&format=folded", read(FOLDED))
        .await;
    api.flush().await;

    // SQL: sum(value) per sample type equals expected.json.
    let mut cpu_total = 0;
    for (app, file) in [("cpu-app", PPROF), ("heap-app", HEAP)] {
        let rows = api
            .rows(&format!(
                "SELECT sample_type, sum(value) AS s FROM samples WHERE app = '{app}' \
                 GROUP BY sample_type"
            ))
            .await;
        let mut got: Vec<(String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r["sample_type"].as_str().unwrap().to_string(),
                    r["s"].as_i64().unwrap(),
                )
            })
            .collect();
        let mut want = value_sums(&dir, file);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{app}");
        if app == "cpu-app" {
            cpu_total = want.iter().find(|(t, _)| t == "cpu").unwrap().1;
        }
    }
    let folded_total = expected(&dir, FOLDED)["total_count"].as_i64().unwrap();

    // Flamebearer: numTicks is the total; cpu is picked among samples and cpu.
    let fb = api
        .get("/api/v1/flamegraph?app=cpu-app&format=flamebearer")
        .await
        .ok();
    assert_eq!(fb.content_type, "application/json");
    let fb = fb.json();
    assert_eq!(fb["flamebearer"]["numTicks"], json!(cpu_total));
    assert_eq!(fb["metadata"]["name"], "cpu");
    let small = api
        .get("/api/v1/flamegraph?app=cpu-app&max_nodes=5&format=json")
        .await
        .ok()
        .json();
    assert_eq!(small["flamebearer"]["numTicks"], json!(cpu_total));
    assert!(small["flamebearer"]["names"].as_array().unwrap().len() <= 10);

    // Several sample types and none named: the preferred one (inuse_space, as pprof).
    let heap = api.get("/api/v1/flamegraph?app=heap-app").await.ok().json();
    assert_eq!(heap["metadata"]["name"], "inuse_space");
    assert_eq!(heap["metadata"]["units"], "bytes");
    let heap = api
        .get("/api/v1/flamegraph?app=heap-app&sample_type=alloc_space&format=json")
        .await
        .ok()
        .json();
    let alloc_space = value_sums(&dir, HEAP)
        .into_iter()
        .find(|(t, _)| t == "alloc_space")
        .unwrap()
        .1;
    assert_eq!(heap["flamebearer"]["numTicks"], json!(alloc_space));

    // Folded parses back to the same total.
    let folded = api
        .get("/api/v1/flamegraph?app=folded-app&format=folded&max_nodes=65536")
        .await
        .ok();
    let p = flamedb_profile::folded::decode(&folded.body, &DecodeLimits::default()).unwrap();
    assert_eq!(profile_total(&p), folded_total);

    // pprof decodes to the same total.
    let pprof = api
        .get("/api/v1/flamegraph?app=cpu-app&format=pprof")
        .await
        .ok();
    assert_eq!(pprof.content_type, "application/octet-stream");
    let p =
        flamedb_profile::pprof::decode_maybe_gzip(&pprof.body, &DecodeLimits::default()).unwrap();
    assert_eq!(profile_total(&p), cpu_total);

    // Grafana frame and SVG.
    let g = api
        .get("/api/v1/flamegraph?app=folded-app&format=grafana")
        .await
        .ok()
        .json();
    assert_eq!(g["data"]["values"][3][0], json!(folded_total), "{g}");
    let svg = api
        .get("/api/v1/flamegraph?app=folded-app&format=svg")
        .await
        .ok();
    assert_eq!(svg.content_type, "image/svg+xml");
    assert!(svg.text().contains("<svg"));

    // A selection against itself: equal sides.
    let d = api
        .get("/api/v1/diff?app=cpu-app&left.version=1&right.version=1&format=flamebearer")
        .await
        .ok()
        .json();
    assert_eq!(d["leftTicks"], json!(cpu_total), "{d}");
    assert_eq!(d["rightTicks"], json!(cpu_total));
    let svg = api.get("/api/v1/diff?app=folded-app&format=svg").await.ok();
    assert!(svg.text().contains("Differential"));

    // Other formats of SQL.
    let csv = api
        .sql_with(
            "SELECT app, count(*) AS n FROM profiles GROUP BY app ORDER BY app",
            "?format=csv",
        )
        .await
        .ok();
    assert!(csv.content_type.starts_with("text/csv"));
    assert_eq!(csv.text().lines().next(), Some("app,n"));
    assert_eq!(csv.text().lines().count(), 4, "{}", csv.text());
    let arrow = api
        .sql_with("SELECT stack, value FROM samples", "?format=arrow")
        .await
        .ok();
    let reader = arrow::ipc::reader::StreamReader::try_new(arrow.body.as_ref(), None).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    let count = api.rows("SELECT count(*) AS n FROM samples").await;
    assert_eq!(json!(rows), count[0]["n"]);
    // Settings travel beside the SQL.
    let body = json!({"sql": "SELECT flamegraph(stack, value) AS f FROM samples WHERE app = 'folded-app'",
        "settings": {"flame.max_nodes": 3}});
    let f = api.sql_with(&body.to_string(), "").await.ok().json();
    let nodes = f[0]["f"].as_array().unwrap();
    assert_eq!(nodes[0]["total"], json!(folded_total), "{f}");
    assert!(
        nodes.len() <= 6 && nodes.iter().any(|n| n["label"] == "other"),
        "{f}"
    );

    // Apps and labels.
    let apps = api.get("/api/v1/apps").await.ok().json();
    let names: Vec<&str> = apps["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpu-app", "folded-app", "heap-app"]);
    let labels = api.get("/api/v1/labels").await.ok().json();
    assert!(
        labels["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("version"))
    );
    let versions = api
        .get("/api/v1/labels/version/values?app=cpu-app")
        .await
        .ok()
        .json();
    assert_eq!(versions["values"], json!(["1"]));
    let series = api
        .get("/api/v1/series?app=cpu-app&step=1h&group_by=version")
        .await
        .ok()
        .json();
    let points = &series["series"][0]["points"];
    let sum: i64 = points
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .sum();
    assert_eq!(sum, cpu_total, "{series}");
    assert_eq!(series["series"][0]["labels"]["version"], "1");

    // The CLI against the server.
    let out = flamedb(&[
        "query",
        "SELECT sum(value) AS s FROM samples WHERE app = 'folded-app'",
        "--server",
        &server.base,
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("s\n{folded_total}\n")
    );
    let svg_path = tmp.path().join("f.svg");
    let out = flamedb(&[
        "flamegraph",
        "--app",
        "folded-app",
        "--server",
        &server.base,
        "-o",
        svg_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&svg_path).unwrap().contains("<svg"));

    let metrics = api.get("/metrics").await.ok().text();
    assert!(
        metrics.contains(r#"flamedb_query_duration_seconds_count{endpoint="/api/v1/sql"}"#),
        "{metrics}"
    );
    server.stop();

    // The CLI on the data directory, without a server.
    let pb = tmp.path().join("cpu.pb.gz");
    let out = flamedb(&[
        "flamegraph",
        "--app",
        "cpu-app",
        "--data",
        data.to_str().unwrap(),
        "-o",
        pb.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = flamedb_profile::pprof::decode_maybe_gzip(
        &std::fs::read(&pb).unwrap(),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(profile_total(&p), cpu_total);
    let out = flamedb(&[
        "query",
        "SELECT app, count(*) AS n FROM profiles GROUP BY app ORDER BY app",
        "--data",
        data.to_str().unwrap(),
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("| folded-app |"),
        "{table}"
    );
    assert!(table.contains("(3 rows)"), "{table}");
}

/// Two versions of a small folded profile at two times. By hand, with children in name
/// order, v1 is
/// ```text
/// total 10 ─ main 10 ┬ a 5 ┬ b 3
///                    │     └ c 2
///                    └ d 5
/// ```
const V1: &str = "main;a;b 3\nmain;a;c 2\nmain;d 5\n";
const V2: &str = "main;a;b 1\nmain;d 7\n";
const T1: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z
const T2: i64 = T1 + 3600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_flame_graph_is_exact_in_every_format() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    api.ingest(&format!("app=small&version=v1&format=folded&time={T1}"), V1)
        .await;
    api.ingest(&format!("app=small&version=v2&format=folded&time={T2}"), V2)
        .await;
    api.flush().await;

    let fb = api
        .get("/api/v1/flamegraph?app=small&version=v1")
        .await
        .ok()
        .json();
    assert_eq!(
        fb["flamebearer"],
        json!({
            "names": ["total", "main", "a", "b", "c", "d"],
            "levels": [[0, 10, 0, 0], [0, 10, 0, 1], [0, 5, 0, 2, 0, 5, 5, 5], [0, 3, 3, 3, 0, 2, 2, 4]],
            "numTicks": 10,
            "maxSelf": 5
        })
    );
    let folded = api
        .get("/api/v1/flamegraph?app=small&version=v1&format=folded")
        .await
        .ok();
    assert_eq!(folded.text(), V1);
    // The time range picks v2 alone.
    let by_time = api
        .get(&format!(
            "/api/v1/flamegraph?app=small&from={T2}&until={}&format=folded",
            T2 + 1
        ))
        .await
        .ok();
    assert_eq!(by_time.text(), V2);
    // The diff: left v1, right v2.
    let diff = api
        .get("/api/v1/diff?app=small&left.version=v1&right.version=v2&format=folded")
        .await
        .ok();
    assert_eq!(diff.text(), "main;a;b 3 1\nmain;a;c 2 0\nmain;d 5 7\n");
    let d = api
        .get("/api/v1/diff?app=small&left.version=v1&right.version=v2")
        .await
        .ok()
        .json();
    assert_eq!(
        (d["leftTicks"].as_i64(), d["rightTicks"].as_i64()),
        (Some(10), Some(8))
    );
    // Nested set for Grafana: level, value, self, label columns in pre-order.
    let g = api
        .get("/api/v1/flamegraph?app=small&version=v1&format=grafana")
        .await
        .ok()
        .json();
    let vals = &g["data"]["values"];
    assert_eq!(vals[0], json!([0, 1, 2, 3, 3, 2]), "{g}");
    // Totals over time, per version.
    let s = api
        .get(&format!(
            "/api/v1/series?app=small&step=1h&group_by=version&from={T1}&until={}",
            T2 + 3600
        ))
        .await
        .ok()
        .json();
    assert_eq!(
        s["series"],
        json!([
            {"labels": {"version": "v1"}, "points": [[T1 * 1000, 10]]},
            {"labels": {"version": "v2"}, "points": [[T2 * 1000, 8]]}
        ])
    );
    // The CLI's diff, on the server.
    let out_path = tmp.path().join("d.folded");
    let out = flamedb(&[
        "diff",
        "--app",
        "small",
        "--left-version",
        "v1",
        "--right-version",
        "v2",
        "--server",
        &server.base,
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out_path).unwrap(), diff.text());
    let bad = flamedb(&["flamegraph", "--server", &server.base, "-o", "x.png"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && stderr.lines().count() == 1,
        "{stderr}"
    );
}

/// EXPLAIN answers the plan (the row limit is not put above it), over HTTP and from the
/// CLI on the data directory; the plan shows the scan's pushed-down filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_answers_the_plan_over_http_and_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);
    let api = Api::new(&server, "default");
    api.ingest("app=web&format=folded&time=1700000000", "main;a 3\n")
        .await;
    let sql = "EXPLAIN SELECT sum(value) FROM samples WHERE app = 'web'";
    let rows = api.rows(sql).await;
    let text = serde_json::to_string(&rows).unwrap();
    assert!(text.contains("physical_plan"), "{text}");
    assert!(text.contains("app"), "{text}");
    server.stop();
    let out = common::flamedb(&["query", "--data", data.to_str().unwrap(), sql]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("physical_plan"));
}
