//! [`ByteCache`]: a concurrent map bounded by the bytes of its values. It backs the caches
//! of immutable block files (dictionaries, profile rows, series labels): an entry can
//! always be reloaded from object storage, so a process that never saw a block answers the
//! same, only slower.
//!
//! The map is `quick_cache`'s weighted sync cache. Why that crate: it weighs entries in
//! `u64` (a dictionary can be hundreds of MiB), evicts synchronously inside `insert` (so
//! the bound holds as soon as `insert` returns, which the tests below can assert without
//! waiting for background upkeep), serves reads under a shared lock, and needs no crate
//! that is not already in the workspace. Its eviction is CLOCK-Pro-like rather than strict
//! LRU: an entry read since it came in is kept over one that was not, and a one-off scan
//! of many blocks does not flush the dictionaries every query reads. `moka`, the other
//! candidate, weighs in `u32`, applies evictions in deferred upkeep (the bytes held pass
//! the bound until it runs) and brings crates the workspace does not otherwise use.
//!
//! One shard, not the default of four per core: `quick_cache` splits the capacity evenly
//! over its shards and never keeps a value heavier than (about 97% of) one shard, so more
//! shards would stop large dictionaries from being cached at all. A value too heavy to
//! keep is simply not cached (and evicts nothing); its caller still has it and the next
//! use loads it again. Unlike the hand-written LRU this replaces, [`ByteCache::values_where`]
//! answers in no particular order: its one user, stack key resolution, finds the same
//! frames in whichever dictionary holds a key (keys are content hashes).

use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};
use std::hash::Hash;

/// A value that knows its size in memory.
pub trait Weighed {
    /// Bytes held (an estimate; it only has to be proportional).
    fn bytes(&self) -> usize;
}

impl<T: Weighed> Weighed for std::sync::Arc<T> {
    fn bytes(&self) -> usize {
        self.as_ref().bytes()
    }
}

/// Weighs an entry by [`Weighed::bytes`] of its value, at least 1 (`quick_cache` never
/// evicts an entry of weight 0).
#[derive(Debug, Clone, Copy)]
struct ByBytes;

impl<K, V: Weighed> Weighter<K, V> for ByBytes {
    fn weight(&self, _key: &K, value: &V) -> u64 {
        u64::try_from(value.bytes()).unwrap_or(u64::MAX).max(1)
    }
}

/// A map holding at most `capacity` bytes of values; entries not read lately are evicted
/// first. A value heavier than (about 97% of) the capacity is not kept.
#[derive(Debug)]
pub struct ByteCache<K, V> {
    inner: Cache<K, V, ByBytes>,
}

