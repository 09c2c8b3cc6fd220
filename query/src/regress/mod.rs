//! Regression analysis: which functions got more (or less) expensive between two versions
//! of an app, where each change originates, how sure that is, and what it costs.
//!
//! ```text
//!  samples of app, sample type, versions (before, after)
//!    ─► GROUP BY version, replicate (dc/pod, else dc/profile time), stack: sum(value)
//!    ─► per side: stack sums ─► diff FlameTree (dictionaries resolve each key once)
//!    ─► attribution::TreeDiff: work normalised by unchanged work, origins of each change
//!    ─► per function: origins summed (callers, path), shares before and after
//!    ─► per replicate: the function's inclusive value over the replicate's total (stacks
//!       containing it, once per stack), Welch's t-test between the versions
//!    ─► findings: |work delta| ≥ min_pp and p < alpha (or flagged low_confidence when a
//!       side has too few replicates); a rise paired with a sibling's equal fall is a
//!       cost shift
//!    ─► per finding: the app's change events between the versions ranked by evidence
//!       (the share of its change flowing through what an event touched, its file, its
//!       message), the first with evidence its cause
//! ```
//!
//! Tour: [`attribution`] (the origin of a change on the diff tree), [`stats`] (weighted
//! median, Welch), [`compare`] (the queries and the assembly of a [`Report`]),
//! [`events`] (which change caused a finding), [`sql`] (`function_shares` and
//! `regressions` as SQL table functions).

pub mod attribution;
pub mod compare;
pub mod events;
pub mod sql;
pub mod stats;

pub use attribution::ChangeKind;
pub use compare::{compare, versions};

/// How findings are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionConfig {
    /// Smallest change reported, in percentage points of the baseline's total work.
    pub min_pp: f64,
    /// Largest p-value of Welch's test for a finding.
    pub alpha: f64,
    /// Fewest replicates per side for the test; with fewer, findings are listed with
    /// `low_confidence`.
    pub min_replicates: usize,
}

impl Default for RegressionConfig {
    fn default() -> Self {
        RegressionConfig {
            min_pp: 0.5,
            alpha: 0.01,
            min_replicates: 3,
        }
    }
}

/// One version of an app as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersionInfo {
    /// The version.
    pub version: String,
    /// Its first profile's time, ns since the epoch.
    pub first_nanos: i64,
    /// Its last profile's end (time plus duration), ns since the epoch.
    pub end_nanos: i64,
}

/// The statistical test behind a finding.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Significance {
    /// The test: `welch_t` (Welch's unequal-variance t-test on the function's inclusive
    /// share per replicate, the later side normalised by unchanged work).
    pub test: &'static str,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The t statistic.
    pub t: f64,
    /// Replicates per side (before, after).
    pub replicates: [usize; 2],
}

/// A function whose cost changed, where the change originates.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Finding {
    /// Stable id: the app, the versions, the function and the kind, hashed.
    pub id: String,
    /// The function.
    pub function: String,
    /// `increase`, `new` or `decrease`.
    pub kind: ChangeKind,
    /// Inclusive share of the baseline's total, in percent (once per stack).
    pub before_pct: f64,
    /// Inclusive share of the later version's total, in percent.
    pub after_pct: f64,
    /// `after_pct - before_pct`.
    pub delta_pp: f64,
    /// The change of its self share, in percentage points.
    pub self_delta_pp: f64,
    /// The change attributed to it, in percentage points of the baseline's work, the
    /// later version normalised by the work that did not change (no dilution).
    pub work_delta_pp: f64,
    /// CPU cores it costs at the baseline's load (for time in nanoseconds): the work delta
    /// per second of the baseline's wall time.
    pub cores: Option<f64>,
    /// The test across replicates (`None` when a side has fewer than two).
    pub significance: Option<Significance>,
    /// Too few replicates for the test.
    pub low_confidence: bool,
    /// A rise with a sibling's equal fall under the same caller (or the fall of one):
    /// reported, not alerted.
    pub cost_shift: bool,
    /// The callers of its heaviest origin, root first.
    pub path: Vec<String>,
    /// The callers through which the change flows, heaviest first.
    pub callers: Vec<String>,
    /// The change events with evidence for it, best first (at most three).
    pub events: Vec<events::RankedEvent>,
    /// The id of the event that most likely caused it; `None` when no event has evidence.
    pub cause: Option<String>,
}

/// The comparison of two versions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// What was compared, how, and how long it took.
    #[serde(flatten)]
    pub summary: Summary,
    /// Rises and new functions by work delta, then decreases.
    pub findings: Vec<Finding>,
}

/// What a [`Report`] compared (fields in the order JSON shows them).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// The app.
    pub app: String,
    /// The sample type.
    pub sample_type: String,
    /// Its unit.
    pub unit: String,
    /// The baseline.
    pub from_version: String,
    /// The later version.
    pub to_version: String,
    /// Baseline total.
    pub before_total: i64,
    /// Later total.
    pub after_total: i64,
    /// The factor by which the later version's work was scaled so that unchanged work is
    /// equal (1 when the load did not change).
    pub work_scale: f64,
    /// Replicates (pods, else profiles) per side.
    pub replicates: [usize; 2],
    /// Smallest change reported, percentage points.
    pub min_pp: f64,
    /// The significance test ([`Significance::test`]).
    pub test: &'static str,
    /// Largest p-value of a finding.
    pub alpha: f64,
    /// Where the comparison's time went, in milliseconds: `scan` (the aggregate over
    /// `samples`), `tree` (the diff tree, keys resolved), `analysis` (attribution, the
    /// per-replicate values and the tests).
    pub timings_ms: Timings,
}

/// Where a comparison's time went, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Timings {
    /// The aggregate over `samples`.
    pub scan: f64,
    /// The diff tree (dictionary keys resolved).
    pub tree: f64,
    /// Attribution, per-replicate values, tests.
    pub analysis: f64,
}
