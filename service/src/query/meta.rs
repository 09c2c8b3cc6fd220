//! What is stored, as DataFusion plans over `profiles`: totals over time
//! ([`SeriesRequest`]), the apps and their sample types ([`apps`]), label names and
//! values ([`LabelsRequest`], [`LabelValuesRequest`]). User values are literals of the
//! plan; label and group names are checked first.

use super::flame::pick_sample_type;
use super::{Engine, integers, strings};
use crate::parse::check_label_name;
use crate::{Error, Result};
use arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::functions::expr_fn::date_bin;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::functions_nested::expr_fn::map_keys;
use datafusion::prelude::{Expr, cast, col, lit};
use datafusion::scalar::ScalarValue;
use flamedb_query::Selector;
use flamedb_query::api::{label, time_literal};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Most points one series may have (`(until - from) / step`).
pub const MAX_POINTS: i64 = 11_000;

/// The names `group_by` takes besides `label.NAME`: the partition columns.
pub const COLUMNS: [&str; 4] = ["app", "version", "dc", "sample_type"];

/// Totals over time: one series per group, a point per `step_secs` bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRequest {
    /// The selection; its sample type defaults as a flame graph's does.
    pub selection: Selector,
    /// Bucket width in seconds (at least 1).
    pub step_secs: i64,
    /// Group names: `app`, `version`, `dc`, `sample_type` or `label.NAME`.
    pub group_by: Vec<String>,
}

/// The default step of a series, in seconds.
pub const DEFAULT_STEP_SECS: i64 = 60;

/// The answer of a [`SeriesRequest`] (fields in the order JSON shows them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesAnswer {
    /// The sample type summed.
    pub sample_type: String,
    /// One per group, ordered by group values.
    pub series: Vec<Series>,
    /// The bucket width.
    pub step_seconds: i64,
    /// The sample type's unit.
    pub unit: String,
}

/// One group's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Group name to value (`None` where a profile lacks the label).
    pub labels: BTreeMap<String, Option<String>>,
    /// `[bucket start in unix ms, total]`, by time.
    pub points: Vec<(i64, i64)>,
}

/// The apps of a selection and their sample types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppsAnswer {
    /// By name.
    pub apps: Vec<AppInfo>,
}

/// One app.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppInfo {
    /// Its name.
    pub name: String,
    /// Profiles stored (of its most frequent sample type).
    pub profiles: i64,
    /// Its sample types.
    pub sample_types: Vec<SampleTypeInfo>,
}

/// A sample type and its unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SampleTypeInfo {
    /// Name (`cpu`, ...).
    #[serde(rename = "type")]
    pub sample_type: Option<String>,
    /// Unit (`nanoseconds`, ...).
    pub unit: Option<String>,
}

/// The label names of a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelsRequest {
    /// The selection.
    pub selection: Selector,
}

/// The label names of a selection, `app`, `version`, `dc` and `sample_type` always.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelNames {
    /// Sorted.
    pub labels: BTreeSet<String>,
}

/// The values one label (or partition column) takes in a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelValuesRequest {
    /// The selection.
    pub selection: Selector,
    /// A label name, or `app`, `version`, `dc`, `sample_type`.
    pub name: String,
}

/// The answer of a [`LabelValuesRequest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelValues {
    /// The name asked.
    pub name: String,
    /// Sorted, distinct.
    pub values: Vec<String>,
}

/// The expression of a group-by name (`version`, `label.pod`, ...), as text.
pub fn group_expr(name: &str) -> Result<Expr> {
    if COLUMNS.contains(&name) {
        return Ok(cast(col(name), DataType::Utf8));
    }
    match name.strip_prefix("label.") {
        Some(name) => {
            check_label_name(name)?;
            Ok(label(name))
        }
        None => Err(Error::invalid(format!(
            "group_by {name:?}: use app, version, dc, sample_type or label.NAME (comma-separated)"
        ))),
    }
}

/// Bucket start (ns), the group values and the sum of totals of `sel`, per bucket of
/// `step_secs` and group, ordered by group then time.
async fn series_rows(
    engine: &Engine,
    tenant: &str,
    sel: &Selector,
    step_secs: i64,
    groups: &[String],
) -> Result<Vec<arrow::array::RecordBatch>> {
    let exprs = groups
        .iter()
        .map(|g| group_expr(g))
        .collect::<Result<Vec<_>>>()?;
    let stride = lit(ScalarValue::IntervalMonthDayNano(Some(
        IntervalMonthDayNano::new(0, 0, step_secs.saturating_mul(1_000_000_000)),
    )));
    let bucket = cast(
        date_bin(stride, col("time"), time_literal(0)),
        DataType::Int64,
    )
    .alias("t");
    let mut keys = vec![bucket];
    keys.extend(
        exprs
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.alias(format!("g{i}"))),
    );
    let mut order: Vec<_> = (0..groups.len())
        .map(|i| col(format!("g{i}")).sort(true, true))
        .collect();
    order.push(col("t").sort(true, true));
    let mut select = vec![col("t")];
    select.extend((0..groups.len()).map(|i| col(format!("g{i}"))));
    select.push(col("v"));
    engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .aggregate(keys, vec![sum(col("total")).alias("v")])?
                .sort(order)?
                .select(select)
        })
        .await
}

