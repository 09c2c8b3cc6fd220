//! The store's life cycle: replay after restart without duplicates, compaction while
//! readers read, garbage collection, retention, and damaged blocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_storage::{
    BlockFile, CompactionConfig, PartitionFilter, Store, StoreConfig, WalEntry, WalRecord,
    WriteOptions,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 1_764_300_000_000_000_000; // 2025-11-28

fn record(app: &str, time: i64, folded: &str) -> WalRecord {
    WalRecord {
        tenant: "t".into(),
        labels: vec![("app".into(), app.into()), ("dc".into(), "eu".into())],
        format: Some(Format::Folded),
        time_nanos: time,
        perf_event: String::new(),
        data: Bytes::from(folded.to_string()),
    }
}

/// A pprof profile with one sample `main;a` = 1 labelled `key=value`.
fn pprof_with_label(key: &str, value: &str) -> Vec<u8> {
    use flamedb_profile::{FrameKind, Label, LabelValue, Profile};
    let mut p = Profile::new();
    p.add_sample_type("cpu", "nanoseconds");
    let locations: Vec<_> = ["main", "a"]
        .iter()
        .map(|f| {
            p.symbols
                .intern_named_location(f, None, 0, FrameKind::Unspecified)
        })
        .collect();
    let stack = p.symbols.stacks.intern(locations);
    let label = Label {
        key: p.symbols.intern(key),
        value: LabelValue::Str(p.symbols.intern(value)),
    };
    let set = p.label_sets.intern(&[label]);
    p.push_sample(stack, &[1], set, None);
    flamedb_profile::pprof::encode(&p)
}

use common::open;

/// Sum of values per folded stack over the current blocks of `app`.
async fn sums(store: &Store, app: &str) -> BTreeMap<String, i64> {
    let filter = PartitionFilter {
        apps: Some(vec![app.into()]),
        ..Default::default()
    };
    common::read::stack_sums(store, &store.blocks("t", &filter).await.unwrap()).await
}

