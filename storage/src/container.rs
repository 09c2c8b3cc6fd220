//! The sectioned binary container of flamedb's own files (today `symbols.bin`).
//!
//! ```text
//! magic (8 bytes) | format version u32 | section count u32 |
//! per section: id u32 | raw length u32 | stored length u32 | crc32c u32 (of stored bytes) |
//!              stored bytes (zstd of the raw bytes)
//! ```
//!
//! All integers are little endian. Readers skip section ids they do not know, so new
//! sections can be added without a version change; a file whose version is newer than the
//! reader's is rejected with [`Error::UnsupportedVersion`]. Integer columns are written with
//! their bytes transposed (all first bytes, then all second bytes, ...), which lets zstd
//! see the runs of zero high bytes that small ids and deltas have.

use crate::{Error, Result};
use std::collections::BTreeMap;

/// Default zstd level for sections: fast to write (a head's flush), and these files are
/// small next to the samples. Shared dictionaries (written in the background by the
/// compactor) use a higher one, see [`ContainerWriter::with_level`].
pub const ZSTD_LEVEL: i32 = 6;

/// Builds a container.
pub struct ContainerWriter {
    magic: [u8; 8],
    version: u32,
    sections: Vec<(u32, Vec<u8>)>,
    level: i32,
}

impl ContainerWriter {
    /// A container with this magic and format version.
    pub fn new(magic: [u8; 8], version: u32) -> Self {
        ContainerWriter {
            magic,
            version,
            sections: Vec::new(),
            level: ZSTD_LEVEL,
        }
    }

    /// Compresses sections at zstd `level` (1 to 22) instead of [`ZSTD_LEVEL`].
    pub fn with_level(mut self, level: i32) -> Self {
        self.level = level;
        self
    }

    /// Adds a section of raw bytes.
    pub fn bytes(&mut self, id: u32, raw: Vec<u8>) {
        self.sections.push((id, raw));
    }

    /// Adds a section of `u32`s (byte-transposed).
    pub fn u32s(&mut self, id: u32, values: impl ExactSizeIterator<Item = u32>) {
        self.bytes(id, transpose::<4>(values.map(u32::to_le_bytes)));
    }

    /// Adds a section of `u64`s (byte-transposed).
    pub fn u64s(&mut self, id: u32, values: impl ExactSizeIterator<Item = u64>) {
        self.bytes(id, transpose::<8>(values.map(u64::to_le_bytes)));
    }

    /// Adds a section of `i64`s, zigzag encoded so small negatives stay small.
    pub fn i64s(&mut self, id: u32, values: impl ExactSizeIterator<Item = i64>) {
        self.u64s(id, values.map(|v| ((v << 1) ^ (v >> 63)) as u64));
    }

    /// The encoded container.
    pub fn finish(self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(self.sections.len() as u32).to_le_bytes());
        for (id, raw) in self.sections {
            let stored = zstd::bulk::compress(&raw, self.level)
                .map_err(|e| Error::Invalid(format!("zstd: {e}")))?;
            let raw_len = u32::try_from(raw.len())
                .map_err(|_| Error::Invalid(format!("section {id} exceeds 4 GiB")))?;
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&raw_len.to_le_bytes());
            out.extend_from_slice(&(stored.len() as u32).to_le_bytes());
            out.extend_from_slice(&crc32c::crc32c(&stored).to_le_bytes());
            out.extend_from_slice(&stored);
        }
        Ok(out)
    }
}

/// A parsed container: sections by id, checksums verified, decompressed on access.
pub struct ContainerReader<'a> {
    path: String,
    /// The file's format version.
    pub version: u32,
    sections: BTreeMap<u32, (u32, &'a [u8])>,
}

