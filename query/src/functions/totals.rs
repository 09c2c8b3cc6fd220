//! `function_totals` computed on the dictionaries' stack trees, without a named flame tree.
//!
//! ```text
//!  (dict, node, value) per distinct stack ──group by dict, node order──► per dictionary,
//!  one walk keeping the current root path (entries: node, value at or below it so far):
//!      stack x: walk up from x to a node on the path, pop the path down to it (exit),
//!               push the nodes walked (enter), add x's value to the new top
//!      enter:   per frame of the node's location, one more of its function on the path
//!      exit:    one less per frame; a function whose count drops to 0 gets the entry's
//!               value (its topmost frame on the path); the value moves to the parent
//!      self:    each stack's value goes to the innermost frame of its leaf location
//!  ──► per function name (interned across dictionaries): self, total ──► sorted
//! ```
//!
//! A stack key resolves to one node of one dictionary, and a node's frames (its path's
//! locations, inlined frames expanded) are exactly the names of the stack, so summing over
//! dictionary nodes counts every stack once. A function's total is the sum of the stacks
//! containing it: each stack's value reaches, through the exits, every entry on its path,
//! and exactly one of them (the one holding the function's topmost frame, the first frame
//! of that function in an inlined location) credits it. This is what
//! [`flamedb_profile::flame::FlameTree::function_totals`] computes on the merged tree,
//! without interning a name per tree node or building the tree.
//!
//! Nodes of a dictionary have parents before children, and after compaction they are in
//! depth-first pre-order: stacks taken in node order enter each node once, and the walk
//! up from a stack is short and stays in cache. Any other order gives the same sums (a
//! node left and entered again credits its value in parts); a node is found on the path
//! by its depth, so the path needs no map.

use crate::dicts::BlockDict;
use flamedb_profile::flame::FunctionTotal;
use flamedb_profile::{LocationId, StackNode, StringTable, Symbols};
use hashbrown::HashMap;
use std::sync::Arc;

/// "No local node": the parent of a child of the root, an unset map slot.
const NONE: u32 = u32::MAX;

/// Per function name: self (the values of the stacks whose leaf frame it is) and total (the
/// values of the stacks containing it, once per stack under recursion), sorted by total
/// descending (negative totals as 0, as a single [`flamedb_profile::flame::FlameTree`]
/// sorts them), then by name. `at[i]` is the (index into `dicts`, node) of the `i`-th
/// distinct stack and `values[i]` its value; positions out of range are skipped, the empty
/// stack (node 0) has no function. Only side 0 of the result is used.
pub fn function_totals(
    dicts: &[Arc<BlockDict>],
    at: &[(u32, u32)],
    values: &[i64],
) -> Vec<FunctionTotal> {
    let (starts, mut grouped) = group_by_dict(dicts.len(), at, |i| values.get(i).copied());
    let mut acc = Totals::default();
    let mut scratch = Scratch::default();
    for (d, dict) in dicts.iter().enumerate() {
        acc.add_dict(dict, &mut grouped[starts[d]..starts[d + 1]], &mut scratch);
    }
    acc.finish()
}

/// The `(node, value)` pairs of `at` grouped by dictionary (a counting sort): dictionary
/// `d`'s are `out[starts[d]..starts[d + 1]]`, in the order of `at`. Pairs whose dictionary
/// is out of range or without a value are left out.
pub(crate) fn group_by_dict<T: Copy + Default>(
    dicts: usize,
    at: &[(u32, u32)],
    value: impl Fn(usize) -> Option<T>,
) -> (Vec<usize>, Vec<(u32, T)>) {
    let valid = |i: usize, d: u32| (d as usize) < dicts && value(i).is_some();
    let mut starts = vec![0usize; dicts + 1];
    for (i, &(d, _)) in at.iter().enumerate() {
        if valid(i, d) {
            starts[d as usize + 1] += 1;
        }
    }
    for d in 0..dicts {
        starts[d + 1] += starts[d];
    }
    let mut next = starts.clone();
    let mut out = vec![(0u32, T::default()); starts[dicts]];
    for (i, &(d, node)) in at.iter().enumerate() {
        if let (true, Some(v)) = ((d as usize) < dicts, value(i)) {
            out[next[d as usize]] = (node, v);
            next[d as usize] += 1;
        }
    }
    (starts, out)
}

