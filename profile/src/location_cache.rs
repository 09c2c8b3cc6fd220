//! Known locations found before the import: a map from a location's content to its id in
//! one target dictionary, shared by the threads that decode profiles and the one that
//! imports them.
//!
//! ```text
//!  decoding threads                          import thread (serial)
//!  profile ─► LocationCache::lookup ─► hints ─► Remap preset with the known ids
//!             (read lock, one probe              import_stack_cached: only unknown
//!              per location)                      locations intern their strings,
//!                                                 functions, mapping, lines
//!                                            ─► LocationHints::record (write lock,
//!                                               the new locations only)
//! ```
//!
//! Each profile of a series re-sends the symbols of its stacks; importing a location into
//! a head interns its mapping, functions and their strings and the location itself (about
//! five dependent hash probes on the serial import thread). A location's *content* (its
//! mapping, address, kind, fold flag and lines, with every string resolved) determines
//! the target id that import would give, because the target is built only by interning.
//! So the decoding threads encode each location's content as bytes and look them up here;
//! a hit is an exact byte comparison of the whole content (never the hash alone), so the
//! preset id is the one [`Symbols::import_location`] would return. A cache belongs to one
//! target: [`LocationHints::preset`] applies hints only to the cache they were looked up in.

use crate::symbols::Remap;
use crate::{Location, Symbols};
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};

/// Content of the target's locations to their ids (see the module docs). Use one cache
/// per target [`Symbols`] built only by interning (a head), and drop it with the target.
#[derive(Debug)]
pub struct LocationCache {
    table: RwLock<HashTable<Entry>>,
    state: hashbrown::DefaultHashBuilder,
    /// A hash function replacing `state` (tests forge collisions with it).
    forged: Option<fn(&[u8]) -> u64>,
}

#[derive(Debug)]
struct Entry {
    hash: u64,
    key: Box<[u8]>,
    id: u32,
}

impl Default for LocationCache {
    fn default() -> Self {
        LocationCache {
            table: RwLock::new(HashTable::new()),
            state: hashbrown::DefaultHashBuilder::default(),
            forged: None,
        }
    }
}

/// What [`LocationCache::lookup`] found for the locations of one source.
#[derive(Debug)]
pub struct LocationHints {
    cache: Arc<LocationCache>,
    /// Target id of each source location, `u32::MAX` when not known.
    ids: Vec<u32>,
    /// Source locations not found: (source index, hash, end of its key in `keys`).
    misses: Vec<(u32, u64, usize)>,
    keys: Vec<u8>,
}

impl LocationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty cache hashing keys with `hash` (tests forge collisions with it).
    #[cfg(test)]
    fn with_hash(hash: fn(&[u8]) -> u64) -> Self {
        LocationCache {
            forged: Some(hash),
            ..LocationCache::default()
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        match self.forged {
            Some(f) => f(key),
            None => self.state.hash_one(key),
        }
    }

    /// Number of locations known.
    pub fn len(&self) -> usize {
        self.table.read().map_or(0, |t| t.len())
    }

    /// Whether no location is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held, roughly (for flush-by-size policies).
    pub fn approx_bytes(&self) -> usize {
        self.table.read().map_or(0, |t| {
            t.capacity() * (std::mem::size_of::<Entry>() + 1)
                + t.iter().map(|e| e.key.len()).sum::<usize>()
        })
    }

    /// Looks up every location of `src` (on a decoding thread): the target ids of those
    /// known, and the encoded content of the others for [`LocationHints::record`].
    pub fn lookup(self: &Arc<Self>, src: &Symbols) -> LocationHints {
        let mut hints = LocationHints {
            cache: Arc::clone(self),
            ids: vec![u32::MAX; src.locations.len()],
            misses: Vec::new(),
            keys: Vec::new(),
        };
        // A poisoned lock only means no hints: the import path does not need them.
        let Ok(table) = self.table.read() else {
            return hints;
        };
        for (i, loc) in src.locations.iter().enumerate() {
            let start = hints.keys.len();
            if !encode(src, loc, &mut hints.keys) {
                hints.keys.truncate(start);
                continue;
            }
            let key = &hints.keys[start..];
            let hash = self.hash(key);
            match table.find(hash, |e| e.hash == hash && *e.key == *key) {
                Some(e) => {
                    hints.ids[i] = e.id;
                    hints.keys.truncate(start);
                }
                None => hints.misses.push((i as u32, hash, hints.keys.len())),
            }
        }
        hints
    }
}

