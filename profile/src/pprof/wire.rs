//! The top level of a pprof `Profile` message, split by hand into its fields.
//!
//! Only the framing of the outermost message is read here (keys, varints, length
//! prefixes); every sub-message is still decoded by prost (see `decode.rs` for why this
//! split exists and what it saves). Anything malformed — a bad key or length, a length
//! past the end — makes [`split`] give up, and the caller lets prost decode the whole
//! message, so prost alone decides what is valid and words every error (prost stops at
//! the same place, and what comes before it was counted against the limits here). A group
//! wire type is an error here: prost would skip it and decode what follows unbounded.

use crate::{DecodeLimits, Error, Result};

/// The fields of a `Profile` message: the repeated messages and strings as slices of the
/// input, in file order, and every other field copied (key and value bytes) into `rest`,
/// which is itself a valid `Profile` message holding only the metadata.
#[derive(Debug, Default)]
pub(super) struct Parts<'a> {
    /// `sample` (field 2) messages.
    pub samples: Vec<&'a [u8]>,
    /// `mapping` (field 3) messages.
    pub mappings: Vec<&'a [u8]>,
    /// `location` (field 4) messages.
    pub locations: Vec<&'a [u8]>,
    /// `function` (field 5) messages.
    pub functions: Vec<&'a [u8]>,
    /// `string_table` (field 6) entries.
    pub strings: Vec<&'a [u8]>,
    /// All other fields, in file order, as encoded.
    pub rest: Vec<u8>,
}

/// Splits a `Profile` message into its fields; `Ok(None)` when its framing is not plain
/// (see the module docs). Each list is bounded while it is built: more samples than
/// `limits.max_samples`, or more mappings, locations, functions or strings than
/// `limits.max_table_entries`, is an [`Error::Limit`](crate::Error::Limit). A protobuf
/// group (which pprof never uses) is an error too rather than a fallback: prost would
/// decode everything after it unbounded.
pub(super) fn split<'a>(data: &'a [u8], limits: &DecodeLimits) -> Result<Option<Parts<'a>>> {
    let mut parts = Parts::default();
    let mut pos = 0;
    while pos < data.len() {
        let start = pos;
        let Some(key) = varint(data, &mut pos) else {
            return Ok(None);
        };
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Ok(None);
        }
        let next = match key & 7 {
            0 => varint(data, &mut pos).map(|_| pos),
            1 => advance(data, pos, 8),
            5 => advance(data, pos, 4),
            2 => {
                let Some(len) = varint(data, &mut pos) else {
                    return Ok(None);
                };
                let Some(end) = usize::try_from(len)
                    .ok()
                    .and_then(|len| advance(data, pos, len))
                else {
                    return Ok(None);
                };
                let value = &data[pos..end];
                pos = end;
                let (list, what, limit) = match tag {
                    2 => (&mut parts.samples, "samples", limits.max_samples),
                    3 => (&mut parts.mappings, "mappings", limits.max_table_entries),
                    4 => (&mut parts.locations, "locations", limits.max_table_entries),
                    5 => (&mut parts.functions, "functions", limits.max_table_entries),
                    6 => (&mut parts.strings, "strings", limits.max_table_entries),
                    _ => {
                        parts.rest.extend_from_slice(&data[start..end]);
                        continue;
                    }
                };
                list.push(value);
                DecodeLimits::check(what, list.len(), limit)?;
                continue;
            }
            3 | 4 => {
                return Err(Error::Pprof {
                    message: format!("field {tag} is a protobuf group, which pprof does not use"),
                });
            }
            _ => None,
        };
        let Some(next) = next else {
            return Ok(None);
        };
        pos = next;
        parts.rest.extend_from_slice(&data[start..pos]);
    }
    Ok(Some(parts))
}

/// `pos + n` when that is within `data`.
fn advance(data: &[u8], pos: usize, n: usize) -> Option<usize> {
    let end = pos.checked_add(n)?;
    (end <= data.len()).then_some(end)
}

/// Reads a base-128 varint at `*pos` and moves past it; `None` when it is truncated or
/// longer than a `u64` (as prost rejects it).
#[inline]
pub(super) fn varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..10 {
        let byte = *data.get(*pos)?;
        *pos += 1;
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_decode_and_reject_overlong_or_truncated() {
        let mut pos = 0;
        assert_eq!(varint(&[0xac, 0x02], &mut pos), Some(300));
        assert_eq!(pos, 2);
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&max, &mut 0), Some(u64::MAX));
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(varint(&over, &mut 0), None);
        assert_eq!(varint(&[0x80], &mut 0), None);
    }

    #[test]
    fn split_sorts_fields_and_gives_up_on_overruns() {
        let limits = DecodeLimits::default();
        // string_table "a", sample {}, time_nanos 5, unknown field 99 (fixed32).
        let msg = [0x32, 1, b'a', 0x12, 0, 0x48, 5, 0x9d, 0x06, 1, 2, 3, 4];
        let parts = split(&msg, &limits).unwrap().unwrap();
        assert_eq!(parts.strings, vec![b"a".as_slice()]);
        assert_eq!(parts.samples, vec![b"".as_slice()]);
        assert_eq!(parts.rest, vec![0x48, 5, 0x9d, 0x06, 1, 2, 3, 4]);
        let none = |m: &[u8]| split(m, &limits).unwrap().is_none();
        assert!(none(&[0x32, 5, b'a']), "length past the end");
        assert!(none(&[0x00]), "tag 0");
    }

    #[test]
    fn split_refuses_groups_and_tables_over_the_limit() {
        let limits = DecodeLimits {
            max_table_entries: 3,
            max_samples: 2,
            ..DecodeLimits::default()
        };
        let err = split(&[0x0b, 0x0c], &limits).unwrap_err().to_string();
        assert!(err.contains("group"), "{err}");
        // Three empty locations (field 4) pass, four do not; the same for functions (5),
        // mappings (3) and strings (6); three samples (field 2) are over 2.
        for (field, what) in [
            (4u8, "locations"),
            (5, "functions"),
            (3, "mappings"),
            (6, "strings"),
        ] {
            let entry = [field << 3 | 2, 0];
            assert!(split(&entry.repeat(3), &limits).is_ok());
            let err = split(&entry.repeat(4), &limits).unwrap_err().to_string();
            assert!(err.contains(what) && err.contains('3'), "{err}");
        }
        let err = split(&[0x12, 0].repeat(3), &limits)
            .unwrap_err()
            .to_string();
        assert!(err.contains("samples"), "{err}");
    }
}
