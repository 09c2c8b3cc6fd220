//! Corpus goldens (grafana/jfr-parser's expected collapsed output, stack by stack) and
//! hand-made recordings, malformed ones included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::testing::corpus_dir;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

mod hand_made;
mod synthetic;

/// Collapsed stacks of a profile as jfr-parser's test prints them: `frame:line;...` root
/// first -> summed values, all-zero stacks left out.
pub(super) fn collapsed(p: &Profile) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (i, s) in p.samples.iter().enumerate() {
        let key = (p.frames(s.stack).iter())
            .map(|f| format!("{}:{}", f.name, f.line))
            .collect::<Vec<_>>()
            .join(";");
        let sums = out
            .entry(key)
            .or_insert_with(|| vec![0; p.sample_types.len()]);
        for (sum, v) in sums.iter_mut().zip(p.sample_values(i)) {
            *sum += v;
        }
    }
    out.retain(|_, v| v.iter().any(|&x| x != 0));
    out
}

fn gunzip(path: &Path) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&data[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Parses `stack [v1 v2]` lines.
fn expected(path: &Path) -> BTreeMap<String, Vec<i64>> {
    let text = String::from_utf8(gunzip(path)).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let (stack, values) = line.rsplit_once(" [").expect("a values list");
        let values = values.trim_end_matches(']');
        let values: Vec<i64> = values.split(' ').map(|v| v.parse().unwrap()).collect();
        let prev = out.insert(stack.to_string(), values);
        assert!(prev.is_none(), "{}: {stack} twice", path.display());
    }
    out
}

fn pyroscope_opts() -> JfrOptions<'static> {
    JfrOptions {
        sample_rate: Some(100),
        ..JfrOptions::default()
    }
}

#[test]
fn corpus_matches_jfr_parser_stack_by_stack() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("jfr/jfr-parser");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jfr.gz"))
        .collect();
    files.sort();
    assert!(files.len() >= 17, "{} files", files.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        let name = name.trim_end_matches(".jfr.gz");
        let mut want: Vec<(usize, String, std::path::PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir.join("expected")).unwrap() {
            let p = e.unwrap().path();
            let f = p.file_name().unwrap().to_string_lossy().to_string();
            let Some(rest) = f.strip_prefix(&format!("{name}_")) else {
                continue;
            };
            let Some((index, rest)) = rest.split_once('_') else {
                continue;
            };
            let Ok(index) = index.parse::<usize>() else {
                continue;
            };
            let metric = rest
                .trim_end_matches("_expected_collapsed.txt.gz")
                .to_string();
            want.push((index, metric, p));
        }
        want.sort();
        let data = std::fs::read(file).unwrap();
        let rec = match decode_with(&data, &pyroscope_opts()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        let got: Vec<String> = rec.profiles.iter().map(|p| p.sample_type.key()).collect();
        let want_keys: Vec<String> = want.iter().map(|w| w.1.clone()).collect();
        if got != want_keys {
            failures.push(format!("{name}: profiles {got:?}, want {want_keys:?}"));
            continue;
        }
        for (p, (i, key, path)) in rec.profiles.iter().zip(&want) {
            let types: Vec<String> = (p.profile.sample_types.iter())
                .map(|&vt| p.profile.value_type_name(vt))
                .collect();
            let want_types: Vec<String> = (p.sample_type.sample_types().iter())
                .map(|(k, u)| format!("{k}/{u}"))
                .collect();
            assert_eq!(types, want_types);
            assert_eq!(
                p.profile.strings.get(p.profile.name),
                p.sample_type.metric()
            );
            let (got, want) = (collapsed(&p.profile), expected(path));
            if got != want {
                let missing = want.keys().filter(|k| !got.contains_key(*k)).count();
                let extra = got.keys().filter(|k| !want.contains_key(*k)).count();
                let differ = (want.iter())
                    .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
                    .count();
                let example = (want.iter())
                    .find(|(k, v)| got.get(*k) != Some(v))
                    .map(|(k, v)| format!("{k} {v:?} got {:?}", got.get(k)));
                failures.push(format!(
                    "{name} #{i} {key}: {} stacks, want {}; {missing} missing, {extra} extra, \
                     {differ} differ; e.g. {example:?}",
                    got.len(),
                    want.len()
                ));
            }
        }
        // jfr-parser's test asserts no stack trace is missing, but never fills in the
        // counts it asserts; events without a stack trace (id 0) do occur (dd-trace-java).
        let st = rec.stats;
        if st.method_not_found + st.class_not_found != 0 || st.stacktrace_not_found > 2 {
            failures.push(format!("{name}: dropped {st:?}"));
        }
        checked += rec.profiles.len();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 49, "every expected profile compared");
}

