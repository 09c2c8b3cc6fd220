//! What is stored, as DataFusion plans over `profiles`: totals over time
//! (`/api/v1/series`), the apps and their sample types (`/api/v1/apps`), label names and
//! values (`/api/v1/labels`). User values are literals of the plan; label names are
//! checked first.

use super::flame::{pick_sample_type, set_field};
use super::{Engine, integers, strings};
use crate::parse::{check_label_name, parse_step};
use crate::{Error, Result};
use arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::functions::expr_fn::date_bin;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::functions_nested::expr_fn::map_keys;
use datafusion::prelude::{Expr, cast, col, lit};
use datafusion::scalar::ScalarValue;
use flamedb_query::Selector;
use flamedb_query::api::{label, time_literal};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Most points one series may have (`(until - from) / step`).
pub const MAX_POINTS: i64 = 11_000;

const COLUMNS: [&str; 4] = ["app", "version", "dc", "sample_type"];

/// A selector from query parameters, plus the parameters named in `extra`.
pub fn selector(
    pairs: &[(String, String)],
    extra: &[&str],
) -> Result<(Selector, Vec<(String, String)>)> {
    let mut sel = Selector::default();
    let mut rest = vec![];
    for (k, v) in pairs {
        if extra.contains(&k.as_str()) {
            rest.push((k.clone(), v.clone()));
        } else if !set_field(&mut sel, k, v)? {
            let extra = extra.iter().map(|e| format!(", {e}")).collect::<String>();
            return Err(Error::invalid(format!(
                "unknown query parameter {k:?}: use app, version, dc, sample_type, from, \
                 until, label.NAME{extra}"
            )));
        }
    }
    Ok((sel, rest))
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

/// `GET /api/v1/series`: `{"sample_type", "unit", "step_seconds", "series": [{"labels":
/// {...}, "points": [[unix_ms, total], ...]}]}`.
pub async fn series(engine: &Engine, tenant: &str, pairs: &[(String, String)]) -> Result<Value> {
    let (mut sel, rest) = selector(pairs, &["step", "group_by"])?;
    let mut step = 60;
    let mut groups: Vec<String> = vec![];
    for (k, v) in &rest {
        match k.as_str() {
            "step" => step = parse_step(v)?,
            _ => groups.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(String::from),
            ),
        }
    }
    if let (Some(from), Some(until)) = (sel.from_nanos, sel.until_nanos)
        && until.saturating_sub(from) / (step * 1_000_000_000) > MAX_POINTS
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
    for b in series_rows(engine, tenant, &sel, step, &groups).await? {
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
    let series: Vec<Value> = by_group
        .into_iter()
        .map(|(key, points)| {
            let labels: serde_json::Map<String, Value> = groups
                .iter()
                .cloned()
                .zip(key.into_iter().map(|v| json!(v)))
                .collect();
            json!({ "labels": labels, "points": points })
        })
        .collect();
    Ok(json!({ "sample_type": sample_type, "unit": unit, "step_seconds": step, "series": series }))
}

/// `GET /api/v1/apps`: `{"apps": [{"name", "profiles", "sample_types": [{"type", "unit"}]}]}`.
pub async fn apps(engine: &Engine, tenant: &str, pairs: &[(String, String)]) -> Result<Value> {
    let (sel, _) = selector(pairs, &[])?;
    let keys = || vec![col("app"), col("sample_type"), col("sample_unit")];
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .aggregate(keys(), vec![count(lit(1)).alias("n")])?
                .sort(keys().into_iter().map(|k| k.sort(true, true)).collect())
        })
        .await?;
    let mut apps: BTreeMap<String, (i64, Vec<Value>)> = BTreeMap::new();
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
            e.1.push(json!({ "type": t[r], "unit": u[r] }));
        }
    }
    let apps: Vec<Value> = apps
        .into_iter()
        .map(|(name, (profiles, types))| json!({ "name": name, "profiles": profiles, "sample_types": types }))
        .collect();
    Ok(json!({ "apps": apps }))
}

/// `GET /api/v1/labels`: `{"labels": [...]}`, the label names of the selected profiles
/// (`app`, `version`, `dc` and `sample_type` always).
pub async fn label_names(
    engine: &Engine,
    tenant: &str,
    pairs: &[(String, String)],
) -> Result<Value> {
    let (sel, _) = selector(pairs, &[])?;
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .select(vec![map_keys(col("labels")).alias("k")])?
                .unnest_columns(&["k"])?
                .distinct()
        })
        .await?;
    let mut names: BTreeSet<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    for b in batches {
        names.extend(strings(&b, 0)?.into_iter().flatten());
    }
    Ok(json!({ "labels": names }))
}

/// `GET /api/v1/labels/{name}/values`: `{"name", "values": [...]}`.
pub async fn label_values(
    engine: &Engine,
    tenant: &str,
    name: &str,
    pairs: &[(String, String)],
) -> Result<Value> {
    let (sel, _) = selector(pairs, &[])?;
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
    Ok(json!({ "name": name, "values": values }))
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
