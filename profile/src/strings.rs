//! Interned strings: every name in a profile is stored once and referred to by [`StrId`].

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Index of a string in a [`StringTable`]. `StrId::EMPTY` (0) is always the empty string,
/// as in pprof's string table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct StrId(pub u32);

impl StrId {
    /// The empty string, present in every table.
    pub const EMPTY: StrId = StrId(0);

    /// Position in the table.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Whether this is the empty string.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A deduplicating string table.
///
/// All strings live in one byte buffer; interning a string that is already present
/// allocates nothing. Ids are dense, in order of first insertion, starting with `""` at 0.
#[derive(Clone)]
pub struct StringTable {
    bytes: String,
    /// `ends[i]` is the end offset of string `i` in `bytes` (its start is `ends[i - 1]`, or 0).
    ends: Vec<u32>,
    index: HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl Default for StringTable {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for StringTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|(_, s)| s)).finish()
    }
}

impl StringTable {
    /// A table holding only the empty string.
    pub fn new() -> Self {
        let mut table = StringTable {
            bytes: String::new(),
            ends: Vec::new(),
            index: HashTable::new(),
            hasher: Default::default(),
        };
        table.intern("");
        table
    }

    /// Number of distinct strings, the empty string included.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Always false: the empty string is always present.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Total bytes of string data.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The string with this id; the empty string for an id that is out of range.
    pub fn get(&self, id: StrId) -> &str {
        self.try_get(id).unwrap_or("")
    }

    /// The string with this id, or `None` when the id is out of range.
    pub fn try_get(&self, id: StrId) -> Option<&str> {
        (id.index() < self.ends.len()).then(|| slice(&self.bytes, &self.ends, id.0))
    }

    /// The id of `s`, if it was interned. Linear in the table size for a table built by
    /// [`StringTable::from_parts`] until its first [`StringTable::intern`].
    pub fn lookup(&self, s: &str) -> Option<StrId> {
        if self.index.len() != self.ends.len() {
            return self.iter().find(|(_, t)| *t == s).map(|(id, _)| id);
        }
        let hash = self.hasher.hash_one(s);
        self.index
            .find(hash, |&id| self.get(StrId(id)) == s)
            .map(|&id| StrId(id))
    }

    /// A table from its raw parts: all strings concatenated and the end offset of each
    /// (the first string must be empty). The hash index is built on the first `intern`, so
    /// a table that is only read costs no hashing. `None` when the parts are inconsistent.
    pub fn from_parts(bytes: String, ends: Vec<u32>) -> Option<Self> {
        let mut prev = 0u32;
        for &end in &ends {
            if end < prev || end as usize > bytes.len() || !bytes.is_char_boundary(end as usize) {
                return None;
            }
            prev = end;
        }
        if ends.first() != Some(&0) || prev as usize != bytes.len() {
            return None;
        }
        Some(StringTable {
            bytes,
            ends,
            index: HashTable::new(),
            hasher: Default::default(),
        })
    }

    /// The raw parts: all strings concatenated, and the end offset of each.
    pub fn parts(&self) -> (&str, &[u32]) {
        (&self.bytes, &self.ends)
    }

    fn ensure_index(&mut self) {
        if self.index.len() == self.ends.len() {
            return;
        }
        let Self {
            bytes,
            ends,
            index,
            hasher,
        } = self;
        index.clear();
        for id in 0..ends.len() as u32 {
            let hash = hasher.hash_one(slice(bytes, ends, id));
            index.insert_unique(hash, id, |&id| hasher.hash_one(slice(bytes, ends, id)));
        }
    }

    /// Reserves room for `strings` more strings of `bytes` bytes in all.
    pub fn reserve(&mut self, strings: usize, bytes: usize) {
        self.ensure_index();
        let Self {
            bytes: buf,
            ends,
            index,
            hasher,
        } = self;
        buf.reserve(bytes);
        ends.reserve(strings);
        index.reserve(strings, |&id| hasher.hash_one(slice(buf, ends, id)));
    }

    /// Interns `s`, returning its id; a string seen before gets its earlier id.
    pub fn intern(&mut self, s: &str) -> StrId {
        self.ensure_index();
        let hash = self.hasher.hash_one(s);
        let Self {
            bytes,
            ends,
            index,
            hasher,
        } = self;
        if let Some(&id) = index.find(hash, |&id| slice(bytes, ends, id) == s) {
            return StrId(id);
        }
        let id = ends.len() as u32;
        bytes.push_str(s);
        ends.push(bytes.len() as u32);
        index.insert_unique(hash, id, |&id| hasher.hash_one(slice(bytes, ends, id)));
        StrId(id)
    }

    /// Interns bytes that should be UTF-8, replacing invalid sequences with U+FFFD.
    pub fn intern_lossy(&mut self, b: &[u8]) -> StrId {
        match std::str::from_utf8(b) {
            Ok(s) => self.intern(s),
            Err(_) => self.intern(&String::from_utf8_lossy(b)),
        }
    }

    /// All strings with their ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (StrId, &str)> + '_ {
        (0..self.ends.len()).map(|i| (StrId(i as u32), self.get(StrId(i as u32))))
    }
}

/// String `id` of a table's buffer; `id` must be in range.
fn slice<'a>(bytes: &'a str, ends: &[u32], id: u32) -> &'a str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &bytes[start..ends[i] as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_dense() {
        let mut t = StringTable::new();
        let a = t.intern("main");
        let b = t.intern("runtime.mallocgc");
        assert_eq!(t.intern("main"), a);
        assert_eq!(t.intern(""), StrId::EMPTY);
        assert_eq!((a.0, b.0), (1, 2));
        assert_eq!(t.get(b), "runtime.mallocgc");
        assert_eq!(t.len(), 3);
        assert_eq!(t.lookup("main"), Some(a));
        assert_eq!(t.lookup("absent"), None);
        assert_eq!(t.get(StrId(99)), "");
    }

    #[test]
    fn from_parts_checks_and_indexes_lazily() {
        let mut t = StringTable::from_parts("mainwork".into(), vec![0, 4, 8]).unwrap();
        assert_eq!(t.get(StrId(2)), "work");
        assert_eq!(t.lookup("main"), Some(StrId(1)));
        assert_eq!(t.intern("work"), StrId(2));
        assert_eq!(t.intern("new"), StrId(3));
        assert!(StringTable::from_parts("ab".into(), vec![0, 3]).is_none());
        assert!(StringTable::from_parts("ab".into(), vec![1, 2]).is_none());
        assert!(StringTable::from_parts("é".into(), vec![0, 1, 2]).is_none());
    }

    #[test]
    fn invalid_utf8_is_kept_lossily() {
        let mut t = StringTable::new();
        let id = t.intern_lossy(b"ab\xffc");
        assert_eq!(t.get(id), "ab\u{fffd}c");
    }
}
