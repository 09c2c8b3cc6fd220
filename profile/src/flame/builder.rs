//! [`FlameTreeBuilder`]: nodes appended in any order, finished into a pre-order [`FlameTree`].
//!
//! A node is `(parent, name)` with dense [`NodeId`]s in creation order, so a parent always
//! has a smaller id than its children. Names are interned once in a [`StringTable`] (one
//! byte arena, `u32` ids). Children are found as in the crate's stack-tree builder: each
//! node keeps its children as a linked list (its newest child, and per child the next older
//! sibling), so a new node costs a few appends and no hashing; a parent with more than
//! [`MAX_LIST`] children moves them to a hash map on `(parent, name id)`, so no lookup
//! scans more than [`MAX_LIST`] siblings. (A hash map for every node measured 0.36 s for
//! 3M `child` calls against 0.1 s for the lists: the lists of recent parents stay in cache.)
//! Per node the builder keeps 16 bytes of structure and 8 bytes of self value per side
//! (the right side is allocated only once it is used).
//!
//! [`FlameTreeBuilder::add_stack`] remembers the previous stack's frames and nodes and
//! walks a shared prefix without interning or lookups, so stacks that arrive sorted (as a
//! `GROUP BY stack` or folded text gives them) cost a string comparison per shared frame.
//!
//! [`FlameTreeBuilder::finish`] adds totals bottom-up in one reverse pass over the ids,
//! orders each node's children by name (by the rank of the name in the byte-sorted name
//! list, so sibling sorting compares integers) and writes the nodes in depth-first
//! pre-order.

use super::{FlameTree, NodeId};
use crate::{StrId, StringTable};
use hashbrown::HashMap;

/// Longest child list scanned; a parent with more children is indexed in the hash map.
/// (16 rather than 8: in the 3M-stack flame graph, whose leaves' parents have 12
/// children, hub inserts were 8% of the query's CPU; a list of 16 siblings created
/// together spans two or three cache lines.)
const MAX_LIST: usize = 16;
/// `first_child` of a node without children, `link.0` of a last sibling.
const NONE: u32 = u32::MAX;

/// A flame tree under construction: find-or-insert children by name, add self values.
#[derive(Debug, Clone)]
pub struct FlameTreeBuilder {
    names: StringTable,
    parent: Vec<NodeId>,
    /// Per node: its next older sibling ([`NONE`] for the oldest) and its name.
    link: Vec<(u32, StrId)>,
    /// Per node: its newest child or [`NONE`]. Lists are kept for hubs too (`finish`
    /// reads children from them), only not scanned.
    first_child: Vec<u32>,
    /// Per node: whether its children are indexed in `hubs`.
    hub: Vec<bool>,
    /// Self values of side 0 (one per node) and side 1 (empty until side 1 is used).
    self_: [Vec<i64>; 2],
    /// `parent << 32 | name` -> child, for the children of hub parents.
    hubs: HashMap<u64, NodeId>,
    /// The last stack [`FlameTreeBuilder::add_stack`] walked: its frames concatenated,
    /// the end of each in `last_frames`, and its nodes.
    last_frames: String,
    last_ends: Vec<usize>,
    last_nodes: Vec<NodeId>,
}

impl Default for FlameTreeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl FlameTreeBuilder {
    /// The synthetic root, named `total`, at level 0.
    pub const ROOT: NodeId = 0;

    /// A builder holding only the root.
    pub fn new() -> Self {
        Self::with_capacity(1)
    }

    /// A builder with room for `nodes` nodes before it reallocates.
    pub fn with_capacity(nodes: usize) -> Self {
        let mut names = StringTable::new();
        let root = names.intern(super::ROOT_NAME);
        let mut b = FlameTreeBuilder {
            names,
            parent: Vec::with_capacity(nodes),
            link: Vec::with_capacity(nodes),
            first_child: Vec::with_capacity(nodes),
            hub: Vec::with_capacity(nodes),
            self_: [Vec::with_capacity(nodes), Vec::new()],
            hubs: HashMap::new(),
            last_frames: String::new(),
            last_ends: Vec::new(),
            last_nodes: Vec::new(),
        };
        b.parent.push(Self::ROOT);
        b.link.push((NONE, root));
        b.first_child.push(NONE);
        b.hub.push(false);
        b.self_[0].push(0);
        b
    }

