//! JFR decoding must never panic, and what decodes must encode as pprof and decode again.
#![no_main]

use flamedb_profile::{DecodeLimits, Summary, jfr, pprof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 16 << 20,
        ..DecodeLimits::default()
    };
    // The first byte splits a labels snapshot off the end, so both inputs are fuzzed.
    let (labels, data) = match data.split_first() {
        Some((&n, rest)) if n & 1 == 1 && usize::from(n) <= rest.len() => {
            let (jfr, labels) = rest.split_at(rest.len() - usize::from(n));
            (Some(labels), jfr)
        }
        _ => (None, data),
    };
    let opts = jfr::JfrOptions {
        limits,
        labels,
        sample_rate: None,
        truncated_frame: data.len() % 2 == 0,
    };
    if let Ok(rec) = jfr::decode_with(data, &opts) {
        for p in &rec.profiles {
            let p = &p.profile;
            assert_eq!(p.values.len(), p.samples.len() * p.sample_types.len());
            let again = pprof::decode(&pprof::encode(p), &limits).expect("re-decode own encoding");
            assert_eq!(Summary::of(p), Summary::of(&again));
        }
    }
});
