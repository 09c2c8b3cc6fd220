//! Crash safety: a writer process is killed with SIGKILL at random points while it ingests
//! and flushes, 20 times; after each restart every acknowledged profile is stored exactly
//! once (and an unacknowledged one at most once).
//!
//! The writer is this test binary itself, run as a child with `FLAMEDB_CRASH_CHILD` set
//! (test `crash_child`, ignored unless so run). It prints `ACK <round> <i>` once
//! `Store::append` returns for profile i, whose only stack is `crash;r<round>_<i>` with
//! value 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_storage::{PartitionFilter, Store, StoreConfig, WalRecord};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: u64 = 20;

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig {
        wal_dir: dir.join("wal"),
        // Tiny heads and segments: flushes and WAL truncation happen all the time.
        flush_bytes: 2048,
        wal_segment_bytes: 4096,
        ..StoreConfig::default()
    }
}

async fn open(dir: &std::path::Path) -> Store {
    let objects = Arc::new(LocalFileSystem::new_with_prefix(dir.join("objects")).unwrap());
    Store::open(objects, Path::from("r"), config(dir))
        .await
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by crash_safety_under_sigkill as its child process"]
async fn crash_child() {
    let Some(dir) = std::env::var_os("FLAMEDB_CRASH_CHILD") else {
        return;
    };
    let round: u64 = std::env::var("FLAMEDB_CRASH_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(dir.join("objects")).unwrap();
    let store = open(&dir).await;
    let _flusher = store.spawn_background(Duration::from_millis(5));
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let record = WalRecord {
            tenant: "t".into(),
            labels: vec![("app".into(), "crash".into())],
            format: Some(Format::Folded),
            time_nanos: 1_764_300_000_000_000_000 + (round * 1000 + i) as i64,
            perf_event: String::new(),
            data: Bytes::from(format!("crash;r{round}_{i} 1\n")),
        };
        store.append(record).await.unwrap();
        writeln!(out, "ACK {round} {i}").unwrap();
        out.flush().unwrap();
    }
}

/// Seeded xorshift: how many acknowledgements each round waits for before the kill.
fn kill_after(round: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (round + 1);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    1 + x % 120
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_safety_under_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut acked: BTreeSet<String> = BTreeSet::new();
    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FLAMEDB_CRASH_CHILD", dir.path())
            .env("FLAMEDB_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let target = kill_after(round);
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let Some(rest) = line.strip_prefix("ACK ") else {
                continue;
            };
            let (r, i) = rest.split_once(' ').unwrap();
            acked.insert(format!("crash;r{r}_{i}"));
            seen += 1;
            if seen == target {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_eq!(seen, target, "round {round}: child stopped early");
    }
    // Restart, replay, flush, and count.
    let store = open(dir.path()).await;
    store.close().await.unwrap();
    let blocks = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap();
    let counts = common::read::stack_sums(&store, &blocks).await;
    let lost: Vec<(&String, Option<&i64>)> = acked
        .iter()
        .map(|k| (k, counts.get(k)))
        .filter(|(_, c)| *c != Some(&1))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged profiles not stored exactly once, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    // The child keeps appending while the parent reads its output, so profiles after the
    // last acknowledgement seen may be stored too; each at most once, and nothing else.
    let is_profile = |k: &str| {
        k.strip_prefix("crash;r")
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(r, i)| Some((r.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
            .is_some_and(|(r, _)| r < ROUNDS)
    };
    let extra: Vec<(&String, &i64)> = counts
        .iter()
        .filter(|(k, v)| !is_profile(k) || **v != 1)
        .collect();
    assert!(
        extra.is_empty(),
        "{} stacks stored that were never appended, or more than once, e.g. {:?}",
        extra.len(),
        &extra[..extra.len().min(10)]
    );
    assert_eq!(acked.len() as u64, (0..ROUNDS).map(kill_after).sum::<u64>());
}
