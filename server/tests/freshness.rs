//! Freshness on a real server with its default flush age (60 s): what an ingest
//! acknowledged, the next query reads, with the same totals as after a flush; pushing and
//! looking at once is what a new user does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_profiles_are_read_by_the_next_query() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    // 10 + 5 + 1 = 16 samples of app web, then 7 more of a second version.
    api.ingest(
        "app=web&version=1&format=folded&time=1700000000",
        "main;a 10\nmain;b 5\nmain;b;c 1\n",
    )
    .await;
    let rows = api
        .rows("SELECT sum(value) AS total, count(DISTINCT stack) AS stacks FROM samples")
        .await;
    assert_eq!(rows, [json!({"total": 16, "stacks": 3})]);
    api.ingest(
        "app=web&version=2&format=folded&time=1700000060",
        "main;a 7\n",
    )
    .await;
    let a = api
        .get("/api/v1/flamegraph?app=web&format=folded&from=1699999999&until=1700000100")
        .await
        .ok();
    let mut lines: Vec<String> = a.text().lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["main;a 17", "main;b 5", "main;b;c 1"]);
    // Another tenant's query neither sees nor needs web's profiles.
    let other = Api::new(&server, "other");
    assert_eq!(
        other.rows("SELECT count(*) AS n FROM samples").await,
        [json!({"n": 0})]
    );
    // After an explicit flush: the same answers.
    api.flush().await;
    assert_eq!(
        api.rows("SELECT sum(value) AS total FROM samples").await,
        [json!({"total": 23})]
    );
    let versions = api
        .rows("SELECT version, sum(value) AS v FROM samples GROUP BY version ORDER BY version")
        .await;
    assert_eq!(
        versions,
        [
            json!({"version": "1", "v": 16}),
            json!({"version": "2", "v": 7})
        ]
    );
}
