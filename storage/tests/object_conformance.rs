//! One object-store conformance suite, run against the three stores flamedb supports: in
//! memory, a local directory, and a real S3-compatible server (moto) over HTTP. Every store
//! is built through `flamedb_storage::object::build`, so the config path is tested too.
//!
//! Expected values are written out by hand below; none comes from the code under test.

mod common;

use anyhow::{Context, Result};
use bytes::Bytes;
use chrono::NaiveDate;
use common::s3::S3Server;
use flamedb_profile::{FrameKind, Symbols};
use flamedb_storage::object::{self, StoreKind};
use flamedb_storage::{
    BlockData, BlockMeta, BlockPath, Labels, ObjectStoreConfig, PartitionKey, SampleType, block,
};
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use std::sync::Arc;

const MIB: usize = 1024 * 1024;

/// The whole suite; `root` is the prefix the store was built with.
async fn conformance(store: Arc<dyn ObjectStore>, root: Path) -> Result<()> {
    let s = store.as_ref();
    round_trip(s, &root).await.context("put/get round trip")?;
    ranged_reads(s, &root).await.context("ranged reads")?;
    listing(s, &root).await.context("listing")?;
    delete(s, &root).await.context("delete")?;
    multipart(s, &root).await.context("multipart upload")?;
    create_only(s, &root).await.context("create-only put")?;
    overwrite(s, &root).await.context("overwrite")?;
    block_round_trip(s, &root)
        .await
        .context("block round trip")?;
    shared_dictionary(store.clone(), &root)
        .await
        .context("shared dictionary")?;
    everything_is_below_the_root(s, &root).await
}

fn p(root: &Path, rel: &str) -> Path {
    rel.split('/').fold(root.clone(), |p, part| p.join(part))
}

async fn get(s: &dyn ObjectStore, path: &Path) -> Result<Bytes> {
    Ok(s.get(path).await?.bytes().await?)
}

fn is_not_found<T>(r: &object_store::Result<T>) -> bool {
    matches!(r, Err(object_store::Error::NotFound { .. }))
}

async fn round_trip(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "rt/hello.txt");
    s.put(&path, PutPayload::from_static(b"hello, flamedb"))
        .await?;
    assert_eq!(get(s, &path).await?, Bytes::from_static(b"hello, flamedb"));
    let meta = s.head(&path).await?;
    assert_eq!(meta.size, 14);
    assert_eq!(meta.location, path);

    let empty = p(root, "rt/empty");
    s.put(&empty, PutPayload::default()).await?;
    assert_eq!(get(s, &empty).await?.len(), 0);
    assert_eq!(s.head(&empty).await?.size, 0);
    Ok(())
}

async fn ranged_reads(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "range/fox");
    // 43 bytes: "the" 0..3, "quick" 4..9, "fox" 16..19, "dog" 40..43.
    s.put(
        &path,
        PutPayload::from_static(b"the quick brown fox jumps over the lazy dog"),
    )
    .await?;
    for (range, want) in [
        (0..3, &b"the"[..]),
        (4..9, b"quick"),
        (16..19, b"fox"),
        (40..43, b"dog"),
        (42..43, b"g"),
        (0..43, b"the quick brown fox jumps over the lazy dog"),
        // A range past the end returns the rest (object_store's documented contract).
        (40..100, b"dog"),
    ] {
        assert_eq!(
            s.get_range(&path, range.clone()).await?.as_ref(),
            want,
            "{range:?}"
        );
    }
    let several = s.get_ranges(&path, &[0..3, 40..43, 10..15]).await?;
    let several: Vec<&[u8]> = several.iter().map(|b| b.as_ref()).collect();
    assert_eq!(several, [&b"the"[..], b"dog", b"brown"]);

    for (range, want) in [
        (GetRange::Suffix(3), &b"dog"[..]),
        (GetRange::Offset(35), b"lazy dog"),
    ] {
        let opts = GetOptions {
            range: Some(range.clone()),
            ..GetOptions::default()
        };
        let r = s.get_opts(&path, opts).await?;
        assert_eq!(r.meta.size, 43, "{range:?}");
        assert_eq!(r.bytes().await?.as_ref(), want, "{range:?}");
    }
    Ok(())
}

