//! The accumulator behind `flamegraph`, `flamegraph_diff` and `function_totals`.
//!
//! Rows are summed per stack key ([`StackSums`]: one entry per distinct stack, the only
//! state that grows with the input); partial states travel as two or three lists (keys, left,
//! right). `evaluate` resolves the distinct keys to dictionary nodes once, builds the
//! merged tree with [`FlameTreeBuilder`] (one tree node per distinct path, found through
//! the node keys, so shared prefixes are walked once), and emits nested-set rows.
//! `function_totals` needs no tree: it sums per function on the dictionaries' stack
//! trees ([`super::totals`]).

use super::common::Bound;
use crate::dicts::Resolved;
use crate::sums::StackSums;
use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, Int64Builder, ListArray, StringBuilder, StructArray,
    UInt32Builder, UInt64Array,
};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::Accumulator;
use flamedb_profile::StrId;
use flamedb_profile::flame::{FlameTree, FlameTreeBuilder, FunctionTotal};
use hashbrown::HashMap;
use std::sync::Arc;

/// Which output an accumulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlameKind {
    /// `flamegraph(stack, value)`.
    Flame,
    /// `flamegraph_diff(stack, value, is_right)`.
    Diff,
    /// `function_totals(stack, value)`.
    Totals,
}

impl FlameKind {
    /// The fields of one output element.
    pub fn element_fields(self) -> Fields {
        let f = |n: &str, t: DataType| Field::new(n, t, false);
        match self {
            FlameKind::Flame => Fields::from(vec![
                f("level", DataType::UInt32),
                f("label", DataType::Utf8),
                f("self", DataType::Int64),
                f("total", DataType::Int64),
            ]),
            FlameKind::Diff => Fields::from(vec![
                f("level", DataType::UInt32),
                f("label", DataType::Utf8),
                f("self", DataType::Int64),
                f("total", DataType::Int64),
                f("self_right", DataType::Int64),
                f("total_right", DataType::Int64),
            ]),
            FlameKind::Totals => Fields::from(vec![
                f("function", DataType::Utf8),
                f("self", DataType::Int64),
                f("total", DataType::Int64),
            ]),
        }
    }

    /// `List<Struct<element_fields>>`.
    pub fn return_type(self) -> DataType {
        DataType::List(Arc::new(Field::new_list_field(
            DataType::Struct(self.element_fields()),
            true,
        )))
    }

    /// The partial-state fields.
    pub fn state_fields(self, name: &str) -> Vec<FieldRef> {
        let list = |n: &str, t: DataType| {
            Arc::new(Field::new(
                format!("{name}[{n}]"),
                DataType::List(Arc::new(Field::new_list_field(t, true))),
                true,
            ))
        };
        let mut v = vec![
            list("keys", DataType::UInt64),
            list("left", DataType::Int64),
        ];
        if self == FlameKind::Diff {
            v.push(list("right", DataType::Int64));
        }
        v
    }
}

/// Sums per stack key; builds the tree at the end.
#[derive(Debug)]
pub struct FlameAccumulator {
    bound: Bound,
    kind: FlameKind,
    max_nodes: usize,
    sums: StackSums,
}

impl FlameAccumulator {
    /// A new accumulator.
    pub fn new(bound: Bound, kind: FlameKind, max_nodes: usize) -> Self {
        FlameAccumulator {
            bound,
            kind,
            max_nodes,
            sums: StackSums::new(),
        }
    }

    fn add(&mut self, keys: &UInt64Array, left: &Int64Array, right: Option<&Int64Array>) {
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let mut v = [0, 0];
            if !left.is_null(i) {
                v[0] = left.value(i);
            }
            if let Some(r) = right.filter(|r| !r.is_null(i)) {
                v[1] = r.value(i);
            }
            self.sums.add(keys.value(i), v);
        }
    }

    /// The merged tree of everything accumulated.
    pub fn tree(&mut self) -> Result<FlameTree> {
        let sums = std::mem::take(&mut self.sums).into_sorted();
        build_tree(&self.bound, &sums, self.kind == FlameKind::Diff)
    }

    /// The function totals of everything accumulated (side 0), computed on the
    /// dictionaries' stack trees ([`super::totals`]) instead of a merged named tree.
    pub fn function_totals(&mut self) -> Result<Vec<FunctionTotal>> {
        let sums = std::mem::take(&mut self.sums).into_sorted();
        let (found, values) = resolve(&self.bound, &sums)?;
        Ok(super::totals::function_totals(
            &found.dicts,
            &found.at,
            &values,
        ))
    }
}

/// The dictionary nodes of the keys of `entries` (an error naming a key no block holds),
/// and the side-0 sum of each.
fn resolve(bound: &Bound, entries: &[(u64, [i64; 2])]) -> Result<(Resolved, Vec<i64>)> {
    let keys: Vec<u64> = entries.iter().map(|e| e.0).collect();
    let found = bound.ctx.resolve_blocking(&bound.tenant, &keys)?;
    if let Some(i) = found.first_missing() {
        return Err(bound.missing_key(keys[i]));
    }
    Ok((found, entries.iter().map(|e| e.1[0]).collect()))
}

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

fn as_i64(a: &ArrayRef) -> Result<Int64Array> {
    let c = arrow::compute::cast(a, &DataType::Int64)?;
    match c.as_any().downcast_ref::<Int64Array>() {
        Some(v) => Ok(v.clone()),
        None => exec_err!("value argument is not an integer"),
    }
}

