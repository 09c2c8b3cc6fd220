//! Hand-computed cases and properties of the flame tree.
#![allow(clippy::unwrap_used)]

use super::*;
use proptest::prelude::*;

/// `(level, name, self, total)` of side `side` of every node.
fn rows(t: &FlameTree, side: usize) -> Vec<(u32, String, i64, i64)> {
    t.nodes()
        .map(|n| (n.level, n.name.to_string(), n.self_[side], n.total[side]))
        .collect()
}

fn row(level: u32, name: &str, self_: i64, total: i64) -> (u32, String, i64, i64) {
    (level, name.to_string(), self_, total)
}

fn build(stacks: &[(&str, i64)], side: usize, b: &mut FlameTreeBuilder) {
    for (s, v) in stacks {
        b.add_stack(s.split(';').filter(|f| !f.is_empty()), side, *v);
    }
}

fn single(stacks: &[(&str, i64)]) -> FlameTree {
    let mut b = FlameTreeBuilder::new();
    build(stacks, 0, &mut b);
    b.finish(false)
}

#[test]
fn finish_orders_children_by_name_in_pre_order() {
    // Inserted out of order on purpose.
    let t = single(&[("d", 4), ("a;c", 2), ("a;b;e", 5), ("a", 1), ("a;b", 3)]);
    assert!(!t.is_diff());
    assert_eq!(t.len(), 6);
    assert_eq!(
        rows(&t, 0),
        vec![
            row(0, "total", 0, 15),
            row(1, "a", 1, 11),
            row(2, "b", 3, 8),
            row(3, "e", 5, 5),
            row(2, "c", 2, 2),
            row(1, "d", 4, 4),
        ]
    );
    assert_eq!(t.total(0), 15);
    assert_eq!(t.total(1), 0);
}

#[test]
fn child_finds_existing_nodes_and_root_takes_empty_stacks() {
    let mut b = FlameTreeBuilder::new();
    let a = b.child(FlameTreeBuilder::ROOT, "a");
    let ab = b.child(a, "b");
    assert_eq!(b.child(FlameTreeBuilder::ROOT, "a"), a);
    assert_eq!(b.child(a, "b"), ab);
    // Same name under another parent is another node.
    assert_ne!(b.child(ab, "a"), a);
    assert_eq!(b.len(), 4);
    b.add_stack([], 0, 7);
    b.add_self(ab, 0, 2);
    let t = b.finish(false);
    assert_eq!(
        rows(&t, 0),
        vec![
            row(0, "total", 7, 9),
            row(1, "a", 0, 2),
            row(2, "b", 2, 2),
            row(3, "a", 0, 0),
        ]
    );
}

#[test]
fn diff_tree_keeps_both_sides() {
    let mut b = FlameTreeBuilder::new();
    build(&[("a;b", 3), ("a", 1)], 0, &mut b);
    build(&[("a;b", 1), ("c", 5)], 1, &mut b);
    let t = b.finish(true);
    assert!(t.is_diff());
    let got: Vec<_> = t
        .nodes()
        .map(|n| (n.level, n.name, n.self_, n.total))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "total", [0, 0], [4, 6]),
            (1, "a", [1, 0], [4, 1]),
            (2, "b", [3, 1], [3, 1]),
            (1, "c", [0, 5], [0, 5]),
        ]
    );
}

#[test]
fn truncate_keeps_heaviest_and_folds_the_rest_into_other() {
    let t = single(&[("d", 4), ("a;c", 2), ("a;b;e", 5), ("a", 1), ("a;b", 3)]);
    // Best first: root, a (11), b (8); cut: d under root, c under a, e under b.
    assert_eq!(
        rows(&t.truncate(3), 0),
        vec![
            row(0, "total", 0, 15),
            row(1, "a", 1, 11),
            row(2, "b", 3, 8),
            row(3, "other", 5, 5),
            row(2, "other", 2, 2),
            row(1, "other", 4, 4),
        ]
    );
    // Next best is e (5): then only d and c are cut.
    assert_eq!(
        rows(&t.truncate(4), 0),
        vec![
            row(0, "total", 0, 15),
            row(1, "a", 1, 11),
            row(2, "b", 3, 8),
            row(3, "e", 5, 5),
            row(2, "other", 2, 2),
            row(1, "other", 4, 4),
        ]
    );
    assert_eq!(rows(&t.truncate(6), 0), rows(&t, 0));
    assert_eq!(
        rows(&t.truncate(0), 0),
        vec![row(0, "total", 0, 15), row(1, "other", 15, 15)]
    );
}

