//! Renderer outputs of small hand-made trees.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::flame::{FlameTree, FlameTreeBuilder};
use crate::{DecodeLimits, Summary};
use serde_json::json;
use std::collections::BTreeMap;

fn add(b: &mut FlameTreeBuilder, stacks: &[(&str, i64)], side: usize) {
    for (s, v) in stacks {
        b.add_stack(s.split(';'), side, *v);
    }
}

/// total 10 = a (6: self 1, b 3, c 2) + d 4.
fn single() -> FlameTree {
    let mut b = FlameTreeBuilder::new();
    add(&mut b, &[("d", 4), ("a;c", 2), ("a", 1), ("a;b", 3)], 0);
    b.finish(false)
}

/// left: a;b 3, a 1; right: a;b 1, c 5.
fn diff() -> FlameTree {
    let mut b = FlameTreeBuilder::new();
    add(&mut b, &[("a;b", 3), ("a", 1)], 0);
    add(&mut b, &[("a;b", 1), ("c", 5)], 1);
    b.finish(true)
}

#[test]
fn flamebearer_single_matches_pyroscope_layout() {
    let opts = FlamebearerOptions {
        name: "cpu".into(),
        ..Default::default()
    };
    let got = serde_json::to_value(flamebearer(&single(), &opts)).unwrap();
    // Children start at the parent's x plus its self; x is delta-encoded per level.
    let want = json!({
        "version": 1,
        "flamebearer": {
            "names": ["total", "a", "b", "c", "d"],
            "levels": [
                [0, 10, 0, 0],
                [0, 6, 1, 1, 0, 4, 4, 4],
                [1, 3, 3, 2, 0, 2, 2, 3]
            ],
            "numTicks": 10,
            "maxSelf": 4
        },
        "metadata": {"format": "single", "spyName": "", "sampleRate": 100, "units": "samples", "name": "cpu"}
    });
    assert_eq!(got, want);
}

#[test]
fn flamebearer_double_has_both_offsets_and_ticks() {
    let got = serde_json::to_value(flamebearer(&diff(), &Default::default())).unwrap();
    let want = json!({
        "version": 1,
        "flamebearer": {
            "names": ["total", "a", "b", "c"],
            "levels": [
                [0, 4, 0, 0, 6, 0, 0],
                [0, 4, 1, 0, 1, 0, 1, 0, 0, 0, 0, 5, 5, 3],
                [1, 3, 3, 0, 1, 1, 2]
            ],
            "numTicks": 10,
            "maxSelf": 5
        },
        "metadata": {"format": "double", "spyName": "", "sampleRate": 100, "units": "samples", "name": ""},
        "leftTicks": 4,
        "rightTicks": 6
    });
    assert_eq!(got, want);
    // And it reads back.
    let back: FlamebearerProfile = serde_json::from_value(want).unwrap();
    assert_eq!(back.right_ticks, Some(6));
}

#[test]
fn nested_set_rows_are_pre_order() {
    let tree = single();
    let got: Vec<_> = nested_set(&tree)
        .map(|r| (r.level, r.label, r.self_, r.value, r.value_right))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "total", 0, 10, None),
            (1, "a", 1, 6, None),
            (2, "b", 3, 3, None),
            (2, "c", 2, 2, None),
            (1, "d", 4, 4, None),
        ]
    );
}

#[test]
fn grafana_frame_json_has_the_panel_fields() {
    let got = serde_json::to_value(grafana_frame(&diff(), "short")).unwrap();
    let unit = json!({"unit": "short"});
    let want = json!({
        "schema": {
            "name": "response",
            "meta": {"preferredVisualisationType": "flamegraph"},
            "fields": [
                {"name": "level", "type": "number"},
                {"name": "label", "type": "string"},
                {"name": "self", "type": "number", "config": unit},
                {"name": "value", "type": "number", "config": unit},
                {"name": "selfRight", "type": "number", "config": unit},
                {"name": "valueRight", "type": "number", "config": unit}
            ]
        },
        "data": {"values": [
            [0, 1, 2, 1],
            ["total", "a", "b", "c"],
            [0, 1, 3, 0],
            [4, 4, 3, 0],
            [0, 0, 1, 5],
            [6, 1, 1, 5]
        ]}
    });
    assert_eq!(got, want);
}

