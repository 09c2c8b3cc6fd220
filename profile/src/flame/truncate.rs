//! [`FlameTree::truncate`]: keep the heaviest nodes, fold the rest into `other` nodes.

use super::{FlameTree, FlameTreeBuilder, NodeId, OTHER_NAME};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

impl FlameTree {
    /// At most `max_nodes` real nodes (the root included; 0 counts as 1): best-first
    /// expansion from the root by total (for a diff tree the larger side; ties go to the
    /// earlier node in pre-order), so the kept set is closed under ancestors. A kept node
    /// whose cut children have a non-zero total on some side gets one child named `other`
    /// whose self and total are the sums of the cut children's totals, per side. (When the
    /// node also keeps a real child named `other`, the cut sums are added to that child's
    /// self.) Totals of kept nodes do not change, so the root total is still the sum of
    /// all values; the result has at most `2 * max_nodes` nodes.
    pub fn truncate(&self, max_nodes: usize) -> FlameTree {
        let max_nodes = max_nodes.max(1);
        if self.len() <= max_nodes {
            return self.clone();
        }
        let ends = self.subtree_ends();
        let kept = self.best_first(&ends, max_nodes);

        let mut b = FlameTreeBuilder::with_capacity(2 * max_nodes);
        let other = b.intern(OTHER_NAME);
        let mut path: Vec<NodeId> = Vec::new();
        let mut i = 0;
        while i < self.len() {
            if !kept[i] {
                // Ancestor-closed: nothing below a cut node is kept.
                i = ends[i] as usize;
                continue;
            }
            let level = self.level[i] as usize;
            path.truncate(level);
            let node = match path.last() {
                None => FlameTreeBuilder::ROOT,
                Some(&parent) => b.child(parent, self.name(i)),
            };
            path.push(node);
            let mut cut = [0i64; 2];
            for c in self.children(i, &ends) {
                if !kept[c] {
                    for (side, sum) in cut.iter_mut().enumerate() {
                        *sum = sum.saturating_add(self.total_at(c, side));
                    }
                }
            }
            for side in 0..self.sides {
                b.add_self(node, side, self.self_at(i, side));
            }
            if cut != [0, 0] {
                let o = b.child_by_id(node, other);
                for (side, &sum) in cut.iter().enumerate().take(self.sides) {
                    b.add_self(o, side, sum);
                }
            }
            i += 1;
        }
        b.finish(self.is_diff())
    }

    /// The children of `i`, in order.
    pub(super) fn children<'a>(
        &'a self,
        i: usize,
        ends: &'a [u32],
    ) -> impl Iterator<Item = usize> + 'a {
        let end = ends[i] as usize;
        let mut next = i + 1;
        std::iter::from_fn(move || {
            let c = next;
            (c < end).then(|| {
                next = ends[c] as usize;
                c
            })
        })
    }

    /// Which nodes best-first expansion keeps.
    fn best_first(&self, ends: &[u32], max_nodes: usize) -> Vec<bool> {
        let weight = |i: usize| self.total_at(i, 0).max(self.total_at(i, 1));
        let mut kept = vec![false; self.len()];
        kept[0] = true;
        let mut count = 1;
        let mut heap: BinaryHeap<(i64, Reverse<usize>)> = BinaryHeap::new();
        heap.extend(self.children(0, ends).map(|c| (weight(c), Reverse(c))));
        while count < max_nodes {
            let Some((_, Reverse(i))) = heap.pop() else {
                break;
            };
            kept[i] = true;
            count += 1;
            heap.extend(self.children(i, ends).map(|c| (weight(c), Reverse(c))));
        }
        kept
    }
}
