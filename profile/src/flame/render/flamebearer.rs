//! Pyroscope's flamebearer JSON, `single` and `double` (diff) formats.
//!
//! Format as read in Grafana Pyroscope's source (github.com/grafana/pyroscope):
//! `pkg/og/structs/flamebearer/flamebearer.go` (`FlamebearerProfile`, `FlamebearerV1`,
//! `FlamebearerMetadataV1`: field names, `leftTicks`/`rightTicks` only for `double`),
//! `pkg/model/flamegraph.go` (`NewFlameGraph`: names deduplicated with the root named
//! `total` at index 0, a node's children start at its x offset plus its self value,
//! x offsets delta-encoded per level against the end of the previous node),
//! `pkg/model/flamegraph_diff.go` (`NewFlamegraphDiff`: 7-tuples, both x offsets
//! delta-encoded, `numTicks` = left + right total) and the frontend's `FlamebearerSchema`
//! (zod: names must be non-empty strings, so an empty name is written as `unknown`).

use crate::flame::FlameTree;
use serde::{Deserialize, Serialize};

/// A flamebearer profile, version 1: what Pyroscope's `/render` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlamebearerProfile {
    /// Always 1.
    pub version: u32,
    /// The tree.
    pub flamebearer: Flamebearer,
    /// Format, units and name.
    pub metadata: FlamebearerMetadata,
    /// Left total of a `double` profile.
    #[serde(rename = "leftTicks", default, skip_serializing_if = "Option::is_none")]
    pub left_ticks: Option<i64>,
    /// Right total of a `double` profile.
    #[serde(
        rename = "rightTicks",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub right_ticks: Option<i64>,
}

/// The flame graph itself: names and levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flamebearer {
    /// Distinct names; index 0 is the root, `total`.
    pub names: Vec<String>,
    /// One array per level (0 is the root). `single`: 4-tuples `[x offset, total, self,
    /// name index]`; `double`: 7-tuples `[x left, total left, self left, x right, total
    /// right, self right, name index]`; x offsets delta-encoded within the level.
    pub levels: Vec<Vec<i64>>,
    /// Total of the root (left + right for `double`).
    pub num_ticks: i64,
    /// Largest self value of any node (either side).
    pub max_self: i64,
}

/// Flamebearer metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlamebearerMetadata {
    /// `single` or `double`.
    pub format: String,
    /// The profiler, if known (`gospy`, ...), else empty.
    pub spy_name: String,
    /// Samples per second, for CPU profiles.
    pub sample_rate: u32,
    /// `samples`, `objects`, `bytes`, `goroutines`, `lock_samples`, `lock_nanoseconds`.
    pub units: String,
    /// The profile's name (its sample type, such as `cpu`).
    pub name: String,
}

/// Options for [`flamebearer`]: what goes into the metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlamebearerOptions {
    /// The profile's name (default empty).
    pub name: String,
    /// Units (default `samples`).
    pub units: String,
    /// Spy name (default empty).
    pub spy_name: String,
    /// Sample rate (default 100).
    pub sample_rate: u32,
}

impl Default for FlamebearerOptions {
    fn default() -> Self {
        FlamebearerOptions {
            name: String::new(),
            units: "samples".to_string(),
            spy_name: String::new(),
            sample_rate: 100,
        }
    }
}

/// The tree as a flamebearer profile (`double` for a diff tree).
pub fn flamebearer(tree: &FlameTree, opts: &FlamebearerOptions) -> FlamebearerProfile {
    let sides = if tree.is_diff() { 2 } else { 1 };
    let width = 3 * sides + 1;
    let mut names: Vec<String> = Vec::new();
    let mut index: hashbrown::HashMap<&str, i64> = hashbrown::HashMap::new();
    let mut levels: Vec<Vec<i64>> = Vec::new();
    // next_x[l][side]: where the next node at level l starts (set by its parent).
    let mut next_x: Vec<[i64; 2]> = vec![[0; 2]];
    // prev_end[l][side]: end of the last node written at level l, for delta encoding.
    let mut prev_end: Vec<[i64; 2]> = Vec::new();
    let mut max_self = 0;
    for node in tree.nodes() {
        let level = node.level as usize;
        let name = match node.name {
            _ if level == 0 => "total",
            "" => "unknown",
            n => n,
        };
        let name_index = *index.entry(name).or_insert_with(|| {
            names.push(name.to_string());
            names.len() as i64 - 1
        });
        if levels.len() == level {
            levels.push(Vec::new());
            prev_end.push([0; 2]);
        }
        next_x.truncate(level + 1);
        let mut child_x = [0; 2];
        for side in 0..sides {
            let x = next_x[level][side];
            levels[level].extend([
                x.saturating_sub(prev_end[level][side]),
                node.total[side],
                node.self_[side],
            ]);
            // Saturating: totals saturate at i64::MAX, so offsets past it stay there.
            prev_end[level][side] = x.saturating_add(node.total[side]);
            next_x[level][side] = x.saturating_add(node.total[side]);
            child_x[side] = x.saturating_add(node.self_[side]);
            max_self = max_self.max(node.self_[side]);
        }
        levels[level].push(name_index);
        debug_assert_eq!(levels[level].len() % width, 0);
        next_x.push(child_x);
    }
    let (format, left, right) = if tree.is_diff() {
        ("double", Some(tree.total(0)), Some(tree.total(1)))
    } else {
        ("single", None, None)
    };
    FlamebearerProfile {
        version: 1,
        flamebearer: Flamebearer {
            names,
            levels,
            num_ticks: tree.total(0) + tree.total(1),
            max_self,
        },
        metadata: FlamebearerMetadata {
            format: format.to_string(),
            spy_name: opts.spy_name.clone(),
            sample_rate: opts.sample_rate,
            units: opts.units.clone(),
            name: opts.name.clone(),
        },
        left_ticks: left,
        right_ticks: right,
    }
}
