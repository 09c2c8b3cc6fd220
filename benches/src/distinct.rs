//! Seeded distinct stacks for flame tree benchmarks: up to 3,145,728 stacks of 20 frames,
//! all different, sharing prefixes as a real call tree does.
//!
//! Stack `j` is the number `j` written in a mixed radix ([`RADIX`], the root's digit most
//! significant): the digit at depth `d` picks one of `RADIX[d]` children of the node its
//! prefix names. A frame's name is drawn (by a seeded hash of the prefix) from `functions`
//! Go-style names, siblings taking consecutive names, so siblings never share a name and
//! every `j` is a distinct path. Stacks `0..n` in order share long prefixes (the leaf digit
//! changes fastest), as GROUP BY output and sorted blocks give them.

use flamedb_profile::testing::Rng;

/// Children per node at each depth, root first: 3,145,728 leaves in all.
pub const RADIX: [usize; 20] = [1, 2, 1, 1, 4, 1, 8, 1, 1, 8, 1, 8, 1, 1, 8, 1, 8, 1, 1, 12];

/// Number of distinct stacks [`DistinctStacks`] can give.
pub const MAX_STACKS: usize = {
    let mut n = 1;
    let mut i = 0;
    while i < RADIX.len() {
        n *= RADIX[i];
        i += 1;
    }
    n
};

/// Function names and the seed of the name hash; see the module documentation.
#[derive(Debug, Clone)]
pub struct DistinctStacks {
    /// Function names.
    pub names: Vec<String>,
    seed: u64,
}

impl DistinctStacks {
    /// `functions` names (at least 12, the largest radix) from `seed`.
    pub fn new(seed: u64, functions: usize) -> Self {
        let functions = functions.max(12);
        let mut rng = Rng::new(seed);
        let pkgs = ["index", "query", "http", "runtime", "sync", "net", "codec"];
        let names = (0..functions)
            .map(|i| {
                let pkg = pkgs[rng.below(pkgs.len())];
                format!(
                    "github.com/acme/fleet/internal/{pkg}.(*Type{}).Method{i}",
                    i % 89
                )
            })
            .collect();
        DistinctStacks { names, seed }
    }

    /// Name indexes of stack `j` (`j < MAX_STACKS`), root first, into `out`.
    pub fn frames(&self, j: usize, out: &mut Vec<usize>) {
        out.clear();
        let mut below = MAX_STACKS;
        let mut prefix = 0u64;
        for (depth, &radix) in RADIX.iter().enumerate() {
            below /= radix;
            let digit = (j / below) % radix;
            let base =
                Rng::new(self.seed ^ prefix.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ depth as u64)
                    .next_u64() as usize;
            out.push((base + digit) % self.names.len());
            prefix = prefix * radix as u64 + digit as u64;
        }
    }

    /// Frame names of stack `j`, root first, into `out`.
    pub fn frame_names<'a>(&'a self, j: usize, scratch: &mut Vec<usize>, out: &mut Vec<&'a str>) {
        self.frames(j, scratch);
        out.clear();
        out.extend(scratch.iter().map(|&i| self.names[i].as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn radix_product_is_over_three_million() {
        // Counted independently: 2 * 4 * 8^5 * 12.
        assert_eq!(MAX_STACKS, 2 * 4 * 8 * 8 * 8 * 8 * 8 * 12);
    }

    #[test]
    fn stacks_are_distinct_and_share_prefixes() {
        let s = DistinctStacks::new(7, 1000);
        let mut f = Vec::new();
        let mut seen = HashSet::new();
        // The last 20,000 stacks of the range plus the first 20,000.
        for j in (0..20_000).chain(MAX_STACKS - 20_000..MAX_STACKS) {
            s.frames(j, &mut f);
            assert_eq!(f.len(), 20);
            assert!(seen.insert(f.clone()), "stack {j} repeats");
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        s.frames(0, &mut a);
        s.frames(1, &mut b);
        assert_eq!(a[..19], b[..19], "neighbours differ in the leaf only");
        assert_ne!(a[19], b[19]);
    }
}