async fn listing(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    for (rel, body) in [
        ("list/a/1", "a1"),
        ("list/a/2", "a2."),
        ("list/b/1", "b1.."),
        ("list/c", "c..."),
        // Shares the string prefix "list" but not the path segment: never listed below.
        ("listing/x", "x"),
    ] {
        s.put(&p(root, rel), PutPayload::from(body)).await?;
    }
    let prefix = p(root, "list");
    let mut all: Vec<(String, u64)> = s
        .list(Some(&prefix))
        .map_ok(|m| (m.location.to_string(), m.size))
        .try_collect()
        .await?;
    all.sort();
    let r = |rel: &str| p(root, rel).to_string();
    assert_eq!(
        all,
        [
            (r("list/a/1"), 2),
            (r("list/a/2"), 3),
            (r("list/b/1"), 4),
            (r("list/c"), 4)
        ]
    );

    let dirs = |l: &object_store::ListResult| {
        let mut d: Vec<String> = l.common_prefixes.iter().map(|p| p.to_string()).collect();
        d.sort();
        d
    };
    let l = s.list_with_delimiter(Some(&prefix)).await?;
    assert_eq!(dirs(&l), [r("list/a"), r("list/b")]);
    let objects: Vec<String> = l.objects.iter().map(|m| m.location.to_string()).collect();
    assert_eq!(objects, [r("list/c")]);

    // A "directory" whose last object is deleted disappears from the listing, as on S3
    // (the local store is built with automatic cleanup of empty directories).
    s.delete(&p(root, "list/b/1")).await?;
    let l = s.list_with_delimiter(Some(&prefix)).await?;
    assert_eq!(dirs(&l), [r("list/a")]);
    Ok(())
}

async fn delete(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "del/doomed");
    s.put(&path, PutPayload::from_static(b"bye")).await?;
    assert_eq!(get(s, &path).await?.as_ref(), b"bye");
    s.delete(&path).await?;
    assert!(is_not_found(&s.get(&path).await), "get after delete");
    assert!(is_not_found(&s.head(&path).await), "head after delete");
    assert!(
        is_not_found(&s.get_range(&path, 0..1).await),
        "ranged get after delete"
    );
    let left: Vec<_> = s.list(Some(&p(root, "del"))).try_collect().await?;
    assert!(left.is_empty(), "listed after delete: {left:?}");
    Ok(())
}

async fn multipart(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "mp/eleven-mib");
    // Parts of 5 MiB of 'a', 5 MiB of 'b' and a last part of 1 MiB of 'c' (S3's minimum part
    // size is 5 MiB for all but the last part).
    let parts = [(b'a', 5 * MIB), (b'b', 5 * MIB), (b'c', MIB)];
    let mut upload = s.put_multipart(&path).await?;
    for (byte, len) in parts {
        upload.put_part(PutPayload::from(vec![byte; len])).await?;
    }
    upload.complete().await?;

    assert_eq!(s.head(&path).await?.size, 11_534_336);
    for (range, want) in [
        (0..2, &b"aa"[..]),
        (5_242_878..5_242_882, b"aabb"),
        (10_485_759..10_485_761, b"bc"),
        (11_534_335..11_534_336, b"c"),
    ] {
        assert_eq!(
            s.get_range(&path, range.clone()).await?.as_ref(),
            want,
            "{range:?}"
        );
    }
    let whole = get(s, &path).await?;
    let mut want = vec![b'a'; 5 * MIB];
    want.extend(vec![b'b'; 5 * MIB]);
    want.extend(vec![b'c'; MIB]);
    assert!(
        whole.as_ref() == want.as_slice(),
        "multipart content differs"
    );
    Ok(())
}

async fn create_only(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "cond/meta.json");
    let create = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    s.put_opts(&path, PutPayload::from_static(b"original"), create())
        .await?;
    let second = s
        .put_opts(&path, PutPayload::from_static(b"replacement"), create())
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "second create-only put: {second:?}"
    );
    assert_eq!(get(s, &path).await?.as_ref(), b"original");

    // Once deleted, the key can be created again.
    s.delete(&path).await?;
    s.put_opts(&path, PutPayload::from_static(b"again"), create())
        .await?;
    assert_eq!(get(s, &path).await?.as_ref(), b"again");
    Ok(())
}