/// Sums per function name id, across dictionaries.
#[derive(Default)]
struct Totals {
    names: StringTable,
    self_: Vec<i64>,
    total: Vec<i64>,
    /// Frames of the function on the current path (during one dictionary's walk).
    on_path: Vec<u32>,
    /// Whether a frame of the function was seen (so it is reported, even with zeros).
    seen: Vec<bool>,
}

/// Per-dictionary buffers, reused across dictionaries.
#[derive(Default)]
struct Scratch {
    /// The current root path, the root excluded: `path[d - 1]` is at depth `d`.
    path: Vec<Entry>,
    /// Nodes walked up from a stack to the path, leaf first.
    chain: Vec<u32>,
    /// The frames' function ids of the locations seen: `fids[span.0..span.1]`.
    fids: Vec<u32>,
    /// The spans of the locations seen.
    spans: Vec<(u32, u32)>,
    /// A dictionary's stacks in node order.
    in_order: Vec<(u32, i64)>,
}

/// A node on the path.
#[derive(Clone, Copy)]
struct Entry {
    node: u32,
    /// Value of the stacks at or below it walked so far.
    sub: i64,
    /// Its location's frames: `Scratch::fids[span.0..span.1]`, callers first.
    span: (u32, u32),
}

impl Totals {
    fn intern(&mut self, name: &str) -> u32 {
        let id = self.names.intern(name).0;
        let len = self.names.len();
        if self.self_.len() < len {
            self.self_.resize(len, 0);
            self.total.resize(len, 0);
            self.on_path.resize(len, 0);
            self.seen.resize(len, false);
        }
        id
    }

    /// Appends the function ids of location `l`'s frames (callers before the functions
    /// inlined into them, as `Symbols::location_frames` names them) to `out`.
    fn location_fids(&mut self, symbols: &Symbols, l: LocationId, out: &mut Vec<u32>) {
        let lines = symbols.location_lines(l);
        if lines.is_empty() {
            out.push(self.intern(&symbols.line_name(l, None)));
        }
        for line in lines.iter().rev() {
            out.push(self.intern(&symbols.line_name(l, Some(line))));
        }
    }

    /// Adds the stacks `group` (`(node, value)`) of dictionary `dict`.
    fn add_dict(&mut self, dict: &BlockDict, group: &mut [(u32, i64)], s: &mut Scratch) {
        let symbols = &dict.symbols;
        let nodes = symbols.stacks.nodes();
        let locations = symbols.locations.len();
        let mut by_loc = NodeMap::new(group.len() * 4 >= locations, locations);
        s.fids.clear();
        s.spans.clear();
        s.path.clear();
        let mut in_order = std::mem::take(&mut s.in_order);
        for &(x, v) in in_node_order(group, nodes.len(), &mut in_order) {
            let x = x as usize;
            if x == 0 || x >= nodes.len() {
                continue;
            }
            // Up from x to the root or a node on the path (found at its depth).
            s.chain.clear();
            let mut y = x;
            let mut keep = 0;
            while y != 0 {
                let d = nodes[y].depth as usize;
                if d >= 1 && s.path.get(d - 1).is_some_and(|e| e.node as usize == y) {
                    keep = d;
                    break;
                }
                s.chain.push(y as u32);
                y = parent_of(nodes, y);
            }
            while s.path.len() > keep {
                self.exit(s);
            }
            for i in (0..s.chain.len()).rev() {
                let n = s.chain[i] as usize;
                let span = self.span(
                    symbols,
                    nodes[n].location,
                    &mut by_loc,
                    &mut s.fids,
                    &mut s.spans,
                );
                for &f in &s.fids[span.0 as usize..span.1 as usize] {
                    self.on_path[f as usize] += 1;
                    self.seen[f as usize] = true;
                }
                s.path.push(Entry {
                    node: n as u32,
                    sub: 0,
                    span,
                });
            }
            if let Some(top) = s.path.last_mut() {
                top.sub = top.sub.saturating_add(v);
                // Self: the innermost frame of the leaf location.
                if let Some(&f) = top
                    .span
                    .1
                    .checked_sub(1)
                    .and_then(|e| s.fids.get(e as usize))
                {
                    self.self_[f as usize] = self.self_[f as usize].saturating_add(v);
                }
            }
        }
        while !s.path.is_empty() {
            self.exit(s);
        }
        s.in_order = in_order;
    }

