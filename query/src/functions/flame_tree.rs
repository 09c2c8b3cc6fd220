//! Tree building for the flame-graph aggregates: [`build_tree`] merges per-stack sums into
//! one [`FlameTree`] through the dictionaries that hold the stack keys, and [`tree_rows`] /
//! [`totals_rows`] turn a tree or function totals into one list element of the
//! aggregate's output.

use super::common::Bound;
use super::flame_agg::FlameKind;
use arrow::array::{
    Array, ArrayRef, Int64Builder, ListArray, StringBuilder, StructArray, UInt32Builder,
};
use arrow::datatypes::{Field, Fields};
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use flamedb_profile::StrId;
use flamedb_profile::flame::{FlameTree, FlameTreeBuilder, FunctionTotal};
use hashbrown::HashMap;
use std::sync::Arc;

/// The merged tree of per-stack sums (`[left, right]`; single trees use `left`): distinct
/// keys are resolved to dictionary nodes once and walked per dictionary in node order
/// (depth first, so consecutive stacks share their callers); each dictionary node becomes
/// a tree node once (a memo by node: dense for a dictionary most of whose nodes are in
/// use, a map otherwise), and paths from different dictionaries meet by frame name.
pub fn build_tree(bound: &Bound, entries: &[(u64, [i64; 2])], diff: bool) -> Result<FlameTree> {
    let keys: Vec<u64> = entries.iter().map(|e| e.0).collect();
    let found = bound.ctx.resolve_blocking(&bound.tenant, &keys)?;
    if let Some(i) = found.first_missing() {
        return Err(bound.missing_key(keys[i]));
    }
    drop(keys);
    // Entries grouped by dictionary (a counting sort), as (node, sums), then put in node
    // order per dictionary. In hash order every step of a large tree missed the caches
    // (7x slower for 3M stacks); the reordering runs in tight loops whose loads overlap.
    let (starts, mut grouped) = super::totals::group_by_dict(found.dicts.len(), &found.at, |i| {
        entries.get(i).map(|e| e.1)
    });
    let mut b = FlameTreeBuilder::with_capacity(grouped.len() * 2);
    let mut chain = Vec::new();
    let mut in_order: Vec<(u32, [i64; 2])> = Vec::new();
    for (d, dict) in found.dicts.iter().enumerate() {
        let group = &mut grouped[starts[d]..starts[d + 1]];
        let nodes = dict.symbols.stacks.nodes();
        // Arrays indexed by node cost a zeroed array per dictionary and tree: only worth
        // it when the tree uses a good part of the dictionary (small trees over large
        // dictionaries, as in per-version regression scans, sort and use maps).
        let dense = group.len() * 4 >= nodes.len();
        let group = super::totals::in_node_order(group, nodes.len(), &mut in_order);
        let mut memo = Memo::new(dense, nodes.len());
        let mut names = Memo::new(
            group.len() * 4 >= dict.symbols.locations.len(),
            dict.symbols.locations.len(),
        );
        let mut name_ids: Vec<StrId> = Vec::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for &(node, v) in group {
            // Walk up to the root or to a node already in the tree.
            chain.clear();
            let mut n = node as usize;
            let mut at = FlameTreeBuilder::ROOT;
            while n != 0 && n < nodes.len() {
                if let Some(id) = memo.get(n) {
                    at = id;
                    break;
                }
                chain.push(n);
                n = nodes[n].parent.index();
            }
            for &n in chain.iter().rev() {
                let loc = nodes[n].location;
                // Interned names of the location's frames: a span of `name_ids`.
                let span = match names.get(loc.index()) {
                    Some(i) => spans[i as usize],
                    None => {
                        let start = name_ids.len();
                        for f in dict.symbols.location_frames(loc) {
                            name_ids.push(b.intern(&f.name));
                        }
                        names.set(loc.index(), spans.len() as u32);
                        spans.push((start, name_ids.len()));
                        (start, name_ids.len())
                    }
                };
                let (start, end) = span;
                for &id in &name_ids[start..end] {
                    at = b.child_by_id(at, id);
                }
                memo.set(n, at);
            }
            for (side, x) in v.iter().enumerate() {
                if *x != 0 {
                    b.add_self(at, side, *x);
                }
            }
        }
    }
    Ok(b.finish(diff))
}

/// A map from a dense index to a `u32`: an array when most indexes are used, a hash map
/// otherwise.
enum Memo {
    Dense(Vec<u32>),
    Sparse(HashMap<usize, u32>),
}

impl Memo {
    const NONE: u32 = u32::MAX;

    fn new(dense: bool, len: usize) -> Self {
        if dense {
            Memo::Dense(vec![Self::NONE; len])
        } else {
            Memo::Sparse(HashMap::new())
        }
    }

    fn get(&self, i: usize) -> Option<u32> {
        match self {
            Memo::Dense(v) => v.get(i).copied().filter(|&x| x != Self::NONE),
            Memo::Sparse(m) => m.get(&i).copied(),
        }
    }

    fn set(&mut self, i: usize, x: u32) {
        match self {
            Memo::Dense(v) => {
                if let Some(slot) = v.get_mut(i) {
                    *slot = x;
                }
            }
            Memo::Sparse(m) => {
                m.insert(i, x);
            }
        }
    }
}

/// The rows of `totals` (side 0) as one list element of `function_totals`'s output.
pub fn totals_rows(totals: &[FunctionTotal]) -> Result<ScalarValue> {
    let mut name = StringBuilder::new();
    let (mut s, mut t) = (Int64Builder::new(), Int64Builder::new());
    for f in totals {
        name.append_value(&f.name);
        s.append_value(f.self_[0]);
        t.append_value(f.total[0]);
    }
    list_of(
        FlameKind::Totals.element_fields(),
        vec![
            Arc::new(name.finish()),
            Arc::new(s.finish()),
            Arc::new(t.finish()),
        ],
    )
}

/// The rows of `tree` as one list element of the output.
pub fn tree_rows(tree: &FlameTree, kind: FlameKind) -> Result<ScalarValue> {
    if kind == FlameKind::Totals {
        return totals_rows(&tree.function_totals());
    }
    let arrays: Vec<ArrayRef> = {
        let mut level = UInt32Builder::new();
        let mut label = StringBuilder::new();
        let mut cols: [Int64Builder; 4] = Default::default();
        for n in tree.nodes() {
            level.append_value(n.level);
            label.append_value(n.name);
            cols[0].append_value(n.self_[0]);
            cols[1].append_value(n.total[0]);
            cols[2].append_value(n.self_[1]);
            cols[3].append_value(n.total[1]);
        }
        let mut v: Vec<ArrayRef> = vec![Arc::new(level.finish()), Arc::new(label.finish())];
        let sides = if kind == FlameKind::Diff { 4 } else { 2 };
        for c in cols.iter_mut().take(sides) {
            v.push(Arc::new(c.finish()));
        }
        v
    };
    list_of(kind.element_fields(), arrays)
}

/// One list element holding the struct rows of `arrays`.
fn list_of(fields: Fields, arrays: Vec<ArrayRef>) -> Result<ScalarValue> {
    let s = StructArray::try_new(fields, arrays, None)?;
    Ok(ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(s.data_type().clone(), true)),
        arrow::buffer::OffsetBuffer::from_lengths([s.len()]),
        Arc::new(s),
        None,
    ))))
}