fn list_values<T: Clone + 'static>(a: &ArrayRef) -> Result<T> {
    let Some(l) = a.as_any().downcast_ref::<ListArray>() else {
        return exec_err!("flame graph state is not a list");
    };
    let off = l.value_offsets();
    let (a, z) = (off[0] as usize, off[l.len()] as usize);
    let values = l.values().slice(a, z - a);
    match values.as_any().downcast_ref::<T>() {
        Some(v) => Ok(v.clone()),
        None => exec_err!("flame graph state has the wrong element type"),
    }
}

impl Accumulator for FlameAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(keys) = values[0].as_any().downcast_ref::<UInt64Array>() else {
            return exec_err!("the stack argument must be the stack column (UInt64)");
        };
        let v = as_i64(&values[1])?;
        if self.kind == FlameKind::Diff {
            let Some(is_right) = values[2].as_any().downcast_ref::<BooleanArray>() else {
                return exec_err!("flamegraph_diff: is_right must be a boolean");
            };
            let zero = Int64Array::from(vec![0i64; v.len()]);
            let right = arrow::compute::kernels::zip::zip(is_right, &v, &zero)?;
            let not_right = arrow::compute::not(is_right)?;
            let left = arrow::compute::kernels::zip::zip(&not_right, &v, &zero)?;
            self.add(keys, &as_i64(&left)?, Some(&as_i64(&right)?));
        } else {
            self.add(keys, &v, None);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.kind == FlameKind::Totals {
            return totals_rows(&self.function_totals()?);
        }
        let tree = self.tree()?.truncate(self.max_nodes);
        tree_rows(&tree, self.kind)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sums.bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let n = self.sums.len_hint();
        let mut keys = Vec::with_capacity(n);
        let (mut l, mut r) = (Vec::with_capacity(n), Vec::new());
        for (k, v) in self.sums.pairs() {
            keys.push(k);
            l.push(v[0]);
            if self.kind == FlameKind::Diff {
                r.push(v[1]);
            }
        }
        let list = |a: ArrayRef| {
            ScalarValue::List(Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(a.data_type().clone(), true)),
                arrow::buffer::OffsetBuffer::from_lengths([a.len()]),
                a,
                None,
            )))
        };
        let mut out = vec![
            list(Arc::new(UInt64Array::from(keys))),
            list(Arc::new(Int64Array::from(l))),
        ];
        if self.kind == FlameKind::Diff {
            out.push(list(Arc::new(Int64Array::from(r))));
        }
        Ok(out)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let keys: UInt64Array = list_values(&states[0])?;
        let left: Int64Array = list_values(&states[1])?;
        let right: Option<Int64Array> = match states.get(2) {
            Some(a) => Some(list_values(a)?),
            None => None,
        };
        self.add(&keys, &left, right.as_ref());
        Ok(())
    }
}

/// The aggregate function of one [`FlameKind`], bound to a tenant.
#[derive(Debug)]
pub struct FlameAggFunc {
    bound: Bound,
    kind: FlameKind,
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
    doc: &'static std::sync::LazyLock<datafusion::logical_expr::Documentation>,
}

impl FlameAggFunc {
    /// `name(stack, value[, is_right][, max_nodes])`.
    pub fn new(
        bound: Bound,
        kind: FlameKind,
        name: &'static str,
        doc: &'static std::sync::LazyLock<datafusion::logical_expr::Documentation>,
    ) -> Self {
        use datafusion::logical_expr::{Signature, TypeSignature, Volatility};
        let mut base = vec![DataType::UInt64, DataType::Int64];
        if kind == FlameKind::Diff {
            base.push(DataType::Boolean);
        }
        let mut with_max = base.clone();
        with_max.push(DataType::Int64);
        let mut sigs = vec![TypeSignature::Exact(base)];
        if kind != FlameKind::Totals {
            sigs.push(TypeSignature::Exact(with_max));
        }
        FlameAggFunc {
            bound,
            kind,
            name,
            signature: Signature::one_of(sigs, Volatility::Immutable),
            doc,
        }
    }

    /// Which output it produces.
    pub fn kind(&self) -> FlameKind {
        self.kind
    }
}

impl PartialEq for FlameAggFunc {
    fn eq(&self, other: &Self) -> bool {
        self.bound == other.bound && self.kind == other.kind && self.name == other.name
    }
}

impl Eq for FlameAggFunc {}

impl std::hash::Hash for FlameAggFunc {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bound.hash(state);
        self.kind.hash(state);
        self.name.hash(state);
    }
}

/// Number of arguments before the optional `max_nodes`.
pub fn base_args(kind: FlameKind) -> usize {
    if kind == FlameKind::Diff { 3 } else { 2 }
}

impl datafusion::logical_expr::AggregateUDFImpl for FlameAggFunc {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.kind.return_type())
    }

    fn accumulator(
        &self,
        args: datafusion::logical_expr::function::AccumulatorArgs,
    ) -> Result<Box<dyn Accumulator>> {
        use datafusion::physical_expr::expressions::Literal;
        let mut max_nodes = crate::config::FlameConfig::default().max_nodes;
        if let Some(e) = args.exprs.get(base_args(self.kind)) {
            let Some(lit) = (e.as_ref() as &dyn std::any::Any).downcast_ref::<Literal>() else {
                return exec_err!("{}: max_nodes must be a literal", self.name);
            };
            match lit.value() {
                ScalarValue::Int64(Some(n)) if *n > 0 => max_nodes = *n as usize,
                v => {
                    return exec_err!(
                        "{}: max_nodes must be a positive integer, got {v}",
                        self.name
                    );
                }
            }
        }
        Ok(Box::new(FlameAccumulator::new(
            self.bound.clone(),
            self.kind,
            max_nodes,
        )))
    }

    fn state_fields(
        &self,
        args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<FieldRef>> {
        Ok(self.kind.state_fields(args.name))
    }

    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(self.doc)
    }
}
