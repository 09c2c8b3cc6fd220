//! The kill soak (see `common/soak.rs`) on a local data directory and on the S3-compatible
//! server the storage tests start: every acknowledged profile stored exactly once after
//! every SIGKILL and restart. `FLAMEDB_SOAK_ROUNDS` (10) and `FLAMEDB_SOAK_SEED` (1) set
//! the rounds and the seed; `benches/soak.sh` runs many more rounds in release.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../storage/tests/common/s3.rs"]
#[allow(dead_code)]
mod s3;

use common::soak::{self, SoakReport};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn assert_clean(store: &str, r: &SoakReport) {
    // One line for benches/soak.sh to pick up.
    println!("SOAK store={store} {r}");
    assert!(
        r.errors.is_empty(),
        "answers no client should get: {:#?}",
        r.errors
    );
    assert_eq!((r.lost, r.duplicated, r.partial), (0, 0, 0), "{r}");
    assert!(r.acknowledged > 0 && r.kills > 0, "{r}");
    assert!(r.flushes > 0, "the servers were killed while idle: {r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_soak_local() {
    let tmp = tempfile::tempdir().unwrap();
    let rounds = setting("FLAMEDB_SOAK_ROUNDS", 10);
    let seed = setting("FLAMEDB_SOAK_SEED", 1);
    let r = soak::run(&tmp.path().join("data"), &[], rounds, seed).await;
    assert_clean("local", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_soak_s3() {
    let Some(server) = s3::S3Server::start_or_skip("kill_soak_s3") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rounds = setting("FLAMEDB_SOAK_ROUNDS", 10);
    let seed = setting("FLAMEDB_SOAK_SEED", 1);
    let store = [
        "--store".to_string(),
        format!("s3://{}/soak", s3::BUCKET),
        "--s3-endpoint".to_string(),
        server.endpoint(),
        "--s3-access-key-id".to_string(),
        "testing".to_string(),
        "--s3-secret-access-key".to_string(),
        "testing".to_string(),
        "--s3-allow-http".to_string(),
    ];
    let r = soak::run(&tmp.path().join("data"), &store, rounds, seed).await;
    assert_clean("s3", &r);
}
