//! Regressions between two versions of an app ([`RegressionRequest`]): the versions
//! resolved (default: the latest against the one first seen before it), the comparison
//! run by [`flamedb_query::regress`], each finding linked to its diff flame graph.

use super::Engine;
use super::flame::pick_sample_type;
use crate::{Error, ErrorKind, Result};
use flamedb_query::Selector;
use flamedb_query::regress::compare::Comparison;
use flamedb_query::regress::events::candidates;
use flamedb_query::regress::{Finding, RegressionConfig, Report, Summary, VersionInfo};
use serde::Serialize;

/// Compare two versions of an app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegressionRequest {
    /// The app.
    pub app: String,
    /// Sample type (default as for a flame graph: the only one, or cpu, wall, ...).
    pub sample_type: Option<String>,
    /// The baseline (default: the version first seen before `to_version`).
    pub from_version: Option<String>,
    /// The later version (default: the one first seen last).
    pub to_version: Option<String>,
    /// Smallest change reported, percentage points (default 0.5).
    pub min_pp: Option<f64>,
}

/// A finding with the link to its diff flame graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkedFinding {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// `/api/v1/diff` of exactly the two selections.
    pub diff_url: String,
}

/// The answer of a [`RegressionRequest`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressionAnswer {
    /// What was compared (app, versions, totals, work scale, replicates, thresholds).
    #[serde(flatten)]
    pub summary: Summary,
    /// Rises and new functions by size, then decreases.
    pub findings: Vec<LinkedFinding>,
}

fn not_found(message: String) -> Error {
    Error::new(ErrorKind::NotFound, message)
}

/// `(from, to)` of `versions` (by first profile time) for `req`.
fn pick_versions<'a>(
    app: &str,
    versions: &'a [VersionInfo],
    req: &RegressionRequest,
) -> Result<(&'a VersionInfo, &'a VersionInfo)> {
    let find = |v: &str| -> Result<usize> {
        versions
            .iter()
            .position(|x| x.version == v)
            .ok_or_else(|| not_found(format!("app {app:?} has no version {v:?}")))
    };
    let to = match &req.to_version {
        Some(v) => find(v)?,
        None => versions.len().saturating_sub(1),
    };
    let from = match &req.from_version {
        Some(v) => find(v)?,
        None if to == 0 => {
            return Err(Error::invalid(format!(
                "app {app:?} has no version first seen before {:?}: name from_version",
                versions[to].version
            )));
        }
        None => to - 1,
    };
    if from == to {
        return Err(Error::invalid("from_version and to_version are the same"));
    }
    Ok((&versions[from], &versions[to]))
}

/// The regressions (and improvements) of `req` for `tenant`.
pub async fn regressions(
    engine: &Engine,
    tenant: &str,
    req: &RegressionRequest,
) -> Result<RegressionAnswer> {
    let min_pp = req.min_pp.unwrap_or(RegressionConfig::default().min_pp);
    if !(min_pp.is_finite() && min_pp > 0.0 && min_pp <= 100.0) {
        return Err(Error::invalid(format!(
            "min_pp {min_pp}: use a number of percentage points above 0, at most 100"
        )));
    }
    let app = req.app.as_str();
    if app.is_empty() {
        return Err(Error::invalid("name the app (app=)"));
    }
    let sel = Selector {
        app: Some(app.to_string()),
        sample_type: req.sample_type.clone(),
        ..Selector::default()
    };
    let Some((sample_type, unit)) = pick_sample_type(engine, tenant, &sel).await? else {
        return Err(not_found(format!("app {app:?} has no profiles")));
    };
    let versions = engine.versions(tenant, app, &sample_type).await?;
    if versions.is_empty() {
        return Err(not_found(format!(
            "app {app:?} has no profiles of sample type {sample_type:?}"
        )));
    }
    let (before, after) = pick_versions(app, &versions, req)?;
    let config = RegressionConfig {
        min_pp,
        ..RegressionConfig::default()
    };
    let events = candidates(&engine.events().list(tenant).await?, app, before, after);
    let c = Comparison {
        app,
        sample_type: (&sample_type, &unit),
        before,
        after,
        config,
        events: &events,
    };
    let Report { summary, findings } = engine.compare_versions(tenant, &c).await?;
    let diff_url = format!(
        "/api/v1/diff?{}",
        serde_urlencoded::to_string([
            ("app", summary.app.as_str()),
            ("sample_type", summary.sample_type.as_str()),
            ("left.version", summary.from_version.as_str()),
            ("right.version", summary.to_version.as_str()),
        ])
        .map_err(Error::internal)?
    );
    Ok(RegressionAnswer {
        summary,
        findings: findings
            .into_iter()
            .map(|finding| LinkedFinding {
                finding,
                diff_url: diff_url.clone(),
            })
            .collect(),
    })
}
