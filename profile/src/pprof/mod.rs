//! pprof (`perftools.profiles.Profile`, google/pprof `proto/profile.proto`).

use crate::{DecodeLimits, Profile, Result};

/// Decodes a raw (already decompressed) pprof message.
pub fn decode(data: &[u8], limits: &DecodeLimits) -> Result<Profile> {
    let _ = (data, limits);
    Err(crate::Error::UnknownFormat(
        "pprof decoding is being written".into(),
    ))
}
