//! Stack containment: the roaring bitmap of the stacks of a block that contain a function.
//!
//! A block's stack tree is in depth-first pre-order, so the stacks that pass through a node
//! (the node's subtree) are one contiguous id range, and "stacks containing F" is the union
//! of the ranges of the nodes whose location has F on one of its lines. Roaring stores such
//! ranges as run containers, so the bitmap is a few bytes per range however many stacks it
//! covers.
//!
//! No reader uses these bitmaps today: the query engine answers `stack_contains` and
//! `stack_matches` from a per-dictionary mask of the matching nodes, one pass with parents
//! before children. [`StackIndex::build`] is what checks the depth-first order when a block
//! or a shared dictionary is written, and tests use the bitmaps to check containment.
//!
//! The bitmaps are computed when asked (one pass over the nodes, skipping matched
//! subtrees) rather than stored: stored per-function bitmaps measured 15 bytes per sample
//! row on the bench fleet (more than the samples and dictionary together), while the pass
//! costs about a millisecond per 100k nodes.

use crate::{Error, Result};
use flamedb_profile::{LocationId, StackId, Symbols};
use roaring::RoaringBitmap;

/// Subtree extents of a depth-first stack tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackIndex {
    /// `end[i]`: one past the last node of node i's subtree.
    end: Vec<u32>,
}

impl StackIndex {
    /// Builds the index of `s`, whose stack tree must be in depth-first pre-order (as
    /// blocks are written, see [`Symbols::compact`]); otherwise [`Error::Invalid`].
    pub fn build(s: &Symbols) -> Result<Self> {
        let nodes = s.stacks.nodes();
        let n = nodes.len();
        let mut size = vec![1u32; n];
        for i in (1..n).rev() {
            let p = nodes[i].parent.index();
            size[p] += size[i];
        }
        let mut end = Vec::with_capacity(n);
        for (i, node) in nodes.iter().enumerate() {
            let p = node.parent.index();
            if i > 0 && !(p < i && i < p + size[p] as usize) {
                return Err(Error::Invalid(
                    "stack tree is not in depth-first order".into(),
                ));
            }
            end.push(i as u32 + size[i]);
        }
        Ok(StackIndex { end })
    }

    /// The stacks with a frame whose function name satisfies `matches` (the function's
    /// name, or its system name when the name is empty).
    pub fn stacks_where(&self, s: &Symbols, matches: impl Fn(&str) -> bool) -> RoaringBitmap {
        let hit_fn: Vec<bool> = s
            .functions
            .iter()
            .map(|f| {
                matches(s.strings.get(if f.name.is_empty() {
                    f.system_name
                } else {
                    f.name
                }))
            })
            .collect();
        let hit_loc: Vec<bool> = (0..s.locations.len())
            .map(|l| {
                s.location_lines(LocationId::from_index(l))
                    .iter()
                    .any(|line| {
                        line.function
                            .is_some_and(|f| hit_fn.get(f.index()) == Some(&true))
                    })
            })
            .collect();
        let nodes = s.stacks.nodes();
        let mut out = RoaringBitmap::new();
        let mut i = 1;
        while i < nodes.len() {
            if hit_loc.get(nodes[i].location.index()) == Some(&true) {
                let end = self.end[i];
                out.insert_range(i as u32..end);
                i = end as usize;
            } else {
                i += 1;
            }
        }
        out
    }

    /// The stacks containing a function named exactly `name`.
    pub fn stacks_with_function(&self, s: &Symbols, name: &str) -> RoaringBitmap {
        self.stacks_where(s, |n| n == name)
    }

    /// Whether `stack` lies in the subtree of `node` (the stack passes through it).
    pub fn descends_from(&self, stack: StackId, node: StackId) -> bool {
        node.0 <= stack.0 && self.end.get(node.index()).is_some_and(|&e| stack.0 < e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::FrameKind;

    #[test]
    fn containment_matches_a_walk_of_every_stack() {
        let mut s = Symbols::new();
        let loc =
            |s: &mut Symbols, n: &str| s.intern_named_location(n, None, 0, FrameKind::Unspecified);
        let (main, a, b, c) = (
            loc(&mut s, "main"),
            loc(&mut s, "a"),
            loc(&mut s, "b"),
            loc(&mut s, "c"),
        );
        let stacks = [
            s.stacks.intern([main, a, b]),
            s.stacks.intern([main, b]),
            s.stacks.intern([main, a, c, a]),
            s.stacks.intern([c]),
        ];
        let (dfs, remap) = s.compact(stacks);
        let index = StackIndex::build(&dfs).unwrap();
        for name in ["main", "a", "b", "c", "absent"] {
            let bm = index.stacks_with_function(&dfs, name);
            for node in 1..dfs.stacks.len() as u32 {
                let walk = dfs.frames(StackId(node)).iter().any(|f| f.name == name);
                assert_eq!(
                    bm.contains(node),
                    walk,
                    "{name} in {:?}",
                    dfs.frames(StackId(node))
                );
            }
        }
        let main_node = remap
            .stack(stacks[0])
            .map(|s| dfs.stacks.node(s).parent)
            .unwrap();
        let main_node = dfs.stacks.node(main_node).parent;
        assert!(index.descends_from(remap.stack(stacks[2]).unwrap(), main_node));
        assert!(!index.descends_from(remap.stack(stacks[3]).unwrap(), main_node));
        // The unordered tree is refused.
        let mut unordered = Symbols::new();
        let x = loc(&mut unordered, "x");
        let y = loc(&mut unordered, "y");
        unordered.stacks.intern([x]);
        unordered.stacks.intern([y]);
        unordered.stacks.intern([x, y]);
        assert!(StackIndex::build(&unordered).is_err());
    }
}
