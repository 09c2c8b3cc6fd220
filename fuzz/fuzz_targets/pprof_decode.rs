//! pprof decoding must never panic, and what decodes must encode and decode again.
#![no_main]

use flamedb_profile::{DecodeLimits, Summary, gzip, pprof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 16 << 20,
        ..DecodeLimits::default()
    };
    let Ok(raw) = gzip::maybe_gunzip(data, &limits) else { return };
    if let Ok(p) = pprof::decode(&raw, &limits) {
        let again = pprof::decode(&pprof::encode(&p), &limits).expect("re-decode own encoding");
        assert_eq!(Summary::of(&p), Summary::of(&again));
    }
});
