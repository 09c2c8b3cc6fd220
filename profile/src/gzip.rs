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
    let limit = limits.max_decompressed_bytes;
    let mut out = Vec::with_capacity((data.len() * 4).min(limit as usize));
    // `bufread`: the input is one slice already, so no 32 KiB `BufReader` copy in between.
    let decoder = flate2::bufread::MultiGzDecoder::new(data);
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(Error::Gzip)?;
    if out.len() as u64 > limit {
        return Err(Error::DecompressedTooLarge { limit });
    }
    Ok(Cow::Owned(out))
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
    fn truncated_gzip_is_an_error() {
        let data = gz(b"hello world hello world");
        assert!(matches!(
            maybe_gunzip(&data[..data.len() - 6], &DecodeLimits::default()),
            Err(Error::Gzip(_))
        ));
    }
}
