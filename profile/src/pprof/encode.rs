//! [`Profile`] -> pprof protobuf.
//!
//! Ids are positions + 1 (`Location.id = LocationId + 1`, likewise for functions and
//! mappings; 0 stays "none"), the string table is the profile's own (index 0 is `""`), and
//! stacks are written leaf first. Tables and samples keep their order, so decoding the
//! output gives back the same profile.
//!
//! What pprof cannot carry is dropped: a location's [`FrameKind`](crate::FrameKind) and the
//! per-sample times ([`Sample::time_nanos`](crate::Sample)). When the profile has no start
//! time but its samples have times, `time_nanos`/`duration_nanos` are set to the range of
//! the sample times so the time span survives. pprof reads string index 0 as "unset", so
//! a string label whose value is `""` comes back as the numeric label 0, and a
//! `default_sample_type` of `Some("")` comes back as `None`.

use super::proto;
use crate::{LabelValue, Profile, StrId};
use prost::Message;
use std::io::Write;

/// Encodes a profile as a raw (uncompressed) pprof message.
pub fn encode(p: &Profile) -> Vec<u8> {
    to_proto(p).encode_to_vec()
}

/// Encodes a profile as a gzipped pprof message, the usual on-disk and HTTP form.
pub fn encode_gzip(p: &Profile) -> Vec<u8> {
    let raw = encode(p);
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail: its `Write` impl never returns an error.
    gz.write_all(&raw).expect("writing to a Vec cannot fail");
    gz.finish().expect("writing to a Vec cannot fail")
}

fn sid(s: StrId) -> i64 {
    i64::from(s.0)
}

fn id(index: usize) -> u64 {
    index as u64 + 1
}

/// The pprof message for a profile.
pub fn to_proto(p: &Profile) -> proto::Profile {
    let value_type = |vt: crate::ValueType| proto::ValueType {
        r#type: sid(vt.kind),
        unit: sid(vt.unit),
    };
    let (time_nanos, duration_nanos) = time_span(p);
    proto::Profile {
        sample_type: p.sample_types.iter().map(|&vt| value_type(vt)).collect(),
        sample: samples(p),
        mapping: p
            .mappings
            .iter()
            .enumerate()
            .map(|(i, m)| proto::Mapping {
                id: id(i),
                memory_start: m.memory_start,
                memory_limit: m.memory_limit,
                file_offset: m.file_offset,
                filename: sid(m.filename),
                build_id: sid(m.build_id),
                has_functions: m.has_functions,
                has_filenames: m.has_filenames,
                has_line_numbers: m.has_line_numbers,
                has_inline_frames: m.has_inline_frames,
            })
            .collect(),
        location: locations(p),
        function: p
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| proto::Function {
                id: id(i),
                name: sid(f.name),
                system_name: sid(f.system_name),
                filename: sid(f.filename),
                start_line: f.start_line,
            })
            .collect(),
        string_table: p
            .strings
            .iter()
            .map(|(_, s)| s.as_bytes().to_vec())
            .collect(),
        drop_frames: sid(p.drop_frames),
        keep_frames: sid(p.keep_frames),
        time_nanos,
        duration_nanos,
        period_type: p.period_type.map(value_type),
        period: p.period,
        comment: p.comments.iter().map(|&c| sid(c)).collect(),
        default_sample_type: p.default_sample_type.map_or(0, sid),
        doc_url: sid(p.doc_url),
    }
}

/// The profile's start and duration, or the span of its sample times when it has no start.
fn time_span(p: &Profile) -> (i64, i64) {
    if p.time_nanos != 0 {
        return (p.time_nanos, p.duration_nanos);
    }
    let mut times = p.samples.iter().filter_map(|s| s.time_nanos);
    let Some(first) = times.next() else {
        return (p.time_nanos, p.duration_nanos);
    };
    let (lo, hi) = times.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)));
    (lo, hi.saturating_sub(lo))
}

fn locations(p: &Profile) -> Vec<proto::Location> {
    p.locations
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let lines = p
                .lines
                .get(l.lines.start as usize..l.lines.end as usize)
                .unwrap_or_default();
            proto::Location {
                id: id(i),
                mapping_id: l.mapping.map_or(0, |m| id(m.index())),
                address: l.address,
                line: lines
                    .iter()
                    .map(|line| proto::Line {
                        function_id: line.function.map_or(0, |f| id(f.index())),
                        line: line.line,
                        column: line.column,
                    })
                    .collect(),
                is_folded: l.is_folded,
            }
        })
        .collect()
}

fn samples(p: &Profile) -> Vec<proto::Sample> {
    let columns = p.sample_types.len();
    p.samples
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let start = i.saturating_mul(columns);
            let value = p
                .values
                .get(start..start.saturating_add(columns))
                .unwrap_or_default()
                .to_vec();
            proto::Sample {
                location_id: p
                    .stacks
                    .leaf_first(s.stack)
                    .map(|l| id(l.index()))
                    .collect(),
                value,
                label: p
                    .labels(s)
                    .iter()
                    .map(|l| match l.value {
                        LabelValue::Str(v) => proto::Label {
                            key: sid(l.key),
                            str: sid(v),
                            ..Default::default()
                        },
                        LabelValue::Num { value, unit } => proto::Label {
                            key: sid(l.key),
                            num: value,
                            num_unit: sid(unit),
                            ..Default::default()
                        },
                    })
                    .collect(),
            }
        })
        .collect()
}