impl<'a> ContainerReader<'a> {
    /// Parses `data` (the file at `path`, named in errors). Fails on a wrong magic, a
    /// version newer than `max_version`, truncation or a checksum mismatch.
    pub fn parse(path: &str, data: &'a [u8], magic: [u8; 8], max_version: u32) -> Result<Self> {
        let bad = |m: String| Error::corrupt(path, m);
        if data.len() < 16 || data[..8] != magic {
            return Err(bad("not a flamedb file of this kind (bad magic)".into()));
        }
        let word = |at: usize| -> Result<u32> {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| bad(format!("truncated at byte {at}")))
        };
        let version = word(8)?;
        if version > max_version || version == 0 {
            return Err(Error::UnsupportedVersion {
                path: path.to_string(),
                found: version,
                supported: max_version,
            });
        }
        let count = word(12)?;
        let mut at = 16usize;
        let mut sections = BTreeMap::new();
        for _ in 0..count {
            let (id, raw_len, len, crc) = (word(at)?, word(at + 4)?, word(at + 8)?, word(at + 12)?);
            at += 16;
            let stored = data
                .get(at..at + len as usize)
                .ok_or_else(|| bad(format!("section {id} truncated at byte {at}")))?;
            if crc32c::crc32c(stored) != crc {
                return Err(bad(format!("section {id} checksum mismatch")));
            }
            sections.insert(id, (raw_len, stored));
            at += len as usize;
        }
        if at != data.len() {
            return Err(bad(format!("{} trailing bytes", data.len() - at)));
        }
        Ok(ContainerReader {
            path: path.to_string(),
            version,
            sections,
        })
    }

    /// Whether section `id` is present.
    pub fn has(&self, id: u32) -> bool {
        self.sections.contains_key(&id)
    }

    /// The raw bytes of section `id`; an error when it is missing.
    pub fn bytes(&self, id: u32) -> Result<Vec<u8>> {
        let (raw_len, stored) = self
            .sections
            .get(&id)
            .ok_or_else(|| Error::corrupt(&self.path, format!("section {id} missing")))?;
        let raw = zstd::bulk::decompress(stored, *raw_len as usize)
            .map_err(|e| Error::corrupt(&self.path, format!("section {id}: {e}")))?;
        if raw.len() != *raw_len as usize {
            return Err(Error::corrupt(
                &self.path,
                format!("section {id}: wrong length"),
            ));
        }
        Ok(raw)
    }

    /// Section `id` as `u32`s.
    pub fn u32s(&self, id: u32) -> Result<Vec<u32>> {
        Ok(untranspose::<4>(&self.checked::<4>(id)?)
            .map(u32::from_le_bytes)
            .collect())
    }

    /// Section `id` as `u64`s.
    pub fn u64s(&self, id: u32) -> Result<Vec<u64>> {
        Ok(untranspose::<8>(&self.checked::<8>(id)?)
            .map(u64::from_le_bytes)
            .collect())
    }

    /// Section `id` as zigzag-decoded `i64`s.
    pub fn i64s(&self, id: u32) -> Result<Vec<i64>> {
        Ok(self
            .u64s(id)?
            .into_iter()
            .map(|v| ((v >> 1) as i64) ^ -((v & 1) as i64))
            .collect())
    }

    fn checked<const W: usize>(&self, id: u32) -> Result<Vec<u8>> {
        let raw = self.bytes(id)?;
        if raw.len() % W != 0 {
            return Err(Error::corrupt(
                &self.path,
                format!(
                    "section {id}: length {} is not a multiple of {W}",
                    raw.len()
                ),
            ));
        }
        Ok(raw)
    }

    /// An error naming this file.
    pub fn corrupt(&self, message: impl ToString) -> Error {
        Error::corrupt(&self.path, message)
    }
}

/// Byte planes: byte 0 of every value, then byte 1 of every value, ...
fn transpose<const W: usize>(values: impl ExactSizeIterator<Item = [u8; W]>) -> Vec<u8> {
    let n = values.len();
    let mut out = vec![0u8; n * W];
    for (i, bytes) in values.enumerate() {
        for (plane, b) in bytes.into_iter().enumerate() {
            out[plane * n + i] = b;
        }
    }
    out
}

/// Reverses [`transpose`]; `raw.len()` must be a multiple of `W`.
fn untranspose<const W: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; W]> + '_ {
    let n = raw.len() / W;
    (0..n).map(move |i| std::array::from_fn(|plane| raw[plane * n + i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"FLMDTEST";

    fn sample() -> Vec<u8> {
        let mut w = ContainerWriter::new(MAGIC, 1);
        w.u32s(1, [0u32, 7, u32::MAX].into_iter());
        w.i64s(2, [-1i64, 0, i64::MIN, i64::MAX].into_iter());
        w.bytes(9, b"hello".to_vec());
        w.finish().unwrap()
    }

    #[test]
    fn sections_round_trip_and_unknown_ids_are_skipped() {
        let data = sample();
        let r = ContainerReader::parse("f", &data, MAGIC, 1).unwrap();
        assert_eq!(r.u32s(1).unwrap(), vec![0, 7, u32::MAX]);
        assert_eq!(r.i64s(2).unwrap(), vec![-1, 0, i64::MIN, i64::MAX]);
        assert_eq!(r.bytes(9).unwrap(), b"hello");
        assert!(
            r.bytes(3)
                .unwrap_err()
                .to_string()
                .contains("section 3 missing")
        );
    }

    #[test]
    fn damage_is_detected() {
        let data = sample();
        for cut in [0, 10, 20, data.len() - 1] {
            assert!(
                ContainerReader::parse("f", &data[..cut], MAGIC, 1).is_err(),
                "cut {cut}"
            );
        }
        let mut flipped = data.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 0x40;
        let err = ContainerReader::parse("blk/symbols.bin", &flipped, MAGIC, 1)
            .err()
            .unwrap();
        assert!(err.to_string().contains("blk/symbols.bin"), "{err}");
        let newer = ContainerReader::parse("f", &data, MAGIC, 0);
        assert!(matches!(
            newer,
            Err(Error::UnsupportedVersion { found: 1, .. })
        ));
        assert!(ContainerReader::parse("f", &data, *b"OTHERMAG", 1).is_err());
    }
}
