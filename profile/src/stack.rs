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
    /// False for a tree built by [`StackTree::from_nodes`] until its first `child` call.
    indexed: bool,
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
            indexed: true,
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

    /// A tree from its nodes (without the root), each given as `(parent, location)`.
    /// Parents must precede their children. The child index is built on the first
    /// [`StackTree::child`], so a tree that is only read costs no hashing. `None` when a
    /// parent does not precede its child.
    pub fn from_nodes(nodes: impl IntoIterator<Item = (StackId, LocationId)>) -> Option<Self> {
        let mut tree = StackTree {
            nodes: vec![StackTree::new().nodes[0]],
            children: HashMap::new(),
            indexed: false,
        };
        for (parent, location) in nodes {
            let depth = tree.nodes.get(parent.index())?.depth + 1;
            tree.nodes.push(StackNode {
                parent,
                location,
                depth,
            });
        }
        Some(tree)
    }

    fn ensure_index(&mut self) {
        if self.indexed {
            return;
        }
        self.indexed = true;
        self.children.clear();
        self.children.reserve(self.nodes.len());
        for (i, n) in self.nodes.iter().enumerate().skip(1) {
            // A duplicate node (possible only in a corrupt source) keeps its first id.
            self.children
                .entry((n.parent, n.location))
                .or_insert(StackId::from_index(i));
        }
    }

    /// The stack `parent` extended by `location` as its new leaf.
    pub fn child(&mut self, parent: StackId, location: LocationId) -> StackId {
        self.ensure_index();
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

    #[test]
    fn from_nodes_rebuilds_the_same_tree() {
        let mut t = StackTree::new();
        let a = t.intern([LocationId(7), LocationId(8)]);
        let nodes = t.nodes()[1..].iter().map(|n| (n.parent, n.location));
        let mut r = StackTree::from_nodes(nodes).unwrap();
        assert_eq!(r.locations(a), vec![LocationId(7), LocationId(8)]);
        assert_eq!(r.depth(a), 2);
        assert_eq!(r.intern([LocationId(7), LocationId(8)]), a);
        assert!(StackTree::from_nodes([(StackId(5), LocationId(1))]).is_none());
    }
}
