//! The in-memory head of one partition: profiles appended since the last flush, with their
//! own dictionary, series and rows, ready to become a block.
//!
//! Appending a profile imports its stacks into the head's [`Symbols`] through a
//! [`Remap`]: every node of the profile's stack tree is translated once (parents first),
//! so the cost is one hash lookup per distinct stack node of the profile, not per frame per
//! sample; a stack the head has seen before (in any profile) is found with one lookup in
//! the head's [`StackCache`]. The head's [`LocationCache`] lets the decoding threads find
//! the locations the head already has ([`LocationCache::lookup`]), so only new ones are
//! imported symbol by symbol here. Rows of one profile are summed per (sample type, series, time,
//! stack).

use crate::rows::{BlockData, ProfileRows, SampleRows};
use crate::{LabelLimits, Labels, PartitionKey, Result, SampleType};
use flamedb_profile::{
    LabelSetId, LabelValue, LocationCache, LocationHints, Profile, Remap, StackCache, Symbols,
};
use hashbrown::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// How samples become rows.
#[derive(Debug, Clone)]
pub struct AppendOptions {
    /// Per-sample times (perf script) are rounded down to this many nanoseconds, so a
    /// stack's samples within one bucket form one row. Default 10 s.
    pub time_resolution_nanos: i64,
    /// Sample labels that never become series labels (high cardinality): default
    /// `span_id`, `trace_id`, `profile_id`.
    pub ignored_sample_labels: Vec<String>,
    /// Limits on series labels.
    pub label_limits: LabelLimits,
}

impl Default for AppendOptions {
    fn default() -> Self {
        AppendOptions {
            time_resolution_nanos: 10_000_000_000,
            ignored_sample_labels: vec!["span_id".into(), "trace_id".into(), "profile_id".into()],
            label_limits: LabelLimits::default(),
        }
    }
}

/// What one append added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Sample rows added (after summing equal keys).
    pub rows: u64,
    /// Profile rows added.
    pub profiles: u64,
}

/// Checks that every sample label set of `profile` (of samples [`Head::append`] stores,
/// those with a non-zero value) merges with `labels` within the label limits: after this,
/// `Head::append` cannot fail, so the store checks it before writing the WAL.
pub fn check_series(labels: &Labels, profile: &Profile, opts: &AppendOptions) -> Result<()> {
    let mut seen = hashbrown::HashSet::new();
    for (i, s) in profile.samples.iter().enumerate() {
        if profile.sample_values(i).iter().any(|&v| v != 0) && seen.insert(s.labels) {
            series_labels(labels, profile, s.labels, opts)?;
        }
    }
    Ok(())
}

/// The series labels of a sample: its string labels (except the ignored ones) under the
/// ingest labels, which win over sample labels of the same name.
fn series_labels(
    labels: &Labels,
    profile: &Profile,
    set: LabelSetId,
    opts: &AppendOptions,
) -> Result<Labels> {
    let extra: Vec<(String, String)> = profile
        .label_sets
        .get(set)
        .iter()
        .filter_map(|l| match l.value {
            LabelValue::Str(v) => {
                let k = profile.strings.get(l.key);
                (!opts.ignored_sample_labels.iter().any(|i| i == k))
                    .then(|| (sanitize_name(k), profile.strings.get(v).to_string()))
            }
            LabelValue::Num { .. } => None,
        })
        .collect();
    if extra.is_empty() {
        return Ok(labels.clone());
    }
    Labels::new(
        extra.into_iter().chain(labels.pairs().iter().cloned()),
        &opts.label_limits,
    )
}

/// The unflushed data of one partition.
#[derive(Debug)]
pub struct Head {
    /// The partition.
    pub key: PartitionKey,
    symbols: Symbols,
    /// The stacks of `symbols` by location sequence, so a stack seen in an earlier profile
    /// is found with one probe.
    stack_cache: StackCache,
    /// The locations of `symbols` by content, shared with the decoding threads; a new
    /// head (after a flush) has a new one, so hints for an older head are refused.
    location_cache: Arc<LocationCache>,
    sample_types: Vec<SampleType>,
    type_index: HashMap<SampleType, u16>,
    series: Vec<Labels>,
    series_index: HashMap<Labels, u32>,
    samples: SampleRows,
    profiles: ProfileRows,
    /// WAL sequence numbers of the first and last record in the head.
    pub wal_range: Option<(u64, u64)>,
    /// When the first record arrived.
    pub since: Instant,
}

impl Head {
    /// An empty head for `key`.
    pub fn new(key: PartitionKey) -> Self {
        Head {
            key,
            symbols: Symbols::new(),
            stack_cache: StackCache::new(),
            location_cache: Arc::new(LocationCache::new()),
            sample_types: Vec::new(),
            type_index: HashMap::new(),
            series: Vec::new(),
            series_index: HashMap::new(),
            samples: SampleRows::default(),
            profiles: ProfileRows::default(),
            wal_range: None,
            since: Instant::now(),
        }
    }