#[test]
fn truncate_diff_ranks_by_the_larger_side() {
    let mut b = FlameTreeBuilder::new();
    build(&[("x", 5), ("y", 1)], 0, &mut b);
    build(&[("x", 1), ("y", 9)], 1, &mut b);
    let t = b.finish(true).truncate(2);
    let got: Vec<_> = t.nodes().map(|n| (n.name, n.self_, n.total)).collect();
    assert_eq!(
        got,
        vec![
            ("total", [0, 0], [6, 10]),
            ("other", [5, 1], [5, 1]),
            ("y", [1, 9], [1, 9]),
        ]
    );
}

#[test]
fn function_totals_count_recursion_once_per_stack() {
    let t = single(&[("a;b;a;c", 10), ("a", 1), ("b;a", 2)]);
    let got: Vec<_> = (t.function_totals().into_iter())
        .map(|f| (f.name, f.self_[0], f.total[0]))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), 3, 13),
            ("b".to_string(), 0, 12),
            ("c".to_string(), 10, 10),
        ]
    );
}

#[test]
fn function_totals_of_a_diff_have_both_sides_and_tie_on_name() {
    let mut b = FlameTreeBuilder::new();
    build(&[("m;f", 2), ("m;g;f", 3)], 0, &mut b);
    build(&[("m;g", 4)], 1, &mut b);
    let f = b.finish(true).function_totals();
    let got: Vec<_> = f.iter().map(|f| (&*f.name, f.self_, f.total)).collect();
    assert_eq!(
        got,
        vec![
            ("f", [5, 0], [5, 0]),
            ("m", [0, 0], [5, 4]),
            ("g", [0, 4], [3, 4]),
        ]
    );
}

#[test]
fn merge_adds_by_path() {
    let a = single(&[("a;b", 3), ("c", 1)]);
    let b = single(&[("a;b", 2), ("a", 4)]);
    assert_eq!(
        rows(&a.merge(&b), 0),
        vec![
            row(0, "total", 0, 10),
            row(1, "a", 4, 9),
            row(2, "b", 5, 5),
            row(1, "c", 1, 1),
        ]
    );
}

// ---- properties ----

type Stacks = Vec<(Vec<u8>, i64)>;

fn stacks() -> impl Strategy<Value = Stacks> {
    prop::collection::vec((prop::collection::vec(0..4u8, 0..5), 0..100i64), 0..25)
}

fn tree_of(stacks: &[(Vec<u8>, i64)], diff: bool) -> FlameTree {
    let names = ["f0", "f1", "f2", "f3"];
    let mut b = FlameTreeBuilder::new();
    for (s, v) in stacks {
        for side in 0..if diff { 2 } else { 1 } {
            b.add_stack(s.iter().map(|&i| names[i as usize]), side, v + side as i64);
        }
    }
    b.finish(diff)
}

/// Every node's total is its self plus its children's totals, on every side.
fn consistent(t: &FlameTree) -> bool {
    let ends = t.subtree_ends();
    (0..t.len()).all(|i| {
        (0..2).all(|s| {
            let kids: i64 = t.children(i, &ends).map(|c| t.total_at(c, s)).sum();
            t.total_at(i, s) == t.self_at(i, s) + kids
        })
    })
}

