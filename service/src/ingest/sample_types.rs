//! The `sample_type_config` and `prev_profile` parts of a multipart `POST /ingest`, as the
//! original Pyroscope server applied them (`pkg/convert/pprof` of pyroscope-io/pyroscope
//! before it became grafana/pyroscope's `pkg/og`; read, not copied):
//!
//! - `sample_type_config` maps a pprof sample type name to `{units, display-name,
//!   aggregation, sampled, cumulative}`. Without the part, Pyroscope's default mapping
//!   ([`default_configs`]) applies. A sample type that is not in the mapping is dropped,
//!   as Pyroscope did (its parser only reads the types the mapping names).
//! - `display-name` renames the sample type, `units` replaces its unit.
//! - A `cumulative` type (the old Go client's `alloc_objects`, `alloc_space`,
//!   `contentions`, `delay`) counts since process start; its values are stored as the
//!   difference `profile - prev_profile` per stack and sample label set. A stack whose
//!   value went down counts 0 (Pyroscope zeroes such a tree node), and a label set the
//!   previous profile does not have is not stored for that type (Pyroscope keeps it only
//!   as the base of the next difference). Without `prev_profile` (or when it lacks the
//!   type), cumulative types are dropped: a difference needs two profiles.
//!   `prev_profile`'s other types are ignored.
//! - `aggregation` (`sum` or `average`) and `sampled` are checked but change nothing:
//!   flamedb stores values as sent, and every profile row keeps its sampling period.
//!
//! Stacks of the two profiles are matched by their frame names, root first (Pyroscope's
//! trees are keyed by names too). Samples whose kept values are all 0 are dropped. A
//! profile left with no sample type is not stored (the request still succeeds, as in
//! Pyroscope: a client's first cumulative-only profile has nothing to store).

use crate::{Error, Result};
use flamedb_profile::{LabelValue, Profile, StrId, ValueType};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};

/// How one pprof sample type is stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SampleTypeConfig {
    /// Unit stored instead of the profile's (`samples`, `objects`, `bytes`, ...).
    #[serde(default)]
    pub units: String,
    /// Name stored instead of the sample type's.
    #[serde(default, rename = "display-name")]
    pub display_name: String,
    /// `sum` or `average` (how Pyroscope merged profiles over time); checked only.
    #[serde(default)]
    pub aggregation: String,
    /// Values count since process start: store `profile - prev_profile`.
    #[serde(default)]
    pub cumulative: bool,
    /// Values are sampled (Pyroscope derived a sample rate); checked only.
    #[serde(default)]
    pub sampled: bool,
}

/// Sample type name -> config.
pub type SampleTypeConfigs = HashMap<String, SampleTypeConfig>;

/// Parses a `sample_type_config` part (a JSON object of objects).
pub fn parse_configs(json: &[u8]) -> Result<SampleTypeConfigs> {
    let configs: SampleTypeConfigs = serde_json::from_slice(json).map_err(|e| {
        Error::invalid(format!(
            "sample_type_config must map sample type names to objects with units, display-name, aggregation, cumulative, sampled: {e}"
        ))
    })?;
    for (name, c) in &configs {
        if !matches!(c.aggregation.as_str(), "" | "sum" | "average") {
            return Err(Error::invalid(format!(
                "sample_type_config[{name:?}].aggregation is {:?}: use sum or average",
                c.aggregation
            )));
        }
    }
    Ok(configs)
}

