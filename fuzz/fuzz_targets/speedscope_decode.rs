//! speedscope decoding must never panic, and what decodes must encode and decode again
//! with the same totals per sample type.
#![no_main]

use flamedb_profile::{DecodeLimits, Profile, speedscope};
use libfuzzer_sys::fuzz_target;

fn total(p: &Profile) -> i128 {
    p.values.iter().map(|&v| i128::from(v)).sum()
}

fuzz_target!(|data: &[u8]| {
    let limits = DecodeLimits {
        max_decompressed_bytes: 16 << 20,
        ..DecodeLimits::default()
    };
    let Ok(profiles) = speedscope::decode(data, &limits) else { return };
    for p in &profiles {
        let json = speedscope::encode_profile(p, "fuzz");
        let again = speedscope::decode(json.as_bytes(), &limits).expect("re-decode own encoding");
        assert_eq!(again.len(), 1);
        // Sums near the i64 range saturate in the encoder: compare only the rest.
        if p.values.iter().all(|v| v.unsigned_abs() < 1 << 40) {
            assert_eq!(total(p), total(&again[0]));
        }
    }
});
