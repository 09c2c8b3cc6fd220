//! `flamedb ingest` run as a process: corpus files go into a local data directory, bad ones
//! are reported by name, and the store then holds per-stack sums equal to the decoded
//! profiles (read back through the storage crate, not the CLI).
#![allow(clippy::unwrap_used)]

use flamedb_profile::{DecodeOptions, StackId, Symbols};
use flamedb_storage::{DataDir, PartitionFilter, StoreConfig};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    flamedb_profile::testing::corpus_dir()
}

fn key(s: &Symbols, id: StackId) -> String {
    s.frames(id)
        .into_iter()
        .map(|f| f.name.into_owned())
        .collect::<Vec<_>>()
        .join(";")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingested_files_are_stored_with_their_labels_and_sums() {
    let Some(corpus) = corpus() else { return };
    let files = [
        "pprof/google-pprof/sample.cpu",
        "folded/inferno/base-flames.txt",
        "perf-script/flamegraph/perf-vertx-stacks-01.txt",
    ]
    .map(|f| corpus.join(f));
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.txt");
    std::fs::write(&bad, "not\na profile\n").unwrap();
    let data = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args([
            "ingest",
            "--app",
            "search-api",
            "--version",
            "v1",
            "--dc",
            "eu",
            "--label",
            "team=perf",
        ])
        .arg("--data")
        .arg(&data)
        .args(&files)
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bad file makes the exit status non-zero"
    );
    assert!(
        stderr.contains(&bad.display().to_string()),
        "names the bad file: {stderr}"
    );
    assert!(stderr.contains("ingested 3 profiles"), "{stderr}");

    // What the decoder says, summed per (sample type, stack).
    let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
    for f in &files {
        let (_, p) =
            flamedb_profile::decode(&std::fs::read(f).unwrap(), None, &DecodeOptions::default())
                .unwrap();
        for (i, s) in p.samples.iter().enumerate() {
            for (j, v) in p.sample_values(i).iter().enumerate() {
                *want
                    .entry((
                        p.value_type_name(p.sample_types[j]),
                        key(&p.symbols, s.stack),
                    ))
                    .or_default() += v;
            }
        }
    }
    want.retain(|_, v| *v != 0);

    let (store, report) = DataDir(&data)
        .open_local(StoreConfig::default())
        .await
        .unwrap();
    assert_eq!(
        report.applied, 0,
        "everything was flushed before the CLI exited"
    );
    let blocks = store
        .blocks("default", &PartitionFilter::default())
        .await
        .unwrap();
    assert!(!blocks.is_empty());
    let mut got: BTreeMap<(String, String), i64> = BTreeMap::new();
    for b in &blocks {
        assert_eq!(
            (
                b.path.partition.app.as_str(),
                b.path.partition.version.as_str(),
                b.path.partition.dc.as_str()
            ),
            ("search-api", "v1", "eu")
        );
        let (_, d) = store.read_block(&b.path).await.unwrap();
        assert!(d.series.iter().all(|l| l.get("team") == Some("perf")));
        for i in 0..d.samples.len() {
            let t = d.sample_types[d.sample_key(i).0 as usize].name();
            *got.entry((t, key(&d.symbols, StackId(d.samples.stack[i]))))
                .or_default() += d.samples.value[i];
        }
    }
    assert_eq!(got, want);
}

#[test]
fn a_label_without_a_value_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(["ingest", "--app", "a", "--label", "novalue", "--data"])
        .arg(tmp.path())
        .arg("x.folded")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEY=VALUE"));
}

#[test]
fn limits_are_flags_and_a_deep_stack_is_refused_with_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let deep = tmp.path().join("deep.folded");
    std::fs::write(&deep, "a;b 1\na;b;c 2\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(["ingest", "--app", "a", "--max-stack-depth", "2", "--data"])
        .arg(tmp.path().join("data"))
        .arg(&deep)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("line 2") && stderr.contains("limit of 2"),
        "{stderr}"
    );
    assert!(stderr.contains("ingested 0 profiles"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folded_counts_at_a_sample_rate_are_cpu_time_at_each_files_time() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first.folded");
    std::fs::write(&first, "main;a 3\nmain;b 1\n").unwrap();
    // A name with an `@` that exists is a file, not FILE@TIME.
    let second = tmp.path().join("second@host.folded");
    std::fs::write(&second, "main;a 2\n").unwrap();
    let data = tmp.path().join("data");
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(["ingest", "--app", "a", "--format", "folded"])
        .args(["--sample-rate", "100", "--time", "1764300000"])
        .arg("--data")
        .arg(&data)
        .arg(format!("{}@1764300010", first.display()))
        .arg(&second)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    let (store, _) = DataDir(&data)
        .open_local(StoreConfig::default())
        .await
        .unwrap();
    let mut got: BTreeMap<(i64, String, String), i64> = BTreeMap::new();
    let mut periods = vec![];
    for b in store
        .blocks("default", &PartitionFilter::default())
        .await
        .unwrap()
    {
        let (_, d) = store.read_block(&b.path).await.unwrap();
        periods.extend_from_slice(&d.profiles.period);
        for i in 0..d.samples.len() {
            let p = d.samples.profile[i] as usize;
            let t = d.sample_types[d.profiles.sample_type[p] as usize].name();
            *got.entry((
                d.profiles.time[p] / 1_000_000_000,
                t,
                key(&d.symbols, StackId(d.samples.stack[i])),
            ))
            .or_default() += d.samples.value[i];
        }
    }
    // 100 Hz: 10 ms per sample; the first file at its @TIME, the second at --time.
    let want: BTreeMap<(i64, String, String), i64> = [
        ((1764300000, "cpu/nanoseconds", "main;a"), 20_000_000),
        ((1764300010, "cpu/nanoseconds", "main;a"), 30_000_000),
        ((1764300010, "cpu/nanoseconds", "main;b"), 10_000_000),
    ]
    .into_iter()
    .map(|((t, ty, s), v)| ((t, ty.to_string(), s.to_string()), v))
    .collect();
    assert_eq!(got, want);
    assert_eq!(periods, [10_000_000, 10_000_000]);

    // A time that does not parse names the argument.
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(["ingest", "--app", "a", "--sample-rate", "100", "--data"])
        .arg(&data)
        .arg(format!("{}@yesterday", first.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("@yesterday"), "{stderr}");
}
