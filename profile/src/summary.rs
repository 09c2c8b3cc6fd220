//! The facts `flamedb inspect` prints about a profile.

use crate::{LabelValue, Profile, StackId};
use hashbrown::HashSet;
use std::collections::BTreeSet;

/// Facts about a decoded profile, computed from the model alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `(type, unit)` of each value column.
    pub sample_types: Vec<(String, String)>,
    /// `(type, unit)` of the sampling period, if known.
    pub period_type: Option<(String, String)>,
    /// Sampling period.
    pub period: i64,
    /// Earliest and latest time known: sample times when the source has them, else the
    /// profile's start and start + duration. `None` when the source has no time at all.
    pub time_range: Option<(i64, i64)>,
    /// Number of samples (zero-valued ones included).
    pub samples: usize,
    /// Sum of each value column, in sample-type order.
    pub value_sums: Vec<i128>,
    /// Number of distinct stacks among the samples (the empty stack included when used).
    pub distinct_stacks: usize,
    /// Deepest stack in locations (pprof's view: an inlined chain is one location).
    pub max_depth: usize,
    /// Deepest stack in frames, inlined frames expanded.
    pub max_frame_depth: usize,
    /// Number of locations, functions and mappings in the symbol tables.
    pub locations: usize,
    /// See `locations`.
    pub functions: usize,
    /// See `locations`.
    pub mappings: usize,
    /// Distinct keys of string labels, sorted.
    pub label_keys_str: Vec<String>,
    /// Distinct keys of numeric labels, sorted.
    pub label_keys_num: Vec<String>,
    /// Whether some location has several lines (inlined frames).
    pub has_inlined_frames: bool,
}

impl Summary {
    /// Computes the summary of `p`.
    pub fn of(p: &Profile) -> Summary {
        let name = |vt: crate::ValueType| {
            (
                p.strings.get(vt.kind).to_string(),
                p.strings.get(vt.unit).to_string(),
            )
        };
        let n = p.sample_types.len();
        let mut value_sums = vec![0i128; n];
        if n > 0 {
            for values in p.values.chunks_exact(n) {
                for (sum, v) in value_sums.iter_mut().zip(values) {
                    *sum += i128::from(*v);
                }
            }
        }
        let stacks: HashSet<StackId> = p.samples.iter().map(|s| s.stack).collect();
        let max_depth = stacks.iter().map(|&s| p.stacks.depth(s)).max().unwrap_or(0);
        let max_frame_depth = stacks.iter().map(|&s| p.frame_depth(s)).max().unwrap_or(0);
        let mut keys_str = BTreeSet::new();
        let mut keys_num = BTreeSet::new();
        for (_, set) in p.label_sets.iter() {
            for label in set {
                let key = p.strings.get(label.key).to_string();
                match label.value {
                    LabelValue::Str(_) => keys_str.insert(key),
                    LabelValue::Num { .. } => keys_num.insert(key),
                };
            }
        }
        let times = p.samples.iter().filter_map(|s| s.time_nanos);
        let time_range = times
            .fold(None, |acc: Option<(i64, i64)>, t| {
                Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
            })
            .or_else(|| {
                (p.time_nanos != 0)
                    .then(|| (p.time_nanos, p.time_nanos.saturating_add(p.duration_nanos)))
            });
        Summary {
            sample_types: p.sample_types.iter().map(|&vt| name(vt)).collect(),
            period_type: p.period_type.map(name),
            period: p.period,
            time_range,
            samples: p.samples.len(),
            value_sums,
            distinct_stacks: stacks.len(),
            max_depth,
            max_frame_depth,
            locations: p.locations.len(),
            functions: p.functions.len(),
            mappings: p.mappings.len(),
            label_keys_str: keys_str.into_iter().collect(),
            label_keys_num: keys_num.into_iter().collect(),
            has_inlined_frames: p.locations.iter().any(|l| l.lines.len() > 1),
        }
    }
}
