//! `flamegraph_diff(stack, value, is_right[, max_nodes])`: The union tree of two selections: rows where is_right is false are the left (baseline) side, true the right. Each node has self/total of both sides.

use super::common::{Bound, DOC_SECTION};
use super::flame_agg::{FlameAggFunc, FlameKind};
use datafusion::logical_expr::{AggregateUDF, Documentation};
use std::sync::LazyLock;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "The union tree of two selections: rows where is_right is false are the left (baseline) side, true the right. Each node has self/total of both sides.", "flamegraph_diff(stack, value, is_right[, max_nodes])")
        .with_sql_example("SELECT unnest(flamegraph_diff(stack, value, version = 'v2')) FROM samples WHERE app = 'api' AND version IN ('v1', 'v2')")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("value", "The value to sum (the value column).")
        .build()
});

/// The `flamegraph_diff` aggregate bound to `bound`'s tenant.
pub fn udaf(bound: Bound) -> AggregateUDF {
    AggregateUDF::new_from_impl(FlameAggFunc::new(
        bound,
        FlameKind::Diff,
        "flamegraph_diff",
        &DOC,
    ))
}