async fn overwrite(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let path = p(root, "ow/object");
    s.put(&path, PutPayload::from_static(b"first version"))
        .await?;
    s.put(&path, PutPayload::from_static(b"v2")).await?;
    assert_eq!(get(s, &path).await?.as_ref(), b"v2");
    assert_eq!(s.head(&path).await?.size, 2);
    Ok(())
}

/// 2025-11-28T00:00:00Z and ten seconds later.
const T0: i64 = 1_764_288_000_000_000_000;
const T1: i64 = T0 + 10_000_000_000;

fn labels(pod: &str) -> Labels {
    Labels::from_stored(vec![
        ("app".to_string(), "api".to_string()),
        ("pod".to_string(), pod.to_string()),
    ])
}

/// Three stacks used by samples, one unused; two series given in unsorted order; two rows
/// that sum and two that cancel out.
fn hand_built_block() -> BlockData {
    let mut symbols = Symbols::new();
    let mut loc = |name: &str| symbols.intern_named_location(name, None, 0, FrameKind::Unspecified);
    let (main, handle, parse, compress, idle) = (
        loc("main"),
        loc("handle"),
        loc("parse"),
        loc("compress"),
        loc("idle"),
    );
    let parse_stack = symbols.stacks.intern([main, handle, parse]).0;
    let compress_stack = symbols.stacks.intern([main, handle, compress]).0;
    let main_stack = symbols.stacks.intern([main]).0;
    let _unused = symbols.stacks.intern([main, idle]);

    let mut d = BlockData {
        symbols,
        sample_types: vec![SampleType {
            kind: "cpu".into(),
            unit: "nanoseconds".into(),
        }],
        // Series 0 is pod b, series 1 pod a: normalize sorts them.
        series: vec![labels("b"), labels("a")],
        ..BlockData::default()
    };
    // Profiles: 0 = (b, T0), 1 = (a, T0), 2 = (a, T1), 3 = (b, T1) whose values cancel.
    d.profiles
        .push((0, 0, T0, 10_000_000_000, 10_000_000, 15, 1));
    d.profiles
        .push((0, 1, T0, 10_000_000_000, 10_000_000, 7, 1));
    d.profiles
        .push((0, 1, T1, 10_000_000_000, 10_000_000, 3, 1));
    d.profiles
        .push((0, 0, T1, 10_000_000_000, 10_000_000, 0, 0));
    d.samples.push(0, parse_stack, 10);
    d.samples.push(0, parse_stack, 5);
    d.samples.push(1, compress_stack, 7);
    d.samples.push(2, main_stack, 3);
    d.samples.push(3, compress_stack, 4);
    d.samples.push(3, compress_stack, -4);
    d.normalize()
}

fn empty_meta() -> BlockMeta {
    BlockMeta {
        created_nanos: T1,
        ..BlockMeta::empty()
    }
}

