#![allow(missing_docs)] // criterion macros generate undocumented items
//! Decode throughput: pprof (corpus large.cpu), folded and perf script (seeded synthetic),
//! JFR (corpus goland-multichunk, the largest recording) and OTLP (the corpus request),
//! in samples per second.
//!
//! `cargo bench -p flamedb-benches --bench decode`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flamedb_benches::synth::SynthApp;
use flamedb_profile::{DecodeLimits, folded, gzip, jfr, otlp, perf, pprof};
use std::hint::black_box;
use std::path::PathBuf;

fn corpus_file(rel: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("FLAMEDB_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    std::fs::read(dir.join(rel)).ok()
}

fn bench_pprof(c: &mut Criterion) {
    let Some(gz) = corpus_file("pprof/google-pprof/large.cpu") else {
        eprintln!("corpus not found: skipping the pprof decode bench");
        return;
    };
    let limits = DecodeLimits::default();
    let raw = gzip::maybe_gunzip(&gz, &limits)
        .expect("gunzip")
        .into_owned();
    let samples = pprof::decode(&raw, &limits).expect("decode").samples.len() as u64;
    let mut g = c.benchmark_group("pprof_large_cpu");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("raw", |b| {
        b.iter(|| pprof::decode(black_box(&raw), &limits).expect("decode"))
    });
    g.bench_function("gzip", |b| {
        b.iter(|| {
            let raw = gzip::maybe_gunzip(black_box(&gz), &limits).expect("gunzip");
            pprof::decode(&raw, &limits).expect("decode")
        })
    });
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("raw_bytes", |b| {
        b.iter(|| pprof::decode(black_box(&raw), &limits).expect("decode"))
    });
    g.finish();
}

fn bench_folded(c: &mut Criterion) {
    let app = SynthApp::new(42, 3000, 20_000);
    let text = app.folded(7, 100_000);
    let limits = DecodeLimits::default();
    let mut g = c.benchmark_group("folded");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("decode_100k_lines", |b| {
        b.iter(|| folded::decode(black_box(text.as_bytes()), &limits).expect("decode"))
    });
    g.finish();
}

fn bench_perf(c: &mut Criterion) {
    let app = SynthApp::new(42, 3000, 20_000);
    let text = app.perf_script(7, 20_000);
    let options = perf::PerfOptions::default();
    let mut g = c.benchmark_group("perf_script");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.bench_function("decode_20k_events", |b| {
        b.iter(|| perf::decode(black_box(text.as_bytes()), &options).expect("decode"))
    });
    g.finish();
}

fn bench_jfr(c: &mut Criterion) {
    let Some(gz) = corpus_file("jfr/jfr-parser/goland-multichunk.jfr.gz") else {
        eprintln!("corpus not found: skipping the JFR decode bench");
        return;
    };
    let limits = DecodeLimits::default();
    let raw = gzip::maybe_gunzip(&gz, &limits)
        .expect("gunzip")
        .into_owned();
    let samples: usize = jfr::decode(&raw, None, &limits)
        .expect("decode")
        .iter()
        .map(|p| p.profile.samples.len())
        .sum();
    let mut g = c.benchmark_group("jfr_goland_multichunk");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("raw", |b| {
        b.iter(|| jfr::decode(black_box(&raw), None, &limits).expect("decode"))
    });
    g.finish();
}

fn bench_otlp(c: &mut Criterion) {
    let Some(raw) = corpus_file("otel/pyroscope/otel-ebpf-profile.pb.bin") else {
        eprintln!("corpus not found: skipping the OTLP decode bench");
        return;
    };
    let limits = DecodeLimits::default();
    let samples: usize = otlp::decode_request(&raw, &limits)
        .expect("decode")
        .iter()
        .map(|p| p.profile.samples.len())
        .sum();
    let mut g = c.benchmark_group("otlp_ebpf_request");
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("protobuf", |b| {
        b.iter(|| otlp::decode_request(black_box(&raw), &limits).expect("decode"))
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_pprof,
    bench_folded,
    bench_perf,
    bench_jfr,
    bench_otlp
);
criterion_main!(benches);
