//! The folded and collapsed-async-profiler corpus files decode to exactly the facts in
//! `expected.json`, and mutants of them decode or fail without panicking.

mod common;

use flamedb_profile::folded::{self, FoldedReport, TextEncoding};
use flamedb_profile::{DecodeLimits, FrameKind, Profile, Summary};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const FORMATS: [&str; 2] = ["folded", "collapsed-async-profiler"];

fn corpus_files(expected: &Value) -> Vec<(String, Value)> {
    FORMATS
        .iter()
        .flat_map(|f| common::files_of_format(expected, f))
        .collect()
}

/// An exact decimal (`"67.0843983248722834234"`) in thousandths, rounded half up, and
/// whether it had more than three decimals (then per-line rounding may differ by a little).
fn decimal_millis(s: &str) -> (i128, bool) {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut m: i128 = int.parse::<i128>().expect("integer part") * 1000;
    let digits: Vec<i128> = frac.bytes().map(|b| i128::from(b - b'0')).collect();
    for (i, scale) in [100, 10, 1].into_iter().enumerate() {
        m += digits.get(i).copied().unwrap_or(0) * scale;
    }
    if digits.get(3).is_some_and(|&d| d >= 5) {
        m += 1;
    }
    (m, digits.len() > 3)
}

fn has_nonzero_fraction(s: &str) -> bool {
    s.split_once('.')
        .is_some_and(|(_, f)| f.bytes().any(|b| b != b'0'))
}

/// Compares the facts of one file; pushes a line per mismatch.
fn check(path: &str, facts: &Value, p: &Profile, r: &FoldedReport, bad: &mut Vec<String>) {
    let mut eq = |what: &str, got: Value, want: &Value| {
        if &got != want {
            bad.push(format!("{path}: {what}: got {got}, expected {want}"));
        }
    };
    // One sample per sample line.
    eq("samples", p.samples.len().into(), &facts["sample_lines"]);
    for (what, got) in [
        ("lines", r.lines),
        ("sample_lines", r.sample_lines),
        ("blank_lines", r.blank_lines),
        ("comment_lines", r.comment_lines),
        ("invalid_lines", r.invalid_lines),
        ("distinct_stacks", Summary::of(p).distinct_stacks),
    ] {
        eq(what, got.into(), &facts[what]);
    }
    let want_invalid = facts
        .get("invalid_line_numbers")
        .cloned()
        .unwrap_or(Value::Array(vec![]));
    eq(
        "invalid_line_numbers",
        r.first_invalid.clone().into(),
        &want_invalid,
    );

    let encoding = match r.encoding {
        TextEncoding::Utf8 => "utf-8",
        TextEncoding::Utf16Le => "utf-16-le",
        TextEncoding::Utf16Be => "utf-16-be",
    };
    eq("encoding", encoding.into(), &facts["encoding"]);
    eq("crlf", (r.crlf_lines > 0).into(), &facts["crlf"]);

    // Distinct raw frame strings = distinct (name, kind) pairs: a suffix maps to one kind.
    let mut frames = BTreeSet::new();
    let mut kinds: BTreeMap<FrameKind, usize> = BTreeMap::new();
    let mut max_depth = 0;
    for s in &p.samples {
        let stack = p.frames(s.stack);
        max_depth = max_depth.max(stack.len());
        for f in stack {
            *kinds.entry(f.kind).or_default() += 1;
            frames.insert((f.name.into_owned(), f.kind));
        }
    }
    eq(
        "distinct_frames",
        frames.len().into(),
        &facts["distinct_frames"],
    );
    eq("max_depth", max_depth.into(), &facts["max_depth"]);

    // annotation_counts count frame occurrences over sample lines (one sample per line).
    if let Some(ann) = facts.get("annotation_counts").and_then(Value::as_object) {
        for (suffix, want) in ann {
            let (_, kind) = FrameKind::split_suffix(&format!("frame{suffix}"));
            let got = kinds.get(&kind).copied().unwrap_or(0);
            eq(&format!("annotation_counts[{suffix}]"), got.into(), want);
        }
    }
    check_totals(path, facts, p, r, bad);
}

