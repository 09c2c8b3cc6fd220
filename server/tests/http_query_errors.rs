//! What the query API refuses, and that it stays up: SQL that writes, defines, copies,
//! sets runtime options or reads files; bad SQL; another tenant's data; a query over the
//! memory limit or past its deadline. Each answer is a 4xx/5xx with a JSON `error`, and
//! `/healthz` answers after each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use reqwest::StatusCode;
use serde_json::json;

const FOLDED: &str = "main;secret_fn;leaf 7\nmain;other 3\n";

async fn refused(api: &Api, body: &str, status: StatusCode, says: &str) {
    let a = api.sql_with(body, "").await;
    assert_eq!(a.status, status, "{body}: {}", a.text());
    let message = a.json()["error"].as_str().unwrap().to_string();
    assert!(message.contains(says), "{body}: {message}");
    api.assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_files_and_other_tenants_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let acme = Api::new(&server, "acme");
    let other = Api::new(&server, "other");
    acme.ingest("app=shop&format=folded", FOLDED).await;
    acme.flush().await;
    assert_eq!(
        acme.rows("SELECT sum(value) AS s FROM samples").await,
        vec![json!({"s": 10})]
    );

    let forbidden = StatusCode::FORBIDDEN;
    for sql in [
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE x AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE samples",
        "INSERT INTO samples SELECT * FROM samples",
        "COPY (SELECT 1) TO '/tmp/flamedb-http-copy.csv'",
        "SET datafusion.runtime.memory_limit = '100G'",
    ] {
        refused(&acme, sql, forbidden, "read-only SQL").await;
    }
    assert!(!std::path::Path::new("/tmp/flamedb-http-copy.csv").exists());
    let set = json!({"sql": "SELECT 1", "settings": {"datafusion.runtime.memory_limit": "100G"}});
    refused(&acme, &set.to_string(), forbidden, "cannot be changed").await;
    let nodes = json!({"sql": "SELECT 1", "settings": {"flame.max_nodes": 100000000}});
    refused(
        &acme,
        &nodes.to_string(),
        StatusCode::BAD_REQUEST,
        "flame.max_nodes",
    )
    .await;

    let bad = StatusCode::BAD_REQUEST;
    refused(&acme, "SELECT * FROM '/etc/passwd'", bad, "passwd").await;
    refused(
        &acme,
        "SELECT * FROM read_csv('/etc/passwd')",
        bad,
        "read_csv",
    )
    .await;
    refused(&acme, "SELEC 1", bad, "SELEC").await;
    refused(&acme, "SELECT nope FROM samples", bad, "nope").await;
    refused(&acme, "SELECT 1; SELECT 2", bad, "single").await;
    let csv = acme
        .sql_with("SELECT labels FROM samples", "?format=csv")
        .await;
    assert_eq!(csv.status, bad, "{}", csv.text());
    assert!(
        csv.json()["error"]
            .as_str()
            .unwrap()
            .contains("labels['name']")
    );

    // The other tenant sees nothing, by SQL or flame graph.
    assert_eq!(
        other.rows("SELECT count(*) AS n FROM samples").await,
        vec![json!({"n": 0})]
    );
    let rows = other
        .rows("SELECT folded(stack) AS f FROM samples WHERE app = 'shop'")
        .await;
    assert!(rows.is_empty(), "{rows:?}");
    let fb = other.get("/api/v1/flamegraph?app=shop").await.ok().json();
    assert_eq!(fb["flamebearer"]["numTicks"], 0);
    let svg = other
        .get("/api/v1/flamegraph?app=shop&format=folded")
        .await
        .ok();
    assert!(!svg.text().contains("secret_fn"));
    let apps = other.get("/api/v1/apps").await.ok().json();
    assert_eq!(apps["apps"], json!([]));
    // While acme's own flame graph has it.
    let mine = acme
        .get("/api/v1/flamegraph?app=shop&format=folded")
        .await
        .ok();
    assert!(mine.text().contains("main;secret_fn;leaf 7"));

    // Bad parameters of the other endpoints.
    for (path, says) in [
        ("/api/v1/flamegraph?colour=red", "unknown query parameter"),
        ("/api/v1/flamegraph?format=png", "format"),
        ("/api/v1/series?step=0s", "step"),
        ("/api/v1/series?group_by=labels", "group_by"),
        ("/api/v1/labels/bad%20name/values", "label name"),
        ("/api/v1/flamegraph?from=yesterday", "time"),
    ] {
        let a = acme.get(path).await;
        assert_eq!(a.status, bad, "{path}: {}", a.text());
        assert!(a.json()["error"].as_str().unwrap().contains(says), "{path}");
    }
    acme.assert_healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_memory_or_time_fail_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--query-memory-limit", "1KiB"]);
    let api = Api::new(&server, "default");
    let folded: String = (0..2000)
        .map(|i| format!("main;f{i} {}\n", i + 1))
        .collect();
    api.ingest("app=big&format=folded", folded).await;
    api.flush().await;
    let a = api
        .sql_with(
            "SELECT stack, sum(value) FROM samples GROUP BY stack ORDER BY 2",
            "",
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    assert!(a.json()["error"].as_str().unwrap().contains("narrow"));
    api.assert_healthy().await;
    server.stop();

    // A deadline that has passed before the blocks are listed.
    let server = Server::start(&data, &["--query-timeout", "0.000000001"]);
    let api = Api::new(&server, "default");
    let a = api.sql_with("SELECT count(*) FROM samples", "").await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert!(a.json()["error"].as_str().unwrap().contains("timed out"));
    api.assert_healthy().await;
}

/// Values whose sum passes 64 bits saturate at `i64::MAX` in flame graphs and function
/// totals; they never wrap negative.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_past_64_bits_saturate_in_flame_graphs() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    let max = i64::MAX;
    for _ in 0..2 {
        api.ingest("app=big&format=folded", format!("main;a {max}\nmain;b 5\n"))
            .await;
    }
    let fb = api.get("/api/v1/flamegraph?app=big").await.ok().json();
    assert_eq!(fb["flamebearer"]["numTicks"], json!(max), "{fb}");
    let folded = api
        .get("/api/v1/flamegraph?app=big&format=folded")
        .await
        .ok()
        .text();
    assert!(!folded.contains('-'), "{folded}");
    assert!(folded.contains(&format!("main;a {max}")), "{folded}");
    for format in ["grafana", "svg", "pprof", "speedscope"] {
        let a = api
            .get(&format!("/api/v1/flamegraph?app=big&format={format}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{format}: {}", a.text());
    }
    let rows = api
        .rows(
            "SELECT n['function'] AS name, n['self'] AS self, n['total'] AS total \
             FROM (SELECT unnest(function_totals(stack, value)) AS n FROM samples) ORDER BY 1",
        )
        .await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        assert!(r["total"].as_i64().unwrap() >= 0, "{rows:?}");
        assert!(r["self"].as_i64().unwrap() >= 0, "{rows:?}");
    }
    assert_eq!(rows[0]["name"], "a");
    assert_eq!(rows[0]["total"], json!(max));
    server.stop();
}
