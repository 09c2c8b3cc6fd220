//! Inspection: the regression comparison run for every app whose newest version got new
//! data, its findings kept with a lifecycle, and the ones to alert on.
//!
//! ```text
//!  every --inspect-interval-secs (and POST /api/v1/inspect for one tenant):
//!    per tenant, per app: sample type (as a flame graph picks it), versions
//!      newest version's (name, end, count) unchanged since the last run ─► skip
//!      else regressions(latest vs the one before) ─► per finding, by its stable id:
//!        new ─► record `open`;  seen again ─► same record, last_seen and numbers updated
//!    `fixed` records of the app with a later version: that version compared with the
//!      finding's baseline shows no rise of the function any more ─► `verified`
//!  records: {tenant}/findings/{id}.json (format_version 1), one per finding
//!  PATCH state: open, acknowledged, fixed, wontfix (verified is the inspection's)
//! ```
//!
//! Alerts: [`Inspector::to_alert`] lists open rises (`increase`, `new`) that are neither
//! a cost shift nor low-confidence and not yet delivered to a receiver;
//! [`Inspector::mark_alerted`] records a delivery, so a finding is alerted once per
//! receiver, across runs and restarts. Delivery is the front door's (HTTP webhooks).
//!
//! Records are written with a plain put (last writer wins): two servers inspecting the
//! same tenant at once write the same record twice, and a PATCH racing an inspection of
//! the same finding may be overwritten by the inspection's copy of the old state
//! (within one process, a lock orders them).

use crate::query::Engine;
use crate::query::meta::{AppInfo, apps};
use crate::query::regress::{RegressionRequest, regressions};
use crate::{Error, ErrorKind, Result};
use chrono::{SecondsFormat, Utc};
use flamedb_query::Selector;
use flamedb_query::api::preferred_sample_type;
use flamedb_storage::{Document, Documents};
use object_store::ObjectStore;
use object_store::path::Path;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Where a finding is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingState {
    /// Found, nobody looked yet.
    Open,
    /// Somebody is on it.
    Acknowledged,
    /// A fix is said to be in a later version.
    Fixed,
    /// A later version, compared with the baseline, no longer shows the rise.
    Verified,
    /// Accepted as it is.
    Wontfix,
}

impl FindingState {
    /// Every state.
    pub const ALL: [FindingState; 5] = [
        FindingState::Open,
        FindingState::Acknowledged,
        FindingState::Fixed,
        FindingState::Verified,
        FindingState::Wontfix,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            FindingState::Open => "open",
            FindingState::Acknowledged => "acknowledged",
            FindingState::Fixed => "fixed",
            FindingState::Verified => "verified",
            FindingState::Wontfix => "wontfix",
        }
    }

    /// The state named `s`, or an error listing them.
    pub fn parse(s: &str) -> Result<FindingState> {
        FindingState::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "state {s:?}: use open, acknowledged, fixed, verified or wontfix"
                ))
            })
    }
}

/// A finding kept across inspections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// The finding's stable id (app, versions, function, kind).
    pub id: String,
    /// Where it is in its life.
    pub state: FindingState,
    /// The app.
    pub app: String,
    /// The sample type compared.
    pub sample_type: String,
    /// The baseline version.
    pub from_version: String,
    /// The later version.
    pub to_version: String,
    /// When an inspection first found it (RFC 3339).
    pub first_seen: String,
    /// When an inspection last found it.
    pub last_seen: String,
    /// When its state last changed.
    pub state_changed: String,
    /// The version whose share verified the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by: Option<String>,
    /// Alert receivers it was delivered to.
    #[serde(default)]
    pub alerted_to: Vec<String>,
    /// When the baseline and the later version started (ns): the window the change
    /// happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_nanos: Option<[i64; 2]>,
    /// The finding as `GET /api/v1/regressions` answered it last.
    pub finding: Map<String, Value>,
}

impl Document for FindingRecord {
    const DIR: &'static str = "findings";
    const FIELD: &'static str = "record";
    const FORMAT_VERSION: u32 = 1;

    fn id(&self) -> &str {
        &self.id
    }
}

impl FindingRecord {
    fn text(&self, key: &str) -> &str {
        self.finding.get(key).and_then(Value::as_str).unwrap_or("")
    }

    fn flag(&self, key: &str) -> bool {
        self.finding
            .get(key)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.finding.get(key).and_then(Value::as_f64)
    }

