//! Building a whole [`StackTree`] at once, as a decoder does with every stack of a profile.
//!
//! [`StackTree::intern`] keeps a hash index of every node so that any later `child` call is
//! one lookup; filling that index is most of the cost of interning a large profile, whose
//! stacks mostly end in branches no other stack shares (google-pprof/large.cpu: 425k nodes
//! for 500k frames). Here each node instead keeps its children as a linked list, so a new
//! node costs two appends and a pointer update, and a lookup scans the parent's children.
//! A parent with more than [`MAX_LIST`] children (the one `main` calling thousands of
//! handlers) moves them to a hash map, so no lookup scans more than [`MAX_LIST`] entries.
//! The finished tree has the same nodes with the same ids as interning the same stacks one
//! by one with [`StackTree::intern`], and builds its own hash index on its first `child`.

use crate::stack::key;
use crate::{LocationId, StackId, StackNode, StackTree};
use hashbrown::HashMap;

/// Longest child list scanned; a parent with more children is indexed in the hash map.
const MAX_LIST: usize = 8;
/// `first_child` of a node without children.
const NONE: u32 = u32::MAX;
/// `first_child` of a node whose children are in the hash map.
const HUB: u32 = u32::MAX - 1;

/// A [`StackTree`] under construction (see the module docs).
pub(crate) struct StackTreeBuilder {
    nodes: Vec<StackNode>,
    /// Per node: its most recent child, [`NONE`] or [`HUB`].
    first_child: Vec<u32>,
    /// Per node: its next older sibling ([`NONE`] for the last) and its location, side by
    /// side so that scanning a list reads one entry per child.
    sibling: Vec<(u32, LocationId)>,
    /// `(parent, location)` -> child, for the children of hub parents.
    hubs: HashMap<u64, u32>,
}

impl StackTreeBuilder {
    /// A builder holding only the empty stack.
    pub(crate) fn new() -> Self {
        StackTreeBuilder {
            nodes: StackTree::new().nodes().to_vec(),
            first_child: vec![NONE],
            sibling: vec![(NONE, LocationId(u32::MAX))],
            hubs: HashMap::new(),
        }
    }

    /// Reserves room for `additional` more nodes.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
        self.first_child.reserve(additional);
        self.sibling.reserve(additional);
    }

    /// Interns a stack given root first (as [`StackTree::intern`]).
    pub(crate) fn intern(&mut self, root_first: impl IntoIterator<Item = LocationId>) -> StackId {
        let mut locations = root_first.into_iter();
        let mut node = 0;
        for location in locations.by_ref() {
            let (child, new) = self.child(node, location);
            node = child;
            if new {
                break;
            }
        }
        // Below a node just created nothing exists yet: append without looking up.
        for location in locations {
            node = self.push(node, location);
        }
        StackId(node)
    }

    /// The child of `parent` at `location`, and whether it was just created.
    fn child(&mut self, parent: u32, location: LocationId) -> (u32, bool) {
        let head = self.first_child[parent as usize];
        if head == HUB {
            let key = key(StackId(parent), location);
            if let Some(&child) = self.hubs.get(&key) {
                return (child, false);
            }
            let child = self.push(parent, location);
            self.hubs.insert(key, child);
            return (child, true);
        }
        let (mut c, mut scanned) = (head, 0);
        while c != NONE {
            let (next, at) = self.sibling[c as usize];
            if at == location {
                return (c, false);
            }
            c = next;
            scanned += 1;
        }
        let child = self.push(parent, location);
        if scanned >= MAX_LIST {
            self.make_hub(parent);
        }
        (child, true)
    }

    /// Appends node `(parent, location)`, which must not exist yet, as the first child of
    /// `parent` (or into the hub map's care, for the caller to insert).
    fn push(&mut self, parent: u32, location: LocationId) -> u32 {
        let id = self.nodes.len() as u32;
        let depth = self.nodes[parent as usize].depth + 1;
        self.nodes.push(StackNode {
            parent: StackId(parent),
            location,
            depth,
        });
        self.first_child.push(NONE);
        let head = &mut self.first_child[parent as usize];
        if *head == HUB {
            self.sibling.push((NONE, location));
        } else {
            self.sibling.push((*head, location));
            *head = id;
        }
        id
    }

    /// Moves the children of `parent` from its list to the hash map.
    fn make_hub(&mut self, parent: u32) {
        let mut c = self.first_child[parent as usize];
        while c != NONE {
            let (next, location) = self.sibling[c as usize];
            self.hubs.insert(key(StackId(parent), location), c);
            c = next;
        }
        self.first_child[parent as usize] = HUB;
    }

    /// The finished tree.
    pub(crate) fn finish(self) -> StackTree {
        StackTree::from_checked_nodes(self.nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_same_tree_as_interning_one_by_one() {
        // A wide fan-out (past MAX_LIST, so a hub), shared prefixes and repeats.
        let mut stacks: Vec<Vec<u32>> = (0..40).map(|i| vec![1, 2, 100 + i % 23, 7]).collect();
        stacks.extend((0..30).map(|i| vec![1, 3 + i % 5, 9, i]));
        stacks.extend((0..20).map(|i| vec![i % 11]));
        stacks.push(vec![]);
        let mut tree = StackTree::new();
        let mut builder = StackTreeBuilder::new();
        for s in &stacks {
            let locations = || s.iter().map(|&l| LocationId(l));
            assert_eq!(builder.intern(locations()), tree.intern(locations()));
        }
        let mut built = builder.finish();
        assert_eq!(built.nodes(), tree.nodes());
        let under_1_2 = (built.nodes().iter())
            .filter(|n| n.parent == StackId(2))
            .count();
        assert!(under_1_2 > MAX_LIST, "the test must cover a hub");
        // The finished tree indexes itself on demand.
        let again = built.intern([1, 2, 105, 7].map(LocationId));
        assert_eq!(again, tree.intern([1, 2, 105, 7].map(LocationId)));
        assert_eq!(built.len(), tree.len());
    }
}