    /// Whether nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.profiles.is_empty()
    }

    /// Rough memory held, in bytes (rows, stacks, strings), for the flush-by-size policy.
    pub fn approx_bytes(&self) -> usize {
        self.samples.len() * 26
            + self.profiles.len() * 46
            + self.symbols.stacks.len() * 12
            + self.symbols.strings.byte_len()
            + self.stack_cache.approx_bytes()
            + self.location_cache.approx_bytes()
    }

    /// The cache decoding threads look this head's locations up in.
    pub fn location_cache(&self) -> &Arc<LocationCache> {
        &self.location_cache
    }

    /// Number of sample rows.
    pub fn rows(&self) -> usize {
        self.samples.len()
    }

    /// Appends `profile` with series labels `labels`, starting at `time_nanos`, recorded
    /// in the WAL as record `seq`.
    pub fn append(
        &mut self,
        seq: u64,
        labels: &Labels,
        profile: &Profile,
        time_nanos: i64,
        opts: &AppendOptions,
    ) -> Result<AppendStats> {
        self.append_hinted(seq, labels, profile, time_nanos, opts, None)
    }

    /// [`Head::append`] with `hints` from this head's [`Head::location_cache`]: the
    /// locations the head has are not imported again (same ids); hints from another cache
    /// are ignored.
    pub fn append_hinted(
        &mut self,
        seq: u64,
        labels: &Labels,
        profile: &Profile,
        time_nanos: i64,
        opts: &AppendOptions,
        hints: Option<&LocationHints>,
    ) -> Result<AppendStats> {
        if self.is_empty() {
            self.since = Instant::now();
        }
        let types: Vec<u16> = profile
            .sample_types
            .iter()
            .map(|vt| {
                let t = SampleType {
                    kind: profile.strings.get(vt.kind).to_string(),
                    unit: profile.strings.get(vt.unit).to_string(),
                };
                self.sample_type(t)
            })
            .collect();
        let mut series_of: HashMap<LabelSetId, u32> = HashMap::new();
        let mut remap = Remap::for_source(&profile.symbols);
        let hints = hints.filter(|h| h.preset(&self.location_cache, &mut remap));
        let first_time = profile.samples.iter().filter_map(|s| s.time_nanos).min();
        let res = opts.time_resolution_nanos.max(1);
        // (sample type, series, time, stack, value) of every non-zero value.
        let mut rows: Vec<(u16, u32, i64, u32, i64)> = Vec::with_capacity(profile.samples.len());
        let n = profile.sample_types.len();
        for (i, s) in profile.samples.iter().enumerate() {
            let values = profile.sample_values(i);
            if values.iter().all(|&v| v == 0) {
                continue;
            }
            let series = match series_of.get(&s.labels) {
                Some(&id) => id,
                None => {
                    let id = self.series_for(labels, profile, s.labels, opts)?;
                    series_of.insert(s.labels, id);
                    id
                }
            };
            let time = match (s.time_nanos, first_time) {
                (Some(t), Some(t0)) => {
                    let t = time_nanos.saturating_add(t.saturating_sub(t0));
                    t - t.rem_euclid(res)
                }
                _ => time_nanos,
            };
            let stack = self.symbols.import_stack_cached(
                &profile.symbols,
                &mut remap,
                &mut self.stack_cache,
                s.stack,
            );
            for (j, &v) in values.iter().enumerate().take(n) {
                if v != 0 {
                    rows.push((types[j], series, time, stack.0, v));
                }
            }
        }
        if let Some(h) = hints {
            h.record(&remap);
        }
        rows.sort_unstable_by_key(|r| (r.0, r.1, r.2, r.3));
        let mut stats = AppendStats::default();
        let mut i = 0;
        while i < rows.len() {
            // One profile row per (sample type, series, time) group.
            let (t, series, time) = (rows[i].0, rows[i].1, rows[i].2);
            let p = self.profiles.len() as u32;
            let mut total = 0i64;
            let mut stacks = 0u32;
            while i < rows.len() && (rows[i].0, rows[i].1, rows[i].2) == (t, series, time) {
                let stack = rows[i].3;
                let mut v = 0i64;
                while i < rows.len()
                    && (rows[i].0, rows[i].1, rows[i].2, rows[i].3) == (t, series, time, stack)
                {
                    v = v.saturating_add(rows[i].4);
                    i += 1;
                }
                if v != 0 {
                    self.samples.push(p, stack, v);
                    total = total.saturating_add(v);
                    stacks += 1;
                }
            }
            self.profiles.push((
                t,
                series,
                time,
                profile.duration_nanos,
                profile.period,
                total,
                stacks,
            ));
            stats.rows += u64::from(stacks);
            stats.profiles += 1;
        }
        self.wal_range = Some(match self.wal_range {
            Some((first, last)) => (first.min(seq), last.max(seq)),
            None => (seq, seq),
        });
        Ok(stats)
    }

    fn sample_type(&mut self, t: SampleType) -> u16 {
        if let Some(&i) = self.type_index.get(&t) {
            return i;
        }
        let i = self.sample_types.len() as u16;
        self.sample_types.push(t.clone());
        self.type_index.insert(t, i);
        i
    }

    /// The series id of `labels` plus the sample's string labels (minus ignored ones).
    fn series_for(
        &mut self,
        labels: &Labels,
        profile: &Profile,
        set: LabelSetId,
        opts: &AppendOptions,
    ) -> Result<u32> {
        let full = series_labels(labels, profile, set, opts)?;
        if let Some(&id) = self.series_index.get(&full) {
            return Ok(id);
        }
        let id = self.series.len() as u32;
        self.series.push(full.clone());
        self.series_index.insert(full, id);
        Ok(id)
    }

    /// Takes the head's contents as block data (not yet normalized), leaving it empty.
    pub fn take(&mut self) -> (BlockData, Option<(u64, u64)>) {
        let head = std::mem::replace(self, Head::new(self.key.clone()));
        (
            BlockData {
                symbols: head.symbols,
                sample_types: head.sample_types,
                series: head.series,
                samples: head.samples,
                profiles: head.profiles,
            },
            head.wal_range,
        )
    }
}

/// A sample label name made valid as a series label name: other characters become `_`.
fn sanitize_name(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}
