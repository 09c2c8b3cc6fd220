//! Folded decoding must never panic.
#![no_main]

use flamedb_profile::{DecodeLimits, folded};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = folded::decode(data, &DecodeLimits::default());
});
