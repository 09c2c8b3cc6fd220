//! pprof protobuf -> [`Profile`].
//!
//! Every `Mapping`, `Function` and `Location` message becomes one model item in file order
//! (no deduplication, so table sizes match the file), and every sample's stack (leaf first
//! in pprof) is interned root first in the [`StackTree`](crate::StackTree).
//!
//! How the bytes are read, and why not all by prost: [`wire::split`](super::wire) walks
//! the top level of the `Profile` message by hand and hands out each sample, location,
//! mapping, function and string as a slice of the input. prost decodes the metadata and
//! every `Location`, `Function`, `Mapping` and `Label`. A `Sample` in the plain shape
//! prost writes (fields 1 to 3, packed or not) is read by hand straight into the frame and
//! value buffers; any other sample (unknown fields, a limit or dangling id, bad framing)
//! is decoded by prost and goes through the checked path, which words the error. If the
//! top level is not plain (groups, a bad key or length), prost decodes the whole message
//! ([`from_proto`]). The stacks are interned once all samples are read, with
//! `StackTreeBuilder` (see `stack_builder.rs`).
//!
//! Measured on google-pprof/large.cpu (2.45 MB raw, 20,430 samples, ~500k frames, 425k
//! stack nodes; callgrind instructions per decode): prost parsing the whole message first
//! (a `Vec` per repeated field per sample), then building the profile, then dropping the
//! message: 284 M. Top level split by hand, samples through one reused `proto::Sample`:
//! 170 M. Samples read by hand: 124 M. `StackTreeBuilder` instead of the hashed
//! `StackTree::child` per frame, reserved by the frame count: 117 M.
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
//! - Malformed protobuf is an [`Error::PprofProtobuf`]. A message with several problems
//!   reports the first one met in the order strings, metadata, mappings, functions,
//!   locations, samples.

use super::{proto, wire};
use crate::stack_builder::StackTreeBuilder;
use crate::{
    DecodeLimits, Error, FrameKind, Function, FunctionId, Label, LabelSetId, LabelValue, Line,
    Location, LocationId, Mapping, MappingId, Profile, Result, StrId, ValueType,
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
    let profile = match wire::split(data, limits)? {
        Some(parts) => from_parts(&parts, limits)?,
        None => from_proto(&proto::Profile::decode(data)?, limits)?,
    };
    check_size(&profile, data.len(), limits)?;
    Ok(profile)
}

/// Bounds what a profile decoded from `input_len` bytes may hold: its values (a sample
/// with fewer values than sample types is padded, so a few bytes could ask for gigabytes)
/// at most one per input byte, as every value given costs at least a byte on the wire;
/// its distinct label sets at most `limits.max_label_sets`.
fn check_size(p: &Profile, input_len: usize, limits: &DecodeLimits) -> Result<()> {
    let values = p.samples.len().saturating_mul(p.sample_types.len());
    if values > input_len {
        return Err(Error::Pprof {
            message: format!(
                "{} samples of {} sample types are {values} values, more than the {input_len} \
                 bytes of the profile can hold",
                p.samples.len(),
                p.sample_types.len()
            ),
        });
    }
    // `len` counts the empty set, which every profile has.
    let sets = p.label_sets.len() - 1;
    DecodeLimits::check("distinct label sets", sets, limits.max_label_sets)
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
    let strings = msg.string_table.iter().map(Vec::as_slice);
    let mut b = Builder::new(strings, msg, limits)?;
    let columns = msg.sample.iter().map(|s| s.value.len()).max();
    b.set_columns(columns.unwrap_or(0))?;
    let (n_map, n_fn, n_loc) = (msg.mapping.len(), msg.function.len(), msg.location.len());
    b.reserve(n_map, n_fn, n_loc, msg.sample.len());
    msg.mapping.iter().try_for_each(|m| b.mapping(m))?;
    msg.function.iter().try_for_each(|f| b.function(f))?;
    msg.location.iter().for_each(|l| b.location(l));
    for (i, s) in msg.sample.iter().enumerate() {
        b.sample(i, s)?;
    }
    Ok(b.finish())
}

