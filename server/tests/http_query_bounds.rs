//! Work that SQL input sizes stays bounded, tried on a real `flamedb serve` with a
//! 512 MiB query memory limit: calls that would build gigabytes outside DataFusion's
//! memory pool (`range`, `repeat`, ...) are refused before they build, the process's
//! peak RSS (read from /proc) stays far from what they asked for, and a query that
//! computes until its deadline is answered 503 while `/healthz` and another tenant's
//! queries keep answering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::Api;
use common::{Server, peak_rss};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_that_would_build_gigabytes_is_refused_and_slow_sql_stops_at_its_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &[
            "--query-memory-limit",
            "512MiB",
            "--query-timeout",
            "3",
            "--inspect-interval-secs",
            "0",
        ],
    );
    let api = Api::new(&server, "a");
    api.ingest("app=shop&format=folded", "main;serve 3\n").await;

    // Each asked for 1-8 GB (measured before the guard: up to 12 GB of RSS).
    for sql in [
        "SELECT count(*) FROM unnest(range(1, 400000000))",
        "SELECT cardinality(range(1, 300000000))",
        "SELECT length(repeat('x', 1000000000))",
        "SELECT length(lpad('x', 1000000000))",
        "SELECT cardinality(array_repeat(0, 500000000))",
        "SELECT length(replace(repeat('x', 10000000), 'x', repeat('y', 1000)))",
    ] {
        let a = api.sql_with(sql, "").await;
        assert!(
            a.status.is_client_error(),
            "{sql}: {} {}",
            a.status,
            a.text()
        );
        assert!(
            a.text().contains("a function may build"),
            "{sql}: {}",
            a.text()
        );
    }
    let peak = peak_rss(server.pid());
    assert!(peak < (1 << 30), "peak RSS {} MiB", peak >> 20);

    // A query that streams for longer than its deadline (a table function, bounded in
    // memory) is answered 503; meanwhile the server answers everything else.
    let slow = {
        let api = Api::new(&server, "b");
        tokio::spawn(async move {
            api.sql_with("SELECT count(*) AS n FROM range(1, 1000000000000)", "")
                .await
        })
    };
    let other = Api::new(&server, "c");
    let mut answered = 0;
    while !slow.is_finished() {
        other.assert_healthy().await;
        let rows = api.rows("SELECT sum(value) AS v FROM samples").await;
        assert_eq!(rows, vec![serde_json::json!({"v": 3})]);
        answered += 1;
    }
    let a = slow.await.unwrap();
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE, "{}", a.text());
    assert!(a.text().contains("timed out"), "{}", a.text());
    assert!(answered > 0, "nothing was asked while the slow query ran");
    // Its slot was given back: the next query answers.
    api.rows("SELECT 1 AS one").await;
    server.stop();
}
