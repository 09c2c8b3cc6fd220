//! Times building flame trees of about 3M nodes (no assertions; numbers on stdout).
//!
//! ```sh
//! cargo run --release -p flamedb-profile --example flame_speed
//! ```
//!
//! Two shapes: 3M `child(parent, name)` calls as the query engine makes from a stack
//! dictionary (each node's parent is an earlier node), and 3M distinct stacks of 20
//! frames through `add_stack` (60M frame lookups). Both include `finish`.
#![allow(clippy::unwrap_used)]

use flamedb_profile::flame::{FlameTreeBuilder, render};
use flamedb_profile::testing::Rng;
use std::time::Instant;

const NODES: usize = 3_000_000;

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = (status.lines())
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    kib / 1024
}

fn main() {
    let vocab: Vec<&'static str> = (0..50_000)
        .map(|i| {
            let s = format!("github.com/org/pkg{}.(*Type{}).Method{}", i % 97, i % 13, i);
            &*s.leak()
        })
        .collect();

    // Shape 1: (parent, name) pairs, parents biased towards recent nodes (deep paths).
    let mut rng = Rng::new(42);
    let pairs: Vec<(u32, u32)> = (1..NODES)
        .map(|k| {
            let back = 1 + rng.below(64.min(k));
            ((k - back) as u32, rng.below(vocab.len()) as u32)
        })
        .collect();
    let start = Instant::now();
    let mut b = FlameTreeBuilder::with_capacity(NODES);
    let ids: Vec<_> = vocab.iter().map(|v| b.intern(v)).collect();
    let mut node_of = vec![0u32; NODES];
    for (k, &(parent, name)) in pairs.iter().enumerate() {
        let node = b.child_by_id(node_of[parent as usize], ids[name as usize]);
        node_of[k + 1] = node;
        b.add_self(node, 0, 1 + (k % 7) as i64);
    }
    let built = start.elapsed();
    let nodes = b.len();
    let tree = b.finish(false);
    let total = start.elapsed();
    println!(
        "child_by_id: {nodes} nodes, build {:.3}s, finish {:.3}s, total {:.3}s",
        built.as_secs_f64(),
        (total - built).as_secs_f64(),
        total.as_secs_f64()
    );
    let t = Instant::now();
    let small = tree.truncate(2048);
    let fb = render::flamebearer(&small, &Default::default());
    println!(
        "truncate(2048) + flamebearer: {:.3}s ({} rows, {} levels)",
        t.elapsed().as_secs_f64(),
        small.len(),
        fb.flamebearer.levels.len()
    );
    let t = Instant::now();
    let funcs = tree.function_totals();
    println!(
        "function_totals: {:.3}s ({} functions)",
        t.elapsed().as_secs_f64(),
        funcs.len()
    );
    drop(tree);

    // Shape 2: 3M distinct stacks of 20 frames, mixed-radix paths sharing prefixes.
    let radix = [1, 2, 1, 1, 4, 1, 8, 1, 1, 8, 1, 8, 1, 1, 8, 1, 8, 1, 1, 12];
    let vocab = &vocab;
    // `sorted`: the leaf digit changes fastest (consecutive stacks share long prefixes,
    // as GROUP BY or folded output give them); else the root digit does.
    let stack = |j: usize, sorted: bool, frames: &mut Vec<&'static str>| {
        let mut rest = j;
        frames.clear();
        frames.resize(radix.len(), "");
        for k in 0..radix.len() {
            let level = if sorted { radix.len() - 1 - k } else { k };
            let digit = rest % radix[level];
            rest /= radix[level];
            frames[level] = vocab[(level * 2000 + digit * 97 + level) % vocab.len()];
        }
    };
    for sorted in [true, false] {
        shape2(sorted, &stack);
    }
    println!("peak RSS {} MiB", peak_rss_mib());
}

fn shape2(sorted: bool, stack: &impl Fn(usize, bool, &mut Vec<&'static str>)) {
    let mut frames = Vec::new();
    let start = Instant::now();
    let mut b = FlameTreeBuilder::with_capacity(NODES + NODES / 8);
    for j in 0..NODES {
        stack(j, sorted, &mut frames);
        b.add_stack(frames.iter().copied(), 0, 1);
    }
    let built = start.elapsed();
    let nodes = b.len();
    let tree = b.finish(false);
    let total = start.elapsed();
    println!(
        "add_stack ({}): {NODES} stacks x 20 frames, {nodes} nodes, build {:.3}s, finish {:.3}s, total {:.3}s (root total {})",
        if sorted { "sorted" } else { "unsorted" },
        built.as_secs_f64(),
        (total - built).as_secs_f64(),
        total.as_secs_f64(),
        tree.total(0)
    );
}