    /// A rise worth an alert: open, `increase` or `new`, not a cost shift, not
    /// low-confidence.
    pub fn alertable(&self) -> bool {
        self.state == FindingState::Open
            && matches!(self.text("kind"), "increase" | "new")
            && !self.flag("cost_shift")
            && !self.flag("low_confidence")
    }

    /// One line for a chat message.
    pub fn summary_line(&self) -> String {
        let cores = self
            .number("cores")
            .map(|c| format!(", {c:.2} cores"))
            .unwrap_or_default();
        let cause = match self.finding.get("cause").and_then(Value::as_str) {
            Some(c) => format!("; likely cause: {c}"),
            None => String::new(),
        };
        format!(
            "{app} {to}: {function} {kind} {pp:+.2} pp of {st} vs {from}{cores} (callers: {callers}){cause}",
            app = self.app,
            to = self.to_version,
            function = self.text("function"),
            kind = self.text("kind"),
            pp = self.number("work_delta_pp").unwrap_or(0.0),
            st = self.sample_type,
            from = self.from_version,
            callers = self
                .finding
                .get("callers")
                .and_then(Value::as_array)
                .map(|c| c
                    .iter()
                    .take(3)
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
        )
    }
}

/// What one inspection did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InspectReport {
    /// Apps looked at.
    pub apps: usize,
    /// Apps compared (their newest version got data since the last run).
    pub compared: usize,
    /// Apps skipped: nothing new, or a single version.
    pub skipped: usize,
    /// Findings recorded for the first time.
    pub new_findings: usize,
    /// Findings found again (the same record).
    pub seen_again: usize,
    /// `fixed` findings verified by a later version.
    pub verified: usize,
    /// Apps whose comparison failed, with why.
    pub errors: Vec<String>,
}

/// Answer of `GET /api/v1/findings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingsAnswer {
    /// By app, then first seen.
    pub findings: Vec<FindingRecord>,
    /// The same function rising in several apps in overlapping windows (a shared
    /// library): one cross-app finding each, biggest first.
    pub cross_app: Vec<CrossAppFinding>,
}

/// One function rising in several apps at about the same time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossAppFinding {
    /// The function.
    pub function: String,
    /// The apps it rose in, by name.
    pub apps: Vec<String>,
    /// The findings grouped (one or more per app).
    pub findings: Vec<String>,
    /// Their work deltas summed, percentage points of each app's own work.
    pub work_delta_pp: f64,
    /// Their costs in CPU cores summed (CPU profiles).
    pub cores: Option<f64>,
}

