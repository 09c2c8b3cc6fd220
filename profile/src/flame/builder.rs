//! [`FlameTreeBuilder`]: nodes appended in any order, finished into a pre-order [`FlameTree`].
//!
//! A node is `(parent, name)` with dense [`NodeId`]s in creation order, so a parent always
//! has a smaller id than its children. Names are interned once in a [`StringTable`] (one
//! byte arena, `u32` ids); the child index is one `u64 -> u32` hash map keyed by
//! `parent << 32 | name`. Per node the builder keeps 4 + 4 bytes of structure and 8 bytes
//! of self value per side (the right side is allocated only once it is used).
//!
//! [`FlameTreeBuilder::finish`] adds totals bottom-up in one reverse pass over the ids,
//! orders each node's children by name (by the rank of the name in the byte-sorted name
//! list, so sibling sorting compares integers) and writes the nodes in depth-first
//! pre-order.

use super::{FlameTree, NodeId};
use crate::{StrId, StringTable};
use hashbrown::HashMap;

/// A flame tree under construction: find-or-insert children by name, add self values.
#[derive(Debug, Clone)]
pub struct FlameTreeBuilder {
    names: StringTable,
    parent: Vec<NodeId>,
    name: Vec<StrId>,
    /// Self values of side 0 (one per node) and side 1 (empty until side 1 is used).
    self_: [Vec<i64>; 2],
    /// `parent << 32 | name` -> child.
    index: HashMap<u64, NodeId>,
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
            name: Vec::with_capacity(nodes),
            self_: [Vec::with_capacity(nodes), Vec::new()],
            index: HashMap::with_capacity(nodes),
        };
        b.parent.push(Self::ROOT);
        b.name.push(root);
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
        assert!((parent as usize) < self.parent.len(), "unknown parent node");
        let key = (u64::from(parent) << 32) | u64::from(name.0);
        let Self {
            parent: parents,
            name: names,
            self_,
            index,
            ..
        } = self;
        *index.entry(key).or_insert_with(|| {
            let id = parents.len() as NodeId;
            parents.push(parent);
            names.push(name);
            self_[0].push(0);
            id
        })
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
        values[node as usize] += value;
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
        for frame in frames {
            node = self.child(node, frame);
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
            name,
            self_: [self0, mut self1],
            index,
        } = self;
        drop(index);
        let n = parent.len();
        let sides = if diff { 2 } else { 1 };
        self1.resize(n, 0);
        let selfs = [self0, self1];

        // Totals: children have larger ids than their parents.
        let mut totals: Vec<Vec<i64>> = selfs[..sides].to_vec();
        for total in &mut totals {
            for i in (1..n).rev() {
                total[parent[i] as usize] += total[i];
            }
        }

        let rank = name_ranks(&names);
        let (start, kids) = children_by_name(&parent, &name, &rank);

        let mut tree = FlameTree::with_capacity(names, sides, n);
        let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
        while let Some((node, level)) = stack.pop() {
            let i = node as usize;
            tree.level.push(level);
            tree.name.push(name[i]);
            for side in 0..sides {
                tree.self_.push(selfs[side][i]);
                tree.total.push(totals[side][i]);
            }
            let children = &kids[start[i] as usize..start[i + 1] as usize];
            stack.extend(children.iter().rev().map(|&c| (c, level + 1)));
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

/// Children lists in CSR form: the children of `i` are `kids[start[i]..start[i + 1]]`,
/// ordered by name rank.
fn children_by_name(parent: &[NodeId], name: &[StrId], rank: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let n = parent.len();
    let mut start = vec![0u32; n + 1];
    for &p in &parent[1..] {
        start[p as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut kids = vec![0u32; n.saturating_sub(1)];
    for (c, &p) in parent.iter().enumerate().skip(1) {
        kids[fill[p as usize] as usize] = c as u32;
        fill[p as usize] += 1;
    }
    for i in 0..n {
        let list = &mut kids[start[i] as usize..start[i + 1] as usize];
        if list.len() > 1 {
            list.sort_unstable_by_key(|&c| rank[name[c as usize].index()]);
        }
    }
    (start, kids)
}
