//! Maintenance through the server: `POST /api/v1/compact` compacts a partition's blocks and
//! gives an app's day a shared dictionary, and what queries read does not change; bad
//! maintenance flags stop `flamedb serve` with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use serde_json::json;

/// `(folded stack, sum)` per stack of app `x`, per version.
async fn sums(api: &Api) -> Vec<serde_json::Value> {
    api.rows(
        "SELECT CAST(version AS VARCHAR) AS version, folded(stack) AS stack, sum(value) AS v \
         FROM samples WHERE app = 'x' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_and_shared_dictionaries_keep_every_sum() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(
        &data,
        &[
            "--compact-min-blocks",
            "2",
            "--maintain-interval-secs",
            "0",
            "--share-dictionaries-after-secs",
            "0",
        ],
    );
    let api = Api::new(&server, "t1");
    // Version 1 in two blocks (a flush between), version 2 in one.
    api.ingest("app=x&version=1&format=folded", "main;a 3\nmain;b 4\n")
        .await;
    api.flush().await;
    api.ingest("app=x&version=1&format=folded", "main;a 5\nmain;c 1\n")
        .await;
    api.ingest("app=x&version=2&format=folded", "main;b 2\nmain;c;d 7\n")
        .await;
    api.flush().await;
    // By hand: version 1 sums main;a 3+5, main;b 4, main;c 1; version 2 as sent.
    let want = vec![
        json!({"version": "1", "stack": "main;a", "v": 8}),
        json!({"version": "1", "stack": "main;b", "v": 4}),
        json!({"version": "1", "stack": "main;c", "v": 1}),
        json!({"version": "2", "stack": "main;b", "v": 2}),
        json!({"version": "2", "stack": "main;c;d", "v": 7}),
    ];
    assert_eq!(sums(&api).await, want);

    let done = api.post("/api/v1/compact").await.ok().json();
    // Version 1's two blocks become one; the app's day (two partitions) gets one
    // dictionary; nothing is past the grace period yet.
    assert_eq!(
        done,
        json!({"compacted": 1, "shared_dictionaries": 1, "deleted": 0})
    );
    assert_eq!(sums(&api).await, want);
    let metrics = api.get("/metrics").await.ok().text();
    assert!(
        metrics.contains("flamedb_blocks_compacted_total 1"),
        "{metrics}"
    );
    // A second pass finds nothing to do; another tenant's pass does not see t1's data.
    let again = api.post("/api/v1/compact").await.ok().json();
    assert_eq!(again["compacted"], 0);
    assert_eq!(again["shared_dictionaries"], 0);
    let other = Api::new(&server, "t2")
        .post("/api/v1/compact")
        .await
        .ok()
        .json();
    assert_eq!(other["compacted"], 0);
    assert_eq!(sums(&api).await, want);
    server.stop();
}

#[test]
fn bad_maintenance_flags_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value, says) in [
        (
            "--compact-min-blocks",
            "1",
            "--compact-min-blocks must be at least 2",
        ),
        ("--maintain-interval-secs", "-1", "--maintain-interval-secs"),
        ("--retention-days", "-2", "--retention-days"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flamedb"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(tmp.path().join("data"))
            .arg(format!("{flag}={value}"))
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{flag} {value}: {err}");
    }
}
