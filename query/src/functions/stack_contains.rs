//! `stack_contains(stack, pattern) -> Boolean`: Whether the stack has a frame named exactly pattern.
//! Implemented by [`StackPredFunc`], shared with its sibling predicate.

use super::common::{Bound, DOC_SECTION};
use super::stack_pred::StackPredFunc;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use std::sync::LazyLock;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "Whether the stack has a frame named exactly pattern.", "stack_contains(stack, pattern)")
        .with_sql_example("SELECT date_bin(INTERVAL '1 minute', time) AS t, sum(value) FROM samples WHERE stack_contains(stack, 'malloc') GROUP BY 1")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("pattern", "Exact frame name.")
        .build()
});

/// The `stack_contains` function bound to `bound`'s tenant.
pub fn udf(bound: Bound) -> ScalarUDF {
    ScalarUDF::new_from_impl(StackPredFunc::new(bound, "stack_contains", false, &DOC))
}
