//! Bulk import of Parquet tables (`Store::import`): hand-computed blocks, random tables
//! against sums computed here from the rows, the normalized and the folded-text layouts
//! agreeing, running an import twice, and clear errors for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int64Array, ListBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::Int32Type;
use flamedb_storage::{
    BlockData, Error, ImportOptions, ImportReport, PartitionFilter, SampleType, StackTable, Store,
};
use object_store::ObjectStoreExt;
use object_store::memory::InMemory;
use object_store::path::Path;
use parquet::arrow::ArrowWriter;
use std::collections::BTreeMap;
use std::sync::Arc;

/// 2025-11-28 03:20 UTC, in ms.
const T0: i64 = 1_764_300_000_000;
const DAY_MS: i64 = 86_400_000;

/// A store on a fresh InMemory, its WAL in `wal`.
async fn open(wal: &std::path::Path) -> Store {
    common::open(Arc::new(InMemory::new()), wal).await
}

fn cpu() -> ImportOptions {
    ImportOptions::new(SampleType {
        kind: "cpu".into(),
        unit: "nanoseconds".into(),
    })
}

fn write_parquet(path: &std::path::Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// A stacks table file: `stack_id` and `frames` (root first).
fn write_stacks(path: &std::path::Path, stacks: &[(u64, &str)]) {
    let mut frames = ListBuilder::new(StringBuilder::new());
    for (_, s) in stacks {
        for f in s.split(';') {
            frames.values().append_value(f);
        }
        frames.append(true);
    }
    let ids = UInt64Array::from(stacks.iter().map(|s| s.0).collect::<Vec<_>>());
    write_parquet(
        path,
        vec![
            ("stack_id", Arc::new(ids) as ArrayRef),
            ("frames", Arc::new(frames.finish())),
        ],
    );
}

/// One input row: (ms, app, version, dc, pod, stack, value).
type Row = (
    i64,
    &'static str,
    &'static str,
    &'static str,
    String,
    String,
    Option<i64>,
);

/// A samples file of `rows`; the stack as `stack_id` (looked up in `ids`) or as folded
/// text (`stack`, dictionary encoded when `dictionary`).
fn write_samples(
    path: &std::path::Path,
    rows: &[Row],
    ids: Option<&BTreeMap<String, u64>>,
    dictionary: bool,
) {
    let ts = TimestampMillisecondArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .with_timezone("UTC");
    let text = |f: fn(&Row) -> &str| -> ArrayRef {
        let v: Vec<&str> = rows.iter().map(f).collect();
        if dictionary {
            Arc::new(v.into_iter().collect::<DictionaryArray<Int32Type>>())
        } else {
            Arc::new(StringArray::from(v))
        }
    };
    let stack: (&str, ArrayRef) = match ids {
        Some(ids) => (
            "stack_id",
            Arc::new(UInt64Array::from(
                rows.iter().map(|r| ids[&r.5]).collect::<Vec<_>>(),
            )),
        ),
        None => ("stack", text(|r| r.5.as_str())),
    };
    write_parquet(
        path,
        vec![
            ("ts", Arc::new(ts) as ArrayRef),
            ("app", text(|r| r.1)),
            ("version", text(|r| r.2)),
            ("dc", text(|r| r.3)),
            ("pod", text(|r| r.4.as_str())),
            stack,
            (
                "value",
                Arc::new(Int64Array::from(
                    rows.iter().map(|r| r.6).collect::<Vec<_>>(),
                )),
            ),
        ],
    );
}

/// Per (version, dc, date, pod, time ns) profile: its total, its number of stacks and its
/// per-stack sums, read back from every current block.
type Stored = BTreeMap<(String, String, String, String, i64), (i64, u32, BTreeMap<String, i64>)>;

async fn stored(store: &Store) -> Stored {
    let mut out = Stored::new();
    for b in store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap()
    {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        add(&d, &b.path.partition.date.to_string(), &mut out);
    }
    out
}

/// Profile rows over every current block (a profile split over blocks counts twice).
async fn profile_rows(store: &Store) -> usize {
    let blocks = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap();
    blocks.iter().map(|b| b.meta.profiles as usize).sum()
}

fn add(d: &BlockData, date: &str, out: &mut Stored) {
    assert_eq!(d.sample_types.len(), 1);
    assert_eq!(d.sample_types[0].kind, "cpu");
    for p in 0..d.profiles.len() {
        let labels = &d.series[d.profiles.series[p] as usize];
        let key = (
            labels.get("version").unwrap_or("").to_string(),
            labels.get("dc").unwrap_or("").to_string(),
            date.to_string(),
            labels.get("pod").unwrap().to_string(),
            d.profiles.time[p],
        );
        let e = out.entry(key).or_default();
        e.0 += d.profiles.total[p];
        e.1 += d.profiles.stacks[p];
    }
    for i in 0..d.samples.len() {
        let p = d.samples.profile[i] as usize;
        let labels = &d.series[d.profiles.series[p] as usize];
        let key = (
            labels.get("version").unwrap_or("").to_string(),
            labels.get("dc").unwrap_or("").to_string(),
            date.to_string(),
            labels.get("pod").unwrap().to_string(),
            d.profiles.time[p],
        );
        let names: Vec<String> = d
            .symbols
            .frames(flamedb_profile::StackId(d.samples.stack[i]))
            .into_iter()
            .map(|f| f.name.into_owned())
            .collect();
        *out.get_mut(&key)
            .unwrap()
            .2
            .entry(names.join(";"))
            .or_default() += d.samples.value[i];
    }
}

fn row(
    ms: i64,
    version: &'static str,
    dc: &'static str,
    pod: &str,
    stack: &str,
    v: Option<i64>,
) -> Row {
    (ms, "shop", version, dc, pod.into(), stack.into(), v)
}

#[tokio::test]
async fn a_hand_computed_table_becomes_blocks_per_partition_and_day() {
    let dir = tempfile::tempdir().unwrap();
    let stacks: BTreeMap<String, u64> = [("main;a;b", 7), ("main;a", 9), ("main;c_[k]", 11)]
        .into_iter()
        .map(|(s, i)| (s.to_string(), i))
        .collect();
    let table: Vec<(u64, &str)> = stacks.iter().map(|(s, &i)| (i, s.as_str())).collect();
    write_stacks(&dir.path().join("stacks.parquet"), &table);
    let rows = vec![
        row(T0, "v1", "eu", "p1", "main;a;b", Some(10)),
        row(T0, "v1", "eu", "p1", "main;a", Some(5)),
        row(T0, "v1", "eu", "p1", "main;a;b", Some(3)),
        row(T0, "v1", "eu", "p2", "main;c_[k]", Some(4)),
        row(T0 + 10_000, "v1", "eu", "p1", "main;a", Some(0)),
        row(T0 + 10_000, "v1", "eu", "p1", "main;a", None),
        row(T0 + 10_000, "v1", "us", "p3", "main;a;b", Some(6)),
        row(T0 + DAY_MS, "v1", "eu", "p1", "main;a;b", Some(2)),
        row(T0, "v2", "", "p1", "main;a", Some(1)),
    ];
    write_samples(&dir.path().join("s.parquet"), &rows, Some(&stacks), false);
    let store = open(&dir.path().join("wal")).await;
    let table = StackTable::read_parquet(&dir.path().join("stacks.parquet"), &cpu()).unwrap();
    assert_eq!(table.len(), 3);
    let report = store
        .import(
            "t",
            vec![dir.path().join("s.parquet")],
            Some(Arc::new(table)),
            cpu(),
        )
        .await
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            files: 1,
            input_rows: 9,
            rows: 6,
            profiles: 5,
            blocks: 4,
            blocks_skipped: 0,
        }
    );
    let ns = |ms: i64| ms * 1_000_000;
    let sums = |pairs: &[(&str, i64)]| -> BTreeMap<String, i64> {
        pairs.iter().map(|(s, v)| (s.to_string(), *v)).collect()
    };
    let key = |v: &str, dc: &str, date: &str, pod: &str, ms: i64| {
        (
            v.to_string(),
            dc.to_string(),
            date.to_string(),
            pod.to_string(),
            ns(ms),
        )
    };
    let expected: Stored = [
        (
            key("v1", "eu", "2025-11-28", "p1", T0),
            (18, 2, sums(&[("main;a;b", 13), ("main;a", 5)])),
        ),
        (
            key("v1", "eu", "2025-11-28", "p2", T0),
            (4, 1, sums(&[("main;c", 4)])),
        ),
        (
            key("v1", "us", "2025-11-28", "p3", T0 + 10_000),
            (6, 1, sums(&[("main;a;b", 6)])),
        ),
        (
            key("v1", "eu", "2025-11-29", "p1", T0 + DAY_MS),
            (2, 1, sums(&[("main;a;b", 2)])),
        ),
        (
            key("v2", "", "2025-11-28", "p1", T0),
            (1, 1, sums(&[("main;a", 1)])),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(stored(&store).await, expected);
    // The partitions are the blocks' paths; the empty dc is an absent label.
    let mut parts: Vec<String> = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|b| {
            let k = &b.path.partition;
            format!("{}/{}/{}/{}", k.app, k.version, k.dc, k.date)
        })
        .collect();
    parts.sort();
    assert_eq!(
        parts,
        [
            "shop/v1/eu/2025-11-28",
            "shop/v1/eu/2025-11-29",
            "shop/v1/us/2025-11-28",
            "shop/v2//2025-11-28"
        ]
    );
    let b = store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap();
    let (_, d) = store.read_block(&b[3].path).await.unwrap();
    assert_eq!(d.series[0].get("dc"), None);
    assert_eq!(d.series[0].len(), 3, "app, version, pod");
}