/// Totals of `req` over time (`GET /api/v1/series`).
pub async fn series(engine: &Engine, tenant: &str, req: &SeriesRequest) -> Result<SeriesAnswer> {
    let step = req.step_secs;
    if step < 1 {
        return Err(Error::invalid(format!(
            "step {step}s: use at least one second"
        )));
    }
    let groups = &req.group_by;
    let mut sel = req.selection.clone();
    if let (Some(from), Some(until)) = (sel.from_nanos, sel.until_nanos)
        && until.saturating_sub(from) / step.saturating_mul(1_000_000_000) > MAX_POINTS
    {
        return Err(Error::invalid(format!(
            "from..until over step {step}s is more than {MAX_POINTS} points: use a larger step"
        )));
    }
    let (sample_type, unit) = pick_sample_type(engine, tenant, &sel)
        .await?
        .unwrap_or_default();
    sel.sample_type = Some(sample_type.clone());
    let mut by_group: BTreeMap<Vec<Option<String>>, Vec<(i64, i64)>> = BTreeMap::new();
    for b in series_rows(engine, tenant, &sel, step, groups).await? {
        let t = integers(&b, 0)?;
        let v = integers(&b, groups.len() + 1)?;
        let g = (1..=groups.len())
            .map(|i| strings(&b, i))
            .collect::<Result<Vec<_>>>()?;
        for r in 0..b.num_rows() {
            let key = g.iter().map(|c| c[r].clone()).collect();
            by_group
                .entry(key)
                .or_default()
                .push((t[r] / 1_000_000, v[r]));
        }
    }
    let series = by_group
        .into_iter()
        .map(|(key, points)| Series {
            labels: groups.iter().cloned().zip(key).collect(),
            points,
        })
        .collect();
    Ok(SeriesAnswer {
        sample_type,
        series,
        step_seconds: step,
        unit,
    })
}

/// The apps of `sel` with their sample types (`GET /api/v1/apps`).
pub async fn apps(engine: &Engine, tenant: &str, sel: &Selector) -> Result<AppsAnswer> {
    let keys = || vec![col("app"), col("sample_type"), col("sample_unit")];
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .aggregate(keys(), vec![count(lit(1)).alias("n")])?
                .sort(keys().into_iter().map(|k| k.sort(true, true)).collect())
        })
        .await?;
    let mut apps: BTreeMap<String, (i64, Vec<SampleTypeInfo>)> = BTreeMap::new();
    for b in batches {
        let (a, t, u, n) = (
            strings(&b, 0)?,
            strings(&b, 1)?,
            strings(&b, 2)?,
            integers(&b, 3)?,
        );
        for r in 0..b.num_rows() {
            let e = apps.entry(a[r].clone().unwrap_or_default()).or_default();
            // Each profile has a row per sample type: count profiles once per app.
            e.0 = e.0.max(n[r]);
            e.1.push(SampleTypeInfo {
                sample_type: t[r].clone(),
                unit: u[r].clone(),
            });
        }
    }
    let apps = apps
        .into_iter()
        .map(|(name, (profiles, sample_types))| AppInfo {
            name,
            profiles,
            sample_types,
        })
        .collect();
    Ok(AppsAnswer { apps })
}

/// The label names of the selected profiles (`GET /api/v1/labels`).
pub async fn label_names(engine: &Engine, tenant: &str, req: &LabelsRequest) -> Result<LabelNames> {
    let sel = &req.selection;
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .select(vec![map_keys(col("labels")).alias("k")])?
                .unnest_columns(&["k"])?
                .distinct()
        })
        .await?;
    let mut labels: BTreeSet<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    for b in batches {
        labels.extend(strings(&b, 0)?.into_iter().flatten());
    }
    Ok(LabelNames { labels })
}

/// The values of one label (`GET /api/v1/labels/{name}/values`).
pub async fn label_values(
    engine: &Engine,
    tenant: &str,
    req: &LabelValuesRequest,
) -> Result<LabelValues> {
    let (sel, name) = (&req.selection, req.name.as_str());
    let expr = if COLUMNS.contains(&name) {
        cast(col(name), DataType::Utf8)
    } else {
        check_label_name(name)?;
        label(name)
    };
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .filter(expr.clone().is_not_null())?
                .select(vec![expr.alias("v")])?
                .distinct()?
                .sort(vec![col("v").sort(true, true)])
        })
        .await?;
    let mut values = vec![];
    for b in batches {
        values.extend(strings(&b, 0)?.into_iter().flatten());
    }
    Ok(LabelValues {
        name: name.to_string(),
        values,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn group_names_are_checked() {
        for good in ["version", "app", "label.pod"] {
            assert!(group_expr(good).is_ok(), "{good}");
        }
        for bad in ["label.x'; DROP TABLE y --", "labels", "time"] {
            assert!(group_expr(bad).is_err(), "{bad}");
        }
    }
}
