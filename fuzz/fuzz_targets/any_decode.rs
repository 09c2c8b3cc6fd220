//! Format detection plus decoding of any format must never panic.
#![no_main]

use flamedb_profile::{DecodeLimits, DecodeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = DecodeOptions {
        limits: DecodeLimits {
            max_decompressed_bytes: 16 << 20,
            ..DecodeLimits::default()
        },
        perf_event: None,
    };
    let _ = flamedb_profile::decode(data, None, &options);
});
