//! The corpus files against expected.json, hand-made files for one rule each, and the
//! encode/decode round trip.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure report

use super::*;
use crate::flame::FlameTreeBuilder;
use std::collections::{BTreeMap, BTreeSet};

type Stacks = BTreeMap<Vec<String>, i64>;

/// Root-first frame names -> summed value (first sample type).
fn stacks(p: &Profile) -> Stacks {
    let mut out = Stacks::new();
    for (i, s) in p.samples.iter().enumerate() {
        let names = p
            .frame_names(s.stack)
            .iter()
            .map(|n| n.to_string())
            .collect();
        *out.entry(names).or_insert(0) += p.sample_values(i)[0];
    }
    out
}

fn key(frames: &[&str]) -> Vec<String> {
    frames.iter().map(|f| f.to_string()).collect()
}

fn dec(json: &str) -> Result<Vec<Profile>> {
    decode(json.as_bytes(), &DecodeLimits::default())
}

fn message(e: Error) -> String {
    match e {
        Error::Speedscope { message } => message,
        other => panic!("expected Error::Speedscope, got {other:?}"),
    }
}

#[test]
fn corpus_files_have_the_expected_facts() {
    let Some(dir) = crate::testing::corpus_dir() else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("speedscope/speedscope")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let facts = &expected["files"][format!("speedscope/speedscope/{name}")];
        let data = std::fs::read(&path).unwrap();
        assert!(looks_like(&data), "{name}");
        let result = decode(&data, &DecodeLimits::default());
        seen += 1;
        let want_profiles = facts["profiles"].as_array().unwrap();
        if want_profiles.iter().any(|p| p["well_formed"] == false) {
            let err = message(result.unwrap_err());
            assert!(err.contains("events["), "{name}: {err}");
            continue;
        }
        let profiles = result.unwrap();
        assert_eq!(
            profiles.len() as u64,
            facts["num_profiles"].as_u64().unwrap(),
            "{name}"
        );
        for (p, want) in profiles.iter().zip(want_profiles) {
            let scale = match want["unit"].as_str().unwrap() {
                "seconds" => 1_000_000_000,
                "none" => 1,
                other => panic!("{name}: unit {other} not in the corpus before"),
            };
            let s = stacks(p);
            let total: i64 = s.values().sum();
            let depth = p
                .samples
                .iter()
                .map(|x| p.stacks.depth(x.stack))
                .max()
                .unwrap_or(0);
            assert_eq!(depth as u64, want["max_depth"].as_u64().unwrap(), "{name}");
            match want["type"].as_str().unwrap() {
                "sampled" => {
                    assert_eq!(
                        p.samples.len() as u64,
                        want["num_samples"].as_u64().unwrap()
                    );
                    assert_eq!(
                        total,
                        want["weight_sum"].as_i64().unwrap() * scale,
                        "{name}"
                    );
                    assert_eq!(s.len() as u64, want["distinct_stacks"].as_u64().unwrap());
                    assert_eq!(p.value_type_name(p.sample_types[0]), "cpu/nanoseconds");
                }
                _ => {
                    let span =
                        want["endValue"].as_i64().unwrap() - want["startValue"].as_i64().unwrap();
                    assert_eq!(total, span * scale, "{name}");
                    assert_eq!(p.value_type_name(p.sample_types[0]), "samples/count");
                }
            }
        }
    }
    assert_eq!(seen, 6);
}

