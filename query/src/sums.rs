//! Sums per stack key for flame graphs, cheap at any number of distinct stacks.
//!
//! A hash map is the right tool while the distinct keys fit in the caches (a query of
//! millions of rows over thousands of stacks). Past [`StackSums::MAP_MAX`] keys every
//! insert misses the caches, so the sums switch to appending `(key, sums)` pairs and
//! compacting them now and then by sorting: a radix partition on the key's top bits
//! (keys are content hashes, so buckets are even) and a small sort per bucket, both
//! sequential in memory. The answer is always sorted by key, which is also the order in
//! which dictionaries resolve keys fastest (see `dicts::Resolved`).

use hashbrown::HashMap;

/// Per-key `[left, right]` sums.
#[derive(Debug, Default)]
pub struct StackSums {
    map: HashMap<u64, [i64; 2]>,
    /// Pairs appended once the map grew past `MAP_MAX` (the map's entries moved here).
    spill: Vec<(u64, [i64; 2])>,
    /// `spill`'s length at which it is compacted next.
    next_compaction: usize,
    spilled: bool,
}

impl StackSums {
    /// Distinct keys kept in the hash map before switching to sorted runs.
    pub const MAP_MAX: usize = 1 << 19;

    /// Empty sums.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `v` to key `key`'s sums.
    #[inline]
    pub fn add(&mut self, key: u64, v: [i64; 2]) {
        if !self.spilled {
            let e = self.map.entry(key).or_insert([0, 0]);
            e[0] = e[0].saturating_add(v[0]);
            e[1] = e[1].saturating_add(v[1]);
            if self.map.len() > Self::MAP_MAX {
                self.spilled = true;
                self.spill = self.map.drain().collect();
                self.map = HashMap::new();
                // A first compaction soon after spilling sorted a million unique keys
                // for nothing in the 3M-stack flame graph: wait for 8x the map's size.
                self.next_compaction = 8 * Self::MAP_MAX;
            }
            return;
        }
        self.spill.push((key, v));
        if self.spill.len() >= self.next_compaction {
            let before = self.spill.len();
            sort_and_sum(&mut self.spill);
            // Compacting again soon pays only when keys repeat: when this round removed
            // less than a tenth, wait for four times as many pairs (memory stays within
            // four times the distinct keys).
            let factor = if self.spill.len() * 10 > before * 9 {
                4
            } else {
                2
            };
            self.next_compaction = factor * self.spill.len().max(Self::MAP_MAX);
        }
    }

    /// Adds one side of parallel key and value arrays (nulls skipped).
    pub fn add_side(
        &mut self,
        keys: &arrow::array::UInt64Array,
        values: &arrow::array::Int64Array,
        side: usize,
    ) {
        use arrow::array::Array;
        let mut v = [0i64; 2];
        for i in 0..keys.len() {
            if keys.is_valid(i) && values.is_valid(i) {
                v[side] = values.value(i);
                self.add(keys.value(i), v);
            }
        }
    }

    /// An upper bound of the number of distinct keys.
    pub fn len_hint(&self) -> usize {
        self.map.len() + self.spill.len()
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.map.capacity() * 25 + self.spill.capacity() * 24
    }

    /// Every key with its sums, in no particular order (duplicates possible once spilled;
    /// adding them again sums them).
    pub fn pairs(&self) -> impl Iterator<Item = (u64, [i64; 2])> + '_ {
        self.map
            .iter()
            .map(|(k, v)| (*k, *v))
            .chain(self.spill.iter().copied())
    }

    /// The distinct keys with their sums, sorted by key.
    pub fn into_sorted(self) -> Vec<(u64, [i64; 2])> {
        let mut v = if self.spilled {
            self.spill
        } else {
            self.map.into_iter().collect()
        };
        sort_and_sum(&mut v);
        v
    }
}

