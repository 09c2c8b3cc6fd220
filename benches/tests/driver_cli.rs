//! The bench driver fails clearly on a missing store or dataset (and this test makes
//! `cargo nextest run --workspace` build the driver, which CI's bench smoke then runs).

use std::process::Command;

#[test]
fn query_without_a_dataset_fails_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb-bench"))
        .args(["query", "--store"])
        .arg(dir.path())
        .arg("--data")
        .arg(dir.path().join("missing"))
        .arg("--out")
        .arg(dir.path().join("answers"))
        .output()
        .expect("run flamedb-bench");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("workload.json"), "stderr: {stderr}");
}

#[test]
fn flame3m_writes_distinct_stacks_and_the_flame_graph_totals_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb-bench"))
        .args([
            "flame3m",
            "--stacks",
            "3000",
            "--profiles",
            "2",
            "--reps",
            "1",
        ])
        .arg("--store")
        .arg(dir.path().join("store"))
        .output()
        .expect("run flamedb-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // The driver itself fails when a root total differs from the generated sum or the
    // blocks do not hold one row per stack; here: it ran all of it.
    assert_eq!(report["write"]["stacks"], 3000);
    assert!(report["write"]["blocks"].as_u64().expect("blocks") >= 1);
    assert_eq!(report["sql"]["runs_ms"].as_array().expect("runs").len(), 1);
    // Values are 10 ms times 1..=20 per stack.
    let total = report["expected_total"].as_i64().expect("total");
    assert!(
        (3000 * 10_000_000..=3000 * 200_000_000).contains(&total),
        "{total}"
    );
    // 3000 stacks of 20 frames make more than 1024 nodes: the answer is truncated, with
    // `other` nodes, so it has at least 1024 rows.
    assert!(report["sql"]["nodes_returned"].as_u64().expect("nodes") >= 1024);
}
