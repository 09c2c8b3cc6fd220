//! `stack_matches(stack, pattern) -> Boolean`: Whether the stack has a frame whose name matches the regular expression pattern (unanchored).
//! Implemented by [`StackPredFunc`], shared with its sibling predicate.

use super::common::{Bound, DOC_SECTION};
use super::stack_pred::StackPredFunc;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use std::sync::LazyLock;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION, "Whether the stack has a frame whose name matches the regular expression pattern (unanchored).", "stack_matches(stack, pattern)")
        .with_sql_example("SELECT sum(value) FROM samples WHERE stack_matches(stack, '^runtime\\.')")
        .with_argument("stack", "The stack column of samples.")
        .with_argument("pattern", "Regular expression (Rust regex syntax).")
        .build()
});

/// The `stack_matches` function bound to `bound`'s tenant.
pub fn udf(bound: Bound) -> ScalarUDF {
    ScalarUDF::new_from_impl(StackPredFunc::new(bound, "stack_matches", true, &DOC))
}
