//! `perf script` decoding must never panic.
#![no_main]

use flamedb_profile::{DecodeLimits, perf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = perf::PerfOptions {
        limits: DecodeLimits::default(),
        event: None,
    };
    let _ = perf::decode(data, &options);
});
