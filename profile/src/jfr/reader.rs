//! Reading the primitive encodings of a JFR chunk: LEB128-style compressed integers or
//! fixed big-endian ones (per the chunk's feature flags), and the six string encodings.

use crate::{Error, Result};

/// A string value as stored: not yet copied out of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JStr<'a> {
    /// Encoding 0: `null`.
    Null,
    /// Encoding 2: an index into the chunk's `java.lang.String` constant pool.
    Pool(u64),
    /// Encoding 3 (UTF-8) or 1 (empty): the bytes.
    Utf8(&'a [u8]),
    /// Encoding 4: UTF-16 code units, each a compressed integer; `count` units from `at`.
    Chars {
        /// Number of code units.
        count: usize,
        /// Offset of the first unit in the input.
        at: usize,
    },
    /// Encoding 5: Latin-1 bytes.
    Latin1(&'a [u8]),
}

/// A cursor over the bytes of a recording.
#[derive(Clone)]
pub(super) struct Reader<'a> {
    data: &'a [u8],
    /// Current offset in `data`.
    pub(super) pos: usize,
    /// End of the readable region (a chunk's or an event's end).
    pub(super) end: usize,
    /// Chunk feature flag 1: integers are compressed (varints); else fixed big-endian.
    pub(super) compressed: bool,
}

impl<'a> Reader<'a> {
    /// A reader of `data[pos..end]`.
    pub(super) fn new(data: &'a [u8], pos: usize, end: usize, compressed: bool) -> Self {
        Reader {
            data,
            pos,
            end: end.min(data.len()),
            compressed,
        }
    }

    /// An error at the current offset.
    pub(super) fn err(&self, message: impl Into<String>) -> Error {
        Error::Jfr {
            offset: self.pos as u64,
            message: message.into(),
        }
    }

    fn eof(&self) -> Error {
        self.err("unexpected end of data")
    }

    /// Bytes left before `end`.
    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    #[inline]
    pub(super) fn u8(&mut self) -> Result<u8> {
        if self.pos >= self.end {
            return Err(self.eof());
        }
        let b = self.data[self.pos];
        self.pos += 1;
        Ok(b)
    }

