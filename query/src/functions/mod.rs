//! The flame-graph SQL functions, one per file. Each is bound to the session's tenant
//! (see [`common::Bound`]); [`register_all`] adds them to a session.
//!
//! | function | returns |
//! |---|---|
//! | `folded(stack)` | `root;...;leaf` |
//! | `frames(stack)` | list of frame names, root first |
//! | `leaf(stack)` | the leaf frame |
//! | `stack_depth(stack)` | number of frames |
//! | `stack_contains(stack, 'f')` | a frame is named `f` (pushed into the scan) |
//! | `stack_matches(stack, 're')` | a frame matches regex `re` (pushed into the scan) |
//! | `flamegraph(stack, value)` | the merged tree, nested-set rows |
//! | `flamegraph_diff(stack, value, is_right)` | the union tree with both sides |
//! | `function_totals(stack, value)` | self and total per function |
//!
//! [`guard`] replaces the built-ins whose output a number sizes (`range`, `repeat`, ...)
//! by bounded ones.

pub mod common;
mod flame_accumulator;
pub mod flame_agg;
mod flame_tree;
pub mod flamegraph;
pub mod flamegraph_diff;
pub mod folded;
pub mod frames;
pub mod function_totals;
pub mod guard;
pub mod leaf;
pub mod max_nodes_rewrite;
pub mod stack_contains;
pub mod stack_depth;
pub mod stack_matches;
pub mod stack_pred;
pub mod totals;

use common::Bound;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Registers every flamedb function, bound to `bound`'s tenant, in `session`.
pub fn register_all(session: &SessionContext, bound: &Bound) {
    let b = || bound.clone();
    session.register_udf(ScalarUDF::new_from_impl(folded::FoldedFunc::new(b())));
    session.register_udf(ScalarUDF::new_from_impl(frames::FramesFunc::new(b())));
    session.register_udf(ScalarUDF::new_from_impl(leaf::LeafFunc::new(b())));
    session.register_udf(ScalarUDF::new_from_impl(stack_depth::StackDepthFunc::new(
        b(),
    )));
    session.register_udf(stack_contains::udf(b()));
    session.register_udf(stack_matches::udf(b()));
    session.register_udaf(flamegraph::udaf(b()));
    session.register_udaf(flamegraph_diff::udaf(b()));
    session.register_udaf(function_totals::udaf(b()));
}