impl LocationHints {
    /// Presets the known locations in `remap` (made for the same source) if these hints
    /// were looked up in `cache`, the target's cache; returns whether they were.
    pub fn preset(&self, cache: &Arc<LocationCache>, remap: &mut Remap) -> bool {
        if !Arc::ptr_eq(&self.cache, cache) || remap.locations.len() != self.ids.len() {
            return false;
        }
        for (slot, &id) in remap.locations.iter_mut().zip(&self.ids) {
            if id != u32::MAX {
                *slot = id;
            }
        }
        true
    }

    /// Records in the cache the target ids `remap` gave the locations not found (after
    /// importing the source with a remap on which [`LocationHints::preset`] returned true).
    pub fn record(&self, remap: &Remap) {
        if self.misses.is_empty() {
            return;
        }
        let Ok(mut table) = self.cache.table.write() else {
            return;
        };
        let mut start = 0;
        for &(i, hash, end) in &self.misses {
            let key = &self.keys[start..end];
            start = end;
            let Some(&id) = remap
                .locations
                .get(i as usize)
                .filter(|&&id| id != u32::MAX)
            else {
                continue;
            };
            if table
                .find(hash, |e| e.hash == hash && *e.key == *key)
                .is_none()
            {
                let entry = Entry {
                    hash,
                    key: key.into(),
                    id,
                };
                table.insert_unique(hash, entry, |e| e.hash);
            }
        }
    }

    /// Number of source locations found in the cache.
    pub fn known(&self) -> usize {
        self.ids.iter().filter(|&&id| id != u32::MAX).count()
    }
}

/// Appends the content of `loc` of `src` to `out`, every variable-length part prefixed by
/// its length, so equal bytes mean equal content. False when it refers to a missing
/// mapping or function (such a location is never hinted).
fn encode(src: &Symbols, loc: &Location, out: &mut Vec<u8>) -> bool {
    let put_str = |out: &mut Vec<u8>, id| {
        let s = src.strings.get(id).as_bytes();
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    };
    out.push(loc.kind as u8);
    out.push(u8::from(loc.is_folded));
    out.extend_from_slice(&loc.address.to_le_bytes());
    match loc.mapping {
        None => out.push(0),
        Some(m) => {
            let Some(m) = src.mappings.get(m.index()) else {
                return false;
            };
            out.push(1);
            for v in [m.memory_start, m.memory_limit, m.file_offset] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.push(
                u8::from(m.has_functions)
                    | u8::from(m.has_filenames) << 1
                    | u8::from(m.has_line_numbers) << 2
                    | u8::from(m.has_inline_frames) << 3,
            );
            put_str(out, m.filename);
            put_str(out, m.build_id);
        }
    }
    let Some(lines) = src
        .lines
        .get(loc.lines.start as usize..loc.lines.end as usize)
    else {
        return false;
    };
    out.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    for l in lines {
        out.extend_from_slice(&l.line.to_le_bytes());
        out.extend_from_slice(&l.column.to_le_bytes());
        match l.function {
            None => out.push(0),
            Some(f) => {
                let Some(f) = src.functions.get(f.index()) else {
                    return false;
                };
                out.push(1);
                out.extend_from_slice(&f.start_line.to_le_bytes());
                put_str(out, f.name);
                put_str(out, f.system_name);
                put_str(out, f.filename);
            }
        }
    }
    true
}

#[cfg(test)]
mod tests;
