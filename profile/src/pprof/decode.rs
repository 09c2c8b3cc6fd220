//! pprof protobuf -> [`Profile`].
//!
//! The message is parsed by prost into [`proto::Profile`], then its tables are moved into
//! the model in file order: every `Mapping`, `Function` and `Location` message becomes one
//! model item (no deduplication, so table sizes match the file), and every sample's stack
//! (leaf first in pprof) is interned root first in the [`StackTree`](crate::StackTree).
//!
//! Leniency, and where it stops:
//! - String index 0 is always `""` (pprof's "unset"); any other index out of range is an
//!   [`Error::Pprof`] naming the field. Invalid UTF-8 is kept lossily.
//! - `function_id` 0 or without a `Function` gives `Line.function = None`; `mapping_id` 0
//!   or without a `Mapping` gives `Location.mapping = None`.
//! - A sample with fewer values than sample types is padded with zeros, one with more is
//!   truncated (the corpus convention sums `value[..sample_type.len()]`). Without any
//!   sample type the profile gets one unnamed (`""`/`""`) sample type per value column
//!   found, the most values of any sample.
//! - A `location_id` without a `Location` is an error: a stack with a hole is not a
//!   stack, and pprof's own reader rejects it too.
//! - Duplicate ids: the last message with an id wins, as in pprof's Go reader.

use super::proto;
use crate::{
    DecodeLimits, Error, FrameKind, Function, Label, LabelValue, Line, LocationId, Mapping,
    MappingId, Profile, Result, StackId, StrId, ValueType,
};
use hashbrown::HashMap;
use prost::Message;

/// Decodes a raw (already decompressed) pprof message. See the module docs for how
/// malformed content is handled; use [`decode_maybe_gzip`] for input that may be gzipped.
pub fn decode(data: &[u8], limits: &DecodeLimits) -> Result<Profile> {
    if data.len() as u64 > limits.max_decompressed_bytes {
        return Err(Error::DecompressedTooLarge {
            limit: limits.max_decompressed_bytes,
        });
    }
    let msg = proto::Profile::decode(data)?;
    from_proto(&msg, limits)
}

/// Decodes a pprof message that may be gzip-compressed (as pprof files usually are);
/// decompression is bounded by `limits.max_decompressed_bytes`.
pub fn decode_maybe_gzip(data: &[u8], limits: &DecodeLimits) -> Result<Profile> {
    let raw = crate::gzip::maybe_gunzip(data, limits)?;
    decode(&raw, limits)
}

/// Converts a parsed pprof message into the model.
pub fn from_proto(msg: &proto::Profile, limits: &DecodeLimits) -> Result<Profile> {
    DecodeLimits::check("samples", msg.sample.len(), limits.max_samples)?;
    let mut p = Profile::new();
    let strings = Strings::new(&mut p, &msg.string_table);
    metadata(&mut p, msg, &strings, limits)?;
    let mappings = mappings(&mut p, msg, &strings)?;
    let functions = functions(&mut p, msg, &strings)?;
    let locations = locations(&mut p, msg, &mappings, &functions);
    samples(&mut p, msg, &strings, &locations, limits)?;
    Ok(p)
}

/// The file's string table as interned ids: `ids[i]` is string index `i`.
struct Strings {
    ids: Vec<StrId>,
}

impl Strings {
    fn new(p: &mut Profile, table: &[Vec<u8>]) -> Strings {
        let ids = table
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if i == 0 {
                    StrId::EMPTY
                } else {
                    p.strings.intern_lossy(s)
                }
            })
            .collect();
        Strings { ids }
    }

    /// String index `index` of field `field` (described lazily, only on error).
    fn get(&self, index: i64, field: impl FnOnce() -> String) -> Result<StrId> {
        if index == 0 {
            return Ok(StrId::EMPTY);
        }
        usize::try_from(index)
            .ok()
            .and_then(|i| self.ids.get(i).copied())
            .ok_or_else(|| Error::Pprof {
                message: format!(
                    "{} refers to string index {index}, but the string table has {} entries",
                    field(),
                    self.ids.len()
                ),
            })
    }

    fn value_type(&self, vt: &proto::ValueType, field: impl Fn() -> String) -> Result<ValueType> {
        Ok(ValueType {
            kind: self.get(vt.r#type, || format!("{}.type", field()))?,
            unit: self.get(vt.unit, || format!("{}.unit", field()))?,
        })
    }
}