/// Sorts `v` by key and sums the pairs of equal keys into one.
pub fn sort_and_sum(v: &mut Vec<(u64, [i64; 2])>) {
    sort_by_key(v, |e| e.0);
    let mut w = 0usize;
    for r in 0..v.len() {
        if w > 0 && v[w - 1].0 == v[r].0 {
            let x = v[r].1;
            v[w - 1].1[0] = v[w - 1].1[0].saturating_add(x[0]);
            v[w - 1].1[1] = v[w - 1].1[1].saturating_add(x[1]);
        } else {
            v[w] = v[r];
            w += 1;
        }
    }
    v.truncate(w);
}

/// Sorts `v` by a 64-bit key: small inputs with the standard sort; large ones partitioned
/// on the key's top bits into buckets of a few dozen elements (one counting pass, one
/// scatter), each then sorted in cache. Uniform keys (hashes) make every bucket small;
/// any key distribution still sorts correctly.
pub fn sort_by_key<T: Copy + Default>(v: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    const SMALL: usize = 1 << 14;
    if v.len() <= SMALL {
        v.sort_unstable_by_key(|e| key(e));
        return;
    }
    // About 32 elements per bucket, between 2^10 and 2^20 buckets.
    let bits = ((v.len() / 32).ilog2()).clamp(10, 20);
    let shift = 64 - bits;
    let bucket = |e: &T| (key(e) >> shift) as usize;
    let mut starts = vec![0usize; (1 << bits) + 1];
    for e in v.iter() {
        starts[bucket(e) + 1] += 1;
    }
    for b in 0..(1 << bits) {
        starts[b + 1] += starts[b];
    }
    let mut next = starts.clone();
    let mut out = vec![T::default(); v.len()];
    for e in v.iter() {
        let b = bucket(e);
        out[next[b]] = *e;
        next[b] += 1;
    }
    for b in 0..(1 << bits) {
        let s = &mut out[starts[b]..starts[b + 1]];
        if s.len() > 1 {
            s.sort_unstable_by_key(|e| key(e));
        }
    }
    *v = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::testing::Rng;

    /// The sums of a reference map, sorted.
    fn reference(pairs: &[(u64, [i64; 2])]) -> Vec<(u64, [i64; 2])> {
        let mut m: std::collections::BTreeMap<u64, [i64; 2]> = Default::default();
        for (k, v) in pairs {
            let e = m.entry(*k).or_insert([0, 0]);
            e[0] += v[0];
            e[1] += v[1];
        }
        m.into_iter().collect()
    }

    #[test]
    fn sums_equal_a_btree_below_and_past_the_map_limit() {
        let mut rng = Rng::new(7);
        // Few distinct keys (the map), and more than MAP_MAX (spilled and compacted), with
        // both random keys and keys sharing their top bits (one radix bucket).
        for (distinct, rows) in [
            (100usize, 10_000usize),
            (StackSums::MAP_MAX * 3, StackSums::MAP_MAX * 12),
        ] {
            for clustered in [false, true] {
                let keys: Vec<u64> = (0..distinct)
                    .map(|i| {
                        if clustered {
                            i as u64 * 3
                        } else {
                            rng.next_u64()
                        }
                    })
                    .collect();
                let pairs: Vec<(u64, [i64; 2])> = (0..rows)
                    .map(|_| {
                        let k = keys[rng.below(distinct)];
                        let side = rng.below(2);
                        let mut v = [0, 0];
                        v[side] = rng.below(1000) as i64 - 100;
                        (k, v)
                    })
                    .collect();
                let mut s = StackSums::new();
                for (k, v) in &pairs {
                    s.add(*k, *v);
                }
                assert!(s.len_hint() >= reference(&pairs).len());
                assert_eq!(s.into_sorted(), reference(&pairs), "{distinct} {clustered}");
            }
        }
    }

    #[test]
    fn sort_by_key_sorts_large_inputs_of_any_distribution() {
        let mut rng = Rng::new(3);
        let mut v: Vec<u64> = (0..100_000).map(|_| rng.next_u64() >> 40).collect();
        let mut expected = v.clone();
        expected.sort_unstable();
        sort_by_key(&mut v, |x| *x);
        assert_eq!(v, expected);
    }
}