    /// `n` bytes.
    #[inline]
    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.eof());
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    #[inline]
    pub(super) fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(|_| ())
    }

    fn fixed(&mut self, n: usize) -> Result<u64> {
        let b = self.bytes(n)?;
        Ok(b.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
    }

    /// A compressed integer: 7 bits per byte, low bits first, high bit set on all but the
    /// last byte; the ninth byte, if reached, gives its full 8 bits.
    #[inline]
    pub(super) fn varint(&mut self) -> Result<u64> {
        // Fast path: nine bytes are left, so no byte needs its own bounds check.
        if self.pos + 9 <= self.end {
            let bytes = &self.data[self.pos..self.pos + 9];
            let mut v = 0u64;
            for (i, &b) in bytes[..8].iter().enumerate() {
                v |= u64::from(b & 0x7f) << (7 * i);
                if b < 0x80 {
                    self.pos += i + 1;
                    return Ok(v);
                }
            }
            self.pos += 9;
            return Ok(v | (u64::from(bytes[8]) << 56));
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..8 {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Ok(v | (u64::from(self.u8()?) << 56))
    }

    /// A `long` (or a constant pool reference): varint or 8 bytes.
    #[inline]
    pub(super) fn long(&mut self) -> Result<u64> {
        if self.compressed {
            self.varint()
        } else {
            self.fixed(8)
        }
    }

    /// An `int` (or a count or length): varint or 4 bytes. The value is kept as 64 bits;
    /// a varint wider than 32 bits is not cut.
    #[inline]
    pub(super) fn int(&mut self) -> Result<u64> {
        if self.compressed {
            self.varint()
        } else {
            self.fixed(4)
        }
    }

    /// A `short` or `char`: varint or 2 bytes.
    pub(super) fn short(&mut self) -> Result<u64> {
        if self.compressed {
            self.varint()
        } else {
            self.fixed(2)
        }
    }

    /// Reads past `n` compressed integers without decoding them.
    pub(super) fn skip_varints(&mut self, mut n: usize) -> Result<()> {
        let data = &self.data[..self.end];
        let (mut pos, mut run) = (self.pos, 0);
        while n > 0 {
            let Some(&b) = data.get(pos) else {
                self.pos = pos;
                return Err(self.eof());
            };
            pos += 1;
            // The ninth byte of a varint ends it whatever its high bit.
            if b < 0x80 || run == 8 {
                n -= 1;
                run = 0;
            } else {
                run += 1;
            }
        }
        self.pos = pos;
        Ok(())
    }

    /// A count of items each at least `min_bytes` long (at least 1 is assumed for 0):
    /// fails when the rest of the region cannot hold them, so no allocation or loop sized
    /// by the count can exceed the input.
    pub(super) fn count(&mut self, what: &str) -> Result<usize> {
        let n = self.int()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(self.err(format!(
                "{what} count {n} exceeds the {} bytes left",
                self.remaining()
            ))),
        }
    }

    /// A string in any of the six encodings.
    pub(super) fn string(&mut self) -> Result<JStr<'a>> {
        let tag = self.u8()?;
        match tag {
            0 => Ok(JStr::Null),
            1 => Ok(JStr::Utf8(&[])),
            2 => Ok(JStr::Pool(self.long()?)),
            3 | 5 => {
                let n = self.count("string byte")?;
                let b = self.bytes(n)?;
                Ok(if tag == 3 {
                    JStr::Utf8(b)
                } else {
                    JStr::Latin1(b)
                })
            }
            4 => {
                let count = self.count("string char")?;
                let at = self.pos;
                for _ in 0..count {
                    self.short()?;
                }
                Ok(JStr::Chars { count, at })
            }
            _ => {
                self.pos -= 1;
                Err(self.err(format!("unknown string encoding {tag}")))
            }
        }
    }

    /// The text of an inline string (`Pool` and `Null` give `None`); invalid UTF-8 and
    /// unpaired surrogates become U+FFFD.
    pub(super) fn text(&self, s: JStr<'_>) -> Option<String> {
        match s {
            JStr::Null | JStr::Pool(_) => None,
            JStr::Utf8(b) => Some(String::from_utf8_lossy(b).into_owned()),
            JStr::Latin1(b) => Some(b.iter().map(|&c| char::from(c)).collect()),
            JStr::Chars { count, at } => {
                let mut r = Reader::new(self.data, at, self.data.len(), self.compressed);
                let units = (0..count).map_while(|_| r.short().ok().map(|u| u as u16));
                Some(
                    char::decode_utf16(units)
                        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                        .collect(),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn varints_and_fixed_integers() {
        let data = [
            0x7f, 0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let mut r = Reader::new(&data, 0, data.len(), true);
        assert_eq!(r.varint().unwrap(), 127);
        assert_eq!(r.varint().unwrap(), 128);
        assert_eq!(r.varint().unwrap(), u64::MAX);
        assert!(r.varint().is_err());
        let mut r = Reader::new(&data, 0, data.len(), false);
        assert_eq!(r.int().unwrap(), 0x7f80_01ff);
        assert_eq!(r.short().unwrap(), 0xffff);
    }

    #[test]
    fn strings_in_every_encoding() {
        let data = [
            0, 1, 2, 7, 3, 2, b'h', b'i', 4, 2, 0xe9, 0x01, 0x41, 5, 1, 0xe9, 9,
        ];
        let mut r = Reader::new(&data, 0, data.len(), true);
        assert_eq!(r.string().unwrap(), JStr::Null);
        let s = r.string().unwrap();
        assert_eq!(r.text(s).unwrap(), "");
        assert_eq!(r.string().unwrap(), JStr::Pool(7));
        let mut next = || {
            let s = r.string().unwrap();
            r.text(s).unwrap()
        };
        assert_eq!(next(), "hi");
        assert_eq!(next(), "éA");
        assert_eq!(next(), "é");
        let e = r.string().unwrap_err().to_string();
        assert!(e.contains("unknown string encoding 9"), "{e}");
        // A length past the end is refused before anything is read.
        let data = [3, 0xff, 0xff, 0x03, b'a'];
        let e = Reader::new(&data, 0, 5, true).string().unwrap_err();
        assert!(e.to_string().contains("exceeds"), "{e}");
    }
}