fn metadata(
    p: &mut Profile,
    msg: &proto::Profile,
    s: &Strings,
    limits: &DecodeLimits,
) -> Result<()> {
    DecodeLimits::check(
        "sample types",
        msg.sample_type.len(),
        limits.max_sample_types,
    )?;
    for (i, vt) in msg.sample_type.iter().enumerate() {
        let vt = s.value_type(vt, || format!("sample_type[{i}]"))?;
        p.sample_types.push(vt);
    }
    p.period_type = match &msg.period_type {
        Some(vt) => Some(s.value_type(vt, || "period_type".into())?),
        None => None,
    };
    p.period = msg.period;
    p.time_nanos = msg.time_nanos;
    p.duration_nanos = msg.duration_nanos;
    p.default_sample_type = match msg.default_sample_type {
        0 => None,
        i => Some(s.get(i, || "default_sample_type".into())?),
    };
    for (i, &c) in msg.comment.iter().enumerate() {
        let c = s.get(c, || format!("comment[{i}]"))?;
        p.comments.push(c);
    }
    p.drop_frames = s.get(msg.drop_frames, || "drop_frames".into())?;
    p.keep_frames = s.get(msg.keep_frames, || "keep_frames".into())?;
    p.doc_url = s.get(msg.doc_url, || "doc_url".into())?;
    Ok(())
}

fn mappings(p: &mut Profile, msg: &proto::Profile, s: &Strings) -> Result<HashMap<u64, MappingId>> {
    let mut ids = HashMap::with_capacity(msg.mapping.len());
    for (i, m) in msg.mapping.iter().enumerate() {
        let mapping = Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename: s.get(m.filename, || format!("mapping[{i}].filename"))?,
            build_id: s.get(m.build_id, || format!("mapping[{i}].build_id"))?,
            has_functions: m.has_functions,
            has_filenames: m.has_filenames,
            has_line_numbers: m.has_line_numbers,
            has_inline_frames: m.has_inline_frames,
        };
        ids.insert(m.id, p.push_mapping(mapping));
    }
    Ok(ids)
}

fn functions(
    p: &mut Profile,
    msg: &proto::Profile,
    s: &Strings,
) -> Result<HashMap<u64, crate::FunctionId>> {
    let mut ids = HashMap::with_capacity(msg.function.len());
    for (i, f) in msg.function.iter().enumerate() {
        let function = Function {
            name: s.get(f.name, || format!("function[{i}].name"))?,
            system_name: s.get(f.system_name, || format!("function[{i}].system_name"))?,
            filename: s.get(f.filename, || format!("function[{i}].filename"))?,
            start_line: f.start_line,
        };
        ids.insert(f.id, p.push_function(function));
    }
    Ok(ids)
}

fn locations(
    p: &mut Profile,
    msg: &proto::Profile,
    mappings: &HashMap<u64, MappingId>,
    functions: &HashMap<u64, crate::FunctionId>,
) -> LocationIds {
    let mut ids = LocationIds::new(msg.location.iter().map(|l| l.id), msg.location.len());
    let mut lines = Vec::new();
    for l in &msg.location {
        lines.clear();
        lines.extend(l.line.iter().map(|line| {
            Line {
                function: functions
                    .get(&line.function_id)
                    .copied()
                    .filter(|_| line.function_id != 0),
                line: line.line,
                column: line.column,
            }
        }));
        let mapping = mappings
            .get(&l.mapping_id)
            .copied()
            .filter(|_| l.mapping_id != 0);
        let id = p.push_location(
            mapping,
            l.address,
            &lines,
            FrameKind::Unspecified,
            l.is_folded,
        );
        ids.insert(l.id, id);
    }
    ids
}