/// Groups the rises of `records` (not verified or wontfix) by function, joining those
/// whose windows overlap; groups that span two apps or more.
fn cross_app(records: &[FindingRecord]) -> Vec<CrossAppFinding> {
    let mut by_function: HashMap<&str, Vec<&FindingRecord>> = HashMap::new();
    for r in records {
        let live = !matches!(r.state, FindingState::Verified | FindingState::Wontfix);
        if live && matches!(r.text("kind"), "increase" | "new") && r.window_nanos.is_some() {
            by_function.entry(r.text("function")).or_default().push(r);
        }
    }
    let mut out = vec![];
    for (function, mut rs) in by_function {
        rs.sort_by_key(|r| r.window_nanos.map(|w| w[0]));
        // Sweep by window start: a record joins the cluster while it starts before the
        // cluster's latest end.
        let mut clusters: Vec<Vec<&FindingRecord>> = vec![];
        let mut end = i64::MIN;
        for r in rs {
            let [s, e] = r.window_nanos.unwrap_or_default();
            match clusters.last_mut() {
                Some(c) if s < end => c.push(r),
                _ => clusters.push(vec![r]),
            }
            end = end.max(e);
        }
        for c in clusters {
            let mut apps: Vec<String> = c.iter().map(|r| r.app.clone()).collect();
            apps.sort();
            apps.dedup();
            if apps.len() < 2 {
                continue;
            }
            let cores: Vec<f64> = c.iter().filter_map(|r| r.number("cores")).collect();
            out.push(CrossAppFinding {
                function: function.to_string(),
                apps,
                findings: c.iter().map(|r| r.id.clone()).collect(),
                work_delta_pp: c.iter().filter_map(|r| r.number("work_delta_pp")).sum(),
                cores: (!cores.is_empty()).then(|| cores.iter().sum()),
            });
        }
    }
    out.sort_by(|a, b| {
        b.work_delta_pp
            .total_cmp(&a.work_delta_pp)
            .then(a.function.cmp(&b.function))
    });
    out
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// (tenant, app, sample type).
type AppKey = (String, String, String);

/// The newest version's name, end (ns) and the number of versions.
type NewestMark = (String, i64, usize);

/// Runs inspections and keeps their findings.
pub struct Inspector {
    engine: Arc<Engine>,
    records: Documents<FindingRecord>,
    min_pp: f64,
    /// Per (tenant, app, sample type): the newest version's name, end and count at the
    /// last comparison.
    seen: Mutex<HashMap<AppKey, NewestMark>>,
    /// One writer of records at a time in this process.
    writing: tokio::sync::Mutex<()>,
}

impl Inspector {
    /// An inspector over `engine`, keeping records in `objects` under `root`, reporting
    /// changes of at least `min_pp`.
    pub fn new(
        engine: Arc<Engine>,
        objects: Arc<dyn ObjectStore>,
        root: Path,
        min_pp: f64,
    ) -> Self {
        Inspector {
            engine,
            records: Documents::new(objects, root),
            min_pp,
            seen: Mutex::new(HashMap::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }

    /// Inspects every app of `tenant` whose newest version got data since the last run.
    pub async fn inspect(&self, tenant: &str) -> Result<InspectReport> {
        let mut report = InspectReport::default();
        let listed = apps(&self.engine, tenant, &Selector::default()).await?;
        for app in &listed.apps {
            report.apps += 1;
            if let Err(e) = self.inspect_app(tenant, app, &mut report).await {
                report.errors.push(format!("{}: {}", app.name, e.message));
            }
        }
        Ok(report)
    }

    async fn inspect_app(
        &self,
        tenant: &str,
        app: &AppInfo,
        report: &mut InspectReport,
    ) -> Result<()> {
        let types: Vec<(String, String)> = app
            .sample_types
            .iter()
            .map(|t| {
                (
                    t.sample_type.clone().unwrap_or_default(),
                    t.unit.clone().unwrap_or_default(),
                )
            })
            .collect();
        let Ok(Some((st, _))) = preferred_sample_type(&types) else {
            report.skipped += 1;
            return Ok(());
        };
        let versions = self.engine.versions(tenant, &app.name, &st).await?;
        let Some(newest) = versions.last() else {
            report.skipped += 1;
            return Ok(());
        };
        let key = (tenant.to_string(), app.name.clone(), st.clone());
        let mark = (newest.version.clone(), newest.end_nanos, versions.len());
        let unchanged = self
            .seen
            .lock()
            .map_err(|_| Error::internal("inspection lock poisoned"))?
            .get(&key)
            == Some(&mark);
        if unchanged || versions.len() < 2 {
            report.skipped += 1;
            return Ok(());
        }
        let answer = regressions(
            &self.engine,
            tenant,
            &RegressionRequest {
                app: app.name.clone(),
                sample_type: Some(st.clone()),
                min_pp: Some(self.min_pp),
                ..RegressionRequest::default()
            },
        )
        .await?;
        report.compared += 1;
        let _writing = self.writing.lock().await;
        let existing: HashMap<String, Arc<FindingRecord>> = self
            .records
            .list(tenant)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let t = now();
        let start = |v: &str| {
            versions
                .iter()
                .find(|x| x.version == v)
                .map_or(0, |x| x.first_nanos)
        };
        let mut writes = vec![];
        for f in &answer.findings {
            let Value::Object(finding) = serde_json::to_value(f).map_err(Error::internal)? else {
                continue;
            };
            let id = f.finding.id.clone();
            let window = Some([
                start(&answer.summary.from_version),
                start(&answer.summary.to_version),
            ]);
            let record = match existing.get(&id) {
                Some(old) => {
                    report.seen_again += 1;
                    FindingRecord {
                        last_seen: t.clone(),
                        window_nanos: window,
                        finding,
                        ..old.as_ref().clone()
                    }
                }
                None => {
                    report.new_findings += 1;
                    FindingRecord {
                        id,
                        state: FindingState::Open,
                        app: app.name.clone(),
                        sample_type: st.clone(),
                        from_version: answer.summary.from_version.clone(),
                        to_version: answer.summary.to_version.clone(),
                        first_seen: t.clone(),
                        last_seen: t.clone(),
                        state_changed: t.clone(),
                        verified_by: None,
                        alerted_to: vec![],
                        window_nanos: window,
                        finding,
                    }
                }
            };
            writes.push(record);
        }
        // Fixed findings of this app: verified once a later version, compared with the
        // finding's baseline, no longer shows the rise (work normalised, so a later
        // version's other changes do not move it; within noise by the same test).
        let mut checked: HashMap<(String, String), Vec<String>> = HashMap::new();
        for r in existing.values() {
            if r.app != app.name || r.sample_type != st || r.state != FindingState::Fixed {
                continue;
            }
            let Some(at) = versions.iter().position(|v| v.version == r.to_version) else {
                continue;
            };
            let Some(later) = versions.get(at + 1..).and_then(|l| l.last()) else {
                continue;
            };
            let key = (r.from_version.clone(), later.version.clone());
            if !checked.contains_key(&key) {
                let since = regressions(
                    &self.engine,
                    tenant,
                    &RegressionRequest {
                        app: app.name.clone(),
                        sample_type: Some(st.clone()),
                        from_version: Some(key.0.clone()),
                        to_version: Some(key.1.clone()),
                        min_pp: Some(self.min_pp),
                    },
                )
                .await?;
                let rises = since
                    .findings
                    .iter()
                    .filter(|f| {
                        f.finding.kind != flamedb_query::regress::attribution::ChangeKind::Decrease
                    })
                    .map(|f| f.finding.function.clone())
                    .collect();
                checked.insert(key.clone(), rises);
            }
            if !checked[&key].iter().any(|f| f == r.text("function")) {
                report.verified += 1;
                writes.push(FindingRecord {
                    state: FindingState::Verified,
                    state_changed: t.clone(),
                    verified_by: Some(later.version.clone()),
                    ..r.as_ref().clone()
                });
            }
        }
        self.records.put(tenant, &writes).await?;
        self.seen
            .lock()
            .map_err(|_| Error::internal("inspection lock poisoned"))?
            .insert(key, mark);
        Ok(())
    }

    /// The findings of `tenant`, optionally in one state and of one app.
    pub async fn list(
        &self,
        tenant: &str,
        state: Option<FindingState>,
        app: Option<&str>,
    ) -> Result<FindingsAnswer> {
        let mut findings: Vec<FindingRecord> = self
            .records
            .list(tenant)
            .await?
            .iter()
            .filter(|r| state.is_none_or(|s| r.state == s))
            .filter(|r| app.is_none_or(|a| r.app == a))
            .map(|r| r.as_ref().clone())
            .collect();
        findings.sort_by(|a, b| {
            (a.app.as_str(), a.first_seen.as_str(), a.id.as_str()).cmp(&(
                b.app.as_str(),
                b.first_seen.as_str(),
                b.id.as_str(),
            ))
        });
        let cross_app = cross_app(&findings);
        Ok(FindingsAnswer {
            findings,
            cross_app,
        })
    }

    /// Sets the state of finding `id` by hand (`verified` is the inspection's to set).
    pub async fn set_state(
        &self,
        tenant: &str,
        id: &str,
        state: FindingState,
    ) -> Result<FindingRecord> {
        if state == FindingState::Verified {
            return Err(Error::invalid(
                "verified is set by the inspection once a later version is back near the \
                 baseline: mark the finding fixed",
            ));
        }
        let _writing = self.writing.lock().await;
        let Some(mut r) = self.records.get(tenant, id).await? else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("no finding {id:?}"),
            ));
        };
        if r.state != state {
            r.state = state;
            r.state_changed = now();
            r.verified_by = None;
            self.records.put(tenant, std::slice::from_ref(&r)).await?;
        }
        Ok(r)
    }

    /// The findings of `tenant` to alert `receiver` of: [`FindingRecord::alertable`] and
    /// not yet delivered to it.
    pub async fn to_alert(&self, tenant: &str, receiver: &str) -> Result<Vec<FindingRecord>> {
        Ok(self
            .records
            .list(tenant)
            .await?
            .iter()
            .filter(|r| r.alertable() && !r.alerted_to.iter().any(|u| u == receiver))
            .map(|r| r.as_ref().clone())
            .collect())
    }

    /// Records that finding `id` of `tenant` was delivered to `receiver`.
    pub async fn mark_alerted(&self, tenant: &str, id: &str, receiver: &str) -> Result<()> {
        let _writing = self.writing.lock().await;
        if let Some(mut r) = self.records.get(tenant, id).await?
            && !r.alerted_to.iter().any(|u| u == receiver)
        {
            r.alerted_to.push(receiver.to_string());
            self.records.put(tenant, std::slice::from_ref(&r)).await?;
        }
        Ok(())
    }
}