#[test]
fn evented_intervals_go_to_the_open_stack() {
    // a [0, 10): b [2, 5), then c [5, 7); gaps before 0 and after 10 count nothing.
    let json = r#"{"$schema": "https://www.speedscope.app/file-format-schema.json",
      "shared": {"frames": [{"name": "a", "file": "a.rs", "line": 3}, {"name": "b"}, {"name": "c"}]},
      "profiles": [{"type": "evented", "name": "p", "unit": "milliseconds", "startValue": -5, "endValue": 20,
        "events": [{"type": "O", "frame": 0, "at": 0}, {"type": "O", "frame": 1, "at": 2},
                   {"type": "C", "frame": 1, "at": 5}, {"type": "O", "frame": 2, "at": 5},
                   {"type": "C", "frame": 2, "at": 7}, {"type": "C", "frame": 0, "at": 10}]}]}"#;
    let p = &dec(json).unwrap()[0];
    let s = stacks(p);
    let ms = 1_000_000;
    assert_eq!(s[&key(&["a"])], 5 * ms);
    assert_eq!(s[&key(&["a", "b"])], 3 * ms);
    assert_eq!(s[&key(&["a", "c"])], 2 * ms);
    assert_eq!(p.samples.len(), 3, "one sample per distinct stack");
    assert_eq!(p.duration_nanos, 25 * ms);
    assert_eq!(p.strings.get(p.comments[0]), "p");
    let f = &p.frames(p.samples[0].stack)[0];
    assert_eq!((f.file, f.line), ("a.rs", 3));
}

#[test]
fn malformed_files_are_errors_naming_the_place() {
    let file = |profile: &str| {
        format!(
            r#"{{"shared": {{"frames": [{{"name": "a"}}, {{"name": "b"}}]}}, "profiles": [{profile}]}}"#
        )
    };
    let cases = [
        (
            r#"{"type": "evented", "unit": "none", "events": [{"type": "O", "frame": 0, "at": 5}, {"type": "C", "frame": 0, "at": 4}]}"#,
            "profiles[0].events[1] at 4 is before the previous event",
        ),
        (
            r#"{"type": "evented", "unit": "none", "events": [{"type": "C", "frame": 0, "at": 1}]}"#,
            "profiles[0].events[0] closes frame 0 when no frame is open",
        ),
        (
            r#"{"type": "evented", "unit": "none", "events": [{"type": "O", "frame": 1, "at": 1}]}"#,
            "frame 1 (\"b\") opened by events[0] is never closed",
        ),
        (
            r#"{"type": "evented", "unit": "none", "events": [{"type": "X", "frame": 1, "at": 1}]}"#,
            "profiles[0].events[0].type \"X\"",
        ),
        (
            r#"{"type": "sampled", "unit": "none", "samples": [[0, 7]], "weights": [1]}"#,
            "profiles[0].samples[0][1] refers to frame 7",
        ),
        (
            r#"{"type": "sampled", "unit": "none", "samples": [[0]], "weights": []}"#,
            "has 1 samples but 0 weights",
        ),
        (
            r#"{"type": "sampled", "unit": "parsecs", "samples": [], "weights": []}"#,
            "profiles[0].unit \"parsecs\"",
        ),
        (
            r#"{"type": "sampled", "unit": "seconds", "samples": [[0]], "weights": [1e300]}"#,
            "profiles[0].weights[0] is 1e300",
        ),
        (
            r#"{"type": "weird", "unit": "none"}"#,
            "profiles[0].type \"weird\"",
        ),
    ];
    for (profile, want) in cases {
        let m = message(dec(&file(profile)).unwrap_err());
        assert!(m.contains(want), "{m:?} should say {want:?}");
    }
    for json in [
        "",
        "{",
        "[]",
        r#"{"profiles": [{"samples": [["x"]]}]}"#,
        "{} {}",
    ] {
        assert!(
            message(dec(json).unwrap_err()).starts_with("JSON:"),
            "{json}"
        );
    }
}

#[test]
fn limits_stop_the_parse() {
    let json = r#"{"shared": {"frames": [{"name": "a"}]}, "profiles": [
      {"type": "sampled", "unit": "none", "samples": [[0, 0, 0], [0]], "weights": [1, 1]}]}"#;
    let with = |f: fn(&mut DecodeLimits)| {
        let mut limits = DecodeLimits::default();
        f(&mut limits);
        decode(json.as_bytes(), &limits)
    };
    let what = |r: Result<Vec<Profile>>| match r.unwrap_err() {
        Error::Limit { what, .. } => what,
        other => panic!("{other:?}"),
    };
    assert_eq!(what(with(|l| l.max_samples = 1)), "samples");
    assert_eq!(what(with(|l| l.max_stack_depth = 2)), "stack depth");
    assert!(with(|l| l.max_stack_depth = 3).is_ok());
    assert!(matches!(
        with(|l| l.max_decompressed_bytes = 8).unwrap_err(),
        Error::DecompressedTooLarge { .. }
    ));
}

