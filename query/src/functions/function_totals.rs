//! `function_totals(stack, value)`: Per function: self (value of stacks whose leaf it is) and total (value of stacks that contain it, counted once per stack under recursion), sorted by total descending; computed before any truncation.

use super::common::{Bound, DOC_SECTION};
use super::flame_agg::{FlameAggFunc, FlameKind};
use datafusion::logical_expr::{AggregateUDF, Documentation};
use std::sync::LazyLock;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "Per function: self (value of stacks whose leaf it is) and total (value of stacks that contain it, counted once per stack under recursion), sorted by total descending; computed before any truncation.", "function_totals(stack, value)")
        .with_sql_example("SELECT unnest(function_totals(stack, value)) FROM samples WHERE app = 'api'")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("value", "The value to sum (the value column).")
        .build()
});

/// The `function_totals` aggregate bound to `bound`'s tenant.
pub fn udaf(bound: Bound) -> AggregateUDF {
    AggregateUDF::new_from_impl(FlameAggFunc::new(
        bound,
        FlameKind::Totals,
        "function_totals",
        &DOC,
    ))
}