proptest! {
    #[test]
    fn merge_is_commutative_and_associative(a in stacks(), b in stacks(), c in stacks(), diff: bool) {
        let (ta, tb, tc) = (tree_of(&a, diff), tree_of(&b, diff), tree_of(&c, diff));
        let ab = ta.merge(&tb);
        prop_assert_eq!(rows(&ab, 0), rows(&tb.merge(&ta), 0));
        prop_assert_eq!(rows(&ab, 1), rows(&tb.merge(&ta), 1));
        let left = ab.merge(&tc);
        let right = ta.merge(&tb.merge(&tc));
        prop_assert_eq!(rows(&left, 0), rows(&right, 0));
        prop_assert_eq!(rows(&left, 1), rows(&right, 1));
        // And equal to building from all stacks at once.
        let all: Stacks = a.iter().chain(&b).chain(&c).cloned().collect();
        prop_assert_eq!(rows(&left, 0), rows(&tree_of(&all, diff), 0));
    }

    #[test]
    fn root_total_is_the_sum_of_values(a in stacks()) {
        let t = tree_of(&a, false);
        prop_assert_eq!(t.total(0), a.iter().map(|(_, v)| v).sum::<i64>());
        prop_assert!(consistent(&t));
        let levels_ok = t.nodes().skip(1).zip(t.nodes()).all(|(n, prev)| n.level >= 1 && n.level <= prev.level + 1);
        prop_assert!(levels_ok);
    }

    #[test]
    fn diff_of_a_selection_with_itself_is_equal_on_both_sides(a in stacks()) {
        let mut b = FlameTreeBuilder::new();
        for side in 0..2 {
            for (s, v) in &a {
                b.add_stack(s.iter().map(|i| ["f0", "f1", "f2", "f3"][*i as usize]), side, *v);
            }
        }
        let t = b.finish(true);
        for n in t.nodes() {
            prop_assert_eq!(n.self_[0], n.self_[1]);
            prop_assert_eq!(n.total[0], n.total[1]);
        }
    }

    #[test]
    fn truncate_keeps_totals_and_bounds_rows(a in stacks(), max_nodes in 1usize..20, diff: bool) {
        let t = tree_of(&a, diff);
        let cut = t.truncate(max_nodes);
        prop_assert_eq!(cut.total(0), t.total(0));
        prop_assert_eq!(cut.total(1), t.total(1));
        prop_assert!(cut.len() <= 2 * max_nodes + 1, "{} rows for {}", cut.len(), max_nodes);
        let real = cut.nodes().filter(|n| n.name != OTHER_NAME).count();
        prop_assert!(real <= max_nodes);
        prop_assert!(consistent(&cut));
    }
}

#[test]
fn wide_parents_find_children_past_the_list_limit() {
    // 30 children under one parent: past the linked-list limit, so indexed in the map.
    let mut b = FlameTreeBuilder::new();
    let m = b.child(FlameTreeBuilder::ROOT, "m");
    let ids: Vec<_> = (0..30)
        .map(|i| b.child(m, &format!("f{:02}", (i * 7) % 30)))
        .collect();
    let again: Vec<_> = (0..30)
        .map(|i| b.child(m, &format!("f{:02}", (i * 7) % 30)))
        .collect();
    assert_eq!(ids, again);
    assert_eq!(b.len(), 32);
    for (i, &id) in ids.iter().enumerate() {
        b.add_self(id, 0, i as i64);
    }
    let t = b.finish(false);
    let names: Vec<_> = t.nodes().skip(2).map(|n| n.name.to_string()).collect();
    let want: Vec<_> = (0..30).map(|i| format!("f{i:02}")).collect();
    assert_eq!(names, want);
    assert_eq!(t.total(0), (0..30).sum::<i64>());
}

#[test]
fn sums_past_64_bits_saturate_instead_of_wrapping_negative() {
    let t = single(&[("main;a", i64::MAX), ("main;a", i64::MAX), ("main;b", 5)]);
    assert_eq!(t.total(0), i64::MAX);
    assert!((0..t.len()).all(|i| t.total_at(i, 0) >= 0 && t.self_at(i, 0) >= 0));
    // Truncated, the folded "other" sums saturate too.
    let cut = t.truncate(2);
    assert!((0..cut.len()).all(|i| cut.total_at(i, 0) >= 0));
}