    /// Interns a name, for callers that look up many children by the same name
    /// ([`FlameTreeBuilder::child_by_id`]).
    pub fn intern(&mut self, name: &str) -> StrId {
        self.names.intern(name)
    }

    /// Finds or inserts the child of `parent` named `name`.
    ///
    /// # Panics
    /// When `parent` is not a node of this builder.
    pub fn child(&mut self, parent: NodeId, name: &str) -> NodeId {
        let name = self.names.intern(name);
        self.child_by_id(parent, name)
    }

    /// [`FlameTreeBuilder::child`] with a name from [`FlameTreeBuilder::intern`].
    ///
    /// # Panics
    /// When `parent` is not a node of this builder.
    pub fn child_by_id(&mut self, parent: NodeId, name: StrId) -> NodeId {
        let head = self.first_child[parent as usize];
        if self.hub[parent as usize] {
            let key = (u64::from(parent) << 32) | u64::from(name.0);
            if let Some(&child) = self.hubs.get(&key) {
                return child;
            }
            let child = self.push(parent, name);
            self.hubs.insert(key, child);
            return child;
        }
        let (mut c, mut scanned) = (head, 0);
        while c != NONE {
            let (next, at) = self.link[c as usize];
            if at == name {
                return c;
            }
            c = next;
            scanned += 1;
        }
        let child = self.push(parent, name);
        if scanned >= MAX_LIST {
            self.make_hub(parent);
        }
        child
    }

    /// Appends node `(parent, name)`, which must not exist yet, as the newest child of
    /// `parent` (for a hub parent, the caller inserts it into the map).
    fn push(&mut self, parent: NodeId, name: StrId) -> NodeId {
        let id = self.parent.len() as NodeId;
        self.parent.push(parent);
        self.first_child.push(NONE);
        self.hub.push(false);
        self.self_[0].push(0);
        let head = &mut self.first_child[parent as usize];
        self.link.push((*head, name));
        *head = id;
        id
    }

    /// Moves the children of `parent` from its list to the hash map.
    fn make_hub(&mut self, parent: NodeId) {
        let mut c = self.first_child[parent as usize];
        while c != NONE {
            let (next, name) = self.link[c as usize];
            let key = (u64::from(parent) << 32) | u64::from(name.0);
            self.hubs.insert(key, c);
            c = next;
        }
        self.hub[parent as usize] = true;
    }

    /// Adds `value` to the self value of `node`; side 0 is the left (baseline) side and the
    /// only side of a single tree, side 1 the right side of a diff.
    ///
    /// # Panics
    /// When `side > 1` or `node` is not a node of this builder.
    pub fn add_self(&mut self, node: NodeId, side: usize, value: i64) {
        let n = self.parent.len();
        assert!((node as usize) < n, "unknown node");
        let values = &mut self.self_[side];
        if values.len() < n {
            values.resize(n, 0);
        }
        values[node as usize] = values[node as usize].saturating_add(value);
    }

