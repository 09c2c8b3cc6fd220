#![allow(missing_docs)] // criterion macros generate undocumented items
//! Storage micro benches on seeded synthetic profiles: importing stacks into a head
//! dictionary, and normalizing + writing a block (in-memory object store).
//!
//! `cargo bench -p flamedb-benches --bench storage`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flamedb_benches::synth::SynthApp;
use flamedb_profile::{DecodeLimits, Profile, Remap, Symbols, folded};
use flamedb_storage::head::{AppendOptions, Head};
use flamedb_storage::{BlockMeta, BlockPath, LabelLimits, Labels, PartitionKey, block};
use object_store::memory::InMemory;
use object_store::path::Path;
use std::hint::black_box;

fn profiles(n: usize) -> Vec<Profile> {
    let app = SynthApp::new(42, 3000, 20_000);
    (0..n)
        .map(|i| {
            let text = app.folded(i as u64 + 1, 200);
            folded::decode(text.as_bytes(), &DecodeLimits::default()).expect("decode")
        })
        .collect()
}

fn key() -> PartitionKey {
    PartitionKey {
        tenant: "bench".into(),
        app: "search-api".into(),
        version: "v1".into(),
        dc: "eu".into(),
        date: PartitionKey::date_of(1_764_300_000_000_000_000),
    }
}

fn bench_dictionary(c: &mut Criterion) {
    let ps = profiles(50);
    let samples: usize = ps.iter().map(|p| p.samples.len()).sum();
    let mut g = c.benchmark_group("dictionary");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("import_50_profiles_of_200_stacks", |b| {
        b.iter(|| {
            let mut dict = Symbols::new();
            for p in &ps {
                let mut remap = Remap::for_source(&p.symbols);
                for s in &p.samples {
                    black_box(dict.import_stack(&p.symbols, &mut remap, s.stack));
                }
            }
            dict
        })
    });
    g.finish();
}

fn bench_block_write(c: &mut Criterion) {
    let ps = profiles(200);
    let labels = Labels::new(
        [("app".to_string(), "search-api".to_string())],
        &LabelLimits::default(),
    )
    .expect("labels");
    let mut head = Head::new(key());
    for (i, p) in ps.iter().enumerate() {
        head.append(
            i as u64 + 1,
            &labels,
            p,
            1_764_300_000_000_000_000 + i as i64 * 10_000_000_000,
            &AppendOptions::default(),
        )
        .expect("append");
    }
    let rows = head.rows();
    let (data, _) = head.take();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("block");
    g.throughput(Throughput::Elements(rows as u64));
    g.sample_size(20);
    g.bench_function("normalize_and_write_200_profiles", |b| {
        b.iter(|| {
            let store = InMemory::new();
            let normalized = data.normalize();
            rt.block_on(block::write_block(
                &store,
                &Path::from("r"),
                &BlockPath::new(key()),
                &normalized,
                BlockMeta::empty(),
            ))
            .expect("write")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_dictionary, bench_block_write);
criterion_main!(benches);