fn map(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_replays_unflushed_profiles_exactly_once() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    {
        let store = open(objects.clone(), wal.path()).await;
        store
            .append(record("api", DAY, "main;a 3\nmain;b 1\n"))
            .await
            .unwrap();
        store.close().await.unwrap(); // flushed: in a block
        store
            .append(record("api", DAY + 1, "main;a 2\n"))
            .await
            .unwrap(); // only in the WAL
    } // "crash": dropped without flushing
    let store = open(objects.clone(), wal.path()).await;
    store.close().await.unwrap();
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 5), ("main;b", 1)])
    );
    drop(store);
    // A second restart replays nothing new.
    let store = open(objects, wal.path()).await;
    store.close().await.unwrap();
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 5), ("main;b", 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_written_at_another_zstd_level_read_back_the_same() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        wal_dir: wal.path().to_path_buf(),
        write: WriteOptions {
            zstd_level: 19,
            ..WriteOptions::default()
        },
        ..StoreConfig::default()
    };
    let (store, _) = Store::open(objects, Path::from("r"), config).await.unwrap();
    for (i, folded) in ["main;a 3\nmain;b 1\n", "main;a 2\n"].iter().enumerate() {
        store
            .append(record("api", DAY + i as i64, folded))
            .await
            .unwrap();
        store.close().await.unwrap();
    }
    let now = CompactionConfig {
        min_blocks: 2,
        grace: Duration::ZERO,
        ..CompactionConfig::default()
    };
    let report = store.maintain("t", &now).await.unwrap();
    assert_eq!(report.compacted.len(), 1, "{report:?}");
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 5), ("main;b", 1)])
    );
    // A level zstd does not have is refused when a block is written, and the profile
    // stays in the head and the WAL.
    let wal = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        wal_dir: wal.path().to_path_buf(),
        write: WriteOptions {
            zstd_level: 99,
            ..WriteOptions::default()
        },
        ..StoreConfig::default()
    };
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let (store, _) = Store::open(objects, Path::from("r"), config).await.unwrap();
    store
        .append(record("api", DAY, "main;a 1\n"))
        .await
        .unwrap();
    let err = store.close().await.unwrap_err().to_string();
    assert!(err.contains("zstd level 99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_app_and_bad_bodies_are_rejected_before_the_wal() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects, wal.path()).await;
    let mut r = record("api", DAY, "main;a 1\n");
    r.labels.retain(|(k, _)| k != "app");
    let err = store.append(r).await.unwrap_err().to_string();
    assert!(err.contains("`app`"), "{err}");
    let err = store
        .append(record("api", DAY, "this is not\na profile\n"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1"), "{err}");
    store.close().await.unwrap();
    assert!(
        store
            .blocks("t", &PartitionFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_stored_whole_or_not_at_all_and_keeps_its_duration() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    {
        let store = open(objects.clone(), wal.path()).await;
        let bad = store
            .append_batch(vec![
                record("api", DAY, "main;a 1\n").into(),
                record("api", DAY, "not a profile\n").into(),
            ])
            .await;
        assert!(bad.is_err());
        // A sample label over the label limits (values up to 1024 bytes) is found before
        // the WAL write too, not when rows are built.
        let mut long = record("api", DAY, "");
        long.format = Some(Format::Pprof);
        long.data = Bytes::from(pprof_with_label("pod", &"x".repeat(2000)));
        let bad = store
            .append_batch(vec![record("api", DAY, "main;a 1\n").into(), long.into()])
            .await
            .unwrap_err()
            .to_string();
        assert!(bad.contains("1024"), "{bad}");
        let ok = store
            .append_batch(vec![
                WalEntry {
                    record: record("api", DAY, "main;a 2\n"),
                    duration_nanos: 10_000_000_000,
                },
                record("api", DAY + 1, "main;b 3\n").into(),
            ])
            .await
            .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].seq, ok[0].seq + 1);
    } // "crash": only in the WAL, replayed on open
    let store = open(objects, wal.path()).await;
    store.close().await.unwrap();
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 2), ("main;b", 3)]),
        "nothing of the failed batch"
    );
    let blocks = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap();
    let mut durations = Vec::new();
    for b in &blocks {
        let (_, data) = store.read_block(&b.path).await.unwrap();
        durations.extend(data.profiles.duration.iter().copied());
    }
    durations.sort_unstable();
    assert_eq!(durations, vec![0, 10_000_000_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_never_changes_what_readers_see() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects, wal.path()).await;
    // 12 profiles in 6 blocks: 12 x (main;a 1) and i x (main;b i).
    let mut want_b = 0;
    for i in 1..=12 {
        want_b += i;
        let text = format!("main;a 1\nmain;b {i}\n");
        store.append(record("api", DAY + i, &text)).await.unwrap();
        if i % 2 == 0 {
            store.close().await.unwrap();
        }
    }
    let want = map(&[("main;a", 12), ("main;b", want_b)]);
    assert_eq!(
        store
            .blocks("t", &PartitionFilter::default())
            .await
            .unwrap()
            .len(),
        6
    );
    let reader = {
        let store = store.clone();
        let want = want.clone();
        tokio::spawn(async move {
            for _ in 0..30 {
                assert_eq!(sums(&store, "api").await, want);
                tokio::task::yield_now().await;
            }
        })
    };
    let keep = CompactionConfig {
        min_blocks: 2,
        grace: Duration::from_secs(3600),
        retention: None,
        rollup: None,
        ..CompactionConfig::default()
    };
    let report = store.maintain("t", &keep).await.unwrap();
    assert_eq!(report.compacted.len(), 1);
    assert_eq!(report.deleted, 0, "sources stay during the grace period");
    reader.await.unwrap();
    assert_eq!(
        store
            .blocks("t", &PartitionFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(sums(&store, "api").await, want);
    // Past the grace period the six sources go; the answer stays.
    let now = CompactionConfig {
        grace: Duration::ZERO,
        ..keep
    };
    assert_eq!(store.collect_garbage("t", &now).await.unwrap(), 6);
    assert_eq!(sums(&store, "api").await, want);
    let (objects, root) = store.objects();
    let left: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(objects.list(Some(root)))
        .await
        .unwrap();
    assert_eq!(left.len(), 5, "one block of five files: {left:?}");
}

/// Per-stack sums and per-profile-row (time, total) of the given blocks.
async fn read_all(
    store: &Store,
    blocks: &[flamedb_storage::BlockInfo],
) -> (BTreeMap<String, i64>, Vec<(i64, i64)>) {
    let mut sums = BTreeMap::new();
    let mut totals = Vec::new();
    for b in blocks {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        common::read::add_stack_sums(&d, &mut sums);
        totals.extend((0..d.profiles.len()).map(|i| (d.profiles.time[i], d.profiles.total[i])));
    }
    totals.sort();
    (sums, totals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minute_rollups_sum_profiles_and_stay_consistent_with_raw_blocks() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects, wal.path()).await;
    let s = 1_000_000_000;
    let t0 = DAY - DAY.rem_euclid(60 * s); // a minute boundary
    // Profiles at +0 s, +10 s, +20 s (minute 0) and +70 s (minute 1); i-th has main;b i.
    for (i, offset) in [0, 10, 20, 70].into_iter().enumerate() {
        let text = format!("main;a 1\nmain;b {}\n", i + 1);
        store
            .append(record("api", t0 + offset * s, &text))
            .await
            .unwrap();
        if i == 1 {
            store.close().await.unwrap();
        }
    }
    store.close().await.unwrap();
    let all = PartitionFilter::default();
    let minute = 60 * s as u64;
    let config = CompactionConfig {
        min_blocks: 2,
        grace: Duration::from_secs(3600),
        retention: None,
        rollup: Some(Duration::from_secs(60)),
        ..CompactionConfig::default()
    };
    store.maintain("t", &config).await.unwrap();
    let raw = store.blocks("t", &all).await.unwrap();
    let rolled = store.blocks_at_resolution("t", &all, minute).await.unwrap();
    assert_eq!((raw.len(), rolled.len()), (1, 1));
    assert_eq!(rolled[0].meta.rollup_nanos, minute);
    assert_eq!(
        rolled[0].meta.rollup_of.as_deref(),
        Some(raw[0].path.id.as_str())
    );
    // The rollup shares the raw block's dictionary instead of storing a copy.
    assert_eq!(
        rolled[0].meta.symbols_from.as_deref(),
        Some(raw[0].path.id.as_str())
    );
    assert!(
        rolled[0]
            .meta
            .file_sizes
            .iter()
            .all(|(f, _)| f != "symbols.bin")
    );
    let want_sums = map(&[("main;a", 4), ("main;b", 10)]);
    let (sums, totals) = read_all(&store, &rolled).await;
    assert_eq!(sums, want_sums);
    // Minute 0: 3 x main;a + b 1..3 = 3 + 6; minute 1: 1 + 4.
    assert_eq!(totals, vec![(t0, 9), (t0 + 60 * s, 5)]);
    // A finer query reads the raw block.
    let fine = store
        .blocks_at_resolution("t", &all, 10 * s as u64)
        .await
        .unwrap();
    assert_eq!(fine[0].path, raw[0].path);
    assert_eq!(read_all(&store, &fine).await.1.len(), 4);

    // A new raw block without a rollup: the partition falls back to raw blocks.
    store
        .append(record("api", t0 + 80 * s, "main;a 1\n"))
        .await
        .unwrap();
    store.close().await.unwrap();
    let mixed = store.blocks_at_resolution("t", &all, minute).await.unwrap();
    assert_eq!(mixed.len(), 2);
    assert!(mixed.iter().all(|b| b.meta.rollup_nanos == 0));
    assert_eq!(
        read_all(&store, &mixed).await.0,
        map(&[("main;a", 5), ("main;b", 10)])
    );
    // Compacting again replaces the old rollup.
    store.maintain("t", &config).await.unwrap();
    let rolled = store.blocks_at_resolution("t", &all, minute).await.unwrap();
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0].meta.rollup_nanos, minute);
    let (sums, totals) = read_all(&store, &rolled).await;
    assert_eq!(sums, map(&[("main;a", 5), ("main;b", 10)]));
    assert_eq!(totals, vec![(t0, 9), (t0 + 60 * s, 6)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_blocks_only() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects, wal.path()).await;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    let day = 86_400_000_000_000;
    store
        .append(record("old", now - 40 * day, "main;a 1\n"))
        .await
        .unwrap();
    store
        .append(record("new", now - day, "main;a 2\n"))
        .await
        .unwrap();
    store.close().await.unwrap();
    let config = CompactionConfig {
        retention: Some(Duration::from_secs(30 * 86_400)),
        ..CompactionConfig::default()
    };
    assert_eq!(store.collect_garbage("t", &config).await.unwrap(), 1);
    assert!(sums(&store, "old").await.is_empty());
    assert_eq!(sums(&store, "new").await, map(&[("main;a", 2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_block_names_itself_and_others_stay_readable() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects.clone(), wal.path()).await;
    store.append(record("a", DAY, "main;x 1\n")).await.unwrap();
    store.append(record("b", DAY, "main;y 2\n")).await.unwrap();
    store.append(record("c", DAY, "main;z 3\n")).await.unwrap();
    store.close().await.unwrap();
    let blocks = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap();
    assert_eq!(blocks.len(), 3);
    let root = Path::from("r");
    // Truncate a's samples, delete b's dictionary.
    let a = blocks.iter().find(|b| b.path.partition.app == "a").unwrap();
    let samples = a.path.file(&root, BlockFile::Samples);
    let bytes = objects.get(&samples).await.unwrap().bytes().await.unwrap();
    objects
        .put(&samples, PutPayload::from(bytes.slice(..bytes.len() / 2)))
        .await
        .unwrap();
    let b = blocks.iter().find(|b| b.path.partition.app == "b").unwrap();
    objects
        .delete(&b.path.file(&root, BlockFile::Symbols))
        .await
        .unwrap();

    let err = store.read_block(&a.path).await.unwrap_err().to_string();
    assert!(err.contains(&a.path.id), "error names the block: {err}");
    let err = store.read_block(&b.path).await.unwrap_err().to_string();
    assert!(
        err.contains(&b.path.id) && err.contains("symbols.bin"),
        "{err}"
    );
    assert_eq!(sums(&store, "c").await, map(&[("main;z", 3)]));
}

/// An object store that, while `stall` is set, never finishes a put of a `meta.json`
/// (and says so through `reached`): a flush stuck exactly between its data files and its
/// commit point.
#[derive(Debug)]
struct StallingStore {
    inner: InMemory,
    stall: std::sync::atomic::AtomicBool,
    reached: tokio::sync::Notify,
}

impl std::fmt::Display for StallingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StallingStore")
    }
}

#[async_trait::async_trait]
impl ObjectStore for StallingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        if location.filename() == Some("meta.json")
            && self.stall.load(std::sync::atomic::Ordering::SeqCst)
        {
            self.reached.notify_one();
            std::future::pending::<()>().await;
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_cancelled_before_its_commit_loses_nothing_and_writes_once() {
    let stalling = Arc::new(StallingStore {
        inner: InMemory::new(),
        stall: std::sync::atomic::AtomicBool::new(true),
        reached: tokio::sync::Notify::new(),
    });
    let wal = tempfile::tempdir().unwrap();
    let store = open(stalling.clone(), wal.path()).await;
    store
        .append(record("api", DAY, "main;a 3\n"))
        .await
        .unwrap();
    // The flush writes the data files, then hangs on meta.json; cancel it there.
    let flush = {
        let store = store.clone();
        tokio::spawn(async move { store.flush_due(true).await })
    };
    stalling.reached.notified().await;
    flush.abort();
    assert!(flush.await.unwrap_err().is_cancelled());
    assert!(
        sums(&store, "api").await.is_empty(),
        "no complete block yet"
    );
    // More data arrives; the next flush writes both heads; nothing is lost or doubled.
    store
        .append(record("api", DAY + 1, "main;b 2\n"))
        .await
        .unwrap();
    stalling
        .stall
        .store(false, std::sync::atomic::Ordering::SeqCst);
    store.close().await.unwrap();
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 3), ("main;b", 2)])
    );
    // And a restart replays nothing twice.
    drop(store);
    let store = open(stalling.clone(), wal.path()).await;
    store.close().await.unwrap();
    assert_eq!(
        sums(&store, "api").await,
        map(&[("main;a", 3), ("main;b", 2)])
    );
}