async fn block_round_trip(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let partition = PartitionKey {
        tenant: "acme".into(),
        app: "api".into(),
        version: String::new(),
        dc: String::new(),
        date: NaiveDate::from_ymd_opt(2025, 11, 28).context("date")?,
    };
    let bp = BlockPath {
        partition,
        id: "0192f5a0c3d47e8a9b1c2d3e4f506172".into(),
    };
    let data = hand_built_block();
    block::write_block(s, root, &bp, &data, empty_meta()).await?;

    let mut files: Vec<String> = s
        .list(Some(&bp.dir(root)))
        .map_ok(|m| m.location.filename().unwrap_or_default().to_string())
        .try_collect()
        .await?;
    files.sort();
    assert_eq!(
        files,
        [
            "meta.json",
            "profiles.parquet",
            "samples.parquet",
            "series.parquet",
            "symbols.bin"
        ]
    );

    let (meta, back) = block::read_block(s, root, &bp).await?;
    assert_eq!(meta.id, "0192f5a0c3d47e8a9b1c2d3e4f506172");
    assert_eq!((meta.min_time_nanos, meta.max_time_nanos), (T0, T1));
    assert_eq!((meta.rows, meta.profiles, meta.series), (3, 4, 2));
    // Tree nodes in use: empty, main, main;handle, main;handle;parse, main;handle;compress.
    assert_eq!(meta.stacks, 5);
    assert_eq!(meta.created_nanos, T1);
    assert_eq!(meta.sample_types.len(), 1);
    assert_eq!(meta.sample_types[0].name(), "cpu/nanoseconds");

    assert_eq!(back.series, [labels("a"), labels("b")]);
    let sm = &back.samples;
    let rows: Vec<(u16, u32, i64, String, i64)> = (0..sm.len())
        .map(|i| {
            let names = back
                .symbols
                .frame_names(flamedb_profile::StackId(sm.stack[i]));
            let (sample_type, series, time) = back.sample_key(i);
            (sample_type, series, time, names.join(";"), sm.value[i])
        })
        .collect();
    assert_eq!(
        rows,
        // Sorted by (sample type, series, stack, time); stacks are numbered depth first:
        // main (1) before main;handle;compress (4).
        [
            (0, 0, T1, "main".to_string(), 3),
            (0, 0, T0, "main;handle;compress".to_string(), 7),
            (0, 1, T0, "main;handle;parse".to_string(), 15),
        ]
    );
    let pr = &back.profiles;
    let profiles: Vec<_> = (0..pr.len()).map(|i| pr.row(i)).collect();
    assert_eq!(
        profiles,
        [
            (0, 0, T0, 10_000_000_000, 10_000_000, 7, 1),
            (0, 0, T1, 10_000_000_000, 10_000_000, 3, 1),
            (0, 1, T0, 10_000_000_000, 10_000_000, 15, 1),
            (0, 1, T1, 10_000_000_000, 10_000_000, 0, 0),
        ]
    );

    // Series groups by the profiles' row counts: pod a (profiles 0-1) has rows 0-1, pod b
    // (profiles 2-3) row 2.
    let groups = block::group_rows(&back.profiles, 3).context("row counts add up")?;
    assert_eq!(groups, [(0, 2, 0..2), (2, 4, 2..3)]);
    assert_eq!(block::group_rows(&back.profiles, 4), None);
    // Selected rows and columns: pod b's row, then rows 0 and 2 without the profile column.
    let read = |rows: Vec<std::ops::Range<usize>>, skip_profile| block::SampleRead {
        rows: Some(rows),
        skip_profile,
    };
    let b_rows =
        block::read_samples_with(s, root, &bp, &read(std::iter::once(2..3).collect(), false))
            .await?;
    assert_eq!((b_rows.profile, b_rows.value), (vec![2], vec![15]));
    let two = block::read_samples_with(s, root, &bp, &read(vec![0..1, 2..3], true)).await?;
    assert!(two.profile.is_empty());
    assert_eq!(two.value, [3, 15]);
    assert_eq!(two.stack, [sm.stack[0], sm.stack[2]]);
    let outside =
        block::read_samples_with(s, root, &bp, &read(std::iter::once(2..4).collect(), false)).await;
    assert!(
        matches!(outside, Err(flamedb_storage::Error::Corrupt { .. })),
        "rows beyond the file: {outside:?}"
    );

    // meta.json is create-only: writing the same block again fails and leaves it readable.
    let again = block::write_block(s, root, &bp, &data, empty_meta()).await;
    assert!(
        matches!(
            again,
            Err(flamedb_storage::Error::ObjectStore(
                object_store::Error::AlreadyExists { .. }
            ))
        ),
        "second write of the block: {again:?}"
    );
    let (meta_again, _) = block::read_block(s, root, &bp).await?;
    assert_eq!(meta_again, meta);
    Ok(())
}

