//! Every pprof file of the corpus decodes to the facts in `expected.json`, and no mutant or
//! truncation of one makes the decoder panic.
#![allow(clippy::unwrap_used)]

mod common;

use flamedb_profile::pprof::{decode, decode_maybe_gzip};
use flamedb_profile::{DecodeLimits, Profile, StackId, Summary, gzip};
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The facts of `expected.json` computed from a decoded profile, in the same JSON shape.
///
/// Not compared: `num_strings` (the file's string table may repeat strings; ours interns
/// them), `size`/`sha256`/`gzip`/`uncompressed_size` (of the bytes, not the profile), and
/// the anomaly fields, which are checked by their effect instead (`dangling_function_refs`
/// become lines without function; `strings_with_invalid_utf8` decode lossily). No corpus
/// file has `dangling_location_refs` (we reject those) or `samples_with_wrong_value_count`
/// (we pad or truncate, which gives the convention's sums).
fn facts(p: &Profile) -> Vec<(&'static str, Value)> {
    let s = Summary::of(p);
    let str_or_null = |id: flamedb_profile::StrId| {
        if id.is_empty() {
            Value::Null
        } else {
            json!(p.strings.get(id))
        }
    };
    let vt = |(t, u): &(String, String)| json!({"type": t, "unit": u});
    let n = p.sample_types.len();
    let sample_values = |i: usize| p.values.get(i * n..(i + 1) * n).unwrap_or_default();
    let samples = 0..p.samples.len();
    vec![
        (
            "sample_types",
            Value::Array(s.sample_types.iter().map(vt).collect()),
        ),
        ("num_samples", json!(s.samples)),
        (
            "value_sums",
            Value::Array(s.value_sums.iter().map(|&v| json!(v as i64)).collect()),
        ),
        ("distinct_stacks", json!(s.distinct_stacks)),
        ("max_stack_depth", json!(s.max_depth)),
        ("num_locations", json!(s.locations)),
        ("num_functions", json!(s.functions)),
        ("num_mappings", json!(s.mappings)),
        ("has_inlined_frames", json!(s.has_inlined_frames)),
        (
            "locations_with_multiple_lines",
            json!(p.locations.iter().filter(|l| l.lines.len() > 1).count()),
        ),
        (
            "locations_without_lines",
            json!(p.locations.iter().filter(|l| l.lines.is_empty()).count()),
        ),
        ("label_keys_str", json!(s.label_keys_str)),
        ("label_keys_num", json!(s.label_keys_num)),
        (
            "samples_with_labels",
            json!(p.samples.iter().filter(|x| !p.labels(x).is_empty()).count()),
        ),
        (
            "empty_stack_samples",
            json!(
                p.samples
                    .iter()
                    .filter(|x| x.stack == StackId::EMPTY)
                    .count()
            ),
        ),
        (
            "samples_with_negative_values",
            json!(
                samples
                    .clone()
                    .filter(|&i| sample_values(i).iter().any(|&v| v < 0))
                    .count()
            ),
        ),
        (
            "samples_all_zero",
            json!(
                samples
                    .filter(|&i| sample_values(i).iter().all(|&v| v == 0))
                    .count()
            ),
        ),
        (
            "period_type",
            s.period_type.as_ref().map_or(Value::Null, vt),
        ),
        ("period", json!(p.period)),
        ("time_nanos", json!(p.time_nanos)),
        ("duration_nanos", json!(p.duration_nanos)),
        (
            "default_sample_type",
            p.default_sample_type.map_or(Value::Null, str_or_null),
        ),
        ("num_comments", json!(p.comments.len())),
        ("drop_frames", str_or_null(p.drop_frames)),
        ("keep_frames", str_or_null(p.keep_frames)),
    ]
}

