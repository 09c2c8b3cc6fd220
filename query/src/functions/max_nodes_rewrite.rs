//! Gives `flamegraph(stack, value)` and `flamegraph_diff(..)` the session's
//! `flame.max_nodes` as an explicit last argument when the call has none.
//!
//! Aggregates do not see session settings when they run, and a plan sent to another
//! process (Ballista) must not depend on that process's settings: the value becomes a
//! literal of the plan at analysis time, visible in EXPLAIN.

use super::flame_agg::{FlameAggFunc, FlameKind, base_args};
use crate::config::FlameConfig;
use datafusion::common::DFSchema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::Result;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{Expr, lit};

/// The rewrite; register with `SessionState::register_function_rewrite`.
#[derive(Debug, Default)]
pub struct MaxNodesRewrite;

impl FunctionRewrite for MaxNodesRewrite {
    fn name(&self) -> &str {
        "flame_max_nodes"
    }

    fn rewrite(
        &self,
        expr: Expr,
        _schema: &DFSchema,
        config: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        let Expr::AggregateFunction(mut af) = expr else {
            return Ok(Transformed::no(expr));
        };
        let kind = af
            .func
            .inner()
            .downcast_ref::<FlameAggFunc>()
            .map(|f| f.kind());
        match kind {
            Some(k) if k != FlameKind::Totals && af.params.args.len() == base_args(k) => {
                let max = config
                    .extensions
                    .get::<FlameConfig>()
                    .map_or(FlameConfig::default().max_nodes, |c| c.max_nodes);
                af.params.args.push(lit(max as i64));
                Ok(Transformed::yes(Expr::AggregateFunction(af)))
            }
            _ => Ok(Transformed::no(Expr::AggregateFunction(af))),
        }
    }
}
