//! Shared dictionaries: the blocks of an app and day rewritten with one dictionary keep
//! every sample, readers during the rewrite count each sample once, a missing dictionary is
//! a clear error, and garbage collection keeps a dictionary while a block refers to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use bytes::Bytes;
use chrono::NaiveDate;
use flamedb_profile::{Format, StackId};
use flamedb_storage::{
    BlockFile, BlockInfo, CompactionConfig, DictOwner, Error, PartitionFilter, StackIndex, Store,
    WalRecord,
};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 1_764_300_000_000_000_000; // 2025-11-28

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 28).unwrap()
}

fn record(app: &str, version: &str, dc: &str, time: i64, folded: &str) -> WalRecord {
    WalRecord {
        tenant: "t".into(),
        labels: vec![
            ("app".into(), app.into()),
            ("version".into(), version.into()),
            ("dc".into(), dc.into()),
        ],
        format: Some(Format::Folded),
        time_nanos: time,
        perf_event: String::new(),
        data: Bytes::from(folded.to_string()),
    }
}

use common::open;

/// The profiles of the test, per partition (version, dc): overlapping stacks, so the
/// shared dictionary holds fewer nodes than the blocks' own together.
fn inputs() -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    for (i, (v, dc)) in [("v1", "eu"), ("v1", "us"), ("v2", "eu"), ("v2", "us")]
        .into_iter()
        .enumerate()
    {
        for j in 0..3 {
            let n = i * 3 + j + 1;
            let text = format!(
                "main;serve;parse {n}\nmain;serve;read;decode {}\nmain;gc {}\nmain;{v}only;x{j} 2\n",
                n * 2,
                i + 1
            );
            out.push((v, dc, text));
        }
    }
    out
}

/// Expected per-stack sums of each partition, from the folded text itself.
fn expected() -> BTreeMap<(String, String), BTreeMap<String, i64>> {
    let mut out: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
    for (v, dc, text) in inputs() {
        let sums = out.entry((v.into(), dc.into())).or_default();
        for line in text.lines() {
            let (stack, n) = line.rsplit_once(' ').unwrap();
            *sums.entry(stack.into()).or_default() += n.parse::<i64>().unwrap();
        }
    }
    out
}

/// Writes the inputs of app `api` (two flushes per partition) and one block of app `web`.
async fn fill(store: &Store) {
    for (k, (v, dc, text)) in inputs().into_iter().enumerate() {
        store
            .append(record("api", v, dc, DAY + k as i64, &text))
            .await
            .unwrap();
        if k % 2 == 1 {
            store.close().await.unwrap();
        }
    }
    store
        .append(record("web", "v1", "eu", DAY, "main;web 7\n"))
        .await
        .unwrap();
    store.close().await.unwrap();
}

/// Per-stack sums of each partition of app `api`, over `blocks`.
async fn partition_sums(
    store: &Store,
    blocks: &[BlockInfo],
) -> BTreeMap<(String, String), BTreeMap<String, i64>> {
    let mut out: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
    for b in blocks.iter().filter(|b| b.path.partition.app == "api") {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        let p = &b.path.partition;
        common::read::add_stack_sums(
            &d,
            out.entry((p.version.clone(), p.dc.clone())).or_default(),
        );
    }
    out
}

async fn current(store: &Store) -> Vec<BlockInfo> {
    store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap()
}