#[test]
fn every_corpus_pprof_file_matches_its_facts() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let files = common::files_of_format(&expected, "pprof");
    assert!(
        files.len() >= 60,
        "only {} pprof files in expected.json",
        files.len()
    );
    let mut failures = Vec::new();
    for (path, want) in &files {
        let data = std::fs::read(dir.join(path)).unwrap();
        let p = match decode_maybe_gzip(&data, &DecodeLimits::default()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{path}: decode failed: {e}"));
                continue;
            }
        };
        for (name, got) in facts(&p) {
            let mut want = want.get(name).cloned().unwrap_or(Value::Null);
            // Without sample types the decoder names one unnamed type per value column
            // (see pprof/decode.rs); expected.json lists none. No corpus file has this.
            if name == "sample_types" && want == json!([]) {
                want = json!(vec![json!({"type": "", "unit": ""}); p.sample_types.len()]);
            }
            if got != want {
                failures.push(format!("{path}: {name}: got {got}, expected {want}"));
            }
        }
        if want.get("dangling_function_refs").is_some() {
            let without = p.lines.iter().filter(|l| l.function.is_none()).count();
            if without == 0 {
                failures.push(format!(
                    "{path}: dangling function refs should give lines without function"
                ));
            }
        }
        if want.get("strings_with_invalid_utf8").is_some()
            && !p.strings.iter().any(|(_, s)| s.contains('\u{fffd}'))
        {
            failures.push(format!("{path}: invalid UTF-8 should be kept as U+FFFD"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Decodes `data` with `f`, turning a panic into a message.
fn no_panic(what: &str, f: impl FnOnce() -> flamedb_profile::Result<Profile>) -> Option<String> {
    catch_unwind(AssertUnwindSafe(f)).err().map(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{what}: panicked: {msg}")
    })
}

/// Mutants per file: fewer for large files (the decoder runs unoptimised in tests).
fn mutant_count(raw_len: usize) -> usize {
    match raw_len {
        0..=65_536 => 40,
        65_537..=524_288 => 8,
        _ => 2,
    }
}

#[test]
fn mutants_and_truncations_never_panic() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let limits = DecodeLimits::default();
    let mut failures = Vec::new();
    let (mut raw_mutants, mut gz_mutants, mut truncations) = (0, 0, 0);
    for (k, (path, _)) in common::files_of_format(&expected, "pprof")
        .iter()
        .enumerate()
    {
        let data = std::fs::read(dir.join(path)).unwrap();
        let raw = gzip::maybe_gunzip(&data, &limits).unwrap().into_owned();
        let count = mutant_count(raw.len());
        // Mutants of the decompressed message, decoded raw.
        for (i, m) in common::mutants(&raw, count, 0x5eed_0000 + k as u64)
            .iter()
            .enumerate()
        {
            raw_mutants += 1;
            failures.extend(no_panic(&format!("{path} raw mutant {i}"), || {
                decode(m, &limits)
            }));
        }
        // Mutants of the file as stored (gzipped or not), through the gunzip path.
        for (i, m) in common::mutants(&data, count / 2, 0x6eed_0000 + k as u64)
            .iter()
            .enumerate()
        {
            gz_mutants += 1;
            failures.extend(no_panic(&format!("{path} stored mutant {i}"), || {
                decode_maybe_gzip(m, &limits)
            }));
        }
        // Truncations: every offset of the first 64 bytes, then evenly spread ones.
        let step = (raw.len() / 64).max(1);
        let offsets = (0..raw.len().min(64)).chain((64..raw.len()).step_by(step));
        for at in offsets {
            truncations += 1;
            failures.extend(no_panic(&format!("{path} truncated at {at}"), || {
                decode(&raw[..at], &limits)
            }));
        }
    }
    eprintln!("{raw_mutants} raw mutants, {gz_mutants} stored mutants, {truncations} truncations");
    assert!(
        raw_mutants + gz_mutants >= 1000,
        "too few mutants: {}",
        raw_mutants + gz_mutants
    );
    assert!(
        failures.is_empty(),
        "{} panics:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Decoding speed on google-pprof/large.cpu (20,430 samples), raw and gzipped. Prints
/// samples/s and asserts nothing about time (speed belongs in benches); run with
/// `cargo test --release -p flamedb-profile --test corpus_pprof -- --ignored --nocapture`.
#[test]
#[ignore = "measurement; run in release mode"]
fn decode_speed_on_large_cpu() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let gz = std::fs::read(dir.join("pprof/google-pprof/large.cpu")).unwrap();
    let limits = DecodeLimits::default();
    let raw = gzip::maybe_gunzip(&gz, &limits).unwrap().into_owned();
    for (what, data) in [("raw", &raw), ("gzipped", &gz)] {
        let rounds = 20;
        let start = std::time::Instant::now();
        let mut samples = 0;
        for _ in 0..rounds {
            samples += decode_maybe_gzip(data, &limits).unwrap().samples.len();
        }
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(samples, 20_430 * rounds);
        eprintln!(
            "large.cpu {what}: {:.2} ms per decode, {:.2} M samples/s",
            secs * 1e3 / rounds as f64,
            samples as f64 / secs / 1e6
        );
    }
}