/// A seeded generator (xorshift), so the test needs no crate for randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random rows: 2 versions, 2 dcs, 3 pods each, 30 profiles 10 s apart crossing midnight,
/// 1-12 rows per profile from 40 stacks (repeats included), values -2..50 (zeros and
/// negative values included), some null.
fn random_rows(seed: u64) -> (Vec<Row>, BTreeMap<String, u64>) {
    let mut rng = Rng(seed);
    let mut stacks = BTreeMap::new();
    let names: Vec<String> = (0..40)
        .map(|i| {
            let depth = 1 + (i % 7);
            (0..depth)
                .map(|d| format!("f{}", (i * 3 + d * 5) % 17))
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect();
    for (i, n) in names.iter().enumerate() {
        stacks.entry(n.clone()).or_insert(1000 + i as u64 * 7919);
    }
    let midnight = (T0 / DAY_MS + 1) * DAY_MS;
    let mut rows = Vec::new();
    for t in 0..30 {
        let ms = midnight - 150_000 + t * 10_000;
        for (version, dc) in [("v1", "eu"), ("v1", "us"), ("v2", "eu"), ("v2", "us")] {
            for pod in 0..3 {
                for _ in 0..1 + rng.below(12) {
                    let stack = names[rng.below(names.len() as u64) as usize].clone();
                    let v = match rng.below(20) {
                        0 => None,
                        1 => Some(0),
                        _ => Some(rng.below(52) as i64 - 2),
                    };
                    rows.push((ms, "shop", version, dc, format!("pod{pod}"), stack, v));
                }
            }
        }
    }
    (rows, stacks)
}

/// What the store must hold for `rows`, computed from the rows alone.
fn expected(rows: &[Row]) -> Stored {
    let mut per: BTreeMap<_, BTreeMap<String, i64>> = BTreeMap::new();
    for r in rows {
        let Some(v) = r.6 else { continue };
        if v == 0 {
            continue;
        }
        let date = chrono::DateTime::from_timestamp_millis(r.0)
            .unwrap()
            .date_naive()
            .to_string();
        let key = (
            r.2.to_string(),
            r.3.to_string(),
            date,
            r.4.clone(),
            r.0 * 1_000_000,
        );
        *per.entry(key).or_default().entry(r.5.clone()).or_default() += v;
    }
    per.into_iter()
        .map(|(k, sums)| {
            let total = sums.values().sum();
            let sums: BTreeMap<String, i64> = sums.into_iter().filter(|(_, v)| *v != 0).collect();
            (k, (total, sums.len() as u32, sums))
        })
        .collect()
}

/// Equal, or a panic showing the first profile that differs.
fn same(got: &Stored, want: &Stored, what: &str) {
    for (k, w) in want {
        assert_eq!(got.get(k), Some(w), "{what}: profile {k:?}");
    }
    for k in got.keys() {
        assert!(
            want.contains_key(k),
            "{what}: profile {k:?} should not be there"
        );
    }
}

#[tokio::test]
async fn random_tables_in_both_layouts_store_exactly_their_rows() {
    for seed in [1u64, 7, 12345] {
        let dir = tempfile::tempdir().unwrap();
        let (rows, stacks) = random_rows(seed);
        let want = expected(&rows);
        let table: Vec<(u64, &str)> = stacks.iter().map(|(s, &i)| (i, s.as_str())).collect();
        write_stacks(&dir.path().join("stacks.parquet"), &table);
        // Two files of the normalized layout, split where a profile starts.
        let half = (rows.len() / 2..rows.len())
            .find(|&i| {
                (rows[i].0, rows[i].2, rows[i].3, &rows[i].4)
                    != (rows[i - 1].0, rows[i - 1].2, rows[i - 1].3, &rows[i - 1].4)
            })
            .unwrap();
        let a = dir.path().join("a.parquet");
        let b = dir.path().join("b.parquet");
        write_samples(&a, &rows[..half], Some(&stacks), seed % 2 == 0);
        write_samples(&b, &rows[half..], Some(&stacks), seed % 2 == 1);
        let mut opts = cpu();
        opts.max_block_rows = 50; // several blocks per partition
        opts.batch_rows = 37; // batches end mid-profile
        let table = StackTable::read_parquet(&dir.path().join("stacks.parquet"), &opts).unwrap();
        let normalized = open(&dir.path().join("wal1")).await;
        let r = normalized
            .import(
                "t",
                vec![a.clone(), b.clone()],
                Some(Arc::new(table)),
                opts.clone(),
            )
            .await
            .unwrap();
        assert_eq!(r.input_rows, rows.len() as u64);
        assert!(r.blocks > 8, "{r:?}");
        same(
            &stored(&normalized).await,
            &want,
            &format!("seed {seed}, normalized layout"),
        );
        // Input grouped by profile: no profile is split over blocks.
        assert_eq!(profile_rows(&normalized).await, want.len(), "seed {seed}");

        // The same rows with the stack as folded text, dictionary encoded or not.
        let c = dir.path().join("c.parquet");
        write_samples(&c, &rows, None, seed % 2 == 0);
        let folded = open(&dir.path().join("wal2")).await;
        folded
            .import("t", vec![c], None, opts.clone())
            .await
            .unwrap();
        same(
            &stored(&folded).await,
            &want,
            &format!("seed {seed}, folded text"),
        );

        // Run again, in other batches and on one thread: every block is found complete,
        // nothing is stored twice.
        let table = || {
            Some(Arc::new(
                StackTable::read_parquet(&dir.path().join("stacks.parquet"), &opts).unwrap(),
            ))
        };
        let mut other_batches = opts.clone();
        other_batches.batch_rows = 1000;
        other_batches.threads = 1;
        let again = normalized
            .import("t", vec![a.clone(), b.clone()], table(), other_batches)
            .await
            .unwrap();
        assert_eq!((again.blocks, again.blocks_skipped), (0, r.blocks));
        same(
            &stored(&normalized).await,
            &want,
            &format!("seed {seed}, imported twice"),
        );

        // An import that stopped half-way: two blocks lack their meta.json; run again,
        // exactly those two are written.
        let (objects, root) = normalized.objects();
        let blocks = normalized
            .blocks("t", &PartitionFilter::default())
            .await
            .unwrap();
        for b in &blocks[..2] {
            objects
                .delete(&b.path.file(root, flamedb_storage::BlockFile::Meta))
                .await
                .unwrap();
        }
        let resumed = normalized
            .import("t", vec![a.clone(), b.clone()], table(), opts.clone())
            .await
            .unwrap();
        assert_eq!((resumed.blocks, resumed.blocks_skipped), (2, r.blocks - 2));
        same(
            &stored(&normalized).await,
            &want,
            &format!("seed {seed}, resumed"),
        );

        // A small budget for open blocks cuts more of them; the sums stay.
        let tight = open(&dir.path().join("wal3")).await;
        let mut small = opts.clone();
        small.max_buffered_rows = 60;
        let t = tight
            .import("t", vec![a.clone(), b.clone()], table(), small)
            .await
            .unwrap();
        assert!(t.blocks > r.blocks, "{t:?} vs {r:?}");
        let sums = |s: &Stored| -> BTreeMap<_, _> {
            s.iter()
                .map(|(k, v)| (k.clone(), (v.0, v.2.clone())))
                .collect()
        };
        assert_eq!(
            sums(&stored(&tight).await),
            sums(&want),
            "seed {seed}, small buffer"
        );
    }
}

async fn import_err(
    columns: Vec<(&str, ArrayRef)>,
    stacks: Option<StackTable>,
    opts: ImportOptions,
) -> (String, Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    write_parquet(&path, columns);
    let store = open(&dir.path().join("wal")).await;
    let err = store
        .import("t", vec![path], stacks.map(Arc::new), opts)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    (err.to_string(), store, dir)
}

fn table_of(stacks: &[(u64, &str)]) -> StackTable {
    let dir = tempfile::tempdir().unwrap();
    write_stacks(&dir.path().join("s.parquet"), stacks);
    StackTable::read_parquet(&dir.path().join("s.parquet"), &cpu()).unwrap()
}

fn ts(n: usize) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(vec![T0; n]))
}

