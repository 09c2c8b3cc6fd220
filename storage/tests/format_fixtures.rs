//! Committed fixtures of every persisted format, written once by the code of 2026-12-07
//! (`FLAMEDB_WRITE_FIXTURES=1 cargo test -p flamedb-storage --test format_fixtures --
//! --ignored`) and read by every later build to the hand-checked answer: write-ahead
//! log segments (a v1 single-record payload and a v2 group), block metas v1 (own
//! dictionary) and v2 (a shared dictionary), the Parquet tables, block dictionaries
//! (`symbols.bin`), a shared dictionary, compacted blocks and their rollups. A format
//! change must keep this test passing unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_storage::{CompactionConfig, PartitionFilter, Store, StoreConfig, WalEntry, WalRecord};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 1_764_300_000_000_000_000; // 2025-11-28

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats-2026-12-07")
}

fn record(app: &str, second: i64, folded: &str) -> WalRecord {
    WalRecord {
        tenant: "t".into(),
        labels: vec![("app".into(), app.into()), ("dc".into(), "eu".into())],
        format: Some(Format::Folded),
        time_nanos: DAY + second * 1_000_000_000,
        perf_event: String::new(),
        data: Bytes::from(folded.to_string()),
    }
}

async fn open(
    objects: &std::path::Path,
    wal: &std::path::Path,
) -> (Store, flamedb_storage::ReplayReport) {
    std::fs::create_dir_all(objects).unwrap();
    let objects: Arc<dyn ObjectStore> =
        Arc::new(LocalFileSystem::new_with_prefix(objects).unwrap());
    let config = StoreConfig {
        wal_dir: wal.to_path_buf(),
        ..StoreConfig::default()
    };
    Store::open(objects, Path::from("r"), config).await.unwrap()
}

/// Writes the fixtures (run by hand, once; see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the committed fixtures"]
async fn write_format_fixtures() {
    if std::env::var_os("FLAMEDB_WRITE_FIXTURES").is_none() {
        return;
    }
    let dir = fixtures();
    let _ = std::fs::remove_dir_all(&dir);
    let (objects, wal) = (dir.join("objects"), dir.join("wal"));
    let (store, _) = open(&objects, &wal).await;
    for (app, second, folded) in [
        ("api", 0, "main;a 3\nmain;b 1\n"),
        ("api", 1, "main;a 2\n"),
        ("db", 0, "main;d 1\n"),
        ("db", 1, "main;d 2\n"),
        ("web", 0, "main;w 7\n"),
    ] {
        store.append(record(app, second, folded)).await.unwrap();
        store.flush_due(true).await.unwrap();
    }
    let maintain = CompactionConfig {
        min_blocks: 2,
        grace: Duration::ZERO,
        incomplete_grace: Duration::ZERO,
        share_after: Some(Duration::ZERO),
        ..CompactionConfig::default()
    };
    store.maintain("t", &maintain).await.unwrap();
    // The day of `web` settled: its two blocks share one dictionary (meta v2).
    store.append(record("web", 3, "main;v 6\n")).await.unwrap();
    store.flush_due(true).await.unwrap();
    let date = chrono::DateTime::from_timestamp_nanos(DAY).date_naive();
    let shared = store
        .share_dictionaries("t", "web", date, &maintain)
        .await
        .unwrap();
    assert!(shared.is_some());
    // After maintenance: a block with its own dictionary (meta v1).
    store.append(record("old", 0, "main;o 4\n")).await.unwrap();
    store.flush_due(true).await.unwrap();
    // Only in the log: a single record (v1 payload) and a group of two (v2 payload).
    store.append(record("api", 2, "main;c 5\n")).await.unwrap();
    let group: Vec<WalEntry> = vec![
        record("web", 1, "main;x 1\n").into(),
        record("web", 2, "main;y 2\n").into(),
    ];
    store.append_batch(group).await.unwrap();
    // Dropped without closing: what a crash leaves.
}

/// Every file below `dir` with its path relative to it.
fn files(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for (rel, p) in files(from) {
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(p, target).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn todays_reader_reads_the_committed_fixtures() {
    let dir = fixtures();
    // The fixtures hold both meta versions, a shared dictionary and log segments.
    let all = files(&dir);
    let metas: Vec<u64> = all
        .iter()
        .filter(|(rel, _)| rel.ends_with("meta.json"))
        .map(|(_, p)| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            v["format_version"].as_u64().unwrap()
        })
        .collect();
    assert!(
        metas.contains(&1) && metas.contains(&2),
        "meta versions {metas:?}"
    );
    assert!(all.iter().any(|(rel, _)| rel.ends_with(".wal")), "{all:?}");
    assert!(all.iter().any(|(rel, _)| rel.contains("dict")), "{all:?}");

    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&dir, tmp.path());
    let (store, report) = open(&tmp.path().join("objects"), &tmp.path().join("wal")).await;
    assert_eq!((report.applied, report.failed), (3, 0), "{report:?}");
    store.close().await.unwrap();
    let want: BTreeMap<&str, BTreeMap<String, i64>> = [
        ("api", vec![("main;a", 5), ("main;b", 1), ("main;c", 5)]),
        ("db", vec![("main;d", 3)]),
        ("old", vec![("main;o", 4)]),
        (
            "web",
            vec![("main;v", 6), ("main;w", 7), ("main;x", 1), ("main;y", 2)],
        ),
    ]
    .into_iter()
    .map(|(app, sums)| {
        (
            app,
            sums.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )
    })
    .collect();
    for (app, sums) in want {
        let filter = PartitionFilter {
            apps: Some(vec![app.into()]),
            ..Default::default()
        };
        let blocks = store.blocks("t", &filter).await.unwrap();
        assert_eq!(
            common::read::stack_sums(&store, &blocks).await,
            sums,
            "{app}"
        );
    }
}
