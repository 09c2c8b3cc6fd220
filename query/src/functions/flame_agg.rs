//! The aggregate behind `flamegraph`, `flamegraph_diff` and `function_totals`:
//! [`FlameKind`] (which output, its Arrow types) and [`FlameAggFunc`] (the UDAF).
//!
//! Rows are summed per stack key ([`StackSums`](crate::sums::StackSums): one entry per
//! distinct stack, the only state that grows with the input) by [`FlameAccumulator`];
//! partial states travel as two or three lists (keys, left, right). `evaluate` resolves the
//! distinct keys to dictionary nodes once, builds the merged tree with [`build_tree`] (one
//! tree node per distinct path, found through the node keys, so shared prefixes are walked
//! once), and emits nested-set rows ([`tree_rows`]). `function_totals` needs no tree: it
//! sums per function on the dictionaries' stack trees ([`super::totals`]).
//!
//! The accumulator lives in `flame_accumulator.rs`, the tree building and the output rows
//! in `flame_tree.rs`; both are re-exported here.

use super::common::Bound;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::Accumulator;
use std::sync::Arc;

pub use super::flame_accumulator::FlameAccumulator;
pub use super::flame_tree::{build_tree, totals_rows, tree_rows};

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