fn strs(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

#[tokio::test]
async fn bad_tables_are_refused_with_the_file_row_and_reason() {
    // A stack id the table does not define: nothing of the file is stored.
    let (msg, store, _d) = import_err(
        vec![
            ("ts", ts(2)),
            ("app", strs(&["a", "a"])),
            ("stack_id", Arc::new(UInt64Array::from(vec![7, 42]))),
            ("value", Arc::new(Int64Array::from(vec![1, 2]))),
        ],
        Some(table_of(&[(7, "main")])),
        cpu(),
    )
    .await;
    assert!(
        msg.contains("bad.parquet")
            && msg.contains("row 1: stack_id 42 is not in the stacks table"),
        "{msg}"
    );
    assert!(
        store
            .blocks("t", &PartitionFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // No app.
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("service", strs(&["a"])),
            ("stack", strs(&["main"])),
            ("value", Arc::new(Int64Array::from(vec![1]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(msg.contains("no column `app`"), "{msg}");

    // An empty app on one row.
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(2)),
            ("app", strs(&["a", ""])),
            ("stack", strs(&["main", "main"])),
            ("value", Arc::new(Int64Array::from(vec![1, 1]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(msg.contains("row 1: `app` is null or empty"), "{msg}");

    // Float values.
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("stack", strs(&["main"])),
            ("value", Arc::new(Float64Array::from(vec![1.5]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(
        msg.contains("value column `value` is Float64, expected an integer type"),
        "{msg}"
    );

    // A stack id column and no stacks table.
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("stack_id", Arc::new(UInt64Array::from(vec![7]))),
            ("value", Arc::new(Int64Array::from(vec![1]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(
        msg.contains("refers to a stacks table, and none was given"),
        "{msg}"
    );

    // Too deep, and an empty frame.
    let mut shallow = cpu();
    shallow.max_stack_depth = 2;
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("stack", strs(&["main;a;b"])),
            ("value", Arc::new(Int64Array::from(vec![1]))),
        ],
        None,
        shallow,
    )
    .await;
    assert!(
        msg.contains("row 0: stack depth exceeds the limit of 2"),
        "{msg}"
    );
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("stack", strs(&["main;;b"])),
            ("value", Arc::new(Int64Array::from(vec![1]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(msg.contains("a frame name is null or empty"), "{msg}");

    // A null time.
    let (msg, ..) = import_err(
        vec![
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from(vec![Some(T0), None])),
            ),
            ("app", strs(&["a", "a"])),
            ("stack", strs(&["main", "main"])),
            ("value", Arc::new(Int64Array::from(vec![1, 1]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(msg.contains("row 1: the time is null"), "{msg}");

    // A value beyond i64: refused, not dropped.
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("stack", strs(&["main"])),
            ("value", Arc::new(UInt64Array::from(vec![u64::MAX]))),
        ],
        None,
        cpu(),
    )
    .await;
    assert!(
        msg.contains("value column `value`") && msg.contains("18446744073709551615"),
        "{msg}"
    );

    // More rows than the import may read.
    let mut few_rows = cpu();
    few_rows.max_input_rows = 1;
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(2)),
            ("app", strs(&["a", "a"])),
            ("stack", strs(&["main", "main"])),
            ("value", Arc::new(Int64Array::from(vec![1, 1]))),
        ],
        None,
        few_rows,
    )
    .await;
    assert!(msg.contains("more than 1 input rows, its limit"), "{msg}");

    // Too many labels.
    let mut few = cpu();
    few.label_limits.max_labels = 2;
    let (msg, ..) = import_err(
        vec![
            ("ts", ts(1)),
            ("app", strs(&["a"])),
            ("pod", strs(&["p"])),
            ("zone", strs(&["z"])),
            ("stack", strs(&["main"])),
            ("value", Arc::new(Int64Array::from(vec![1]))),
        ],
        None,
        few,
    )
    .await;
    assert!(
        msg.contains("3 labels on one series, the limit is 2"),
        "{msg}"
    );
}

#[tokio::test]
async fn another_value_column_of_the_same_file_is_another_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.parquet");
    write_parquet(
        &path,
        vec![
            ("ts", ts(2)),
            ("app", strs(&["a", "a"])),
            ("stack", strs(&["main;x", "main;y"])),
            ("cpu", Arc::new(Int64Array::from(vec![10, 20]))),
            ("alloc", Arc::new(Int64Array::from(vec![100, 0]))),
        ],
    );
    let store = open(&dir.path().join("wal")).await;
    let mut cpu_opts = cpu();
    cpu_opts.value_column = "cpu".into();
    cpu_opts.ignore_columns = vec!["alloc".into()];
    let first = store
        .import("t", vec![path.clone()], None, cpu_opts)
        .await
        .unwrap();
    let mut alloc_opts = ImportOptions::new(SampleType {
        kind: "alloc_space".into(),
        unit: "bytes".into(),
    });
    alloc_opts.value_column = "alloc".into();
    alloc_opts.ignore_columns = vec!["cpu".into()];
    let second = store
        .import("t", vec![path], None, alloc_opts)
        .await
        .unwrap();
    assert_eq!((first.blocks, first.rows), (1, 2));
    assert_eq!(
        (second.blocks, second.blocks_skipped, second.rows),
        (1, 0, 1)
    );
    let mut per_type = BTreeMap::new();
    for b in store
        .blocks("t", &PartitionFilter::default())
        .await
        .unwrap()
    {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        *per_type.entry(d.sample_types[0].kind.clone()).or_insert(0) += d.profiles.total[0];
    }
    assert_eq!(
        per_type,
        BTreeMap::from([("alloc_space".to_string(), 100), ("cpu".to_string(), 30)])
    );
}

#[tokio::test]
async fn tables_in_every_parquet_compression_import_alike() {
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
    use parquet::file::properties::WriterProperties;
    // pyarrow and DuckDB write Snappy by default, Spark Snappy or zstd, others gzip, LZ4
    // or Brotli.
    let rows = vec![
        row(T0, "v1", "eu", "p1", "main;a;b", Some(10)),
        row(T0, "v1", "eu", "p1", "main;a", Some(5)),
        row(T0 + 10_000, "v1", "eu", "p2", "main;c", Some(4)),
    ];
    let want = expected(&rows);
    for c in [
        Compression::UNCOMPRESSED,
        Compression::SNAPPY,
        Compression::GZIP(GzipLevel::default()),
        Compression::LZ4_RAW,
        Compression::LZ4,
        Compression::BROTLI(BrotliLevel::default()),
        Compression::ZSTD(ZstdLevel::default()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain.parquet");
        write_samples(&plain, &rows, None, true);
        // Rewrite the same batch with compression `c`.
        let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&plain).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
        let path = dir.path().join("c.parquet");
        let props = WriterProperties::builder().set_compression(c).build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let store = open(&dir.path().join("wal")).await;
        store.import("t", vec![path], None, cpu()).await.unwrap();
        same(&stored(&store).await, &want, &format!("{c:?}"));
    }
}

/// An object store whose puts into partitions of version v2 fail ("disk full").
#[derive(Debug)]
struct FailingV2(InMemory);

impl std::fmt::Display for FailingV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FailingV2")
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for FailingV2 {
    async fn put_opts(
        &self,
        location: &Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        if location.as_ref().contains("version=v2") {
            return Err(object_store::Error::Generic {
                store: "FailingV2",
                source: "disk full".into(),
            });
        }
        self.0.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.0.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.0.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
        self.0.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.0.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.0.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.0.copy_opts(from, to, options).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_stops_the_import_with_the_store_s_error() {
    // Two files, v1's rows and v2's, in small blocks: v2's writes fail; the import ends
    // (no writer or reader waits forever) with the store's error, not with v1's
    // cancellation, whichever file stops first.
    let dir = tempfile::tempdir().unwrap();
    let (rows, _) = random_rows(99);
    let v1: Vec<Row> = rows.iter().filter(|r| r.2 == "v1").cloned().collect();
    let v2: Vec<Row> = rows.iter().filter(|r| r.2 == "v2").cloned().collect();
    let (a, b) = (dir.path().join("v1.parquet"), dir.path().join("v2.parquet"));
    write_samples(&a, &v1, None, true);
    write_samples(&b, &v2, None, true);
    let mut opts = cpu();
    opts.max_block_rows = 10;
    opts.batch_rows = 16;
    for _ in 0..5 {
        let target = flamedb_storage::Target {
            objects: Arc::new(FailingV2(InMemory::new())),
            root: Path::from("r"),
            write: flamedb_storage::WriteOptions::default(),
        };
        let sources = vec![a.clone().into(), b.clone().into()];
        let err = flamedb_storage::import::import(target, "t", sources, None, opts.clone())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}

#[test]
fn a_stacks_table_refuses_one_id_with_two_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.parquet");
    write_stacks(&path, &[(7, "main;a"), (8, "main"), (7, "main;a")]);
    assert_eq!(StackTable::read_parquet(&path, &cpu()).unwrap().len(), 2);
    write_stacks(&path, &[(7, "main;a"), (7, "main;b")]);
    let err = StackTable::read_parquet(&path, &cpu())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("stack_id 7 is defined twice, with different frames"),
        "{err}"
    );
    let missing = StackTable::read_parquet(&dir.path().join("none.parquet"), &cpu()).unwrap_err();
    assert!(missing.to_string().contains("none.parquet"), "{missing}");
}
