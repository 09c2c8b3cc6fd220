//! Ids of imported blocks: [`Hash128`] over the input's content and the import's shape, and
//! [`block_id`], a content hash (not a UUIDv7 like the blocks of flushes and compaction),
//! so running the same import again finds the blocks it already wrote.

use crate::PartitionKey;

/// 128 bits of hash over byte strings: xxh3-64 with two seeds.
pub(super) struct Hash128(twox_hash::XxHash3_64, twox_hash::XxHash3_64);

impl Hash128 {
    pub(super) fn new() -> Self {
        Hash128(
            twox_hash::XxHash3_64::with_seed(0x666c_616d_6564_6231),
            twox_hash::XxHash3_64::with_seed(0x666c_616d_6564_6232),
        )
    }

    pub(super) fn write(&mut self, b: &[u8]) {
        use std::hash::Hasher;
        self.0.write(b);
        self.1.write(b);
    }

    pub(super) fn finish(&self) -> u128 {
        use std::hash::Hasher;
        (u128::from(self.0.finish()) << 64) | u128::from(self.1.finish())
    }
}

impl Default for Hash128 {
    fn default() -> Self {
        Hash128::new()
    }
}

impl std::fmt::Debug for Hash128 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.finish())
    }
}

/// A block's id: a hash of the file's content, the partition and the chunk number.
pub(super) fn block_id(content: u128, key: &PartitionKey, chunk: u32) -> String {
    let mut h = Hash128::new();
    h.write(&content.to_le_bytes());
    for s in [&key.tenant, &key.app, &key.version, &key.dc] {
        h.write(&(s.len() as u64).to_le_bytes());
        h.write(s.as_bytes());
    }
    h.write(key.date.to_string().as_bytes());
    h.write(&chunk.to_le_bytes());
    format!("{:032x}", h.finish())
}
