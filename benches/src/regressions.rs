//! Regression detection scored against the generator's planted regressions
//! (`ground_truth.json` of `../shared/bench/gen_workload.py`): every app's consecutive
//! version pairs compared on a store written by `flamedb-bench ingest --store`, each
//! comparison timed, and recall and culprit precision computed.
//!
//! Matching: a planted `increase` is found by a finding of kind `increase` with its
//! function, a planted `new_child` by one of kind `new`, a planted `decrease` by one of
//! kind `decrease`. Precision counts every reported rise (`increase` or `new`, cost shifts
//! excepted): one that is not a planted culprit, an ancestor of one included, is false.

use anyhow::{Context, Result};
use flamedb_query::regress::compare::Comparison;
use flamedb_query::regress::{ChangeKind, RegressionConfig, compare, versions};
use flamedb_query::{FlameContext, QueryConfig, tenant_session};
use flamedb_storage::DataDir;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// One planted change.
struct Planted {
    app: String,
    from: String,
    to: String,
    function: String,
    kind: ChangeKind,
    delta_pp: f64,
}

fn planted(truth: &Value) -> Vec<Planted> {
    let Some(list) = truth.as_array() else {
        return vec![];
    };
    list.iter()
        .filter_map(|p| {
            let kind = match p["kind"].as_str()? {
                "increase" => ChangeKind::Increase,
                "new_child" => ChangeKind::New,
                "decrease" => ChangeKind::Decrease,
                _ => return None,
            };
            Some(Planted {
                app: p["app"].as_str()?.to_string(),
                from: p["from_version"].as_str()?.to_string(),
                to: p["to_version"].as_str()?.to_string(),
                function: p["function"].as_str()?.to_string(),
                kind,
                delta_pp: p["expected_delta"].as_f64()? * 100.0,
            })
        })
        .collect()
}

/// Compares every consecutive version pair of every app and scores the findings.
pub async fn run(store: &Path, data: &Path, tenant: &str, min_pp: f64) -> Result<Value> {
    let truth: Value = serde_json::from_slice(
        &std::fs::read(data.join("ground_truth.json")).context("reading ground_truth.json")?,
    )?;
    let planted = planted(&truth);
    let objects = Arc::new(object_store::local::LocalFileSystem::new_with_prefix(
        DataDir(store).blocks(),
    )?);
    let ctx = FlameContext::new(objects, Default::default(), QueryConfig::default());
    let session = tenant_session(&ctx, tenant)?;
    let mut apps: Vec<&str> = planted.iter().map(|p| p.app.as_str()).collect();
    apps.sort_unstable();
    apps.dedup();
    let config = RegressionConfig {
        min_pp,
        ..RegressionConfig::default()
    };
    let mut pairs = vec![];
    let (mut found, mut rises_reported, mut rises_true) = (vec![], 0usize, 0usize);
    let mut false_rises = vec![];
    let mut false_falls = vec![];
    let started = Instant::now();
    for app in apps {
        let vs = versions(&session, app, "cpu").await?;
        for w in vs.windows(2) {
            let c = Comparison {
                app,
                sample_type: ("cpu", "nanoseconds"),
                before: &w[0],
                after: &w[1],
                config,
                events: &[],
            };
            let t = Instant::now();
            let report = compare(&ctx, tenant, &c).await?;
            let secs = t.elapsed().as_secs_f64();
            let here: Vec<&Planted> = planted
                .iter()
                .filter(|p| p.app == app && p.from == w[0].version && p.to == w[1].version)
                .collect();
            for f in &report.findings {
                let rise = f.kind != ChangeKind::Decrease;
                if !rise {
                    if !here
                        .iter()
                        .any(|p| p.function == f.function && p.kind == f.kind)
                    {
                        false_falls.push(json!({"app": app, "from": w[0].version,
                            "function": f.function, "work_delta_pp": f.work_delta_pp,
                            "before_pct": f.before_pct, "after_pct": f.after_pct,
                            "path": f.path}));
                    }
                    continue;
                }
                if f.cost_shift {
                    continue;
                }
                rises_reported += 1;
                if here
                    .iter()
                    .any(|p| p.function == f.function && p.kind == f.kind)
                {
                    rises_true += 1;
                } else {
                    false_rises.push(json!({"app": app, "from": w[0].version, "to": w[1].version,
                        "function": f.function, "kind": f.kind, "work_delta_pp": f.work_delta_pp,
                        "before_pct": f.before_pct, "after_pct": f.after_pct,
                        "self_delta_pp": f.self_delta_pp,
                        "p_value": f.significance.as_ref().map(|s| s.p_value),
                        "path": f.path}));
                }
            }
            for p in &here {
                let hit = report
                    .findings
                    .iter()
                    .find(|f| f.function == p.function && f.kind == p.kind);
                found.push(json!({"app": app, "from": p.from, "to": p.to,
                    "function": p.function, "kind": p.kind, "planted_pp": p.delta_pp,
                    "found": hit.is_some(), "work_delta_pp": hit.map(|f| f.work_delta_pp),
                    "p_value": hit.and_then(|f| f.significance.as_ref().map(|s| s.p_value))}));
            }
            pairs.push(json!({"app": app, "from": w[0].version, "to": w[1].version,
                "seconds": secs, "findings": report.findings.len(),
                "replicates": report.summary.replicates, "work_scale": report.summary.work_scale,
                "timings_ms": report.summary.timings_ms}));
        }
    }
    let recall = |min: f64, max: f64| {
        let sel: Vec<&Value> = found
            .iter()
            .filter(|f| f["kind"] != json!("decrease"))
            .filter(|f| {
                let d = f["planted_pp"].as_f64().unwrap_or(0.0);
                d >= min && d < max
            })
            .collect();
        let hit = sel.iter().filter(|f| f["found"] == json!(true)).count();
        json!({"planted": sel.len(), "found": hit})
    };
    let decreases: Vec<&Value> = found
        .iter()
        .filter(|f| f["kind"] == json!("decrease"))
        .collect();
    Ok(json!({
        "min_pp": min_pp,
        "seconds_total": started.elapsed().as_secs_f64(),
        "recall_rises_1_25_to_3pp": recall(1.2, 3.0),
        "recall_rises_ge_3pp": recall(3.0, f64::INFINITY),
        "decreases": {"planted": decreases.len(),
            "found": decreases.iter().filter(|f| f["found"] == json!(true)).count()},
        "rises_reported": rises_reported,
        "rises_true": rises_true,
        "false_rises": false_rises,
        "false_falls": false_falls,
        "planted": found,
        "pairs": pairs,
    }))
}
