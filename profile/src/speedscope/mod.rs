//! The speedscope file format (<https://www.speedscope.app/file-format-schema.json>;
//! jlfwong/speedscope `src/lib/file-format-spec.ts`).
//!
//! ```text
//!   JSON ─► parse (serde, limits checked while reading) ─► decode ─► Vec<Profile>, one per speedscope profile
//!   FlameTree / Profile ─► encode / encode_profile ─► JSON (sampled profiles)
//! ```
//!
//! Decoding, per entry of `profiles`:
//! - `unit` gives the sample type: `nanoseconds`, `microseconds`, `milliseconds`,
//!   `seconds` give `cpu/nanoseconds` with values scaled to nanoseconds (rounded), `bytes`
//!   gives `alloc_space/bytes`, `none` gives `samples/count`; any other unit is an error.
//! - `sampled`: one sample per stack of `samples` (frame indexes, root first), its weight
//!   from `weights` (as many as samples, else an error).
//! - `evented`: the open (`O`) and close (`C`) events are replayed in order; the time
//!   between two consecutive events counts for the stack open during it (nothing when no
//!   frame is open), one sample per distinct stack. An event earlier than the one before
//!   it, a close that does not match the innermost open frame, and a frame left open at
//!   the end are errors naming the event (`profiles[0].events[6]`).
//! - A frame is a function `name` in `file` (when given) at `line`/`col`; the profile's
//!   `name` is its first comment; `endValue - startValue` of a time unit is its duration.
//!
//! Limits: the input size; samples per profile (and events, at most twice that) and the
//! stack depth are checked while the JSON is read, before anything per sample is kept.

mod decode;
mod encode;
mod parse;

use crate::{DecodeLimits, Error, Profile, Result};
pub use encode::{encode, encode_profile};
use serde::de::DeserializeSeed;

/// Whether `data` looks like a speedscope file: a JSON object with a `$schema` whose
/// value mentions `speedscope`.
pub fn looks_like(data: &[u8]) -> bool {
    let text = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return false;
    }
    memchr::memmem::find_iter(text, b"\"$schema\"").any(|at| {
        let rest = &text[at + 9..];
        let end = rest.len().min(200);
        memchr::memmem::find(&rest[..end], b"speedscope").is_some()
    })
}

/// Decodes a speedscope file into one profile per speedscope profile, in file order.
/// See the module docs for the mapping and the errors.
pub fn decode(data: &[u8], limits: &DecodeLimits) -> Result<Vec<Profile>> {
    if data.len() as u64 > limits.max_decompressed_bytes {
        return Err(Error::DecompressedTooLarge {
            limit: limits.max_decompressed_bytes,
        });
    }
    let hit = parse::LimitHit::new(None);
    let seed = parse::FileSeed { limits, hit: &hit };
    let mut de = serde_json::Deserializer::from_slice(data);
    let file = seed
        .deserialize(&mut de)
        .and_then(|file| de.end().map(|()| file))
        .map_err(|e| match hit.get() {
            Some((what, limit)) => Error::Limit {
                what,
                limit: limit as u64,
            },
            None => Error::Speedscope {
                message: format!("JSON: {e}"),
            },
        })?;
    decode::profiles(&file, limits)
}

#[cfg(test)]
mod tests;
