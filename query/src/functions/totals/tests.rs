//! `function_totals` on dictionaries against hand-computed answers, a per-stack walk over
//! frame names written here, and the merged named tree it replaces.

use super::function_totals;
use crate::dicts::BlockDict;
use flamedb_profile::flame::{FlameTreeBuilder, FunctionTotal};
use flamedb_profile::testing::Rng;
use flamedb_profile::{FrameKind, Function, Line, LocationId, StackId, Symbols};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn dict(symbols: Symbols, i: usize) -> Arc<BlockDict> {
    crate::dicts::test_dict(symbols, i as u32)
}

/// A location whose frames are `names`, callers first (the last is the function that
/// runs, inlined into the ones before it).
fn location(s: &mut Symbols, names: &[&str]) -> LocationId {
    let lines: Vec<Line> = names
        .iter()
        .rev()
        .map(|n| {
            let name = s.intern(n);
            let f = s.intern_function(Function {
                name,
                system_name: name,
                ..Function::default()
            });
            Line {
                function: Some(f),
                line: 0,
                column: 0,
            }
        })
        .collect();
    s.intern_location(None, 0, &lines, FrameKind::Unspecified)
}

/// (name, self, total), in output order.
fn rows(t: &[FunctionTotal]) -> Vec<(String, i64, i64)> {
    t.iter()
        .map(|f| (f.name.clone(), f.self_[0], f.total[0]))
        .collect()
}

