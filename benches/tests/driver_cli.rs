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
