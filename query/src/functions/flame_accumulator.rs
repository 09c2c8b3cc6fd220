//! [`FlameAccumulator`]: the accumulator of the flame-graph aggregates. It sums rows per
//! stack key, exchanges partial states as lists (keys, left[, right]), and at `evaluate`
//! resolves the keys and hands them to [`build_tree`] or, for `function_totals`, to
//! [`super::totals`].

use super::common::Bound;
use super::flame_agg::FlameKind;
use super::flame_tree::{build_tree, totals_rows, tree_rows};
use crate::dicts::Resolved;
use crate::sums::StackSums;
use arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, ListArray, UInt64Array};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::Accumulator;
use flamedb_profile::flame::{FlameTree, FunctionTotal};
use std::sync::Arc;

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
