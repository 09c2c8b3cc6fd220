//! `flamegraph(stack, value[, max_nodes])`: The merged flame graph of the rows: one struct per tree node in depth-first order (level, label, self, total), the nested-set layout Grafana's flame graph panel reads. The root is 'total' at level 0. Beyond max_nodes (default SET flame.max_nodes) cut siblings are summed into an 'other' node.

use super::common::{Bound, DOC_SECTION};
use super::flame_agg::{FlameAggFunc, FlameKind};
use datafusion::logical_expr::{AggregateUDF, Documentation};
use std::sync::LazyLock;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "The merged flame graph of the rows: one struct per tree node in depth-first order (level, label, self, total), the nested-set layout Grafana's flame graph panel reads. The root is 'total' at level 0. Beyond max_nodes (default SET flame.max_nodes) cut siblings are summed into an 'other' node.", "flamegraph(stack, value[, max_nodes])")
        .with_sql_example("SELECT unnest(flamegraph(stack, value)) FROM samples WHERE app = 'api'")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("value", "The value to sum (the value column).")
        .build()
});

/// The `flamegraph` aggregate bound to `bound`'s tenant.
pub fn udaf(bound: Bound) -> AggregateUDF {
    AggregateUDF::new_from_impl(FlameAggFunc::new(
        bound,
        FlameKind::Flame,
        "flamegraph",
        &DOC,
    ))
}
