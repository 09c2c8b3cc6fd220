//! A flaky object store under the store: 5 % of puts (before or after they land), gets,
//! lists, deletes and copies fail (at 15 % a maintenance pass, which makes dozens of
//! calls, almost never completes: it fails cleanly and is retried by the next pass). Ingest, flushes and compaction go on failing
//! and retrying; at every point the blocks a reader sees (read with faults off) hold
//! only acknowledged profiles, each at most once and whole; at the end, and after a
//! restart, every acknowledged profile is there exactly once.
//!
//! Profile `i` holds one sample of value `4^i`: a sum of visible values names exactly
//! which profiles are visible, and a profile seen twice sets an odd bit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use common::faulty::Faulty;
use flamedb_profile::Format;
use flamedb_storage::{CompactionConfig, PartitionFilter, Store, StoreConfig, WalRecord};
use object_store::ObjectStore;
use object_store::memory::InMemory;
use object_store::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 1_764_300_000_000_000_000; // 2025-11-28
const PROFILES: u32 = 30; // 4^29 < 2^63
const ODD_BITS: i64 = 0x2aaa_aaaa_aaaa_aaaa;

fn record(i: u32) -> WalRecord {
    WalRecord {
        tenant: "t".into(),
        labels: vec![("app".into(), "api".into()), ("dc".into(), "eu".into())],
        format: Some(Format::Folded),
        time_nanos: DAY + i64::from(i) * 1_000_000_000,
        perf_event: String::new(),
        data: Bytes::from(format!("main;f{} {}\n", i % 3, 4i64.pow(i))),
    }
}

/// Sum of every visible block's values (each block read whole, or the test fails).
async fn visible(store: &Store) -> i64 {
    let blocks = store
        .blocks("t", &PartitionFilter::default())
        .await
        .expect("list blocks");
    let mut sum = 0i64;
    for b in blocks {
        let (_, d) = store
            .read_block(&b.path)
            .await
            .expect("a visible block reads whole");
        sum += d.samples.value.iter().sum::<i64>();
    }
    sum
}

/// Retries `f` until it succeeds (faults are random; each try is a new draw).
async fn until_ok<T, F: AsyncFnMut() -> flamedb_storage::Result<T>>(what: &str, mut f: F) -> T {
    let mut last = None;
    for _ in 0..200 {
        match f().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
    }
    panic!("{what}: 200 tries failed, the last with {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_object_store_loses_and_duplicates_nothing_acknowledged() {
    for seed in [1u64, 7, 42, 2026] {
        let clean: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        flaky_run(clean, Path::from("r"), seed).await;
    }
}

/// The same over a real S3-compatible server (faults are injected above the S3 client,
/// so its own retries do not hide them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flaky_s3_server_loses_and_duplicates_nothing_acknowledged() {
    let Some(server) = common::s3::S3Server::start_or_skip("faults::s3") else {
        return;
    };
    for seed in [3u64, 11] {
        let (clean, root) =
            flamedb_storage::object::build(&server.config(&format!("ci/faults-{seed}"))).unwrap();
        flaky_run(clean, root, seed).await;
    }
}

async fn flaky_run(clean: Arc<dyn ObjectStore>, root: Path, seed: u64) {
    let compaction = CompactionConfig {
        min_blocks: 2,
        grace: Duration::ZERO,
        incomplete_grace: Duration::ZERO,
        ..CompactionConfig::default()
    };
    {
        let faulty = Arc::new(Faulty::new(clean.clone(), 50, seed));
        let wal = tempfile::tempdir().unwrap();
        let config = StoreConfig {
            wal_dir: wal.path().to_path_buf(),
            ..StoreConfig::default()
        };
        let objects: Arc<dyn ObjectStore> = faulty.clone();
        let (store, _) = until_ok("?", async || {
            Store::open(objects.clone(), root.clone(), config.clone()).await
        })
        .await;
        let (mut acked, mut failed_flushes, mut failed_maintenance) = (0i64, 0, 0);
        for i in 0..PROFILES {
            if store.append(record(i)).await.is_ok() {
                acked |= 4i64.pow(i);
            }
            if i % 3 == 2 && store.flush_due(true).await.is_err() {
                failed_flushes += 1;
            }
            if i % 7 == 6 && store.maintain("t", &compaction).await.is_err() {
                failed_maintenance += 1;
            }
            if i % 4 == 3 {
                faulty.set_on(false);
                let seen = visible(&store).await;
                faulty.set_on(true);
                assert_eq!(
                    seen & ODD_BITS,
                    0,
                    "seed {seed}, after {i}: a profile is visible twice"
                );
                assert_eq!(
                    seen & !acked,
                    0,
                    "seed {seed}, after {i}: an unacknowledged profile"
                );
            }
        }
        // Every profile append was acknowledged (the WAL is local): the object store's
        // faults must not have cost one.
        assert_eq!(acked, (0..PROFILES).map(|i| 4i64.pow(i)).sum::<i64>());
        until_ok("flush", async || store.flush_due(true).await).await;
        until_ok("maintain", async || store.maintain("t", &compaction).await).await;
        until_ok("close", async || store.close().await).await;
        let injected = faulty.injected.load(std::sync::atomic::Ordering::SeqCst);
        assert!(injected > 0, "seed {seed}: no fault was injected");
        eprintln!(
            "seed {seed}: {injected} faults, {failed_flushes} failed flushes, {failed_maintenance} failed maintenance passes"
        );
        faulty.set_on(false);
        assert_eq!(
            visible(&store).await,
            acked,
            "seed {seed}: after the last flush"
        );
        drop(store);
        // A restart (faults back on while it replays and lists) finds each exactly once.
        faulty.set_on(true);
        let (store, _) = until_ok("?", async || {
            Store::open(objects.clone(), root.clone(), config.clone()).await
        })
        .await;
        until_ok("close after reopen", async || store.close().await).await;
        faulty.set_on(false);
        assert_eq!(visible(&store).await, acked, "seed {seed}: after a restart");
    }
}