fn config(grace: Duration) -> CompactionConfig {
    CompactionConfig {
        min_blocks: 2,
        grace,
        share_after: Some(Duration::ZERO),
        ..CompactionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_keeps_every_partition_s_stack_sums_and_rollups() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects.clone(), wal.path()).await;
    fill(&store).await;
    let want = expected();
    let before = current(&store).await;
    assert!(
        before
            .iter()
            .all(|b| b.meta.format_version == 1 && b.meta.shared_symbols.is_none())
    );
    assert_eq!(partition_sums(&store, &before).await, want);

    // Compaction (with minute rollups) first, then one dictionary for the app and day.
    let report = store
        .maintain("t", &config(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(report.shared.len(), 1, "{report:?}");
    let dict = &report.shared[0];
    assert_eq!((dict.app.as_str(), dict.date), ("api", date()));
    let after = current(&store).await;
    let api: Vec<&BlockInfo> = after
        .iter()
        .filter(|b| b.path.partition.app == "api")
        .collect();
    assert_eq!(api.len(), 4);
    for b in &api {
        let shared = b.meta.shared_symbols.as_ref().expect("shared");
        assert_eq!(shared.id, dict.id);
        assert_eq!(b.meta.format_version, 2);
        assert!(
            b.meta
                .file_sizes
                .iter()
                .all(|(f, _)| f != BlockFile::Symbols.name())
        );
        assert_eq!(b.meta.dict_owner(&b.path), DictOwner::Shared(dict.clone()));
    }
    // Flushed blocks delta-encode `profile`; the rewritten ones split it into byte streams.
    let encodings = |b: &BlockInfo| {
        let objects = objects.clone();
        let path = b.path.file(&Path::from("r"), BlockFile::Samples);
        async move {
            let bytes = objects.get(&path).await.unwrap().bytes().await.unwrap();
            let reader =
                parquet::file::serialized_reader::SerializedFileReader::new(bytes).unwrap();
            use parquet::file::reader::FileReader;
            reader
                .metadata()
                .row_group(0)
                .column(0)
                .encodings()
                .collect::<Vec<_>>()
        }
    };
    assert!(
        encodings(&before[0])
            .await
            .contains(&parquet::basic::Encoding::DELTA_BINARY_PACKED)
    );
    assert!(
        encodings(api[0])
            .await
            .contains(&parquet::basic::Encoding::BYTE_STREAM_SPLIT)
    );
    // The single block of `web` keeps its own dictionary.
    let web: Vec<&BlockInfo> = after
        .iter()
        .filter(|b| b.path.partition.app == "web")
        .collect();
    assert_eq!(web.len(), 1);
    assert!(web[0].meta.shared_symbols.is_none());
    assert_eq!(partition_sums(&store, &after).await, want);

    // Rollups were rewritten too and still sum to the same.
    let rollups = store
        .blocks_at_resolution("t", &PartitionFilter::default(), 60_000_000_000)
        .await
        .unwrap();
    let rolled: Vec<&BlockInfo> = rollups.iter().filter(|b| b.meta.rollup_nanos > 0).collect();
    assert!(!rolled.is_empty());
    for r in &rolled {
        assert_eq!(r.meta.shared_symbols.as_ref().unwrap().id, dict.id);
        assert!(
            api.iter()
                .any(|b| Some(b.path.id.as_str()) == r.meta.rollup_of.as_deref())
        );
    }
    let mut rollup_sums = BTreeMap::new();
    for b in rollups.iter().filter(|b| b.path.partition.app == "api") {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        common::read::add_stack_sums(&d, &mut rollup_sums);
    }
    let mut all_want = BTreeMap::new();
    for sums in want.values() {
        for (k, v) in sums {
            *all_want.entry(k.clone()).or_insert(0) += v;
        }
    }
    assert_eq!(rollup_sums, all_want);

    // The containment index over the shared dictionary agrees with a walk of every row's
    // stack in every block.
    let (_, first) = store.read_block(&api[0].path).await.unwrap();
    let index = StackIndex::build(&first.symbols).unwrap();
    for b in &api {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        for name in ["serve", "read", "gc", "x1", "v2only"] {
            let bm = index.stacks_with_function(&d.symbols, name);
            for &s in &d.samples.stack {
                let walk = d.symbols.frames(StackId(s)).iter().any(|f| f.name == name);
                assert_eq!(bm.contains(s), walk, "{name} in stack {s}");
            }
        }
    }
    // A second pass has nothing to do.
    let again = store
        .share_dictionaries("t", "api", date(), &config(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!(again, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_during_sharing_count_every_sample_once() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects, wal.path()).await;
    fill(&store).await;
    let want = expected();
    let reader = {
        let store = store.clone();
        let want = want.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            loop {
                let blocks = current(&store).await;
                let shared = blocks.iter().any(|b| b.meta.shared_symbols.is_some());
                assert_eq!(partition_sums(&store, &blocks).await, want);
                reads += 1;
                // Keep reading until the shared blocks are what readers see.
                if shared {
                    return reads;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    // Sharing (and then garbage collection with a grace period: the blocks readers listed
    // stay readable).
    for _ in 0..2 {
        store
            .maintain("t", &config(Duration::from_secs(3600)))
            .await
            .unwrap();
    }
    assert!(reader.await.unwrap() >= 1);
    assert_eq!(partition_sums(&store, &current(&store).await).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_shared_dictionary_names_the_block_and_spares_the_others() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects.clone(), wal.path()).await;
    fill(&store).await;
    let dict = store
        .share_dictionaries("t", "api", date(), &config(Duration::ZERO))
        .await
        .unwrap()
        .expect("shared");
    objects.delete(&dict.file(&Path::from("r"))).await.unwrap();
    let blocks = current(&store).await;
    let api = blocks
        .iter()
        .find(|b| b.path.partition.app == "api")
        .unwrap();
    let err = store.read_block(&api.path).await.unwrap_err();
    assert!(matches!(err, Error::MissingDictionary { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&api.path.id), "{msg}");
    assert!(msg.contains(&dict.id), "{msg}");
    let web = blocks
        .iter()
        .find(|b| b.path.partition.app == "web")
        .unwrap();
    let (_, d) = store.read_block(&web.path).await.unwrap();
    assert_eq!(d.samples.value, vec![7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_keeps_a_shared_dictionary_while_a_block_uses_it() {
    let objects: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let wal = tempfile::tempdir().unwrap();
    let store = open(objects.clone(), wal.path()).await;
    fill(&store).await;
    let root = Path::from("r");
    let exists = |p: Path| {
        let objects = objects.clone();
        async move { objects.head(&p).await.is_ok() }
    };
    let first = store
        .share_dictionaries("t", "api", date(), &config(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();
    // No grace: superseded blocks go, the dictionary the current blocks use stays.
    store
        .collect_garbage("t", &config(Duration::ZERO))
        .await
        .unwrap();
    assert!(exists(first.file(&root)).await);
    assert_eq!(
        partition_sums(&store, &current(&store).await).await,
        expected()
    );

    // A new block of the app and day, then a new shared dictionary replacing the first.
    store
        .append(record("api", "v3", "eu", DAY + 99, "main;serve;parse 5\n"))
        .await
        .unwrap();
    store.close().await.unwrap();
    let second = store
        .share_dictionaries("t", "api", date(), &config(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first, second);
    // Within the grace period, the superseded blocks and so their dictionary stay.
    let keep = config(Duration::from_secs(3600));
    store.collect_garbage("t", &keep).await.unwrap();
    assert!(exists(first.file(&root)).await);
    // After it, both go: the first dictionary once no block refers to it.
    store
        .collect_garbage("t", &config(Duration::ZERO))
        .await
        .unwrap();
    assert!(!exists(first.file(&root)).await);
    assert!(exists(second.file(&root)).await);
    let mut want = expected();
    want.insert(
        ("v3".into(), "eu".into()),
        [("main;serve;parse".to_string(), 5)].into_iter().collect(),
    );
    assert_eq!(partition_sums(&store, &current(&store).await).await, want);
}