#[test]
fn looks_like_needs_a_speedscope_schema() {
    assert!(looks_like(
        br#" {"$schema": "https://www.speedscope.app/file-format-schema.json"}"#
    ));
    assert!(looks_like(br#"{"profiles": [], "$schema":"speedscope"}"#));
    assert!(!looks_like(
        br#"{"$schema": "https://json-schema.org/draft"}"#
    ));
    assert!(!looks_like(b"a;b 1\n"));
    assert!(!looks_like(br#"["$schema", "speedscope"]"#));
}

#[test]
fn encoded_trees_and_profiles_decode_to_the_same_stacks() {
    let mut p = Profile::new();
    p.add_sample_type("samples", "count");
    p.add_sample_type("cpu", "nanoseconds");
    let mut stack = |names: &[&str], values: [i64; 2]| {
        let locs: Vec<_> = names
            .iter()
            .map(|n| p.intern_named_location(n, None, 0, crate::FrameKind::Unspecified))
            .collect();
        let id = p.stacks.intern(locs);
        p.push_sample(id, &values, crate::LabelSetId::EMPTY, None);
    };
    stack(&["main", "a \"quoted\"", "leaf"], [2, 20]);
    stack(&["main", "b"], [1, 0]);
    stack(&["main", "a \"quoted\"", "leaf"], [1, 10]);
    stack(&["main"], [0, 5]);
    // From the profile: one speedscope profile per sample type.
    let back = decode(encode_profile(&p, "x").as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(back.len(), 2);
    let counts = stacks(&back[0]);
    assert_eq!(counts[&key(&["main", "a \"quoted\"", "leaf"])], 3);
    assert_eq!(counts[&key(&["main", "b"])], 1);
    assert_eq!(counts.len(), 2, "zero sums are left out");
    assert_eq!(
        back[0].value_type_name(back[0].sample_types[0]),
        "samples/count"
    );
    assert_eq!(
        back[1].value_type_name(back[1].sample_types[0]),
        "cpu/nanoseconds"
    );
    let cpu = stacks(&back[1]);
    assert_eq!(cpu.values().sum::<i64>(), 35);
    assert_eq!(cpu[&key(&["main"])], 5);
    // From a flame tree: the same stacks and total.
    let mut b = FlameTreeBuilder::new();
    for (i, s) in p.samples.iter().enumerate() {
        let names = p.frame_names(s.stack);
        b.add_stack(names.iter().map(|n| n.as_ref()), 0, p.sample_values(i)[1]);
    }
    let tree = b.finish(false);
    let json = encode(&tree, "flame", "nanoseconds");
    assert!(looks_like(json.as_bytes()));
    let back = decode(json.as_bytes(), &DecodeLimits::default()).unwrap();
    assert_eq!(stacks(&back[0]), cpu);
    assert_eq!(stacks(&back[0]).values().sum::<i64>(), tree.total(0));
    let names: BTreeSet<_> = back[0]
        .functions
        .iter()
        .map(|f| back[0].strings.get(f.name))
        .collect();
    assert_eq!(
        names.len(),
        3,
        "b has no cpu time, so no sample and no frame"
    );
}

#[test]
fn a_diff_tree_encodes_as_two_profiles() {
    let mut b = FlameTreeBuilder::new();
    b.add_stack(["main", "a"], 0, 3);
    b.add_stack(["main", "b"], 1, 4);
    b.add_stack(["main", "a"], 1, 1);
    let tree = b.finish(true);
    let back = decode(
        encode(&tree, "d", "count").as_bytes(),
        &DecodeLimits::default(),
    )
    .unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].strings.get(back[0].comments[0]), "d (left)");
    assert_eq!(
        back[1].value_type_name(back[1].sample_types[0]),
        "samples/count"
    );
    assert_eq!(stacks(&back[0]), Stacks::from([(key(&["main", "a"]), 3)]));
    assert_eq!(
        stacks(&back[1]),
        Stacks::from([(key(&["main", "a"]), 1), (key(&["main", "b"]), 4)])
    );
}
