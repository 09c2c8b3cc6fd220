//! `flamedb inspect` run as a process against the corpus: its JSON must carry the facts of
//! ../shared/corpus/expected.json (computed by an independent parser).
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    flamedb_profile::testing::corpus_dir()
}

fn inspect(files: &[PathBuf], extra: &[&str]) -> (bool, Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .arg("inspect")
        .arg("--json")
        .args(extra)
        .args(files)
        .output()
        .expect("run flamedb");
    let lines = String::from_utf8(out.stdout)
        .expect("utf-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `inspect --json` facts a corpus entry predicts: (format, samples, value_sums[0],
/// distinct_stacks), or `None` for formats inspect does not read.
fn predicted(facts: &Value) -> Option<(&'static str, u64, i128, Option<u64>)> {
    match facts["format"].as_str()? {
        "pprof" => Some((
            "pprof",
            facts["num_samples"].as_u64()?,
            facts["value_sums"][0].as_i64().map(i128::from).unwrap_or(0),
            facts["distinct_stacks"].as_u64(),
        )),
        "folded" | "collapsed-async-profiler" if facts.get("count_columns").is_none() => {
            let total = facts["total_count"].as_f64()?;
            if total.fract() != 0.0 {
                return None; // fractional counts are scaled; checked in the profile crate
            }
            Some((
                "folded",
                facts["sample_lines"].as_u64()?,
                total as i128,
                facts["distinct_stacks"].as_u64(),
            ))
        }
        "perf-script" => {
            // The first event type is kept with all its modifier variants (`cycles:u` and
            // `cycles` are one event, as inferno compares them); see profile::perf.
            let base = |e: &str| e.split(':').next().unwrap_or(e).to_string();
            let first = base(facts["first_event"].as_str()?);
            let events = facts["events_by_event"]
                .as_object()?
                .iter()
                .filter(|(e, _)| base(e) == first)
                .map(|(_, n)| n.as_u64().unwrap_or(0))
                .sum::<u64>();
            Some(("perf-script", events, i128::from(events as i64), None))
        }
        _ => None,
    }
}

#[test]
fn inspect_json_matches_corpus_facts() {
    let Some(dir) = corpus() else { return };
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut files = Vec::new();
    let mut wanted = Vec::new();
    for (path, facts) in expected["files"].as_object().unwrap() {
        if let Some(p) = predicted(facts) {
            files.push(dir.join(path));
            wanted.push((path.clone(), p));
        }
    }
    assert!(
        wanted.len() > 100,
        "expected most of the corpus to be inspectable"
    );
    let (ok, lines, stderr) = inspect(&files, &[]);
    assert!(ok, "inspect failed: {stderr}");
    assert_eq!(
        lines.len(),
        wanted.len(),
        "one JSON line per file; stderr: {stderr}"
    );
    let mut failures = Vec::new();
    for (line, (path, (format, samples, sum0, stacks))) in lines.iter().zip(&wanted) {
        let got = (
            line["format"].as_str().unwrap_or(""),
            line["samples"].as_u64().unwrap_or(u64::MAX),
            line["value_sums"][0].as_i64().map(i128::from).unwrap_or(0),
        );
        if got != (*format, *samples, *sum0) {
            failures.push(format!(
                "{path}: got {got:?}, expected {:?}",
                (format, samples, sum0)
            ));
        }
        if let Some(stacks) = stacks
            && line["distinct_stacks"].as_u64() != Some(*stacks)
        {
            failures.push(format!(
                "{path}: distinct_stacks {} != {stacks}",
                line["distinct_stacks"]
            ));
        }
        for key in ["sample_types", "max_depth", "file"] {
            if line.get(key).is_none() {
                failures.push(format!("{path}: key {key} missing"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_file_is_reported_and_others_still_inspected() {
    let dir = std::env::temp_dir().join(format!("flamedb-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.folded");
    std::fs::write(&good, "main;work 3\nmain;idle 2\n").unwrap();
    let bad = dir.join("bad.pb.gz");
    // gzip magic followed by garbage: a corrupt gzip stream.
    std::fs::write(&bad, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3]).unwrap();
    let missing = dir.join("missing.pprof");
    let (ok, lines, stderr) = inspect(&[bad.clone(), good.clone(), missing.clone()], &[]);
    assert!(!ok, "a failing file must make the exit status non-zero");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["samples"], 2);
    assert_eq!(lines[0]["value_sums"][0], 5);
    assert_eq!(lines[0]["distinct_stacks"], 2);
    assert_eq!(lines[0]["max_depth"], 2);
    assert!(
        stderr.contains(&bad.display().to_string()),
        "stderr names the bad file: {stderr}"
    );
    assert!(
        stderr.contains(&missing.display().to_string()),
        "stderr names the missing file: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn forced_format_mismatch_is_an_error() {
    let dir = std::env::temp_dir().join(format!("flamedb-inspect-fmt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("x.txt");
    std::fs::write(&f, "main;work 3\n").unwrap();
    let (ok, lines, stderr) = inspect(std::slice::from_ref(&f), &["--format", "pprof"]);
    assert!(!ok);
    assert!(lines.is_empty());
    assert!(stderr.contains("pprof"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