/// pprof location id -> model id: a vector indexed by id when the ids are dense enough
/// (they usually are `1..=n`), a hash map otherwise.
enum LocationIds {
    /// `slots[id]` is the model index + 1, 0 for no location.
    Dense(Vec<u32>),
    Sparse(HashMap<u64, LocationId>),
}

impl LocationIds {
    fn new(ids: impl Iterator<Item = u64>, count: usize) -> LocationIds {
        let max = ids.max().unwrap_or(0);
        let dense_bound = count.saturating_mul(2).saturating_add(1024) as u64;
        if max <= dense_bound {
            // `max` fits in usize: it is at most `dense_bound`, itself from a usize.
            LocationIds::Dense(vec![0; max as usize + 1])
        } else {
            LocationIds::Sparse(HashMap::with_capacity(count))
        }
    }

    fn insert(&mut self, pprof_id: u64, id: LocationId) {
        match self {
            LocationIds::Dense(slots) => {
                if let Some(slot) = slots.get_mut(pprof_id as usize) {
                    *slot = id.0.saturating_add(1);
                }
            }
            LocationIds::Sparse(map) => {
                map.insert(pprof_id, id);
            }
        }
    }

    #[inline]
    fn get(&self, pprof_id: u64) -> Option<LocationId> {
        match self {
            LocationIds::Dense(slots) => {
                let slot = *slots.get(usize::try_from(pprof_id).ok()?)?;
                slot.checked_sub(1).map(LocationId)
            }
            LocationIds::Sparse(map) => map.get(&pprof_id).copied(),
        }
    }
}

fn samples(
    p: &mut Profile,
    msg: &proto::Profile,
    s: &Strings,
    locations: &LocationIds,
    limits: &DecodeLimits,
) -> Result<()> {
    if p.sample_types.is_empty() {
        let columns = msg.sample.iter().map(|s| s.value.len()).max().unwrap_or(0);
        DecodeLimits::check("sample types", columns, limits.max_sample_types)?;
        p.sample_types = vec![ValueType::default(); columns];
    }
    let columns = p.sample_types.len();
    p.samples.reserve(msg.sample.len());
    p.values.reserve(msg.sample.len().saturating_mul(columns));
    let mut values: Vec<i64> = Vec::with_capacity(columns);
    let mut labels: Vec<Label> = Vec::new();
    for (i, sample) in msg.sample.iter().enumerate() {
        DecodeLimits::check(
            "stack depth",
            sample.location_id.len(),
            limits.max_stack_depth,
        )?;
        DecodeLimits::check(
            "labels per sample",
            sample.label.len(),
            limits.max_labels_per_sample,
        )?;
        let mut stack = StackId::EMPTY;
        for &pprof_id in sample.location_id.iter().rev() {
            let Some(loc) = locations.get(pprof_id) else {
                return Err(Error::Pprof {
                    message: format!(
                        "sample[{i}] refers to location id {pprof_id}, which no location has"
                    ),
                });
            };
            stack = p.stacks.child(stack, loc);
        }
        values.clear();
        values.extend(sample.value.iter().copied().take(columns));
        values.resize(columns, 0);
        labels.clear();
        for (j, l) in sample.label.iter().enumerate() {
            labels.push(label(l, s, i, j)?);
        }
        let label_set = p.label_sets.intern(&labels);
        p.push_sample(stack, &values, label_set, None);
    }
    Ok(())
}

fn label(l: &proto::Label, s: &Strings, sample: usize, j: usize) -> Result<Label> {
    let key = s.get(l.key, || format!("sample[{sample}].label[{j}].key"))?;
    let value = if l.str != 0 {
        LabelValue::Str(s.get(l.str, || format!("sample[{sample}].label[{j}].str"))?)
    } else {
        LabelValue::Num {
            value: l.num,
            unit: s.get(l.num_unit, || {
                format!("sample[{sample}].label[{j}].num_unit")
            })?,
        }
    };
    Ok(Label { key, value })
}