    /// Takes the top node off the path: its functions whose last frame on the path it
    /// held get its value, which moves to its parent.
    fn exit(&mut self, s: &mut Scratch) {
        let Some(e) = s.path.pop() else { return };
        for &f in &s.fids[e.span.0 as usize..e.span.1 as usize] {
            let c = &mut self.on_path[f as usize];
            *c -= 1;
            if *c == 0 {
                self.total[f as usize] = self.total[f as usize].saturating_add(e.sub);
            }
        }
        if let Some(p) = s.path.last_mut() {
            p.sub = p.sub.saturating_add(e.sub);
        }
    }

    /// The span of location `l`'s function ids in `fids`, interning its frame names on
    /// first use in a dictionary (`by_loc`: location -> index into `spans`).
    fn span(
        &mut self,
        symbols: &Symbols,
        l: LocationId,
        by_loc: &mut NodeMap,
        fids: &mut Vec<u32>,
        spans: &mut Vec<(u32, u32)>,
    ) -> (u32, u32) {
        let at = by_loc.get(l.index());
        if let Some(&span) = spans.get(at as usize) {
            return span;
        }
        let start = fids.len() as u32;
        self.location_fids(symbols, l, fids);
        let span = (start, fids.len() as u32);
        by_loc.set(l.index(), spans.len() as u32);
        spans.push(span);
        span
    }

    /// The functions seen, sorted by total descending (negatives as 0), then by name.
    fn finish(self) -> Vec<FunctionTotal> {
        let mut out: Vec<FunctionTotal> = (0..self.names.len())
            .filter(|&f| self.seen[f])
            .map(|f| FunctionTotal {
                name: self.names.get(flamedb_profile::StrId(f as u32)).to_string(),
                self_: [self.self_[f], 0],
                total: [self.total[f], 0],
            })
            .collect();
        out.sort_by(|a, b| {
            let key = |f: &FunctionTotal| f.total[0].max(f.total[1]);
            key(b).cmp(&key(a)).then_with(|| a.name.cmp(&b.name))
        });
        out
    }
}

/// The parent of node `n`, or 0 (the root) when the pointer does not go to a smaller
/// node (a malformed dictionary cannot loop).
fn parent_of(nodes: &[StackNode], n: usize) -> usize {
    let p = nodes[n].parent.index();
    if p < n { p } else { 0 }
}

/// `group` in node order: read back through an array over the dictionary's nodes when
/// the group is a good part of them (no sort; `group`'s nodes must be distinct), else
/// sorted in place.
pub(crate) fn in_node_order<'a, T: Copy>(
    group: &'a mut [(u32, T)],
    nodes: usize,
    buf: &'a mut Vec<(u32, T)>,
) -> &'a [(u32, T)] {
    if group.len() * 4 < nodes {
        group.sort_unstable_by_key(|e| e.0);
        return group;
    }
    let mut slot = vec![NONE; nodes];
    let mut rest = Vec::new();
    for (i, &(node, _)) in group.iter().enumerate() {
        match slot.get_mut(node as usize) {
            Some(s) if *s == NONE => *s = i as u32,
            _ => rest.push(i),
        }
    }
    buf.clear();
    buf.extend(
        slot.iter()
            .filter(|&&i| i != NONE)
            .map(|&i| group[i as usize]),
    );
    // Out of range or repeated nodes (not from a resolver): kept, at the end.
    buf.extend(rest.into_iter().map(|i| group[i]));
    buf
}

/// A map from a dense index to a `u32` ([`NONE`] when unset): an array when most indexes
/// are used, a hash map otherwise.
enum NodeMap {
    Dense(Vec<u32>),
    Sparse(HashMap<u32, u32>),
}

impl NodeMap {
    fn new(dense: bool, len: usize) -> Self {
        if dense {
            NodeMap::Dense(vec![NONE; len])
        } else {
            NodeMap::Sparse(HashMap::new())
        }
    }

    fn get(&self, i: usize) -> u32 {
        match self {
            NodeMap::Dense(v) => v.get(i).copied().unwrap_or(NONE),
            NodeMap::Sparse(m) => m.get(&(i as u32)).copied().unwrap_or(NONE),
        }
    }

    fn set(&mut self, i: usize, x: u32) {
        match self {
            NodeMap::Dense(v) => {
                if let Some(slot) = v.get_mut(i) {
                    *slot = x;
                }
            }
            NodeMap::Sparse(m) => {
                m.insert(i as u32, x);
            }
        }
    }
}

#[cfg(test)]
mod tests;