impl<K: Hash + Eq + Clone, V: Weighed + Clone> ByteCache<K, V> {
    /// An empty cache of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        let capacity = u64::try_from(capacity).unwrap_or(u64::MAX);
        // Only sizes the memory of recently evicted keys (re-admitted as frequently used);
        // the bound is by weight. One entry per 64 KiB, a guess within the "one or two
        // orders of magnitude" quick_cache asks for.
        let items = usize::try_from(capacity / (64 << 10))
            .unwrap_or(usize::MAX)
            .clamp(64, 1 << 16);
        let options = OptionsBuilder::new()
            .shards(1)
            .estimated_items_capacity(items)
            .weight_capacity(capacity)
            .build()
            // `build` fails only when the capacity or the item estimate is unset; both are
            // set on the line above.
            .expect("cache options complete");
        ByteCache {
            inner: Cache::with_options(options, ByBytes, Default::default(), Default::default()),
        }
    }

    /// The value of `key`, marked as used.
    pub fn get(&self, key: &K) -> Option<V> {
        self.inner.get(key)
    }

    /// Inserts a value, evicting entries not read lately until it fits; a value heavier
    /// than the capacity is dropped instead (and an older value of `key` with it).
    pub fn insert(&self, key: K, value: V) {
        self.inner.insert(key, value);
    }

    /// The values whose key passes `keep`, in no particular order (reading them does not
    /// mark them used).
    pub fn values_where(&self, keep: impl Fn(&K) -> bool) -> Vec<V> {
        self.inner
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(_, v)| v)
            .collect()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        usize::try_from(self.inner.weight()).unwrap_or(usize::MAX)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Blob(usize);
    impl Weighed for Blob {
        fn bytes(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn evicts_unused_over_capacity() {
        let c = ByteCache::new(10);
        c.insert("a", Blob(4));
        c.insert("b", Blob(4));
        assert_eq!(c.get(&"a"), Some(Blob(4))); // a has been read since it came in, b not
        c.insert("c", Blob(4)); // 12 > 10: b goes
        assert_eq!(c.get(&"b"), None);
        assert_eq!((c.get(&"a"), c.get(&"c")), (Some(Blob(4)), Some(Blob(4))));
        assert_eq!(c.bytes(), 8);
        // Replacing a value counts only the new size.
        c.insert("a", Blob(1));
        assert_eq!(c.bytes(), 5);
        // A value larger than the capacity is not kept and evicts nothing.
        c.insert("big", Blob(50));
        assert_eq!((c.len(), c.get(&"big")), (2, None));
        assert_eq!(c.values_where(|k| *k == "big"), vec![]);
        assert_eq!((c.get(&"a"), c.get(&"c")), (Some(Blob(1)), Some(Blob(4))));
        assert_eq!(c.bytes(), 5);
    }

    #[test]
    fn values_where_filters_by_key() {
        let c = ByteCache::new(100);
        for (k, w) in [("t1/a", 1), ("t2/b", 2), ("t1/c", 3)] {
            c.insert(k, Blob(w));
        }
        let mut t1 = c.values_where(|k| k.starts_with("t1/"));
        t1.sort_by_key(|b| b.0);
        assert_eq!(t1, vec![Blob(1), Blob(3)]);
        assert!(!c.is_empty());
    }

    #[test]
    fn concurrent_use_keeps_the_bound() {
        let c = ByteCache::new(1000);
        std::thread::scope(|s| {
            for t in 0..4usize {
                let c = &c;
                s.spawn(move || {
                    for i in 0..500usize {
                        let k = (t * 7 + i) % 97;
                        if c.get(&k).is_none() {
                            c.insert(k, Blob(1 + (k % 50)));
                        }
                    }
                });
            }
        });
        assert!(c.bytes() <= 1000, "{} bytes", c.bytes());
        let held: usize = c.values_where(|_| true).iter().map(|b| b.0).sum();
        assert_eq!(held, c.bytes());
    }

    proptest! {
        /// Whatever the sequence of inserts and reads: the bytes held never pass the
        /// capacity and are the sum of the values held, and a value that fits in the room
        /// left is there after its insert, with nothing evicted.
        #[test]
        fn bound_holds_and_values_that_fit_are_kept(
            ops in prop::collection::vec((0u8..20, 1usize..80, any::<bool>()), 1..200),
        ) {
            let c = ByteCache::new(200);
            for (k, w, read) in ops {
                if read {
                    c.get(&k);
                    continue;
                }
                let (bytes, len) = (c.bytes(), c.len());
                c.insert(k, Blob(w));
                if bytes + w <= 200 {
                    prop_assert_eq!(c.get(&k), Some(Blob(w)));
                    prop_assert!(c.len() >= len);
                }
                prop_assert!(c.bytes() <= 200);
                let held: usize = c.values_where(|_| true).iter().map(|b| b.0).sum();
                prop_assert_eq!(held, c.bytes());
            }
            // Heavier than the whole cache: not kept, nothing else lost.
            let before = c.len();
            c.insert(99, Blob(201));
            prop_assert_eq!((c.get(&99), c.len()), (None, before));
        }
    }
}
