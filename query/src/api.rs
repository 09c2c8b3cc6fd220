//! The engine's programmatic entry points for the HTTP API and the CLI: a [`Selector`]
//! (what Pyroscope-style endpoints and `flamedb flamegraph` take) and [`flame_tree`], the
//! merged or diff tree the renderers of `flamedb_profile::flame::render` draw.

use crate::context::FlameContext;
use crate::functions::common::Bound;
use crate::functions::flame_agg::build_tree;
use crate::session::tenant_session;
use crate::sums::StackSums;
use arrow::array::{Array, AsArray, Int64Array, UInt64Array};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::{DataFrame, Expr, SessionContext, col, lit};
use datafusion::scalar::ScalarValue;
use flamedb_profile::flame::FlameTree;
use std::sync::Arc;

/// A selection of samples: every field set narrows it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Selector {
    /// Application.
    pub app: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Data center.
    pub dc: Option<String>,
    /// Sample type (`cpu`, `alloc_space`, ...).
    pub sample_type: Option<String>,
    /// Earliest profile time, ns since the epoch (inclusive).
    pub from_nanos: Option<i64>,
    /// Latest profile time, ns since the epoch (exclusive).
    pub until_nanos: Option<i64>,
    /// Series labels that must equal these values.
    pub labels: Vec<(String, String)>,
    /// Label matchers (PromQL's `=`, `!=`, `=~`, `!~`) on series labels, `app`
    /// (`service_name`), `version` and `dc`.
    #[serde(default)]
    pub matchers: Vec<Matcher>,
}

/// How a [`Matcher`] compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MatchOp {
    /// `=`: equal (`=""`: the label is absent or empty).
    Eq,
    /// `!=`: not equal (an absent label is not equal to a non-empty value).
    Ne,
    /// `=~`: the whole value matches the regular expression.
    Re,
    /// `!~`: the whole value does not match.
    Nre,
}

/// One label matcher, as in a PromQL selector `{name op "value"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Matcher {
    /// The label (`app`, `version`, `dc`, or a series label).
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regular expression (RE2 syntax, anchored at both ends).
    pub value: String,
}

impl Matcher {
    /// The column or label it reads.
    fn target(&self) -> Expr {
        match self.name.as_str() {
            "app" | "version" | "dc" => {
                datafusion::prelude::cast(col(self.name.as_str()), arrow::datatypes::DataType::Utf8)
            }
            name => label(name),
        }
    }

    /// The filter it stands for; a regular expression is checked by the caller.
    pub fn expr(&self) -> Expr {
        use datafusion::functions::expr_fn::{coalesce, regexp_like};
        let t = self.target();
        let v = self.value.as_str();
        match self.op {
            MatchOp::Eq if v.is_empty() => t.clone().is_null().or(t.eq(lit(""))),
            MatchOp::Eq => t.eq(lit(v)),
            MatchOp::Ne if v.is_empty() => t.clone().is_not_null().and(t.not_eq(lit(""))),
            MatchOp::Ne => t.clone().is_null().or(t.not_eq(lit(v))),
            MatchOp::Re | MatchOp::Nre => {
                let m = regexp_like(coalesce(vec![t, lit("")]), lit(format!("^(?:{v})$")), None);
                if self.op == MatchOp::Re {
                    m
                } else {
                    datafusion::logical_expr::not(m)
                }
            }
        }
    }
}

/// `labels['name']` as the SQL planner writes it (`get_field(labels, 'name')`), which the
/// scan's pushdown recognises.
pub fn label(name: &str) -> Expr {
    datafusion::functions::core::expr_fn::get_field(col("labels"), name)
}

/// A UTC timestamp literal in ns, of the `time` column's type.
pub fn time_literal(nanos: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(nanos),
        Some("UTC".into()),
    ))
}

impl Selector {
    /// The selection as a filter over `samples` or `profiles` (`None` when it selects
    /// everything). Values are literals, never SQL text, and every part has the shape the
    /// scan pushes down (partition, block and row pruning).
    pub fn filter(&self) -> Option<Expr> {
        let mut c = vec![];
        for (column, v) in [
            ("app", &self.app),
            ("version", &self.version),
            ("dc", &self.dc),
            ("sample_type", &self.sample_type),
        ] {
            if let Some(v) = v {
                c.push(col(column).eq(lit(v.as_str())));
            }
        }
        if let Some(t) = self.from_nanos {
            c.push(col("time").gt_eq(time_literal(t)));
        }
        if let Some(t) = self.until_nanos {
            c.push(col("time").lt(time_literal(t)));
        }
        for (k, v) in &self.labels {
            c.push(label(k).eq(lit(v.as_str())));
        }
        for m in &self.matchers {
            c.push(m.expr());
        }
        c.into_iter().reduce(Expr::and)
    }