/// The answer by walking each stack's frame names: self to the leaf frame, total to each
/// distinct name once; sorted by total (negatives as 0) descending, then name.
fn reference(stacks: &[(Arc<BlockDict>, u32, i64)]) -> Vec<(String, i64, i64)> {
    let mut m: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (d, node, v) in stacks {
        let frames = d.frames(*node);
        if let Some(leaf) = frames.last() {
            m.entry(leaf.clone()).or_default().0 += v;
        }
        let distinct: BTreeSet<&String> = frames.iter().collect();
        for f in distinct {
            m.entry(f.clone()).or_default().1 += v;
        }
    }
    let mut out: Vec<(String, i64, i64)> = m.into_iter().map(|(n, (s, t))| (n, s, t)).collect();
    out.sort_by(|a, b| b.2.max(0).cmp(&a.2.max(0)).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The answer of the merged named tree (what `function_totals` computed before).
fn via_tree(stacks: &[(Arc<BlockDict>, u32, i64)]) -> Vec<(String, i64, i64)> {
    let mut b = FlameTreeBuilder::new();
    for (d, node, v) in stacks {
        let frames = d.frames(*node);
        b.add_stack(frames.iter().map(|f| f.as_str()), 0, *v);
    }
    rows(&b.finish(false).function_totals())
}

/// `function_totals` over `stacks`, dictionaries numbered in order of first use.
fn computed(stacks: &[(Arc<BlockDict>, u32, i64)]) -> Vec<(String, i64, i64)> {
    let mut dicts: Vec<Arc<BlockDict>> = Vec::new();
    let mut at = Vec::new();
    let mut values = Vec::new();
    for (d, node, v) in stacks {
        let i = match dicts.iter().position(|x| Arc::ptr_eq(x, d)) {
            Some(i) => i,
            None => {
                dicts.push(d.clone());
                dicts.len() - 1
            }
        };
        at.push((i as u32, *node));
        values.push(*v);
    }
    rows(&function_totals(&dicts, &at, &values))
}

#[test]
fn recursion_and_inlined_frames_by_hand() {
    // Stacks (frames root first) and values:
    //   main;a;b 10   main;a;a 5   main;[a;c;a] 7 (one location, inlined)   main 2
    //   main;b;a;b 3
    // main: self 2, total 27; a: self 5 + 7, total 10 + 5 + 7 + 3 = 25 (once per stack);
    // b: self 10 + 3, total 13; c: self 0, total 7.
    let expected: Vec<(String, i64, i64)> =
        [("main", 2, 27), ("a", 12, 25), ("b", 13, 13), ("c", 0, 7)]
            .iter()
            .map(|(n, s, t)| (n.to_string(), *s, *t))
            .collect();
    let build = |which: &[usize]| {
        let mut s = Symbols::new();
        let main = location(&mut s, &["main"]);
        let a = location(&mut s, &["a"]);
        let b = location(&mut s, &["b"]);
        let x = location(&mut s, &["a", "c", "a"]);
        let all = [
            (vec![main, a, b], 10),
            (vec![main, a, a], 5),
            (vec![main, x], 7),
            (vec![main], 2),
            (vec![main, b, a, b], 3),
        ];
        let nodes: Vec<(StackId, i64)> = which
            .iter()
            .map(|&i| (s.stacks.intern(all[i].0.iter().copied()), all[i].1))
            .collect();
        (s, nodes)
    };
    // One dictionary; and the stacks split over two, each interned in another order.
    for split in [vec![vec![0, 1, 2, 3, 4]], vec![vec![4, 0, 2], vec![3, 1]]] {
        let mut stacks = Vec::new();
        for (i, which) in split.iter().enumerate() {
            let (s, nodes) = build(which);
            let d = dict(s, i);
            stacks.extend(nodes.into_iter().map(|(n, v)| (d.clone(), n.0, v)));
        }
        assert_eq!(computed(&stacks), expected);
        assert_eq!(via_tree(&stacks), expected);
    }
}

#[test]
fn ties_sort_by_name_and_negative_totals_as_zero() {
    let mut s = Symbols::new();
    let names = ["z", "y", "x", "w"];
    let locs: Vec<LocationId> = names.iter().map(|n| location(&mut s, &[n])).collect();
    let nodes: Vec<u32> = locs.iter().map(|&l| s.stacks.intern([l]).0).collect();
    let d = dict(s, 0);
    // z: 4, y: 4, x: -3, w: 0, and the empty stack (no function) 100.
    let stacks = vec![
        (d.clone(), nodes[0], 4),
        (d.clone(), nodes[1], 4),
        (d.clone(), nodes[2], -3),
        (d.clone(), nodes[3], 0),
        (d.clone(), 0, 100),
    ];
    let expected: Vec<(String, i64, i64)> = [("y", 4, 4), ("z", 4, 4), ("w", 0, 0), ("x", -3, -3)]
        .iter()
        .map(|(n, s, t)| (n.to_string(), *s, *t))
        .collect();
    assert_eq!(computed(&stacks), expected);
    assert_eq!(via_tree(&stacks), expected);
}

/// A random dictionary: locations of one to three frames over few names (so stacks
/// recurse, also within a location), one without lines (named by its address), and
/// stacks interned in random order; compacted (pre-order nodes) when `compact`.
fn random_dict(rng: &mut Rng, i: usize, compact: bool) -> Arc<BlockDict> {
    let names = ["main", "a", "b", "c", "d", "e", "f", "g"];
    let mut s = Symbols::new();
    let mut locs: Vec<LocationId> = Vec::new();
    for _ in 0..12 {
        let n = 1 + rng.below(3) * rng.below(2);
        let frames: Vec<&str> = (0..n).map(|_| names[rng.below(names.len())]).collect();
        locs.push(location(&mut s, &frames));
    }
    locs.push(s.push_location(None, 0x1a2b, &[], FrameKind::Unspecified, false));
    let mut stacks = Vec::new();
    for _ in 0..40 + rng.below(200) {
        let depth = 1 + rng.below(8);
        let path: Vec<LocationId> = (0..depth).map(|_| locs[rng.below(locs.len())]).collect();
        stacks.push(s.stacks.intern(path));
    }
    if compact {
        let (c, _) = s.compact(stacks);
        s = c;
    }
    dict(s, i)
}

#[test]
fn random_stacks_equal_a_per_stack_walk_and_the_merged_tree() {
    let mut rng = Rng::new(11);
    for round in 0..200 {
        let dicts: Vec<Arc<BlockDict>> = (0..1 + rng.below(4))
            .map(|i| {
                let compact = rng.below(2) == 0;
                random_dict(&mut rng, i, compact)
            })
            .collect();
        // Distinct nodes (keys are distinct stacks): all of a dictionary (dense closure
        // maps), or a few (sparse), inner nodes and the empty stack included.
        let mut stacks = Vec::new();
        for d in &dicts {
            let n = d.len();
            let few = rng.below(2) == 0;
            for node in 0..n as u32 {
                if !few || rng.below(12) == 0 {
                    let v = rng.below(1000) as i64 - if rng.below(8) == 0 { 900 } else { 0 };
                    stacks.push((d.clone(), node, v));
                }
            }
        }
        // Shuffled: the input order is the key order, unrelated to nodes.
        for i in (1..stacks.len()).rev() {
            stacks.swap(i, rng.below(i + 1));
        }
        let got = computed(&stacks);
        assert_eq!(got, reference(&stacks), "round {round}");
        assert_eq!(got, via_tree(&stacks), "round {round}");
    }
}

#[test]
fn node_orders_that_are_not_pre_orders_enter_a_node_again() {
    // Interning main;a, then b, then main;c gives nodes main(1) a(2) b(3) c(4): c's parent
    // main left the path for b and is entered again, its value credited in two parts.
    let mut s = Symbols::new();
    let main = location(&mut s, &["main"]);
    let a = location(&mut s, &["a"]);
    let b = location(&mut s, &["b"]);
    let c = location(&mut s, &["c"]);
    let ma = s.stacks.intern([main, a]);
    let bb = s.stacks.intern([b]);
    let mc = s.stacks.intern([main, c]);
    assert_eq!((ma.0, bb.0, mc.0), (2, 3, 4));
    let d = dict(s, 0);
    let stacks = vec![(d.clone(), 2, 1), (d.clone(), 3, 2), (d.clone(), 4, 4)];
    let expected: Vec<(String, i64, i64)> = [("main", 0, 5), ("c", 4, 4), ("b", 2, 2), ("a", 1, 1)]
        .iter()
        .map(|(n, s, t)| (n.to_string(), *s, *t))
        .collect();
    assert_eq!(computed(&stacks), expected);
    assert_eq!(via_tree(&stacks), expected);
}