/// Decodes the fields [`wire::split`] found, each sub-message with prost.
fn from_parts(parts: &wire::Parts<'_>, limits: &DecodeLimits) -> Result<Profile> {
    // `wire::split` bounded the samples and tables already.
    let meta = proto::Profile::decode(parts.rest.as_slice())?;
    let mut b = Builder::new(parts.strings.iter().copied(), &meta, limits)?;
    let mut sample = proto::Sample::default();
    if b.p.sample_types.is_empty() {
        // Rare: the columns are the most values of any sample, so look at them all first.
        let mut columns = 0;
        for bytes in &parts.samples {
            sample.clear();
            sample.merge(*bytes)?;
            columns = columns.max(sample.value.len());
        }
        b.set_columns(columns)?;
    }
    let (n_map, n_fn, n_loc) = (
        parts.mappings.len(),
        parts.functions.len(),
        parts.locations.len(),
    );
    b.reserve(n_map, n_fn, n_loc, parts.samples.len());
    for bytes in &parts.mappings {
        b.mapping(&proto::Mapping::decode(*bytes)?)?;
    }
    for bytes in &parts.functions {
        b.function(&proto::Function::decode(*bytes)?)?;
    }
    let mut location = proto::Location::default();
    for bytes in &parts.locations {
        location.clear();
        location.merge(*bytes)?;
        b.location(&location);
    }
    for (i, bytes) in parts.samples.iter().enumerate() {
        b.sample_bytes(i, bytes, &mut sample)?;
    }
    Ok(b.finish())
}

/// Builds a [`Profile`] from pprof messages given in dependency order: metadata (with the
/// string table), mappings, functions, locations, samples.
struct Builder<'l> {
    p: Profile,
    limits: &'l DecodeLimits,
    strings: Strings,
    mappings: IdMap,
    functions: IdMap,
    locations: IdMap,
    /// The frames of all samples read, each sample's leaf first as in pprof.
    frames: Vec<LocationId>,
    /// Per sample read: the end of its frames in `frames`, and its label set.
    pending: Vec<(u32, LabelSetId)>,
    /// Scratch: the labels of one sample.
    labels: Vec<Label>,
}

