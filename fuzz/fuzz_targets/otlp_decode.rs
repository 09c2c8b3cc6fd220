//! OTLP decoding (protobuf and JSON) must never panic, and every profile it gives must be
//! consistent: it encodes to pprof and decodes again to the same summary.
#![no_main]

use flamedb_profile::{DecodeLimits, Summary, otlp, pprof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 16 << 20,
        ..DecodeLimits::default()
    };
    for decoded in [
        otlp::decode_request(data, &limits),
        otlp::decode_request_json(data, &limits),
    ] {
        let Ok(profiles) = decoded else { continue };
        for p in &profiles {
            let p = &p.profile;
            let again = pprof::decode(&pprof::encode(p), &limits).expect("re-decode as pprof");
            assert_eq!(Summary::of(p), Summary::of(&again));
        }
    }
});
