//! A walk over the protobuf framing of a request, before prost decodes it.
//!
//! prost turns every `Sample` message into a struct of about 80 bytes, so a request of
//! empty samples (2 bytes each) would take 40 times its size in memory before the
//! decoder could look at `DecodeLimits::max_samples`. This walk counts the samples of each
//! profile from the framing alone (no allocation) and refuses a profile over the limit
//! first; the same for the entries of each dictionary table (an empty `Location` is 2
//! bytes on the wire and about 100 in memory) against `DecodeLimits::max_table_entries`.
//! Anything malformed ends the walk quietly: prost then reports it.

use crate::{DecodeLimits, Result};

/// The dictionary's tables (fields of `ProfilesDictionary`), as named in errors.
const TABLES: [(u64, &str); 7] = [
    (1, "mapping table entries"),
    (2, "location table entries"),
    (3, "function table entries"),
    (4, "link table entries"),
    (5, "string table entries"),
    (6, "attribute table entries"),
    (7, "stack table entries"),
];

/// Fails with [`Error::Limit`](crate::Error::Limit) when a table of the binary request's
/// dictionary has more entries than `limits.max_table_entries`.
pub(super) fn check_tables(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    // request.dictionary (2) -> each table
    each(data, 2, &mut |dict| {
        for (field, what) in TABLES {
            let mut n = 0usize;
            each(dict, field, &mut |_| {
                n += 1;
                Ok(())
            })?;
            DecodeLimits::check(what, n, limits.max_table_entries)?;
        }
        Ok(())
    })
}

/// Fails with [`Error::Limit`](crate::Error::Limit) when a profile of the binary request
/// `data` has more samples than `limits.max_samples`.
pub(super) fn check_samples(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    // request.resource_profiles (1) -> scope_profiles (2) -> profiles (2) -> samples (2)
    each(data, 1, &mut |rp| {
        each(rp, 2, &mut |sp| {
            each(sp, 2, &mut |profile| {
                let mut n = 0usize;
                each(profile, 2, &mut |_| {
                    n += 1;
                    Ok(())
                })?;
                DecodeLimits::check("samples", n, limits.max_samples)
            })
        })
    })
}

/// Calls `f` with the body of every length-delimited field `field` of `msg`.
fn each(msg: &[u8], field: u64, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut pos = 0;
    while pos < msg.len() {
        let Some(key) = varint(msg, &mut pos) else {
            return Ok(());
        };
        let skip = match key & 7 {
            0 => varint(msg, &mut pos).map(|_| 0),
            1 => Some(8),
            2 => varint(msg, &mut pos).and_then(|len| usize::try_from(len).ok()),
            5 => Some(4),
            _ => None,
        };
        let Some(len) = skip else {
            return Ok(());
        };
        let Some(body) = pos.checked_add(len).and_then(|end| msg.get(pos..end)) else {
            return Ok(());
        };
        if key & 7 == 2 && key >> 3 == field {
            f(body)?;
        }
        pos += len;
    }
    Ok(())
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}
