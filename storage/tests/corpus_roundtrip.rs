//! Every corpus pprof, folded and perf-script file, ingested through the store (WAL, head,
//! flush to Parquet blocks on an in-memory object store) and read back, gives per-stack
//! sums equal to the decoded profile's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use flamedb_profile::{DecodeOptions, Profile, StackId, Symbols};
use flamedb_storage::{PartitionFilter, Store, StoreConfig, WalRecord};
use object_store::memory::InMemory;
use object_store::path::Path;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

type Sums = BTreeMap<(String, String), i128>;

fn corpus() -> Option<PathBuf> {
    flamedb_profile::testing::corpus_dir()
}

fn stack_key(s: &Symbols, id: StackId) -> String {
    s.frames(id)
        .into_iter()
        .map(|f| f.name.into_owned())
        .collect::<Vec<_>>()
        .join(";")
}

/// Per (sample type, stack) sums of the decoded profile, zero sums dropped.
fn profile_sums(p: &Profile) -> Sums {
    let mut out = Sums::new();
    for (i, s) in p.samples.iter().enumerate() {
        let key = stack_key(&p.symbols, s.stack);
        for (j, v) in p.sample_values(i).iter().enumerate() {
            let t = p.value_type_name(p.sample_types[j]);
            *out.entry((t, key.clone())).or_default() += i128::from(*v);
        }
    }
    out.retain(|_, v| *v != 0);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_files_read_back_with_equal_stack_sums() {
    let Some(dir) = corpus() else { return };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut files: Vec<String> = expected["files"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, f)| {
            matches!(
                f["format"].as_str(),
                Some("pprof" | "folded" | "collapsed-async-profiler" | "perf-script")
            )
        })
        .map(|(p, _)| p.clone())
        .collect();
    files.sort();
    assert!(files.len() > 130);

    let wal = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        wal_dir: wal.path().to_path_buf(),
        ..StoreConfig::default()
    };
    let objects = Arc::new(InMemory::new());
    let (store, _) = Store::open(objects, Path::from("root"), config)
        .await
        .unwrap();
    let time = 1_764_300_000_000_000_000; // 2025-11-28
    let mut wanted = BTreeMap::new();
    for f in &files {
        let data = std::fs::read(dir.join(f)).unwrap();
        let (_, profile) = flamedb_profile::decode(&data, None, &DecodeOptions::default()).unwrap();
        wanted.insert(f.clone(), profile_sums(&profile));
        let record = WalRecord {
            tenant: "t".into(),
            labels: vec![("app".into(), f.clone()), ("version".into(), "v1".into())],
            format: None,
            time_nanos: time,
            perf_event: String::new(),
            data: Bytes::from(data),
        };
        store
            .append(record)
            .await
            .unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    store.close().await.unwrap();

    let mut failures = Vec::new();
    for f in &files {
        let filter = PartitionFilter {
            apps: Some(vec![f.clone()]),
            ..PartitionFilter::default()
        };
        let blocks = store.blocks("t", &filter).await.unwrap();
        let mut got = Sums::new();
        for b in &blocks {
            let (_, data) = store.read_block(&b.path).await.unwrap();
            let s = &data.samples;
            for i in 0..s.len() {
                let t = data.sample_types[data.sample_key(i).0 as usize].name();
                let key = stack_key(&data.symbols, StackId(s.stack[i]));
                *got.entry((t, key)).or_default() += i128::from(s.value[i]);
            }
        }
        got.retain(|_, v| *v != 0);
        let want = &wanted[f];
        if &got != want {
            let missing = want.iter().filter(|(k, v)| got.get(*k) != Some(v)).count();
            failures.push(format!(
                "{f}: {} keys stored, {} expected, {missing} differ",
                got.len(),
                want.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} files differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
