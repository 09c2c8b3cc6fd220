#![allow(missing_docs)] // criterion macros generate undocumented items
//! Flame trees on seeded distinct stacks (`flamedb_benches::distinct`): building the tree of
//! 3M distinct stacks, merging two trees, building a diff tree, truncating, and each
//! renderer (folded, flamebearer single and diff, Grafana nested-set frame, SVG via inferno,
//! pprof export) on the tree the API draws (truncated to its default 1024 nodes).
//!
//! `cargo bench --workspace --bench flame` (the 3M build alone: `-- build_3m`)

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flamedb_benches::distinct::DistinctStacks;
use flamedb_profile::flame::render::{self, FlamebearerOptions, SvgOptions};
use flamedb_profile::flame::{FlameTree, FlameTreeBuilder};
use flamedb_profile::pprof;
use flamedb_profile::testing::Rng;
use std::hint::black_box;

/// Nodes the API keeps by default before folding the rest into `other`.
const API_MAX_NODES: usize = 1024;

fn stacks() -> DistinctStacks {
    DistinctStacks::new(42, 50_000)
}

/// A tree of the stacks `from..to` with value `1 + j % 7`, on `side`, into `b`.
fn add_range(b: &mut FlameTreeBuilder, s: &DistinctStacks, from: usize, to: usize, side: usize) {
    let (mut scratch, mut names) = (Vec::new(), Vec::new());
    for j in from..to {
        s.frame_names(j, &mut scratch, &mut names);
        b.add_stack(names.iter().copied(), side, 1 + (j % 7) as i64);
    }
}

fn tree(s: &DistinctStacks, from: usize, to: usize) -> FlameTree {
    let mut b = FlameTreeBuilder::new();
    add_range(&mut b, s, from, to, 0);
    b.finish(false)
}

fn bench_build_3m(c: &mut Criterion) {
    let s = stacks();
    let n = 3_000_000;
    // The frames as strings, made once: the bench times the builder, not the generator.
    let mut scratch = Vec::new();
    let all: Vec<[u32; 20]> = (0..n)
        .map(|j| {
            s.frames(j, &mut scratch);
            std::array::from_fn(|d| scratch[d] as u32)
        })
        .collect();
    let mut g = c.benchmark_group("flame_tree");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    let build = |order: &[u32]| {
        let mut t = FlameTreeBuilder::with_capacity(n + n / 8);
        let mut names: Vec<&str> = Vec::with_capacity(20);
        for &j in order {
            names.clear();
            names.extend(
                all[j as usize]
                    .iter()
                    .map(|&i| s.names[i as usize].as_str()),
            );
            t.add_stack(names.iter().copied(), 0, 1 + (j % 7) as i64);
        }
        t.finish(false)
    };
    // In path order (neighbours share prefixes, as a sorted block gives them).
    let sorted: Vec<u32> = (0..n as u32).collect();
    g.bench_function("build_3m_distinct_stacks", |b| b.iter(|| build(&sorted)));
    // In a seeded random order (as a hash map of per-stack sums yields them).
    let mut shuffled = sorted.clone();
    let mut rng = Rng::new(9);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, rng.below(i + 1));
    }
    g.bench_function("build_3m_distinct_stacks_shuffled", |b| {
        b.iter(|| build(&shuffled))
    });
    g.finish();
}

fn bench_merge_diff(c: &mut Criterion) {
    let s = stacks();
    let n = 300_000;
    // Two selections overlapping by half, as two versions of one app.
    let left = tree(&s, 0, n);
    let right = tree(&s, n / 2, n + n / 2);
    let mut g = c.benchmark_group("flame_tree");
    g.throughput(Throughput::Elements((left.len() + right.len()) as u64));
    g.sample_size(10);
    g.bench_function("merge_two_300k_stack_trees", |b| {
        b.iter(|| black_box(&left).merge(black_box(&right)))
    });
    g.throughput(Throughput::Elements(2 * n as u64));
    g.bench_function("diff_build_2x300k_stacks", |b| {
        b.iter(|| {
            let mut t = FlameTreeBuilder::new();
            add_range(&mut t, &s, 0, n, 0);
            add_range(&mut t, &s, n / 2, n + n / 2, 1);
            t.finish(true)
        })
    });
    g.throughput(Throughput::Elements(left.len() as u64));
    g.bench_function("truncate_300k_stack_tree_to_1024", |b| {
        b.iter(|| black_box(&left).truncate(API_MAX_NODES))
    });
    g.finish();
}

fn bench_renderers(c: &mut Criterion) {
    let s = stacks();
    let n = 300_000;
    let single = tree(&s, 0, n).truncate(API_MAX_NODES);
    let mut b = FlameTreeBuilder::new();
    add_range(&mut b, &s, 0, n, 0);
    add_range(&mut b, &s, n / 2, n + n / 2, 1);
    let diff = b.finish(true).truncate(API_MAX_NODES);
    let mut g = c.benchmark_group("render_1024_nodes");
    g.throughput(Throughput::Elements(single.len() as u64));
    g.bench_function("folded", |b| b.iter(|| render::folded(black_box(&single))));
    let opts = FlamebearerOptions::default();
    g.bench_function("flamebearer_single_json", |b| {
        b.iter(|| serde_json::to_vec(&render::flamebearer(black_box(&single), &opts)))
    });
    g.bench_function("flamebearer_diff_json", |b| {
        b.iter(|| serde_json::to_vec(&render::flamebearer(black_box(&diff), &opts)))
    });
    g.bench_function("grafana_frame_json", |b| {
        b.iter(|| serde_json::to_vec(&render::grafana_frame(black_box(&single), "ns")))
    });
    let svg = SvgOptions::default();
    g.bench_function("svg_inferno", |b| {
        b.iter(|| render::svg(black_box(&single), &svg).expect("svg"))
    });
    g.bench_function("svg_inferno_diff", |b| {
        b.iter(|| render::svg(black_box(&diff), &svg).expect("svg"))
    });
    g.bench_function("pprof_gzip", |b| {
        b.iter(|| {
            pprof::encode_gzip(&render::to_profile(
                black_box(&single),
                0,
                "cpu",
                "nanoseconds",
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, bench_build_3m, bench_merge_diff, bench_renderers);
criterion_main!(benches);
