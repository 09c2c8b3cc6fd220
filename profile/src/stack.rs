//! The stack tree: every stack of a profile interned as a node of a parent-pointer tree.
//!
//! A node is `(parent, location)`; the node's id stands for the whole stack from the root
//! down to that node, so stacks sharing a prefix share its nodes and interning a stack
//! costs one hash lookup per frame and no allocation. **Stacks are root first**: the first
//! location of a stack is the outermost caller (`main`), the last is the leaf where the
//! sample was taken. (pprof lists locations leaf first; decoders reverse them.)
//!
//! The child index is a [`HashTable`] of `(parent, location, child)` slots of 12 bytes
//! (a `HashMap<(StackId, LocationId), StackId>` pads its slots to 16), hashed as one `u64`.
//! [`StackTree::intern`] skips the lookup below a node it has just created (a new node has
//! no children yet), so a new branch costs one insert per node. Decoders that intern a whole
//! profile at once use the crate's `StackTreeBuilder`, which needs no hash index at all
//! for most nodes and leaves the tree's index to be built on its first `child` call.

use crate::{LocationId, StackId};
use hashbrown::HashTable;
use std::hash::BuildHasher;

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
    /// Every node but the root, hashed by [`key`] of its `(parent, location)`.
    children: HashTable<Slot>,
    hasher: hashbrown::DefaultHashBuilder,
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
            children: HashTable::new(),
            hasher: Default::default(),
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
            children: HashTable::new(),
            hasher: Default::default(),
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

    /// A tree from nodes whose parents precede them and whose depths are right, indexed
    /// on its first `child` call (for [`crate::stack_builder`]).
    pub(crate) fn from_checked_nodes(nodes: Vec<StackNode>) -> Self {
        StackTree {
            nodes,
            children: HashTable::new(),
            hasher: Default::default(),
            indexed: false,
        }
    }

    /// Reserves room for `additional` more nodes.
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
        if self.indexed {
            let hasher = &self.hasher;
            self.children.reserve(additional, |s| s.hash(hasher));
        }
    }

    fn ensure_index(&mut self) {
        if self.indexed {
            return;
        }
        self.indexed = true;
        let Self {
            nodes,
            children,
            hasher,
            ..
        } = self;
        children.clear();
        children.reserve(nodes.len(), |s| s.hash(hasher));
        for (i, n) in nodes.iter().enumerate().skip(1) {
            // A duplicate node (possible only in a corrupt source) keeps its first id.
            let slot = Slot::new(n.parent, n.location, i as u32);
            let hash = slot.hash(hasher);
            if children
                .find(hash, |s| s.is(n.parent, n.location))
                .is_none()
            {
                children.insert_unique(hash, slot, |s| s.hash(hasher));
            }
        }
    }

    /// The stack `parent` extended by `location` as its new leaf.
    pub fn child(&mut self, parent: StackId, location: LocationId) -> StackId {
        self.ensure_index();
        let hash = self.hasher.hash_one(key(parent, location));
        match self.children.find(hash, |s| s.is(parent, location)) {
            Some(s) => StackId(s.child),
            None => self.push(parent, location, hash),
        }
    }

    /// Appends node `(parent, location)`, which must not exist yet, with `hash` its hash.
    fn push(&mut self, parent: StackId, location: LocationId, hash: u64) -> StackId {
        let id = StackId::from_index(self.nodes.len());
        let depth = self.nodes[parent.index()].depth + 1;
        self.nodes.push(StackNode {
            parent,
            location,
            depth,
        });
        let hasher = &self.hasher;
        let slot = Slot::new(parent, location, id.0);
        self.children.insert_unique(hash, slot, |s| s.hash(hasher));
        id
    }

    /// Interns a stack given root first.
    pub fn intern(&mut self, root_first: impl IntoIterator<Item = LocationId>) -> StackId {
        self.ensure_index();
        let mut locations = root_first.into_iter();
        let mut node = StackId::EMPTY;
        for location in locations.by_ref() {
            let hash = self.hasher.hash_one(key(node, location));
            match self.children.find(hash, |s| s.is(node, location)) {
                Some(s) => node = StackId(s.child),
                None => {
                    node = self.push(node, location, hash);
                    break;
                }
            }
        }
        // Below a node just created nothing exists yet: append without looking up.
        for location in locations {
            let hash = self.hasher.hash_one(key(node, location));
            node = self.push(node, location, hash);
        }
        node
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

/// The index key of node `(parent, location)`.
#[inline]
pub(crate) fn key(parent: StackId, location: LocationId) -> u64 {
    (u64::from(parent.0) << 32) | u64::from(location.0)
}

/// One entry of the child index.
#[derive(Debug, Clone, Copy)]
struct Slot {
    parent: u32,
    location: u32,
    child: u32,
}

impl Slot {
    fn new(parent: StackId, location: LocationId, child: u32) -> Slot {
        Slot {
            parent: parent.0,
            location: location.0,
            child,
        }
    }

    #[inline]
    fn is(&self, parent: StackId, location: LocationId) -> bool {
        self.parent == parent.0 && self.location == location.0
    }

    fn hash(&self, hasher: &hashbrown::DefaultHashBuilder) -> u64 {
        hasher.hash_one(key(StackId(self.parent), LocationId(self.location)))
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
