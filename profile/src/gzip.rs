//! Transparent, bounded gzip decompression.

use crate::{DecodeLimits, Error, Result};
use std::borrow::Cow;
use std::io::Read;

/// Whether `data` starts with the gzip magic bytes `1f 8b`.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}

/// `data` itself, or its decompression (all gzip members) when it starts with the gzip
/// magic. Fails with [`Error::DecompressedTooLarge`] past `limits.max_decompressed_bytes`,
/// without allocating more than that.
pub fn maybe_gunzip<'a>(data: &'a [u8], limits: &DecodeLimits) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(data) {
        if data.len() as u64 > limits.max_decompressed_bytes {
            return Err(Error::DecompressedTooLarge {
                limit: limits.max_decompressed_bytes,
            });
        }
        return Ok(Cow::Borrowed(data));
    }
    let mut out = Vec::with_capacity((data.len() * 4).min(limits.max_decompressed_bytes as usize));
    gunzip_into(data, limits, &mut out)?;
    Ok(Cow::Owned(out))
}

/// Most bytes of decompression buffer [`with_gunzipped`] keeps per thread between calls
/// (a larger one is freed after use): 16 MiB.
pub const SCRATCH_KEEP_BYTES: usize = 16 << 20;

thread_local! {
    /// The decompression buffer of [`with_gunzipped`], reused by the calls of one thread.
    static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with `data` itself or its decompression, as [`maybe_gunzip`] gives it, but
/// decompresses into a buffer reused by the calls of this thread: a fresh buffer per
/// profile costs a page fault per 4 KiB (or a zeroed 2 MiB huge page) each time, which
/// measured at about a third of ingest CPU on the bench fleet.
pub fn with_gunzipped<T>(
    data: &[u8],
    limits: &DecodeLimits,
    f: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    if !is_gzip(data) {
        return f(&maybe_gunzip(data, limits)?);
    }
    // Taken out of the cell, so a nested call (none today) would get its own buffer.
    let mut buf = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    buf.clear();
    let result = gunzip_into(data, limits, &mut buf).and_then(|()| f(&buf));
    if buf.capacity() <= SCRATCH_KEEP_BYTES {
        SCRATCH.with(|s| *s.borrow_mut() = buf);
    }
    result
}

/// Appends the decompression of gzip `data` (all members) to `out`, failing with
/// [`Error::DecompressedTooLarge`] past `limits.max_decompressed_bytes` of output. The
/// buffer grows by doubling what was produced, never past the limit (plus the one byte
/// that tells it was passed): `read_to_end` alone doubles capacity, so a bomb refused at a
/// 256 MiB limit held 512 MiB, which concurrent bombs multiplied past the ingest budget.
fn gunzip_into(data: &[u8], limits: &DecodeLimits, out: &mut Vec<u8>) -> Result<()> {
    let limit = limits.max_decompressed_bytes;
    let start = out.len();
    // `bufread`: the input is one slice already, so no 32 KiB `BufReader` copy in between.
    let mut decoder = flate2::bufread::MultiGzDecoder::new(data);
    loop {
        let produced = (out.len() - start) as u64;
        if produced > limit {
            return Err(Error::DecompressedTooLarge { limit });
        }
        let room = usize::try_from(limit + 1 - produced).unwrap_or(usize::MAX);
        if out.capacity() == out.len() {
            out.reserve_exact((produced as usize).max(64 << 10).min(room));
        }
        let step = (out.capacity() - out.len()).min(room);
        // `take(step)`: `read_to_end` fills the capacity there is, and does not grow it.
        let n = (&mut decoder)
            .take(step as u64)
            .read_to_end(out)
            .map_err(Error::Gzip)?;
        if n < step {
            break;
        }
    }
    if (out.len() - start) as u64 > limit {
        return Err(Error::DecompressedTooLarge { limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_input_is_borrowed() {
        let out = maybe_gunzip(b"a;b 1\n", &DecodeLimits::default()).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
    }

    #[test]
    fn gzip_bomb_is_refused_at_the_limit() {
        let bomb = gz(&vec![0u8; 1 << 20]);
        let limits = DecodeLimits {
            max_decompressed_bytes: 1000,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            maybe_gunzip(&bomb, &limits),
            Err(Error::DecompressedTooLarge { limit: 1000 })
        ));
        let ok = maybe_gunzip(&bomb, &DecodeLimits::default()).unwrap();
        assert_eq!(ok.len(), 1 << 20);
    }

    #[test]
    fn reused_buffer_gives_each_input_its_own_bytes() {
        let limits = DecodeLimits::default();
        let long = vec![7u8; 100_000];
        let got = with_gunzipped(&gz(&long), &limits, |b| Ok(b.to_vec())).unwrap();
        assert_eq!(got, long);
        // A shorter input after a longer one: nothing of the first is left over.
        let got = with_gunzipped(&gz(b"a;b 1\n"), &limits, |b| Ok(b.to_vec())).unwrap();
        assert_eq!(got, b"a;b 1\n");
        let got = with_gunzipped(b"plain", &limits, |b| Ok(b.to_vec())).unwrap();
        assert_eq!(got, b"plain");
        let small = DecodeLimits {
            max_decompressed_bytes: 1000,
            ..DecodeLimits::default()
        };
        let refused = with_gunzipped(&gz(&long), &small, |b| Ok(b.len()));
        assert!(matches!(
            refused,
            Err(Error::DecompressedTooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn a_refused_bomb_never_holds_more_than_the_limit() {
        let bomb = gz(&vec![0u8; 16 << 20]);
        let limit = 5_000_000u64;
        let limits = DecodeLimits {
            max_decompressed_bytes: limit,
            ..DecodeLimits::default()
        };
        let mut out = Vec::new();
        let e = gunzip_into(&bomb, &limits, &mut out).unwrap_err();
        assert!(matches!(e, Error::DecompressedTooLarge { .. }), "{e}");
        assert!(out.capacity() as u64 <= limit + 1, "{}", out.capacity());
    }

    #[test]
    fn outputs_at_every_growth_boundary_come_back_whole() {
        for n in [
            0usize, 1, 65_535, 65_536, 65_537, 131_072, 262_145, 1_000_000,
        ] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let limits = DecodeLimits {
                max_decompressed_bytes: n as u64,
                ..DecodeLimits::default()
            };
            assert_eq!(
                &*maybe_gunzip(&gz(&data), &limits).unwrap(),
                &data[..],
                "{n}"
            );
            if n > 0 {
                let under = DecodeLimits {
                    max_decompressed_bytes: n as u64 - 1,
                    ..DecodeLimits::default()
                };
                assert!(maybe_gunzip(&gz(&data), &under).is_err(), "{n}");
            }
        }
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let data = gz(b"hello world hello world");
        assert!(matches!(
            maybe_gunzip(&data[..data.len() - 6], &DecodeLimits::default()),
            Err(Error::Gzip(_))
        ));
    }
}