#[test]
fn folded_lines_and_diff_columns() {
    assert_eq!(folded(&single()), "a 1\na;b 3\na;c 2\nd 4\n");
    assert_eq!(folded(&diff()), "a 1 0\na;b 3 1\nc 0 5\n");
    let mut b = FlameTreeBuilder::new();
    b.add_stack(["x;y", "z\nw"], 0, 2);
    assert_eq!(folded(&b.finish(false)), "x:y;z w 2\n");
}

/// Per-stack sums of a decoded profile's column `col`.
fn stack_sums(p: &crate::Profile, col: usize) -> BTreeMap<String, i64> {
    let mut sums = BTreeMap::new();
    for (i, s) in p.samples.iter().enumerate() {
        let names: Vec<_> = p
            .frame_names(s.stack)
            .iter()
            .map(|n| n.to_string())
            .collect();
        *sums.entry(names.join(";")).or_default() += p.sample_values(i)[col];
    }
    sums
}

#[test]
fn folded_round_trips_through_the_decoder() {
    let stacks = [
        ("m;a;b", 5),
        ("m;a", 2),
        ("m;c;b", 7),
        ("m;a;b", 1),
        ("n", 3),
    ];
    let mut b = FlameTreeBuilder::new();
    add(&mut b, &stacks, 0);
    let text = folded(&b.finish(false));
    let p = crate::folded::decode(text.as_bytes(), &DecodeLimits::default()).unwrap();
    let want: BTreeMap<String, i64> = [("m;a;b", 6), ("m;a", 2), ("m;c;b", 7), ("n", 3)]
        .map(|(s, v)| (s.to_string(), v))
        .into();
    assert_eq!(stack_sums(&p, 0), want);

    let p = crate::folded::decode(folded(&diff()).as_bytes(), &DecodeLimits::default()).unwrap();
    let left: BTreeMap<String, i64> = [("a", 1), ("a;b", 3), ("c", 0)]
        .map(|(s, v)| (s.to_string(), v))
        .into();
    let right: BTreeMap<String, i64> = [("a", 0), ("a;b", 1), ("c", 5)]
        .map(|(s, v)| (s.to_string(), v))
        .into();
    assert_eq!((stack_sums(&p, 0), stack_sums(&p, 1)), (left, right));
}

#[test]
fn svg_has_frames_title_and_scripts() {
    let opts = SvgOptions {
        title: Some("CPU of checkout".into()),
        ..Default::default()
    };
    let s = svg(&single(), &opts).unwrap();
    assert!(s.contains("<svg") && s.trim_end().ends_with("</svg>"));
    assert!(s.contains("CPU of checkout"));
    for name in ["a (", "b (", "c (", "d ("] {
        assert!(s.contains(&format!("<title>{name}")), "{name} missing");
    }
    assert!(s.contains("function search("), "search script missing");

    let d = svg(&diff(), &SvgOptions::default()).unwrap();
    assert!(d.contains("<svg") && d.trim_end().ends_with("</svg>"));
    assert!(d.contains("Differential Flame Graph"));
    assert!(d.contains("<title>c ("));

    let empty = svg(&FlameTreeBuilder::new().finish(false), &opts).unwrap();
    assert!(empty.contains("<svg") && empty.trim_end().ends_with("</svg>"));
}

#[test]
fn pprof_export_decodes_to_the_same_total() {
    let mut b = FlameTreeBuilder::new();
    add(
        &mut b,
        &[("main;work;leaf", 30), ("main;work", 5), ("main;idle", 7)],
        0,
    );
    b.add_stack([], 0, 2);
    add(&mut b, &[("main;work;leaf", 11)], 1);
    let tree = b.finish(true);
    for (side, total) in [(0, 44), (1, 11)] {
        let p = to_profile(&tree, side, "cpu", "nanoseconds");
        let bytes = crate::pprof::encode_gzip(&p);
        let back = crate::pprof::decode_maybe_gzip(&bytes, &DecodeLimits::default()).unwrap();
        let summary = Summary::of(&back);
        assert_eq!(summary.value_sums, vec![total]);
        assert_eq!(
            summary.sample_types,
            vec![("cpu".to_string(), "nanoseconds".to_string())]
        );
    }
    let back = to_profile(&tree, 0, "cpu", "nanoseconds");
    let want: BTreeMap<String, i64> = [
        ("", 2),
        ("main;work;leaf", 30),
        ("main;work", 5),
        ("main;idle", 7),
    ]
    .map(|(s, v)| (s.to_string(), v))
    .into();
    assert_eq!(stack_sums(&back, 0), want);
}