/// Two partitions of one app and day given one shared dictionary: its object is listed
/// where the layout says, the rewritten blocks read back the folded input, and garbage
/// collection deletes the replaced blocks but keeps the dictionary in use.
async fn shared_dictionary(objects: Arc<dyn ObjectStore>, root: &Path) -> Result<()> {
    use flamedb_storage::{CompactionConfig, PartitionFilter, Store, StoreConfig, WalRecord};
    let wal = tempfile::tempdir()?;
    let config = StoreConfig {
        wal_dir: wal.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let (store, _) = Store::open(objects.clone(), root.clone(), config).await?;
    for (dc, text) in [
        ("eu", "main;a 3\nmain;b 1\n"),
        ("us", "main;a 2\nmain;c 5\n"),
    ] {
        store
            .append(WalRecord {
                tenant: "shared".into(),
                labels: vec![("app".into(), "api".into()), ("dc".into(), dc.into())],
                format: Some(flamedb_profile::Format::Folded),
                time_nanos: T0,
                perf_event: String::new(),
                data: Bytes::from(text),
            })
            .await?;
    }
    store.close().await?;
    let now = CompactionConfig {
        grace: std::time::Duration::ZERO,
        share_after: Some(std::time::Duration::ZERO),
        ..CompactionConfig::default()
    };
    let report = store.maintain("shared", &now).await?;
    assert_eq!(report.shared.len(), 1, "{report:?}");
    let dict = &report.shared[0];
    let listed: Vec<Path> = objects
        .list(Some(&p(root, "shared/app=api/date=2025-11-28/dict")))
        .map_ok(|m| m.location)
        .try_collect()
        .await?;
    assert_eq!(listed, [dict.file(root)]);
    let blocks = store.blocks("shared", &PartitionFilter::default()).await?;
    assert_eq!(blocks.len(), 2);
    let mut sums = std::collections::BTreeMap::new();
    for b in &blocks {
        assert_eq!(
            b.meta.shared_symbols.as_ref().map(|s| &s.id),
            Some(&dict.id)
        );
        let (_, d) = store.read_block(&b.path).await?;
        let mut rows = Vec::new();
        for i in 0..d.samples.len() {
            let names = d
                .symbols
                .frame_names(flamedb_profile::StackId(d.samples.stack[i]));
            rows.push((names.join(";"), d.samples.value[i]));
        }
        sums.insert(b.path.partition.dc.clone(), rows);
    }
    let want = |pairs: &[(&str, i64)]| -> Vec<(String, i64)> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    };
    assert_eq!(sums["eu"], want(&[("main;a", 3), ("main;b", 1)]));
    assert_eq!(sums["us"], want(&[("main;a", 2), ("main;c", 5)]));
    // Two blocks' files (the replaced ones) are gone, the dictionary is not.
    let all: Vec<Path> = objects
        .list(Some(&p(root, "shared")))
        .map_ok(|m| m.location)
        .try_collect()
        .await?;
    assert_eq!(
        all.iter()
            .filter(|p| p.filename() == Some("symbols.bin"))
            .count(),
        1
    );
    assert_eq!(
        all.iter()
            .filter(|p| p.filename() == Some("meta.json"))
            .count(),
        2
    );
    Ok(())
}

/// The key prefix is honoured: nothing the suite wrote lies outside the root.
async fn everything_is_below_the_root(s: &dyn ObjectStore, root: &Path) -> Result<()> {
    let all: Vec<Path> = s.list(None).map_ok(|m| m.location).try_collect().await?;
    assert!(!all.is_empty());
    for path in &all {
        assert!(
            path.prefix_match(root).is_some(),
            "{path} is outside {root}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn in_memory() -> Result<()> {
    let config = ObjectStoreConfig {
        kind: StoreKind::Memory,
        ..ObjectStoreConfig::default()
    };
    let (store, root) = object::build(&config)?;
    assert_eq!(root, Path::default());
    conformance(store, root).await
}

#[tokio::test]
async fn local_directory() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let config = ObjectStoreConfig {
        kind: StoreKind::Local,
        local_dir: tmp.path().join("store"),
        prefix: "nested/root".into(),
        ..ObjectStoreConfig::default()
    };
    let (store, root) = object::build(&config)?;
    assert_eq!(root.as_ref(), "nested/root");
    conformance(store, root).await?;
    // The objects are real files below the directory.
    let file = tmp.path().join("store/nested/root/ow/object");
    assert_eq!(std::fs::read(&file)?, b"v2");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server() -> Result<()> {
    let Some(server) = S3Server::start_or_skip("object_conformance::s3_server") else {
        return Ok(());
    };
    let (store, root) = object::build(&server.config("ci/conformance"))?;
    assert_eq!(root.as_ref(), "ci/conformance");
    conformance(store, root).await
}
