//! Issue 15's reproductions against a real `flamedb serve` process: acknowledged profiles
//! lost after restarts, one SQL request that killed the server, and one ingest request
//! that bricked the store. Each test fails on the code before the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// `POST /api/v1/ingest` of folded `main;f{uid} {value}` with label `uid`: the status.
async fn ingest(server: &Server, uid: &str, value: i64) -> StatusCode {
    reqwest::Client::new()
        .post(server.url(&format!(
            "/api/v1/ingest?app=w&format=folded&label.uid={uid}"
        )))
        .body(format!("main;f{uid} {value}"))
        .send()
        .await
        .unwrap()
        .status()
}

/// `uid -> total` of every stored profile of app `w`, after a flush.
async fn stored(server: &Server) -> Value {
    let api = Api::new(server, "default");
    api.flush().await;
    Value::Array(
        api.rows("SELECT labels['uid'] AS u, total FROM profiles WHERE app = 'w' ORDER BY 1")
            .await,
    )
}

/// The write-ahead log files the process has open that were deleted from the directory.
fn deleted_wal_fds(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|t| t.display().to_string())
        .filter(|t| t.contains(".wal") && t.ends_with("(deleted)"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_profiles_survive_stops_flushes_and_kills() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // The sequence of the issue, step by step.
    let s = Server::start(&data, &[]);
    assert_eq!(ingest(&s, "A", 11).await, StatusCode::OK);
    s.stop();
    Server::start(&data, &[]).stop();
    let s = Server::start(&data, &[]);
    assert_eq!(ingest(&s, "B", 22).await, StatusCode::OK);
    Api::new(&s, "default").flush().await;
    assert_eq!(ingest(&s, "C", 33).await, StatusCode::OK);
    // The background truncation runs every flush interval; a flush runs it now.
    Api::new(&s, "default").flush().await;
    assert_eq!(
        deleted_wal_fds(s.pid()),
        Vec::<String>::new(),
        "the WAL segment being written was deleted"
    );
    assert_eq!(ingest(&s, "C2", 34).await, StatusCode::OK);
    s.kill();
    let s = Server::start(&data, &[]);
    assert_eq!(ingest(&s, "D", 44).await, StatusCode::OK);
    s.kill();
    let s = Server::start(&data, &[]);
    assert_eq!(
        stored(&s).await,
        json!([
            {"u": "A", "total": 11},
            {"u": "B", "total": 22},
            {"u": "C", "total": 33},
            {"u": "C2", "total": 34},
            {"u": "D", "total": 44},
        ])
    );
    // Once more, with everything flushed before the kill: nothing comes back twice.
    assert_eq!(ingest(&s, "E", 55).await, StatusCode::OK);
    s.kill();
    let s = Server::start(&data, &[]);
    let got = stored(&s).await;
    assert_eq!(got.as_array().unwrap().len(), 6, "{got}");
    assert_eq!(got[5], json!({"u": "E", "total": 55}));
    s.stop();
}

/// `n` terms joined by `op`, as a select list item.
fn chain(term: &str, op: &str, n: usize) -> String {
    vec![term; n].join(op)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_expression_chains_are_refused_and_the_server_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&s, "default");
    for sql in [
        format!("SELECT {}", chain("1", "+", 2000)),
        format!(
            "SELECT 1 WHERE {}",
            (0..10_000)
                .map(|i| format!("1 = {i}"))
                .collect::<Vec<_>>()
                .join(" OR ")
        ),
    ] {
        let a = api.sql_with(&sql, "").await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
        let e = a.json()["error"].as_str().unwrap().to_string();
        assert!(
            e.contains("levels deep") && e.contains("the limit is 256"),
            "{e}"
        );
        api.assert_healthy().await;
    }
    // Under the limit the chain is answered: 200 ones make 200.
    let rows = api
        .rows(&format!("SELECT {} AS n", chain("1", "+", 200)))
        .await;
    assert_eq!(rows, vec![json!({"n": 200})]);
    // The limit is a flag.
    s.stop();
    let s = Server::start(
        &tmp.path().join("data"),
        &["--query-max-expression-depth", "10"],
    );
    let a = Api::new(&s, "default")
        .sql_with(&format!("SELECT {}", chain("1", "+", 20)), "")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    s.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_values_too_long_for_a_path_are_refused_at_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = Server::start(&data, &[]);
    let client = reqwest::Client::new();
    let long_ascii = "a".repeat(300);
    let accented = "é".repeat(100);
    for (param, value) in [
        ("app", long_ascii.as_str()),
        ("app", accented.as_str()),
        ("version", long_ascii.as_str()),
        ("dc", accented.as_str()),
    ] {
        let mut q = vec![("app", "ok"), ("format", "folded")];
        q.retain(|(k, _)| *k != param);
        q.push((param, value));
        let r = client
            .post(s.url("/api/v1/ingest"))
            .query(&q)
            .body("main;x 1")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{param}: {text}");
        assert!(
            text.contains(&format!("`{param}`")) && text.contains("the limit is 200"),
            "{text}"
        );
    }
    // Pyroscope's /ingest takes the app from `name`.
    let r = client
        .post(s.url(&format!("/ingest?name={long_ascii}&format=folded")))
        .body("main;x 1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Everything else flushes, and the server restarts.
    assert_eq!(ingest(&s, "ok", 5).await, StatusCode::OK);
    assert_eq!(stored(&s).await, json!([{"u": "ok", "total": 5}]));
    s.kill();
    let s = Server::start(&data, &[]);
    assert_eq!(stored(&s).await, json!([{"u": "ok", "total": 5}]));
    s.stop();
}

/// A log written before the check existed holds a record whose partition can never be
/// written: start-up quarantines it (log line, metric, file) and serves the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_wal_record_is_quarantined_not_blocking_start_up() {
    use flamedb_storage::wal::{Wal, WalRecord, read_quarantined};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let record = |app: &str, text: &str| WalRecord {
        tenant: "default".into(),
        labels: vec![("app".into(), app.into()), ("uid".into(), app.into())],
        format: Some(flamedb_profile::Format::Folded),
        time_nanos: 1_764_300_000_000_000_000,
        perf_event: String::new(),
        data: bytes::Bytes::from(text.to_string()),
    };
    let poisoned = "p".repeat(300);
    {
        let (mut wal, _, _) = Wal::open(&data.join("wal"), 64 << 20).unwrap();
        // The log itself does not validate: this is what an older server acknowledged.
        wal.append(&[
            record("w", "main;a 1"),
            record(&poisoned, "main;b 2"),
            record("w", "main;c 3"),
        ])
        .unwrap();
    }
    let s = Server::start(&data, &[]);
    let api = Api::new(&s, "default");
    api.flush().await;
    let rows = api
        .rows("SELECT app, sum(total) AS t FROM profiles GROUP BY app")
        .await;
    assert_eq!(rows, vec![json!({"app": "w", "t": 4})]);
    let metrics = api.get("/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("flamedb_wal_quarantined_records_total 1")),
        "{metrics}"
    );
    let q = read_quarantined(&data.join("wal")).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].0.record, record(&poisoned, "main;b 2"));
    assert!(q[0].1.contains("`app` is 300 bytes"), "{}", q[0].1);
    // Restarts do not bring it back, and ingest goes on.
    s.stop();
    let s = Server::start(&data, &[]);
    assert_eq!(ingest(&s, "later", 7).await, StatusCode::OK);
    let api = Api::new(&s, "default");
    api.flush().await;
    assert_eq!(
        api.rows("SELECT sum(total) AS t FROM profiles").await,
        vec![json!({"t": 11})]
    );
    assert_eq!(read_quarantined(&data.join("wal")).unwrap().len(), 1);
    s.stop();
}
