//! What is stored, as SQL over `profiles`: totals over time (`/api/v1/series`), the apps
//! and their sample types (`/api/v1/apps`), label names and values (`/api/v1/labels`).
//! User values reach SQL only as quoted literals; label names are checked first.

use super::flame::{check_label_name, pick_sample_type, set_field};
use super::{Engine, integers, strings};
use crate::http::error::{ApiError, ApiResult};
use flamedb_query::Selector;
use flamedb_query::api::quote;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Most points one series may have (`(until - from) / step`).
pub const MAX_POINTS: i64 = 11_000;

const COLUMNS: [&str; 4] = ["app", "version", "dc", "sample_type"];

/// A selector from query parameters, plus the parameters named in `extra`.
pub fn selector(
    pairs: &[(String, String)],
    extra: &[&str],
) -> ApiResult<(Selector, Vec<(String, String)>)> {
    let mut sel = Selector::default();
    let mut rest = vec![];
    for (k, v) in pairs {
        if extra.contains(&k.as_str()) {
            rest.push((k.clone(), v.clone()));
        } else if !set_field(&mut sel, k, v)? {
            let extra = extra.iter().map(|e| format!(", {e}")).collect::<String>();
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {k:?}: use app, version, dc, sample_type, from, \
                 until, label.NAME{extra}"
            )));
        }
    }
    Ok((sel, rest))
}

/// A step such as `60s`, `5m`, `1h`, `1d` or `30` (seconds), in whole seconds.
pub fn parse_step(s: &str) -> ApiResult<i64> {
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let scale = match &s[digits..] {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match s[..digits].parse::<i64>() {
        Ok(n) if n > 0 && scale > 0 && n <= 366 * 86_400 / scale => Ok(n * scale),
        _ => Err(ApiError::bad_request(format!(
            "step {s:?}: use a whole number of s, m, h or d (such as 60s, 5m, 1h), up to a year"
        ))),
    }
}

/// The SQL expression of a group-by name (`version`, `label.pod`, ...).
pub fn group_expr(name: &str) -> ApiResult<String> {
    if COLUMNS.contains(&name) {
        return Ok(format!("CAST({name} AS VARCHAR)"));
    }
    match name.strip_prefix("label.") {
        Some(label) => {
            check_label_name(label)?;
            Ok(format!("labels[{}]", quote(label)))
        }
        None => Err(ApiError::bad_request(format!(
            "group_by {name:?}: use app, version, dc, sample_type or label.NAME (comma-separated)"
        ))),
    }
}

/// The SQL of a series query: bucket start (ns), the group values, the sum of totals.
pub fn series_sql(sel: &Selector, step_secs: i64, groups: &[String]) -> ApiResult<String> {
    let exprs = groups
        .iter()
        .map(|g| group_expr(g))
        .collect::<ApiResult<Vec<_>>>()?;
    let mut select = vec![format!(
        "CAST(date_bin(INTERVAL '{step_secs} seconds', time) AS BIGINT) AS t"
    )];
    select.extend(
        exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!("{e} AS g{i}")),
    );
    select.push("sum(total) AS v".into());
    let positions: Vec<String> = (1..=exprs.len() + 1).map(|i| i.to_string()).collect();
    let mut order: Vec<String> = (2..=exprs.len() + 1).map(|i| i.to_string()).collect();
    order.push("1".into());
    Ok(format!(
        "SELECT {} FROM profiles WHERE {} GROUP BY {} ORDER BY {}",
        select.join(", "),
        sel.where_sql(),
        positions.join(", "),
        order.join(", ")
    ))
}

/// `GET /api/v1/series`: `{"sample_type", "unit", "step_seconds", "series": [{"labels":
/// {...}, "points": [[unix_ms, total], ...]}]}`.
pub async fn series(engine: &Engine, tenant: &str, pairs: &[(String, String)]) -> ApiResult<Value> {
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
        return Err(ApiError::bad_request(format!(
            "from..until over step {step}s is more than {MAX_POINTS} points: use a larger step"
        )));
    }
    let (sample_type, unit) = pick_sample_type(engine, tenant, &sel)
        .await?
        .unwrap_or_default();
    sel.sample_type = Some(sample_type.clone());
    let sql = series_sql(&sel, step, &groups)?;
    let mut by_group: BTreeMap<Vec<Option<String>>, Vec<(i64, i64)>> = BTreeMap::new();
    for b in engine.collect(tenant, &sql).await? {
        let t = integers(&b, 0)?;
        let v = integers(&b, groups.len() + 1)?;
        let g = (1..=groups.len())
            .map(|i| strings(&b, i))
            .collect::<ApiResult<Vec<_>>>()?;
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
pub async fn apps(engine: &Engine, tenant: &str, pairs: &[(String, String)]) -> ApiResult<Value> {
    let (sel, _) = selector(pairs, &[])?;
    let sql = format!(
        "SELECT app, sample_type, sample_unit, count(*) FROM profiles WHERE {} \
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        sel.where_sql()
    );
    let mut apps: BTreeMap<String, (i64, Vec<Value>)> = BTreeMap::new();
    for b in engine.collect(tenant, &sql).await? {
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
) -> ApiResult<Value> {
    let (sel, _) = selector(pairs, &[])?;
    let sql = format!(
        "SELECT DISTINCT k FROM (SELECT unnest(map_keys(labels)) AS k FROM profiles WHERE {}) \
         ORDER BY k",
        sel.where_sql()
    );
    let mut names: BTreeSet<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    for b in engine.collect(tenant, &sql).await? {
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
) -> ApiResult<Value> {
    let (sel, _) = selector(pairs, &[])?;
    let expr = if COLUMNS.contains(&name) {
        format!("CAST({name} AS VARCHAR)")
    } else {
        check_label_name(name)?;
        format!("labels[{}]", quote(name))
    };
    let sql = format!(
        "SELECT DISTINCT {expr} AS v FROM profiles WHERE {} AND {expr} IS NOT NULL ORDER BY v",
        sel.where_sql()
    );
    let mut values = vec![];
    for b in engine.collect(tenant, &sql).await? {
        values.extend(strings(&b, 0)?.into_iter().flatten());
    }
    Ok(json!({ "name": name, "values": values }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(parse_step("60s").unwrap(), 60);
        assert_eq!(parse_step("5m").unwrap(), 300);
        assert_eq!(parse_step("2h").unwrap(), 7200);
        assert_eq!(parse_step("90").unwrap(), 90);
        for bad in [
            "",
            "0s",
            "1w",
            "-5s",
            "1.5m",
            "400d",
            "99999999999999999999",
        ] {
            assert!(parse_step(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn series_sql_quotes_what_the_user_gave() {
        let sel = Selector {
            app: Some("it's".into()),
            ..Selector::default()
        };
        let sql = series_sql(&sel, 60, &["version".into(), "label.pod".into()]).unwrap();
        assert!(sql.contains("app = 'it''s'"), "{sql}");
        assert!(sql.contains("labels['pod'] AS g1"), "{sql}");
        assert!(sql.contains("INTERVAL '60 seconds'"), "{sql}");
        for bad in ["label.x'; DROP TABLE y --", "labels", "time"] {
            assert!(series_sql(&sel, 60, &[bad.into()]).is_err(), "{bad}");
        }
    }
}