#[test]
fn heavy_jfr_from_the_jdk_recorder_matches_its_facts() {
    let Some(corpus) = corpus_dir() else { return };
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus.join("expected.json")).unwrap()).unwrap();
    let files = facts["files"].as_object().unwrap();
    let mut checked = 0;
    for (path, f) in files.iter().filter(|(_, f)| f["format"] == "jfr") {
        let data = std::fs::read(corpus.join(path)).unwrap();
        let rec = decode_with(&data, &pyroscope_opts()).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            rec.chunks.len() as u64,
            f["chunks"].as_u64().unwrap(),
            "{path}"
        );
        let versions: Vec<String> = (rec.chunks.iter())
            .map(|c| format!("{}.{}", c.version.0, c.version.1))
            .collect();
        let mut want: Vec<String> = (f["chunk_versions"].as_array().unwrap().iter())
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        let mut got = versions.clone();
        got.sort();
        got.dedup();
        want.sort();
        assert_eq!(got, want, "{path}");
        let duration: i64 = rec.chunks.iter().map(|c| c.duration_nanos).sum();
        assert_eq!(
            duration,
            f["chunk_duration_nanos_sum"].as_i64().unwrap(),
            "{path}"
        );
        let start = rec.chunks[0].start_nanos;
        assert_eq!(
            start,
            f["first_chunk_start_nanos"].as_i64().unwrap(),
            "{path}"
        );
        for p in &rec.profiles {
            assert_eq!(p.profile.time_nanos, start, "{path}");
        }
        // The value sums of the expected outputs, profile by profile.
        let outputs = f["expected_outputs"].as_array().unwrap();
        for (o, p) in outputs.iter().zip(&rec.profiles) {
            let sums: Vec<i64> = collapsed(&p.profile).values().fold(
                vec![0; p.profile.sample_types.len()],
                |mut acc, v| {
                    acc.iter_mut().zip(v).for_each(|(a, v)| *a += v);
                    acc
                },
            );
            let want: Vec<i64> = (o["value_sums"].as_array().unwrap().iter())
                .map(|v| v.as_i64().unwrap())
                .collect();
            assert_eq!(sums, want, "{path}");
            let stacks = collapsed(&p.profile).len() as u64;
            assert_eq!(stacks, o["distinct_stacks"].as_u64().unwrap(), "{path}");
        }
        if path.ends_with("heavy.jfr") {
            // A JDK recording (version 2.1, no async-profiler events): CPU samples only,
            // weighted with the JDK's own jdk.ExecutionSample period without a rate.
            assert!(outputs.is_empty());
            let keys: Vec<String> = rec.profiles.iter().map(|p| p.sample_type.key()).collect();
            assert!(keys.contains(&SampleType::Cpu.key()), "{keys:?}");
            let cpu = &rec
                .profiles
                .iter()
                .find(|p| p.sample_type == SampleType::Cpu)
                .unwrap();
            assert!(
                cpu.profile.samples.len() > 100,
                "{}",
                cpu.profile.samples.len()
            );
            assert_eq!(rec.stats.method_not_found + rec.stats.class_not_found, 0);
            let own = decode_with(&data, &JfrOptions::default()).unwrap();
            assert!(own.period_nanos > 0);
        }
        checked += 1;
    }
    assert_eq!(checked, 18, "17 jfr-parser files and heavy.jfr");
}
