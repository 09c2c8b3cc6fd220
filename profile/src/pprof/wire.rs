//! The top level of a pprof `Profile` message, split by hand into its fields.
//!
//! Only the framing of the outermost message is read here (keys, varints, length
//! prefixes); every sub-message is still decoded by prost (see `decode.rs` for why this
//! split exists and what it saves). Anything unusual — a malformed key or length, a group
//! wire type, a length past the end — makes [`split`] give up, and the caller lets prost
//! decode the whole message, so prost alone decides what is valid and words every error.

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

/// Splits a `Profile` message into its fields; `None` when its framing is not plain
/// (see the module docs).
pub(super) fn split(data: &[u8]) -> Option<Parts<'_>> {
    let mut parts = Parts::default();
    let mut pos = 0;
    while pos < data.len() {
        let start = pos;
        let key = varint(data, &mut pos)?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return None;
        }
        match key & 7 {
            0 => {
                varint(data, &mut pos)?;
            }
            1 => pos = advance(data, pos, 8)?,
            5 => pos = advance(data, pos, 4)?,
            2 => {
                let len = varint(data, &mut pos)?;
                let end = advance(data, pos, usize::try_from(len).ok()?)?;
                let value = &data[pos..end];
                pos = end;
                let list = match tag {
                    2 => &mut parts.samples,
                    3 => &mut parts.mappings,
                    4 => &mut parts.locations,
                    5 => &mut parts.functions,
                    6 => &mut parts.strings,
                    _ => {
                        parts.rest.extend_from_slice(&data[start..end]);
                        continue;
                    }
                };
                list.push(value);
                continue;
            }
            _ => return None,
        }
        parts.rest.extend_from_slice(&data[start..pos]);
    }
    Some(parts)
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
    fn split_sorts_fields_and_gives_up_on_groups_and_overruns() {
        // string_table "a", sample {}, time_nanos 5, unknown field 99 (fixed32).
        let msg = [0x32, 1, b'a', 0x12, 0, 0x48, 5, 0x9d, 0x06, 1, 2, 3, 4];
        let parts = split(&msg).unwrap();
        assert_eq!(parts.strings, vec![b"a".as_slice()]);
        assert_eq!(parts.samples, vec![b"".as_slice()]);
        assert_eq!(parts.rest, vec![0x48, 5, 0x9d, 0x06, 1, 2, 3, 4]);
        assert!(split(&[0x32, 5, b'a']).is_none(), "length past the end");
        assert!(split(&[0x0b, 0x0c]).is_none(), "group");
        assert!(split(&[0x00]).is_none(), "tag 0");
    }
}
