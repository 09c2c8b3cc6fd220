//! The stack tree: every stack of a profile interned as a node of a parent-pointer tree.
//!
//! A node is `(parent, location)`; the node's id stands for the whole stack from the root
//! down to that node, so stacks sharing a prefix share its nodes and interning a stack
//! costs one hash lookup per frame and no allocation. **Stacks are root first**: the first
//! location of a stack is the outermost caller (`main`), the last is the leaf where the
//! sample was taken. (pprof lists locations leaf first; decoders reverse them.)

use crate::{LocationId, StackId};
use hashbrown::HashMap;

/// One node of the [`StackTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackNode {
    /// The stack without its leaf; `StackId::EMPTY` for a one-location stack.
    pub parent: StackId,
    /// The leaf location of this stack.
    pub location: LocationId,
    /// Number of locations in the stack (1 for a child of the root).
    pub depth: u32,
}

/// Parent-pointer tree of stacks with dense ids; node 0 is the empty stack.
#[derive(Debug, Clone)]
pub struct StackTree {
    nodes: Vec<StackNode>,
    children: HashMap<(StackId, LocationId), StackId>,
}

impl Default for StackTree {
    fn default() -> Self {
        Self::new()
    }
}

impl StackTree {
    /// A tree holding only the empty stack.
    pub fn new() -> Self {
        StackTree {
            nodes: vec![StackNode {
                parent: StackId::EMPTY,
                location: LocationId(u32::MAX),
                depth: 0,
            }],
            children: HashMap::new(),
        }
    }

    /// Number of nodes, the empty stack included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: the empty stack is always present.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The stack `parent` extended by `location` as its new leaf.
    pub fn child(&mut self, parent: StackId, location: LocationId) -> StackId {
        let next = StackId::from_index(self.nodes.len());
        let depth = self.nodes[parent.index()].depth + 1;
        let id = *self.children.entry((parent, location)).or_insert(next);
        if id == next {
            self.nodes.push(StackNode {
                parent,
                location,
                depth,
            });
        }
        id
    }

    /// Interns a stack given root first.
    pub fn intern(&mut self, root_first: impl IntoIterator<Item = LocationId>) -> StackId {
        root_first
            .into_iter()
            .fold(StackId::EMPTY, |parent, loc| self.child(parent, loc))
    }

    /// The node of `id`. Panics if `id` does not come from this tree.
    pub fn node(&self, id: StackId) -> StackNode {
        self.nodes[id.index()]
    }

    /// Number of locations in stack `id`.
    pub fn depth(&self, id: StackId) -> usize {
        self.nodes[id.index()].depth as usize
    }

    /// Writes the locations of stack `id` into `out`, root first (`out` is cleared first).
    pub fn locations_into(&self, id: StackId, out: &mut Vec<LocationId>) {
        out.clear();
        let mut node = id;
        while node != StackId::EMPTY {
            let n = self.nodes[node.index()];
            out.push(n.location);
            node = n.parent;
        }
        out.reverse();
    }

    /// The locations of stack `id`, root first.
    pub fn locations(&self, id: StackId) -> Vec<LocationId> {
        let mut out = Vec::with_capacity(self.depth(id));
        self.locations_into(id, &mut out);
        out
    }

    /// Iterates the locations of stack `id` leaf first (no allocation).
    pub fn leaf_first(&self, id: StackId) -> impl Iterator<Item = LocationId> + '_ {
        let mut node = id;
        std::iter::from_fn(move || {
            if node == StackId::EMPTY {
                return None;
            }
            let n = self.nodes[node.index()];
            node = n.parent;
            Some(n.location)
        })
    }

    /// All nodes in id order; a node's parent always has a smaller id.
    pub fn nodes(&self) -> &[StackNode] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefixes_share_nodes() {
        let mut t = StackTree::new();
        let l = |i| LocationId(i);
        let a = t.intern([l(1), l(2), l(3)]);
        let b = t.intern([l(1), l(2), l(4)]);
        let again = t.intern([l(1), l(2), l(3)]);
        assert_eq!(a, again);
        assert_ne!(a, b);
        // root + 1 + 2 + 3 + 4
        assert_eq!(t.len(), 5);
        assert_eq!(t.locations(b), vec![l(1), l(2), l(4)]);
        assert_eq!(t.leaf_first(b).collect::<Vec<_>>(), vec![l(4), l(2), l(1)]);
        assert_eq!(t.depth(b), 3);
        assert_eq!(t.intern([]), StackId::EMPTY);
    }
}
