//! [`CollapseRule`]: lets the scan pre-sum rows when the aggregate above only sums values.
//!
//! Sample rows of a block are sorted by (sample type, series, stack, time) and stack ids
//! are dense, so the scan can sum a block's rows by (sample type, stack) — or by profile
//! row, or by sample type — into an array at about a nanosecond per row, instead of
//! handing every row to DataFusion's hash aggregate at ten or more. That is only correct
//! when what consumes the rows is insensitive to how values are split across rows: an
//! aggregate (partial or single) whose every function is a `sum` or one of the flame-graph
//! aggregates (sums per stack) of an expression linear in `value`, with no DISTINCT and no
//! other use of `value`. A collapsed row stands for rows that agree on every projected
//! column but `value`, so any condition on those columns is the same for all of them:
//! `sum(value) FILTER (WHERE version = 'v1')` and `sum(CASE WHEN version = 'v1' THEN value
//! ELSE 0 END)` (the two sides of a diff in one GROUP BY) collapse too. The rule checks
//! exactly that, looking through repartitioning and projections that pass `value` and
//! `stack` through unchanged or compute such a linear expression; anything else
//! (`count(*)`, `min(value)`, `sum(CASE WHEN value > 5 ...)`, `value > 5` above the scan)
//! leaves the plan alone.

use crate::table::scan::{Collapse, FlameScanExec};
use crate::table::schema::Col;
use datafusion::common::ScalarValue;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{CaseExpr, Column, Literal};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use std::collections::HashSet;
use std::sync::Arc;

/// The physical optimizer rule; add it after DataFusion's own rules.
#[derive(Debug, Default)]
pub struct CollapseRule;

