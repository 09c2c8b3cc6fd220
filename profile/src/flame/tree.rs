//! [`FlameTree`]: the finished tree in depth-first pre-order, and what is read from it.

use super::{FlameNodeRef, FlameTreeBuilder, FunctionTotal};
use crate::{StrId, StringTable};

/// A finished flame tree: nodes in depth-first pre-order, children ordered by name.
///
/// Per node: its level (0 for the root), its name and, per side, its self and total
/// value. A single tree has one side, a diff tree two (left/baseline and right). Per node
/// it costs 8 bytes plus 16 bytes per side; names are interned once.
#[derive(Debug, Clone)]
pub struct FlameTree {
    pub(super) names: StringTable,
    pub(super) level: Vec<u32>,
    pub(super) name: Vec<StrId>,
    /// `sides` values per node, node after node.
    pub(super) self_: Vec<i64>,
    /// `sides` values per node, node after node.
    pub(super) total: Vec<i64>,
    /// 1 for a single tree, 2 for a diff tree.
    pub(super) sides: usize,
}

impl FlameTree {
    pub(super) fn with_capacity(names: StringTable, sides: usize, nodes: usize) -> Self {
        FlameTree {
            names,
            level: Vec::with_capacity(nodes),
            name: Vec::with_capacity(nodes),
            self_: Vec::with_capacity(nodes * sides),
            total: Vec::with_capacity(nodes * sides),
            sides,
        }
    }

    /// Whether this is a diff tree (two sides).
    pub fn is_diff(&self) -> bool {
        self.sides == 2
    }

    /// Number of nodes, the root included (so at least 1).
    pub fn len(&self) -> usize {
        self.level.len()
    }

    /// Always false: the root is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The root's total on `side`: the sum of all values of that side (0 for side 1 of a
    /// single tree).
    pub fn total(&self, side: usize) -> i64 {
        self.total_at(0, side)
    }

    /// Node `i` of the pre-order.
    ///
    /// # Panics
    /// When `i >= self.len()`.
    pub fn node(&self, i: usize) -> FlameNodeRef<'_> {
        FlameNodeRef {
            index: i,
            level: self.level[i],
            name: self.names.get(self.name[i]),
            self_: [self.self_at(i, 0), self.self_at(i, 1)],
            total: [self.total_at(i, 0), self.total_at(i, 1)],
        }
    }

    /// All nodes in depth-first pre-order, the root first.
    pub fn nodes(&self) -> impl Iterator<Item = FlameNodeRef<'_>> {
        (0..self.len()).map(|i| self.node(i))
    }

    /// Self value of node `i` on `side` (0 for a side the tree does not have).
    pub fn self_at(&self, i: usize, side: usize) -> i64 {
        if side < self.sides {
            self.self_[i * self.sides + side]
        } else {
            0
        }
    }

    /// Total value of node `i` on `side` (0 for a side the tree does not have).
    pub fn total_at(&self, i: usize, side: usize) -> i64 {
        if side < self.sides {
            self.total[i * self.sides + side]
        } else {
            0
        }
    }

    /// Level of node `i` (0 for the root).
    pub fn level(&self, i: usize) -> u32 {
        self.level[i]
    }

    /// Name of node `i` (`total` for the root).
    pub fn name(&self, i: usize) -> &str {
        self.names.get(self.name[i])
    }

    /// Per node, the pre-order index just past its subtree; children of `i` are `i + 1`,
    /// then `ends[i + 1]`, ... while below `ends[i]`.
    pub(super) fn subtree_ends(&self) -> Vec<u32> {
        let n = self.len();
        let mut ends = vec![n as u32; n];
        let mut open: Vec<u32> = Vec::new();
        for i in 0..n {
            let level = self.level[i] as usize;
            while open.len() > level {
                let j = open.pop().unwrap_or_default();
                ends[j as usize] = i as u32;
            }
            open.push(i as u32);
        }
        ends
    }

    /// Per function name: self is the sum of the self values of its nodes, total the sum
    /// of the totals of its nodes that have no ancestor of the same name (a recursive
    /// function counts once per stack). Both per side. Sorted by total descending (the
    /// larger side for a diff tree), then by name. The root is not a function.
    pub fn function_totals(&self) -> Vec<FunctionTotal> {
        let mut slot: Vec<u32> = vec![u32::MAX; self.names.len()];
        let mut on_path: Vec<u32> = vec![0; self.names.len()];
        let mut path: Vec<StrId> = Vec::new();
        let mut out: Vec<FunctionTotal> = Vec::new();
        for i in 1..self.len() {
            let level = self.level[i] as usize;
            while path.len() >= level {
                let Some(up) = path.pop() else { break };
                on_path[up.index()] -= 1;
            }
            let name = self.name[i];
            let k = name.index();
            if slot[k] == u32::MAX {
                slot[k] = out.len() as u32;
                out.push(FunctionTotal {
                    name: self.names.get(name).to_string(),
                    self_: [0; 2],
                    total: [0; 2],
                });
            }
            let entry = &mut out[slot[k] as usize];
            for side in 0..self.sides {
                entry.self_[side] = entry.self_[side].saturating_add(self.self_at(i, side));
                if on_path[k] == 0 {
                    entry.total[side] = entry.total[side].saturating_add(self.total_at(i, side));
                }
            }
            on_path[k] += 1;
            path.push(name);
        }
        out.sort_by(|a, b| {
            let key = |f: &FunctionTotal| f.total[0].max(f.total[1]);
            key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
        });
        out
    }

    /// The tree holding both trees' nodes, matched by path, values summed. The result is
    /// a diff tree when either input is one.
    pub fn merge(&self, other: &FlameTree) -> FlameTree {
        let mut b = FlameTreeBuilder::with_capacity(self.len().max(other.len()));
        b.add_tree(self);
        b.add_tree(other);
        b.finish(self.is_diff() || other.is_diff())
    }
}
