//! `perf script` text.

use crate::{DecodeLimits, Profile, Result};

/// Options for [`decode`].
#[derive(Debug, Clone, Default)]
pub struct PerfOptions {
    /// Bounds on the input.
    pub limits: DecodeLimits,
    /// Event type to keep; `None` keeps the first one seen.
    pub event: Option<String>,
}

/// Decodes `perf script` output.
pub fn decode(data: &[u8], options: &PerfOptions) -> Result<Profile> {
    let _ = (data, options);
    Err(crate::Error::UnknownFormat(
        "perf script decoding is being written".into(),
    ))
}
