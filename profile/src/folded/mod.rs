//! Folded (collapsed) stacks, Brendan Gregg's and async-profiler's.

use crate::{DecodeLimits, Profile, Result};

/// Decodes folded text (UTF-8, or UTF-16 with a byte-order mark).
pub fn decode(data: &[u8], limits: &DecodeLimits) -> Result<Profile> {
    let _ = (data, limits);
    Err(crate::Error::UnknownFormat(
        "folded decoding is being written".into(),
    ))
}
