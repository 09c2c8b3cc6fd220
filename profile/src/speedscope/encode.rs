//! [`FlameTree`] or [`Profile`] -> a speedscope file of `sampled` profiles.

use crate::flame::FlameTree;
use crate::{Profile, StackId};
use hashbrown::HashMap;
use std::fmt::Write as _;

/// The speedscope unit for a flamedb unit: time units and `bytes` as they are, anything
/// else (`count`, ...) `none`.
fn speedscope_unit(unit: &str) -> &'static str {
    match unit {
        "nanoseconds" => "nanoseconds",
        "microseconds" => "microseconds",
        "milliseconds" => "milliseconds",
        "seconds" => "seconds",
        "bytes" => "bytes",
        _ => "none",
    }
}

/// A file under construction: shared frames and sampled profiles.
#[derive(Default)]
struct Doc {
    /// `(name, file, line)` of each frame.
    frames: Vec<(String, String, i64)>,
    index: HashMap<(String, String, i64), u32>,
    profiles: Vec<Sampled>,
}

struct Sampled {
    name: String,
    unit: &'static str,
    /// Frame indexes of each sample, root first.
    samples: Vec<Vec<u32>>,
    weights: Vec<i64>,
}

impl Doc {
    fn frame(&mut self, name: &str, file: &str, line: i64) -> u32 {
        let key = (name.to_string(), file.to_string(), line);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        let i = self.frames.len() as u32;
        self.frames.push(key.clone());
        self.index.insert(key, i);
        i
    }

    fn write(&self, name: &str) -> String {
        let mut out = String::new();
        out.push_str(r#"{"$schema":"https://www.speedscope.app/file-format-schema.json","#);
        out.push_str(r#""exporter":"flamedb","name":"#);
        push_str(&mut out, name);
        out.push_str(r#","activeProfileIndex":0,"shared":{"frames":["#);
        for (i, (name, file, line)) in self.frames.iter().enumerate() {
            out.push_str(if i == 0 { "{" } else { ",{" });
            out.push_str(r#""name":"#);
            push_str(&mut out, name);
            if !file.is_empty() {
                out.push_str(r#","file":"#);
                push_str(&mut out, file);
            }
            if *line != 0 {
                let _ = write!(out, r#","line":{line}"#);
            }
            out.push('}');
        }
        out.push_str(r#"]},"profiles":["#);
        for (i, p) in self.profiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"type":"sampled","name":"#);
            push_str(&mut out, &p.name);
            let total = p.weights.iter().fold(0i64, |a, &w| a.saturating_add(w));
            let _ = write!(
                out,
                r#","unit":"{}","startValue":0,"endValue":{total},"samples":["#,
                p.unit
            );
            for (j, s) in p.samples.iter().enumerate() {
                out.push_str(if j == 0 { "[" } else { ",[" });
                for (k, f) in s.iter().enumerate() {
                    let _ = write!(out, "{}{f}", if k == 0 { "" } else { "," });
                }
                out.push(']');
            }
            out.push_str(r#"],"weights":["#);
            for (j, w) in p.weights.iter().enumerate() {
                let _ = write!(out, "{}{w}", if j == 0 { "" } else { "," });
            }
            out.push_str("]}");
        }
        out.push_str("]}");
        out
    }
}

/// Appends `s` as a JSON string.
fn push_str(out: &mut String, s: &str) {
    // Serializing a `&str` cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Writes a flame tree as a speedscope file named `name`: one `sampled` profile (two for
/// a diff tree, left then right) with one sample per node that has a self value, its
/// stack the node's path (the synthetic root excluded) and its weight that self value.
/// `unit` is the flamedb unit of the values (`nanoseconds`, `bytes`, `count`, ...).
/// This is what a flame graph endpoint serves for `format=speedscope`.
pub fn encode(tree: &FlameTree, name: &str, unit: &str) -> String {
    let mut doc = Doc::default();
    let sides = if tree.is_diff() { 2 } else { 1 };
    let mut profiles: Vec<Sampled> = (0..sides)
        .map(|side| Sampled {
            name: match (sides, side) {
                (1, _) => name.to_string(),
                (_, 0) => format!("{name} (left)"),
                _ => format!("{name} (right)"),
            },
            unit: speedscope_unit(unit),
            samples: Vec::new(),
            weights: Vec::new(),
        })
        .collect();
    // path[l] = frame index of the current node at level l + 1.
    let mut path: Vec<u32> = Vec::new();
    for i in 1..tree.len() {
        let level = tree.level(i) as usize;
        path.truncate(level - 1);
        path.push(doc.frame(tree.name(i), "", 0));
        for (side, p) in profiles.iter_mut().enumerate() {
            let value = tree.self_at(i, side);
            if value != 0 {
                p.samples.push(path.clone());
                p.weights.push(value);
            }
        }
    }
    doc.profiles = profiles;
    doc.write(name)
}

/// Writes a profile as a speedscope file named `name`: one `sampled` profile per sample
/// type (named `type/unit`), one sample per distinct stack with a non-zero sum, frames
/// with their source file and line.
pub fn encode_profile(profile: &Profile, name: &str) -> String {
    let mut doc = Doc::default();
    // Distinct stacks in order of first appearance, with their sums per sample type.
    let columns = profile.sample_types.len();
    let mut order: Vec<StackId> = Vec::new();
    let mut sums: HashMap<StackId, Vec<i64>> = HashMap::new();
    for (i, s) in profile.samples.iter().enumerate() {
        let entry = sums.entry(s.stack).or_insert_with(|| {
            order.push(s.stack);
            vec![0; columns]
        });
        for (sum, v) in entry.iter_mut().zip(profile.sample_values(i)) {
            *sum = sum.saturating_add(*v);
        }
    }
    let stacks: Vec<Vec<u32>> = order
        .iter()
        .map(|&stack| {
            profile
                .frames(stack)
                .iter()
                .map(|f| doc.frame(&f.name, f.file, f.line))
                .collect()
        })
        .collect();
    for (t, &vt) in profile.sample_types.iter().enumerate() {
        let mut p = Sampled {
            name: profile.value_type_name(vt),
            unit: speedscope_unit(profile.strings.get(vt.unit)),
            samples: Vec::new(),
            weights: Vec::new(),
        };
        for (stack, frames) in order.iter().zip(&stacks) {
            let value = sums.get(stack).map_or(0, |v| v[t]);
            if value != 0 {
                p.samples.push(frames.clone());
                p.weights.push(value);
            }
        }
        doc.profiles.push(p);
    }
    doc.write(name)
}
