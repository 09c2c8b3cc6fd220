//! Hand-computed cases: each tree is small enough to check the expected origin by hand
//! (the comment of each case says why).
#![allow(clippy::unwrap_used)]

use super::*;
use flamedb_profile::flame::FlameTreeBuilder;

/// A diff tree from folded stacks of the baseline and of the later version. Values are
/// sample counts; like a real profile, each side also has a stack seen once
/// (`main;tail`), so the unit of counting noise is one sample.
fn diff(before: &[(&str, i64)], after: &[(&str, i64)]) -> FlameTree {
    let mut b = FlameTreeBuilder::new();
    for (side, stacks) in [before, after].into_iter().enumerate() {
        for (stack, v) in stacks.iter().chain(&[("main;tail", 1)]) {
            b.add_stack(stack.split(';'), side, *v);
        }
    }
    b.finish(true)
}

/// `(name, kind, delta, path joined by ';')` of each origin at `threshold`.
fn origins(
    before: &[(&str, i64)],
    after: &[(&str, i64)],
    threshold: f64,
) -> Vec<(String, ChangeKind, f64, String)> {
    let tree = diff(before, after);
    let mut d = TreeDiff::new(&tree).unwrap();
    d.origins_refined(threshold)
        .into_iter()
        .map(|o| {
            (
                tree.name(o.node).to_string(),
                o.kind,
                (o.delta * 1000.0).round() / 1000.0,
                d.path(o.node).join(";"),
            )
        })
        .collect()
}

fn one(name: &str, kind: ChangeKind, delta: f64, path: &str) -> (String, ChangeKind, f64, String) {
    (name.into(), kind, delta, path.into())
}

#[test]
fn a_slower_leaf_is_the_origin_not_its_callers() {
    // x doubles; y (its sibling) and b do not: a and main rose only through x.
    let got = origins(
        &[("main;a;x", 100), ("main;a;y", 100), ("main;b;z", 800)],
        &[("main;a;x", 200), ("main;a;y", 100), ("main;b;z", 800)],
        10.0,
    );
    assert_eq!(got, vec![one("x", ChangeKind::Increase, 100.0, "main;a")]);
}

#[test]
fn a_function_whose_whole_subtree_grew_is_the_origin_not_its_callees() {
    // Every stack through f is 1.5x: g and h grew alike, so f is where it starts.
    let got = origins(
        &[
            ("main;f;g", 1000),
            ("main;f;h", 1000),
            ("main;k", 8000),
            ("z", 1),
        ],
        &[
            ("main;f;g", 1500),
            ("main;f;h", 1500),
            ("main;k", 8000),
            ("z", 1),
        ],
        100.0,
    );
    assert_eq!(got, vec![one("f", ChangeKind::Increase, 1000.0, "main")]);
}

#[test]
fn a_dominant_callee_growing_with_its_siblings_still_names_the_caller() {
    // g holds 90% of f, h 10%; both 2x: f scaled as a whole. (`z` is one sample, the
    // unit of counting noise: h's 100 samples doubling is beyond noise.)
    let got = origins(
        &[
            ("main;f;g", 900),
            ("main;f;h", 100),
            ("main;k", 9000),
            ("z", 1),
        ],
        &[
            ("main;f;g", 1800),
            ("main;f;h", 200),
            ("main;k", 9000),
            ("z", 1),
        ],
        100.0,
    );
    assert_eq!(got, vec![one("f", ChangeKind::Increase, 1000.0, "main")]);
    // Only g doubles, h stays: g is the origin.
    let got = origins(
        &[
            ("main;f;g", 900),
            ("main;f;h", 100),
            ("main;k", 9000),
            ("z", 1),
        ],
        &[
            ("main;f;g", 1800),
            ("main;f;h", 100),
            ("main;k", 9000),
            ("z", 1),
        ],
        100.0,
    );
    assert_eq!(got, vec![one("g", ChangeKind::Increase, 900.0, "main;f")]);
}

#[test]
fn dilution_is_not_a_change() {
    // a triples; b's share falls from 90% to 75% but its work is the same. The median
    // ratio is b's (it holds most of the work on both sides).
    let got = origins(
        &[("main;a", 100), ("main;b", 900)],
        &[("main;a", 300), ("main;b", 900)],
        10.0,
    );
    assert_eq!(got, vec![one("a", ChangeKind::Increase, 200.0, "main")]);
    // The same app at twice the traffic: nothing changed.
    let got = origins(
        &[("main;a", 400), ("main;b", 600)],
        &[("main;a", 800), ("main;b", 1200)],
        10.0,
    );
    assert_eq!(got, vec![]);
}

#[test]
fn a_new_callee_is_new_and_its_caller_is_not_reported() {
    // a gains a call to n; main has nothing but a, so it passes the rise down.
    let got = origins(
        &[("main;a", 700), ("main;b", 300)],
        &[("main;a", 700), ("main;a;n;leaf", 200), ("main;b", 300)],
        10.0,
    );
    assert_eq!(got, vec![one("n", ChangeKind::New, 200.0, "main;a")]);
}

#[test]
fn a_caller_that_calls_a_leaf_twice_makes_the_leaf_the_origin() {
    // c now calls l twice (l under c doubles); c's own work and l under d are the same.
    // (`z` is one sample, the unit of counting noise: c's 10,000 samples staying put is
    // beyond noise.)
    let got = origins(
        &[
            ("main;c;l", 10_000),
            ("main;c", 10_000),
            ("main;d;l", 30_000),
            ("main;e", 50_000),
            ("z", 1),
        ],
        &[
            ("main;c;l", 20_000),
            ("main;c", 10_000),
            ("main;d;l", 30_000),
            ("main;e", 50_000),
            ("z", 1),
        ],
        1000.0,
    );
    assert_eq!(
        got,
        vec![one("l", ChangeKind::Increase, 10_000.0, "main;c")]
    );
}

#[test]
fn an_improvement_is_a_decrease() {
    let got = origins(
        &[("main;a", 400), ("main;b", 600)],
        &[("main;a", 200), ("main;b", 600)],
        10.0,
    );
    assert_eq!(got, vec![one("a", ChangeKind::Decrease, -200.0, "main")]);
}

#[test]
fn a_cost_shift_gives_a_rise_and_a_fall_under_an_unchanged_parent() {
    let got = origins(
        &[("main;p;x", 200), ("main;p;y", 200), ("main;q", 600)],
        &[("main;p;x", 300), ("main;p;y", 100), ("main;q", 600)],
        10.0,
    );
    assert_eq!(
        got,
        vec![
            one("x", ChangeKind::Increase, 100.0, "main;p"),
            one("y", ChangeKind::Decrease, -100.0, "main;p"),
        ]
    );
}

#[test]
fn changes_below_the_threshold_are_not_origins() {
    let got = origins(
        &[("main;a", 100), ("main;b", 900)],
        &[("main;a", 105), ("main;b", 900)],
        10.0,
    );
    assert_eq!(got, vec![]);
}

#[test]
fn one_sided_trees_are_refused() {
    let mut b = FlameTreeBuilder::new();
    b.add_stack(["a"], 0, 1);
    assert!(TreeDiff::new(&b.finish(true)).is_none());
}