    /// Walks (inserting as needed) the path `frames`, given root first, and adds `value`
    /// to the self value of its last node (of the root for an empty path).
    pub fn add_stack<'a>(
        &mut self,
        frames: impl IntoIterator<Item = &'a str>,
        side: usize,
        value: i64,
    ) {
        let mut node = Self::ROOT;
        let mut shared = true;
        for (depth, frame) in frames.into_iter().enumerate() {
            if shared && depth < self.last_nodes.len() {
                let start = if depth == 0 {
                    0
                } else {
                    self.last_ends[depth - 1]
                };
                if &self.last_frames[start..self.last_ends[depth]] == frame {
                    node = self.last_nodes[depth];
                    continue;
                }
            }
            if shared {
                shared = false;
                self.last_nodes.truncate(depth);
                self.last_ends.truncate(depth);
                self.last_frames
                    .truncate(self.last_ends.last().copied().unwrap_or(0));
            }
            node = self.child(node, frame);
            self.last_frames.push_str(frame);
            self.last_ends.push(self.last_frames.len());
            self.last_nodes.push(node);
        }
        self.add_self(node, side, value);
    }

    /// Adds every node of `tree` (self values of both sides) under the same paths.
    pub fn add_tree(&mut self, tree: &FlameTree) {
        let mut ids: Vec<Option<StrId>> = vec![None; tree.names.len()];
        let mut path: Vec<NodeId> = Vec::new();
        for i in 0..tree.len() {
            let level = tree.level[i] as usize;
            path.truncate(level);
            let node = match path.last() {
                None => Self::ROOT,
                Some(&parent) => {
                    let src = tree.name[i];
                    let name = match ids[src.index()] {
                        Some(id) => id,
                        None => {
                            let id = self.names.intern(tree.names.get(src));
                            ids[src.index()] = Some(id);
                            id
                        }
                    };
                    self.child_by_id(parent, name)
                }
            };
            path.push(node);
            for side in 0..tree.sides {
                let v = tree.self_at(i, side);
                if v != 0 {
                    self.add_self(node, side, v);
                }
            }
        }
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Always false: the root is always there.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The finished tree: totals computed bottom-up, children ordered by name, nodes in
    /// depth-first pre-order. With `diff` false only side 0 is kept.
    pub fn finish(self, diff: bool) -> FlameTree {
        let FlameTreeBuilder {
            names,
            parent,
            link,
            first_child,
            self_: [self0, mut self1],
            ..
        } = self;
        let n = parent.len();
        let sides = if diff { 2 } else { 1 };
        self1.resize(n, 0);
        let selfs = [self0, self1];

        // Totals and subtree sizes: children have larger ids than their parents.
        let mut totals: Vec<Vec<i64>> = selfs[..sides].to_vec();
        let mut size = vec![1u32; n];
        for i in (1..n).rev() {
            let p = parent[i] as usize;
            size[p] += size[i];
            for total in &mut totals {
                total[p] = total[p].saturating_add(total[i]);
            }
        }

        let rank = name_ranks(&names);

        // Pre-order position of every node, parents (smaller ids) first: a child starts
        // after its parent and its earlier siblings' subtrees (siblings ordered by name).
        // Then scatter the columns there, reading every input column in id order.
        let mut pos = vec![0u32; n];
        let mut level = vec![0u32; n];
        let mut kids: Vec<u32> = Vec::new();
        for i in 0..n {
            kids.clear();
            let mut c = first_child[i];
            while c != NONE {
                kids.push(c);
                c = link[c as usize].0;
            }
            if kids.len() > 1 {
                kids.sort_unstable_by_key(|&c| rank[link[c as usize].1.index()]);
            }
            let mut next = pos[i] + 1;
            for &c in &kids {
                pos[c as usize] = next;
                level[c as usize] = level[i] + 1;
                next += size[c as usize];
            }
        }
        drop((size, first_child));
        let mut tree = FlameTree::with_capacity(names, sides, 0);
        tree.level = vec![0; n];
        tree.name = vec![StrId::EMPTY; n];
        tree.self_ = vec![0; n * sides];
        tree.total = vec![0; n * sides];
        for (i, &at) in pos.iter().enumerate() {
            let at = at as usize;
            tree.level[at] = level[i];
            tree.name[at] = link[i].1;
            for side in 0..sides {
                tree.self_[at * sides + side] = selfs[side][i];
                tree.total[at * sides + side] = totals[side][i];
            }
        }
        tree
    }
}

/// Per name id, its position among all names sorted bytewise.
fn name_ranks(names: &StringTable) -> Vec<u32> {
    let mut order: Vec<u32> = (0..names.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| names.get(StrId(a)).cmp(names.get(StrId(b))));
    let mut rank = vec![0u32; order.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    rank
}
