//! [`ByteLru`]: a map bounded by the bytes of its values, least recently used evicted
//! first. It backs the caches of immutable block files (dictionaries, profile rows, series
//! labels): an entry can always be reloaded from object storage, so a process that never
//! saw a block answers the same, only slower.

use hashbrown::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

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

/// A least-recently-used map holding at most `capacity` bytes of values (one entry larger
/// than that is still kept until the next insert).
#[derive(Debug)]
pub struct ByteLru<K, V> {
    capacity: usize,
    inner: Mutex<Inner<K, V>>,
}

#[derive(Debug)]
struct Inner<K, V> {
    entries: HashMap<K, (V, u64)>,
    bytes: usize,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V: Weighed + Clone> ByteLru<K, V> {
    /// An empty cache of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        ByteLru {
            capacity,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                bytes: 0,
                clock: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`, marked as used.
    pub fn get(&self, key: &K) -> Option<V> {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        g.entries.get_mut(key).map(|(v, used)| {
            *used = now;
            v.clone()
        })
    }

    /// Inserts a value, evicting the least recently used ones over capacity.
    pub fn insert(&self, key: K, value: V) {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        g.bytes += value.bytes();
        if let Some((old, _)) = g.entries.insert(key, (value, now)) {
            g.bytes -= old.bytes();
        }
        while g.bytes > self.capacity && g.entries.len() > 1 {
            let Some(victim) = g
                .entries
                .iter()
                .filter(|(_, (_, used))| *used != now)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((v, _)) = g.entries.remove(&victim) {
                g.bytes -= v.bytes();
            }
        }
    }

    /// The values whose key passes `keep`, most recently used first.
    pub fn values_where(&self, keep: impl Fn(&K) -> bool) -> Vec<V> {
        let g = self.lock();
        let mut v: Vec<(u64, V)> = g
            .entries
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(_, (v, used))| (*used, v.clone()))
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.0));
        v.into_iter().map(|(_, v)| v).collect()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct Blob(usize);
    impl Weighed for Blob {
        fn bytes(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn evicts_least_recently_used_over_capacity() {
        let c = ByteLru::new(10);
        c.insert("a", Blob(4));
        c.insert("b", Blob(4));
        assert_eq!(c.get(&"a"), Some(Blob(4))); // a is now more recent than b
        c.insert("c", Blob(4)); // 12 > 10: b goes
        assert_eq!(c.get(&"b"), None);
        assert_eq!((c.get(&"a"), c.get(&"c")), (Some(Blob(4)), Some(Blob(4))));
        assert_eq!(c.bytes(), 8);
        // Replacing a value counts only the new size.
        c.insert("a", Blob(1));
        assert_eq!(c.bytes(), 5);
        // One entry larger than the capacity stays alone.
        c.insert("big", Blob(50));
        assert_eq!((c.len(), c.get(&"big")), (1, Some(Blob(50))));
        assert_eq!(c.values_where(|k| *k == "big"), vec![Blob(50)]);
    }
}