    /// `table` (`samples` or `profiles`) of `session` filtered by this selection.
    pub async fn frame(&self, session: &SessionContext, table: &str) -> Result<DataFrame> {
        let df = session.table(table).await?;
        match self.filter() {
            Some(f) => df.filter(f),
            None => Ok(df),
        }
    }
}

/// Sample types picked, in this order, when a selection holds several and none is named.
/// (`*` stands for any type in nanoseconds: `perf` names its sample type after the event,
/// `cpu-clock`, `task-clock`, and its time beats its sample count.)
pub const PREFERRED_SAMPLE_TYPES: &[&str] = &["cpu", "wall", "*", "inuse_space", "samples"];

/// The plan of the sample types (and units) of `sel`'s profiles, heaviest first.
pub async fn sample_types_frame(session: &SessionContext, sel: &Selector) -> Result<DataFrame> {
    sel.frame(session, "profiles")
        .await?
        .aggregate(
            vec![col("sample_type"), col("sample_unit")],
            vec![sum(col("total")).alias("t")],
        )?
        .sort(vec![
            col("t").sort(false, true),
            col("sample_type").sort(true, true),
        ])?
        .select(vec![col("sample_type"), col("sample_unit")])
}

/// The `(type, unit)` rows of [`sample_types_frame`]'s batches.
pub fn sample_type_rows(batches: &[arrow::array::RecordBatch]) -> Result<Vec<(String, String)>> {
    let mut out = vec![];
    for b in batches {
        let text = |i: usize| -> Result<Vec<String>> {
            let c = arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8)?;
            let c = c.as_string::<i32>();
            Ok((0..c.len()).map(|r| c.value(r).to_string()).collect())
        };
        out.extend(text(0)?.into_iter().zip(text(1)?));
    }
    Ok(out)
}

/// The sample type to use among `types` when none is named: the only one, or the first
/// of [`PREFERRED_SAMPLE_TYPES`] present; `Err` with the names when several and none is
/// preferred, `Ok(None)` when there are none.
pub fn preferred_sample_type(
    types: &[(String, String)],
) -> std::result::Result<Option<(String, String)>, Vec<String>> {
    if types.len() <= 1 {
        return Ok(types.first().cloned());
    }
    for p in PREFERRED_SAMPLE_TYPES {
        let wanted = |(n, u): &&(String, String)| match *p {
            "*" => u == "nanoseconds",
            p => n == p,
        };
        if let Some(t) = types.iter().find(wanted) {
            return Ok(Some(t.clone()));
        }
    }
    Err(types.iter().map(|(n, _)| n.clone()).collect())
}

/// Per-stack sums of `sel` added into side `side` of `sums`.
async fn stack_sums(
    ctx: &Arc<FlameContext>,
    tenant: &str,
    sel: &Selector,
    side: usize,
    sums: &mut StackSums,
) -> Result<()> {
    let session = tenant_session(ctx, tenant)?;
    let df = sel
        .frame(&session, "samples")
        .await?
        .aggregate(vec![col("stack")], vec![sum(col("value"))])?;
    for b in df.collect().await? {
        let keys = b.column(0).as_any().downcast_ref::<UInt64Array>();
        let values = b.column(1).as_any().downcast_ref::<Int64Array>();
        let (Some(keys), Some(values)) = (keys, values) else {
            return Err(DataFusionError::Internal(
                "unexpected stack sum types".into(),
            ));
        };
        sums.add_side(keys, values, side);
    }
    Ok(())
}

/// The merged flame tree of `left`, or with `right` the diff tree (left = baseline).
/// Untruncated: call [`FlameTree::truncate`] before rendering.
pub async fn flame_tree(
    ctx: &Arc<FlameContext>,
    tenant: &str,
    left: &Selector,
    right: Option<&Selector>,
) -> Result<FlameTree> {
    let mut sums = StackSums::new();
    stack_sums(ctx, tenant, left, 0, &mut sums).await?;
    if let Some(r) = right {
        stack_sums(ctx, tenant, r, 1, &mut sums).await?;
    }
    let bound = Bound {
        ctx: ctx.clone(),
        tenant: tenant.to_string(),
    };
    let diff = right.is_some();
    // Tree building is CPU work and may load dictionaries: keep it off the async threads.
    tokio::task::spawn_blocking(move || build_tree(&bound, &sums.into_sorted(), diff))
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?
}