/// Pyroscope's `DefaultSampleTypeMapping`: the Go sample types.
pub fn default_configs() -> SampleTypeConfigs {
    let c = |display: &str, units: &str, aggregation: &str, cumulative: bool, sampled: bool| {
        SampleTypeConfig {
            units: units.into(),
            display_name: display.into(),
            aggregation: aggregation.into(),
            cumulative,
            sampled,
        }
    };
    [
        ("samples", c("cpu", "samples", "", false, true)),
        ("inuse_objects", c("", "objects", "average", false, false)),
        ("alloc_objects", c("", "objects", "", true, false)),
        ("inuse_space", c("", "bytes", "average", false, false)),
        ("alloc_space", c("", "bytes", "", true, false)),
        (
            "goroutine",
            c("goroutines", "goroutines", "average", false, false),
        ),
        (
            "contentions",
            c("mutex_count", "lock_samples", "", true, false),
        ),
        (
            "delay",
            c("mutex_duration", "lock_nanoseconds", "", true, false),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A kept sample type: its column in the input, new value type, cumulative or not.
struct Kept {
    column: usize,
    cumulative: bool,
}

/// Applies `configs` (and the difference to `prev` for cumulative types) to `profile`.
/// Returns `None` when no sample type is left.
pub fn apply(
    mut profile: Profile,
    prev: Option<&Profile>,
    configs: &SampleTypeConfigs,
) -> Result<Option<Profile>> {
    let mut kept = Vec::new();
    let mut types = Vec::new();
    let mut names = HashSet::new();
    let default_name = profile
        .default_sample_type
        .map(|s| profile.strings.get(s).to_string());
    let mut default_type = None;
    for (column, vt) in profile.sample_types.clone().into_iter().enumerate() {
        let name = profile.strings.get(vt.kind).to_string();
        let Some(config) = configs.get(&name) else {
            continue;
        };
        if config.cumulative && prev.is_none_or(|p| column_of(p, &name).is_none()) {
            continue;
        }
        let shown = if config.display_name.is_empty() {
            name.clone()
        } else {
            config.display_name.clone()
        };
        if !names.insert(shown.clone()) {
            return Err(Error::invalid(format!(
                "sample_type_config: two sample types would be stored as {shown:?}"
            )));
        }
        let kind = profile.symbols.intern(&shown);
        let unit = if config.units.is_empty() {
            vt.unit
        } else {
            profile.symbols.intern(&config.units)
        };
        if default_name.as_deref() == Some(name.as_str()) {
            default_type = Some(kind);
        }
        types.push(ValueType { kind, unit });
        kept.push(Kept {
            column,
            cumulative: config.cumulative,
        });
    }
    if kept.is_empty() {
        return Ok(None);
    }
    let mut values = select_columns(&profile, &kept);
    if let Some(prev) = prev
        && kept.iter().any(|k| k.cumulative)
    {
        subtract_previous(&profile, prev, &kept, &mut values);
    }
    let n = kept.len();
    let samples = std::mem::take(&mut profile.samples);
    profile.values.clear();
    for (i, sample) in samples.into_iter().enumerate() {
        let row = &values[i * n..(i + 1) * n];
        if row.iter().any(|&v| v != 0) {
            profile.samples.push(sample);
            profile.values.extend_from_slice(row);
        }
    }
    profile.sample_types = types;
    profile.default_sample_type = default_type;
    Ok(Some(profile))
}

/// Index of the sample type named `name` in `p`.
fn column_of(p: &Profile, name: &str) -> Option<usize> {
    p.sample_types
        .iter()
        .position(|vt| p.strings.get(vt.kind) == name)
}

/// The kept columns of every sample, sample after sample.
fn select_columns(profile: &Profile, kept: &[Kept]) -> Vec<i64> {
    let mut values = Vec::with_capacity(profile.samples.len() * kept.len());
    for i in 0..profile.samples.len() {
        let row = profile.sample_values(i);
        values.extend(kept.iter().map(|k| row[k.column]));
    }
    values
}

/// A sample's identity across two profiles: frame names (root first) and string labels.
type SampleKey = (Vec<String>, Vec<(String, String)>);

fn sample_key(p: &Profile, i: usize) -> SampleKey {
    let s = &p.samples[i];
    let frames = p
        .frame_names(s.stack)
        .into_iter()
        .map(|f| f.into_owned())
        .collect();
    (frames, label_key(p, p.labels(s)))
}

fn label_key(p: &Profile, labels: &[flamedb_profile::Label]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = labels
        .iter()
        .filter_map(|l| match l.value {
            LabelValue::Str(v) if v != StrId::default() => Some((
                p.strings.get(l.key).to_string(),
                p.strings.get(v).to_string(),
            )),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// Replaces the cumulative columns of `values` by `value - previous value` per sample key
/// (at least 0), and by 0 for label sets `prev` has no value for.
fn subtract_previous(profile: &Profile, prev: &Profile, kept: &[Kept], values: &mut [i64]) {
    let n = kept.len();
    // Per kept cumulative column: the previous sums per key, and the label sets seen.
    let mut remaining: HashMap<SampleKey, Vec<i64>> = HashMap::new();
    let mut label_sets: Vec<HashSet<Vec<(String, String)>>> = vec![HashSet::new(); n];
    let prev_columns: Vec<Option<usize>> = kept
        .iter()
        .map(|k| {
            let name = profile.strings.get(profile.sample_types[k.column].kind);
            k.cumulative.then(|| column_of(prev, name)).flatten()
        })
        .collect();
    for i in 0..prev.samples.len() {
        let row = prev.sample_values(i);
        if prev_columns.iter().flatten().all(|&c| row[c] == 0) {
            continue;
        }
        let key = sample_key(prev, i);
        let sums = remaining.entry(key.clone()).or_insert_with(|| vec![0; n]);
        for (j, c) in prev_columns.iter().enumerate() {
            if let Some(c) = *c
                && row[c] != 0
            {
                sums[j] = sums[j].saturating_add(row[c]);
                label_sets[j].insert(key.1.clone());
            }
        }
    }
    for i in 0..profile.samples.len() {
        let key = sample_key(profile, i);
        let mut left = remaining.get_mut(&key);
        let row = &mut values[i * n..(i + 1) * n];
        for (j, k) in kept.iter().enumerate() {
            if !k.cumulative {
                continue;
            }
            if !label_sets[j].contains(&key.1) {
                row[j] = 0;
                continue;
            }
            let before = left.as_ref().map_or(0, |l| l[j]).max(0);
            let take = row[j].clamp(0, before);
            row[j] = (row[j] - take).max(0);
            if let Some(l) = left.as_mut() {
                l[j] -= take;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile of `alloc_space/bytes` and `inuse_space/bytes` with one sample per
    /// (stack, label, alloc, inuse).
    fn heap(samples: &[(&str, &str, i64, i64)]) -> Profile {
        let mut p = Profile::new();
        p.add_sample_type("alloc_space", "bytes");
        p.add_sample_type("inuse_space", "bytes");
        for &(stack, pod, alloc, inuse) in samples {
            let locs: Vec<_> = stack
                .split(';')
                .map(|f| {
                    p.symbols.intern_named_location(
                        f,
                        None,
                        0,
                        flamedb_profile::FrameKind::Unspecified,
                    )
                })
                .collect();
            let id = p.symbols.stacks.intern(locs);
            let labels = if pod.is_empty() {
                flamedb_profile::LabelSetId::default()
            } else {
                let key = p.symbols.intern("pod");
                let value = LabelValue::Str(p.symbols.intern(pod));
                p.label_sets
                    .intern(&[flamedb_profile::Label { key, value }])
            };
            p.push_sample(id, &[alloc, inuse], labels, None);
        }
        p
    }

    /// (type/unit names, then per sample: folded stack, values).
    fn table(p: &Profile) -> (Vec<String>, Vec<(String, Vec<i64>)>) {
        let types = p
            .sample_types
            .iter()
            .map(|&vt| p.value_type_name(vt))
            .collect();
        let rows = (0..p.samples.len())
            .map(|i| {
                (
                    p.frame_names(p.samples[i].stack).join(";"),
                    p.sample_values(i).to_vec(),
                )
            })
            .collect();
        (types, rows)
    }

    #[test]
    fn cumulative_types_store_the_difference_per_stack() {
        let prev = heap(&[("main;a", "", 100, 7), ("main;b", "", 50, 1)]);
        // a grew by 30, b shrank (counts 0), c is new (counts all of it).
        let cur = heap(&[
            ("main;a", "", 130, 9),
            ("main;b", "", 40, 2),
            ("main;c", "", 5, 0),
        ]);
        let out = apply(cur, Some(&prev), &default_configs())
            .unwrap()
            .unwrap();
        let (types, rows) = table(&out);
        assert_eq!(types, vec!["alloc_space/bytes", "inuse_space/bytes"]);
        assert_eq!(
            rows,
            vec![
                ("main;a".to_string(), vec![30, 9]),
                ("main;b".to_string(), vec![0, 2]),
                ("main;c".to_string(), vec![5, 0]),
            ]
        );
    }

    #[test]
    fn without_a_previous_profile_cumulative_types_are_dropped() {
        let cur = heap(&[("main;a", "", 130, 9), ("main;b", "", 40, 0)]);
        let out = apply(cur, None, &default_configs()).unwrap().unwrap();
        let (types, rows) = table(&out);
        assert_eq!(types, vec!["inuse_space/bytes"]);
        assert_eq!(rows, vec![("main;a".to_string(), vec![9])], "zero rows go");
    }

    #[test]
    fn duplicate_samples_and_label_sets_follow_the_sums() {
        let prev = heap(&[("main;a", "p1", 10, 0), ("main;a", "p1", 5, 0)]);
        // p1: 12 + 8 = 20 now, 15 before -> 5 in total; p2 was not in prev -> 0.
        let cur = heap(&[
            ("main;a", "p1", 12, 1),
            ("main;a", "p1", 8, 1),
            ("main;a", "p2", 9, 1),
        ]);
        let out = apply(cur, Some(&prev), &default_configs())
            .unwrap()
            .unwrap();
        let total_alloc: i64 = (0..out.samples.len())
            .map(|i| out.sample_values(i)[0])
            .sum();
        assert_eq!(total_alloc, 5);
        let (_, rows) = table(&out);
        assert_eq!(rows.len(), 3, "inuse keeps every sample");
    }

    #[test]
    fn display_names_and_units_rename_and_unknown_types_go() {
        let cur = heap(&[("main;a", "", 3, 4)]);
        let configs = parse_configs(
            br#"{"inuse_space": {"display-name": "heap", "units": "objects", "aggregation": "average"}}"#,
        )
        .unwrap();
        let out = apply(cur, None, &configs).unwrap().unwrap();
        assert_eq!(table(&out).0, vec!["heap/objects"]);
        assert_eq!(table(&out).1, vec![("main;a".to_string(), vec![4])]);
        let none = apply(heap(&[("main;a", "", 3, 4)]), None, &HashMap::new()).unwrap();
        assert!(none.is_none());
        let clash = parse_configs(
            br#"{"inuse_space": {"display-name": "x"}, "alloc_space": {"display-name": "x"}}"#,
        )
        .unwrap();
        let prev = heap(&[("main;a", "", 1, 1)]);
        assert!(apply(heap(&[("main;a", "", 3, 4)]), Some(&prev), &clash).is_err());
        for bad in [
            &br#"[1]"#[..],
            br#"{"cpu": null}"#,
            br#"{"cpu": {"aggregation": "max"}}"#,
        ] {
            assert!(
                parse_configs(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