impl PhysicalOptimizerRule for CollapseRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            let Some(agg) = (node.as_ref() as &dyn std::any::Any).downcast_ref::<AggregateExec>()
            else {
                return Ok(Transformed::no(node));
            };
            match collapse_under(agg)? {
                Some(input) => {
                    let new = replace_children_if_necessary(node.clone(), vec![input])?;
                    Ok(Transformed::yes(new))
                }
                None => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "flame_collapse"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Names under which `value` and `stack` reach a node, and the other columns.
#[derive(Debug, Clone)]
struct Lineage {
    value: HashSet<String>,
    stack: HashSet<String>,
}

/// The aggregate's input rebuilt over a collapsing scan, when that is correct.
fn collapse_under(agg: &AggregateExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if !matches!(
        agg.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    ) || !agg.group_expr().null_expr().is_empty()
    {
        return Ok(None);
    }
    let Some((lineage, scan)) = lineage_of(agg.input()) else {
        return Ok(None);
    };
    let refs_value = |e: &Arc<dyn PhysicalExpr>| reads(e, &lineage.value);
    let is = |e: &Arc<dyn PhysicalExpr>, names: &HashSet<String>| {
        (e.as_ref() as &dyn std::any::Any)
            .downcast_ref::<Column>()
            .is_some_and(|c| names.contains(c.name()))
    };
    if agg.group_expr().expr().iter().any(|(e, _)| refs_value(e))
        || agg.filter_expr().iter().flatten().any(refs_value)
    {
        return Ok(None);
    }
    for f in agg.aggr_expr() {
        if f.is_distinct() {
            return Ok(None);
        }
        let args = f.expressions();
        let ok = match f.fun().name() {
            "sum" => args.len() == 1 && linear(&args[0], &lineage.value),
            "flamegraph" | "flamegraph_diff" | "function_totals" => {
                args.len() >= 2
                    && is(&args[0], &lineage.stack)
                    && linear(&args[1], &lineage.value)
                    && !args[2..].iter().any(refs_value)
            }
            _ => false,
        };
        if !ok {
            return Ok(None);
        }
    }
    let proj = &scan.spec().projection;
    if scan.spec().limit.is_some() || scan.spec().collapse.is_some() {
        return Ok(None);
    }
    let by_stack = proj.contains(&Col::Stack);
    let per_profile = proj.iter().any(|c| {
        matches!(
            c,
            Col::Time | Col::Duration | Col::Period | Col::Total | Col::Stacks
        )
    });
    let by_profile = per_profile || proj.contains(&Col::Labels);
    let mode = match (by_stack, by_profile) {
        (true, true) if !per_profile => Collapse::BySeriesStack,
        (true, true) => return Ok(None),
        (true, false) => Collapse::ByStack,
        (false, true) => Collapse::ByProfile,
        (false, false) => Collapse::ByType,
    };
    let collapsed: Arc<dyn ExecutionPlan> = Arc::new(scan.with_collapse(mode));
    Ok(Some(rebuild(agg.input(), collapsed)?))
}

/// Follows the input chain down to a samples scan, tracking the names of `value` and
/// `stack`; `None` when a node in between could observe individual rows.
fn lineage_of(plan: &Arc<dyn ExecutionPlan>) -> Option<(Lineage, &FlameScanExec)> {
    let any = plan.as_ref() as &dyn std::any::Any;
    if let Some(scan) = any.downcast_ref::<FlameScanExec>() {
        if scan.spec().kind != crate::table::schema::TableKind::Samples {
            return None;
        }
        let one = |s: &str| HashSet::from([s.to_string()]);
        return Some((
            Lineage {
                value: one("value"),
                stack: one("stack"),
            },
            scan,
        ));
    }
    if any.is::<RepartitionExec>() {
        return lineage_of(plan.children().first()?);
    }
    let p = any.downcast_ref::<ProjectionExec>()?;
    let (inner, scan) = lineage_of(p.input())?;
    let mut out = Lineage {
        value: HashSet::new(),
        stack: HashSet::new(),
    };
    for pe in p.expr() {
        let cols = collect_columns(&pe.expr);
        let col = (pe.expr.as_ref() as &dyn std::any::Any).downcast_ref::<Column>();
        let touches_value = cols.iter().any(|c| inner.value.contains(c.name()));
        match col {
            Some(c) if inner.value.contains(c.name()) => {
                out.value.insert(pe.alias.clone());
            }
            Some(c) if inner.stack.contains(c.name()) => {
                out.stack.insert(pe.alias.clone());
            }
            _ if linear(&pe.expr, &inner.value) => {
                out.value.insert(pe.alias.clone());
            }
            _ if touches_value => return None,
            _ => {}
        }
    }
    Some((out, scan))
}

/// Whether `e` reads a column named in `names`.
fn reads(e: &Arc<dyn PhysicalExpr>, names: &HashSet<String>) -> bool {
    collect_columns(e).iter().any(|c| names.contains(c.name()))
}

/// Whether summing `e` over collapsed rows gives the sum over the rows they stand for:
/// `e` is `value` (a name of `value_names`), a zero or NULL literal, or a CASE whose
/// conditions (and operand) do not read `value` and whose every branch is again such an
/// expression. The conditions then only read columns that are equal across the rows a
/// collapsed row stands for, so they choose the same branch for all of them.
fn linear(e: &Arc<dyn PhysicalExpr>, value_names: &HashSet<String>) -> bool {
    let any = e.as_ref() as &dyn std::any::Any;
    if let Some(c) = any.downcast_ref::<Column>() {
        return value_names.contains(c.name());
    }
    if let Some(l) = any.downcast_ref::<Literal>() {
        let v = l.value();
        return v.is_null() || ScalarValue::new_zero(&v.data_type()).is_ok_and(|zero| &zero == v);
    }
    if let Some(c) = any.downcast_ref::<CaseExpr>() {
        return !c.expr().is_some_and(|x| reads(x, value_names))
            && c.when_then_expr()
                .iter()
                .all(|(w, t)| !reads(w, value_names) && linear(t, value_names))
            && c.else_expr().is_none_or(|x| linear(x, value_names));
    }
    false
}

/// `plan` with its deepest samples scan replaced by `scan`.
fn rebuild(
    plan: &Arc<dyn ExecutionPlan>,
    scan: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if (plan.as_ref() as &dyn std::any::Any).is::<FlameScanExec>() {
        return Ok(scan);
    }
    let Some(child) = plan.children().first().map(|c| (*c).clone()) else {
        return Ok(plan.clone());
    };
    let new_child = rebuild(&child, scan)?;
    replace_children_if_necessary(plan.clone(), vec![new_child])
}