impl<'l> Builder<'l> {
    /// A builder with the string table interned and the metadata of `msg` set (its
    /// repeated sub-messages are not looked at).
    fn new<'s>(
        strings: impl ExactSizeIterator<Item = &'s [u8]> + Clone,
        msg: &proto::Profile,
        limits: &'l DecodeLimits,
    ) -> Result<Self> {
        let mut p = Profile::new();
        let strings = Strings::new(&mut p, strings);
        let mut b = Builder {
            p,
            limits,
            strings,
            mappings: IdMap::default(),
            functions: IdMap::default(),
            locations: IdMap::default(),
            frames: Vec::new(),
            pending: Vec::new(),
            labels: Vec::new(),
        };
        b.metadata(msg)?;
        Ok(b)
    }

    fn metadata(&mut self, msg: &proto::Profile) -> Result<()> {
        let (p, s) = (&mut self.p, &self.strings);
        DecodeLimits::check(
            "sample types",
            msg.sample_type.len(),
            self.limits.max_sample_types,
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

    /// Without sample types, gives the profile `columns` unnamed ones.
    fn set_columns(&mut self, columns: usize) -> Result<()> {
        if self.p.sample_types.is_empty() {
            DecodeLimits::check("sample types", columns, self.limits.max_sample_types)?;
            self.p.sample_types = vec![ValueType::default(); columns];
        }
        Ok(())
    }

    fn reserve(&mut self, mappings: usize, functions: usize, locations: usize, samples: usize) {
        let s = &mut self.p.symbols;
        s.mappings.reserve(mappings);
        s.functions.reserve(functions);
        s.locations.reserve(locations);
        s.lines.reserve(locations);
        self.mappings.bound(mappings);
        self.functions.bound(functions);
        self.locations.bound(locations);
        self.p.samples.reserve(samples);
        self.pending.reserve(samples);
        let columns = self.p.sample_types.len();
        self.p.values.reserve(samples.saturating_mul(columns));
    }

    // The tables are appended to directly rather than with `Symbols::push_*`: the profile's
    // `Symbols` starts unindexed (`Symbols::default`) and builds its interning indexes from
    // the tables on its first `intern_*`, so decoding pays for no index nobody may use.

    fn mapping(&mut self, m: &proto::Mapping) -> Result<()> {
        let s = &self.strings;
        let i = self.p.mappings.len();
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
        self.p.symbols.mappings.push(mapping);
        self.mappings.insert(m.id, i);
        Ok(())
    }

    fn function(&mut self, f: &proto::Function) -> Result<()> {
        let s = &self.strings;
        let i = self.p.functions.len();
        let function = Function {
            name: s.get(f.name, || format!("function[{i}].name"))?,
            system_name: s.get(f.system_name, || format!("function[{i}].system_name"))?,
            filename: s.get(f.filename, || format!("function[{i}].filename"))?,
            start_line: f.start_line,
        };
        self.p.symbols.functions.push(function);
        self.functions.insert(f.id, i);
        Ok(())
    }

    fn location(&mut self, l: &proto::Location) {
        let functions = &self.functions;
        let s = &mut self.p.symbols;
        let start = s.lines.len() as u32;
        s.lines.extend(l.line.iter().map(|line| {
            Line {
                function: functions
                    .get(line.function_id)
                    .filter(|_| line.function_id != 0)
                    .map(FunctionId),
                line: line.line,
                column: line.column,
            }
        }));
        let i = s.locations.len();
        s.locations.push(Location {
            mapping: self
                .mappings
                .get(l.mapping_id)
                .filter(|_| l.mapping_id != 0)
                .map(MappingId),
            address: l.address,
            lines: start..s.lines.len() as u32,
            kind: FrameKind::Unspecified,
            is_folded: l.is_folded,
        });
        self.locations.insert(l.id, i);
    }

    /// Reads sample `i`: its frames into `frames`, values into the profile, label set into
    /// `pending`; [`Builder::finish`] interns the stacks. Plain samples (fields 1 to 3 in
    /// wire types prost writes, no limit reached, no dangling id) are read here by hand;
    /// any other goes to prost ([`Builder::sample`]), which words the error if there is one.
    fn sample_bytes(&mut self, i: usize, bytes: &[u8], scratch: &mut proto::Sample) -> Result<()> {
        let (frames, values) = (self.frames.len(), self.p.values.len());
        if self.plain_sample(bytes).is_some() {
            return Ok(());
        }
        self.frames.truncate(frames);
        self.p.values.truncate(values);
        scratch.clear();
        scratch.merge(bytes)?;
        self.sample(i, scratch)
    }

    /// The fast path of [`Builder::sample_bytes`]; `None` to fall back, leaving `frames`
    /// and `values` for the caller to truncate.
    fn plain_sample(&mut self, bytes: &[u8]) -> Option<()> {
        let columns = self.p.sample_types.len();
        let frames_start = self.frames.len();
        let (mut n_values, mut pos) = (0usize, 0usize);
        self.labels.clear();
        while pos < bytes.len() {
            let key = wire::varint(bytes, &mut pos)?;
            // Length-delimited fields are cut out; a varint field is its own run of one.
            let field = if key & 7 == 2 {
                let len = usize::try_from(wire::varint(bytes, &mut pos)?).ok()?;
                let end = pos.checked_add(len).filter(|&end| end <= bytes.len())?;
                let field = &bytes[pos..end];
                pos = end;
                Some(field)
            } else {
                None
            };
            match (key, field) {
                (0x08, None) | (0x0a, Some(_)) => {
                    let locations = &self.locations;
                    let frames = &mut self.frames;
                    varints(bytes, &mut pos, field, |id| {
                        frames.push(LocationId(locations.get(id)?));
                        Some(())
                    })?;
                }
                (0x10, None) | (0x12, Some(_)) => {
                    let values = &mut self.p.values;
                    varints(bytes, &mut pos, field, |v| {
                        if n_values < columns {
                            // int64 on the wire is the two's complement bit pattern.
                            values.push(v as i64);
                        }
                        n_values += 1;
                        Some(())
                    })?;
                }
                (0x1a, Some(field)) => {
                    let l = proto::Label::decode(field).ok()?;
                    // The field names are only built for an error, and on error the
                    // prost path runs and names them.
                    self.labels.push(label(&l, &self.strings, 0, 0).ok()?);
                }
                _ => return None,
            }
        }
        let depth = self.frames.len() - frames_start;
        if depth > self.limits.max_stack_depth
            || self.labels.len() > self.limits.max_labels_per_sample
        {
            return None;
        }
        if n_values < columns {
            let len = self.p.values.len() + (columns - n_values);
            self.p.values.resize(len, 0);
        }
        self.end_sample();
        Some(())
    }

    /// Reads a sample decoded by prost (see [`Builder::sample_bytes`]).
    fn sample(&mut self, i: usize, sample: &proto::Sample) -> Result<()> {
        let limits = self.limits;
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
        for &pprof_id in &sample.location_id {
            let Some(loc) = self.locations.get(pprof_id) else {
                return Err(Error::Pprof {
                    message: format!(
                        "sample[{i}] refers to location id {pprof_id}, which no location has"
                    ),
                });
            };
            self.frames.push(LocationId(loc));
        }
        self.labels.clear();
        for (j, l) in sample.label.iter().enumerate() {
            self.labels.push(label(l, &self.strings, i, j)?);
        }
        let p = &mut self.p;
        let columns = p.sample_types.len();
        let given = sample.value.len().min(columns);
        p.values.extend_from_slice(&sample.value[..given]);
        p.values.resize(p.values.len() + (columns - given), 0);
        self.end_sample();
        Ok(())
    }

    /// Ends a sample whose frames and values are read, with its labels in `labels`.
    fn end_sample(&mut self) {
        let labels = if self.labels.is_empty() {
            LabelSetId::EMPTY
        } else {
            self.p.label_sets.intern(&self.labels)
        };
        // `frames` is bounded by the input size, far below `u32::MAX`.
        self.pending.push((self.frames.len() as u32, labels));
    }

    /// Interns the stacks of the samples read and returns the profile.
    fn finish(mut self) -> Profile {
        let p = &mut self.p;
        let mut stacks = StackTreeBuilder::new();
        // Every frame may be a new node; large.cpu has 425k nodes for 500k frames. Capped
        // for profiles whose stacks repeat a lot (the tree grows past it as needed).
        stacks.reserve(self.frames.len().min(1 << 20));
        let mut start = 0;
        for &(end, labels) in &self.pending {
            let leaf_first = self.frames.get(start..end as usize).unwrap_or_default();
            start = end as usize;
            let stack = stacks.intern(leaf_first.iter().rev().copied());
            p.samples.push(crate::Sample {
                stack,
                labels,
                time_nanos: None,
            });
        }
        p.symbols.stacks = stacks.finish();
        self.p
    }
}

/// The file's string table as interned ids: `ids[i]` is string index `i`.
struct Strings {
    ids: Vec<StrId>,
}

impl Strings {
    fn new<'s>(p: &mut Profile, table: impl ExactSizeIterator<Item = &'s [u8]> + Clone) -> Strings {
        let mut ids = Vec::with_capacity(table.len());
        // One allocation of each table instead of a doubling series (and rehashes).
        p.strings
            .reserve(table.len(), table.clone().map(<[u8]>::len).sum());
        for (i, s) in table.enumerate() {
            ids.push(if i == 0 {
                StrId::EMPTY
            } else {
                p.strings.intern_lossy(s)
            });
        }
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

/// Calls `f` with each varint of a repeated scalar field: the packed run `packed`, or
/// else the one varint at `*pos` in `bytes`. `None` when a varint is cut or `f` fails.
#[inline]
fn varints(
    bytes: &[u8],
    pos: &mut usize,
    packed: Option<&[u8]>,
    mut f: impl FnMut(u64) -> Option<()>,
) -> Option<()> {
    let Some(run) = packed else {
        return f(wire::varint(bytes, pos)?);
    };
    let mut at = 0;
    while at < run.len() {
        f(wire::varint(run, &mut at)?)?;
    }
    Some(())
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

/// pprof id -> model index. Ids are usually `1..=n`, so ids below a bound proportional to
/// the number of messages sit in a vector indexed by id, any others in a hash map.
#[derive(Default)]
struct IdMap {
    /// `dense[id]` is the model index + 1, 0 for none.
    dense: Vec<u32>,
    /// Ids at or above `limit` go to `sparse`.
    limit: u64,
    sparse: HashMap<u64, u32>,
}

impl IdMap {
    /// Sets the dense range for a table of `count` messages (call before `insert`).
    fn bound(&mut self, count: usize) {
        self.limit = count.saturating_mul(2).saturating_add(1024) as u64;
    }

    fn insert(&mut self, pprof_id: u64, index: usize) {
        // Tables are bounded by the input size, far below `u32::MAX` entries.
        let value = index as u32;
        if pprof_id < self.limit {
            // `pprof_id < limit`, itself from a usize.
            let slot = pprof_id as usize;
            if slot >= self.dense.len() {
                self.dense.resize(slot + 1, 0);
            }
            if let Some(s) = self.dense.get_mut(slot) {
                *s = value.saturating_add(1);
            }
        } else {
            self.sparse.insert(pprof_id, value);
        }
    }

    #[inline]
    fn get(&self, pprof_id: u64) -> Option<u32> {
        if pprof_id < self.limit {
            let slot = *self.dense.get(pprof_id as usize)?;
            slot.checked_sub(1)
        } else {
            self.sparse.get(&pprof_id).copied()
        }
    }
}