fn check_totals(path: &str, facts: &Value, p: &Profile, r: &FoldedReport, bad: &mut Vec<String>) {
    let columns = facts["count_columns"].as_u64().unwrap_or(1) as usize;
    let decimals: Vec<String> = match facts.get("total_counts_decimal") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect(),
        _ => vec![
            facts["total_count_decimal"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ],
    };
    if p.sample_types.len() != columns || decimals.len() != columns {
        bad.push(format!(
            "{path}: {} sample types, expected {columns}",
            p.sample_types.len()
        ));
        return;
    }
    let fractional_facts = facts["has_fractional_counts"] == true;
    let units: Vec<&str> = p
        .sample_types
        .iter()
        .map(|vt| p.strings.get(vt.unit))
        .collect();
    let milli = units.iter().all(|&u| u == "millicount");
    if milli != r.fractional || (milli && !fractional_facts) {
        bad.push(format!(
            "{path}: units {units:?}, has_fractional_counts {fractional_facts}"
        ));
    }
    if fractional_facts && decimals.iter().any(|d| has_nonzero_fraction(d)) && !milli {
        bad.push(format!(
            "{path}: fractional totals {decimals:?} but units {units:?}"
        ));
    }
    let n = p.sample_types.len();
    for (j, decimal) in decimals.iter().enumerate() {
        let got: i128 = p.values.chunks_exact(n).map(|v| i128::from(v[j])).sum();
        let got_milli = if milli { got } else { got * 1000 };
        let (want, inexact) = decimal_millis(decimal);
        // Each line is rounded to thousandths on its own.
        let slack = if inexact { r.sample_lines as i128 } else { 0 };
        if (got_milli - want).abs() > slack {
            bad.push(format!(
                "{path}: total[{j}] {got_milli} milli, expected {decimal}"
            ));
        }
    }
}

#[test]
fn corpus_files_decode_to_the_expected_facts() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let files = corpus_files(&expected);
    assert!(
        files.len() >= 30,
        "only {} folded corpus files",
        files.len()
    );
    let mut bad = Vec::new();
    for (path, facts) in &files {
        let data = std::fs::read(dir.join(path)).expect("read corpus file");
        match folded::decode_with_report(&data, &DecodeLimits::default()) {
            Ok((p, r)) => check(path, facts, &p, &r, &mut bad),
            Err(e) => bad.push(format!("{path}: {e}")),
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// Decoding a mutant must not panic; when it succeeds, encoding and decoding again must
/// succeed with every written line read back.
fn decode_any(data: &[u8]) {
    let limits = DecodeLimits {
        max_stack_depth: 64,
        ..DecodeLimits::default()
    };
    if let Ok(p) = folded::decode(data, &limits) {
        let opts = folded::FoldedOptions::for_profile(&p);
        let text = folded::encode(&p, &opts);
        let (_, r) = folded::decode_with_report(text.as_bytes(), &DecodeLimits::default())
            .expect("re-decode an encoded mutant");
        assert_eq!(r.invalid_lines, 0, "{text}");
        assert_eq!(r.sample_lines, text.lines().count(), "{text}");
    }
}

#[test]
fn mutants_of_corpus_files_never_panic() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let mut total = 0;
    for (i, (path, _)) in corpus_files(&expected).iter().enumerate() {
        let data = std::fs::read(dir.join(path)).expect("read corpus file");
        for m in common::mutants(&data, 48, 0x5eed_f01d + i as u64) {
            decode_any(&m);
            total += 1;
        }
    }
    assert!(total >= 1000, "only {total} mutants");
}

#[test]
fn random_bytes_and_utf16_oddities_never_panic() {
    let mut rng = common::Rng::new(7);
    for _ in 0..2000 {
        let len = rng.below(200);
        let bytes: Vec<u8> = (0..len)
            .map(|_| match rng.below(4) {
                0 => {
                    let special = b";; \n\r\t#/.0123456789";
                    special[rng.below(special.len())]
                }
                _ => rng.next_u64() as u8,
            })
            .collect();
        decode_any(&bytes);
        for bom in [[0xff, 0xfe], [0xfe, 0xff]] {
            decode_any(&[&bom[..], &bytes].concat());
        }
    }
    let odd: &[&[u8]] = &[
        &[0xff, 0xfe, b'a', 0, b' ', 0, b'1'],
        &[0xff, 0xfe, 0x00, 0xd8, b' ', 0, b'1', 0],
        &[0xfe, 0xff, 0xdc, 0x00, 0, b' ', 0, b'1'],
        &[0xfe, 0xff, 0, b'a', 0xd8, 0x00, 0, b' ', 0, b'1', 0],
        &[0xff, 0xfe],
        &[0xfe],
        &[0xef, 0xbb, 0xbf],
    ];
    for data in odd {
        decode_any(data);
    }
    let (p, _) = folded::decode_with_report(odd[1], &DecodeLimits::default()).expect("lossy");
    assert_eq!(p.frame_names(p.samples[0].stack), ["\u{fffd}"]);
}
