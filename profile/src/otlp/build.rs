//! One OTLP `Profile` -> one [`Profile`], copying from the checked [`Dictionary`] only what
//! its samples reference.
//!
//! The item maps (dictionary index -> id in the profile being built) are allocated once
//! per request and reused for every profile: an entry is valid only when it carries the
//! current profile's generation, so starting a profile clears nothing. A profile thus
//! costs in proportion to what it references, never to the dictionary's size.

use super::dictionary::{Dictionary, bad, position};
use super::proto;
use crate::stack_builder::StackTreeBuilder;
use crate::{
    DecodeLimits, Function, FunctionId, Label, LabelSetId, LabelValue, Line, Location, LocationId,
    Mapping, MappingId, Profile, Result, StackId, StrId, ValueType,
};

/// Label keys of a sample's trace link, as Pyroscope names them.
const SPAN_ID: &str = "span_id";
const TRACE_ID: &str = "trace_id";

/// dictionary index -> profile id, valid for one generation.
struct Map {
    slots: Vec<(u32, u32)>,
}

impl Map {
    fn new(len: usize) -> Self {
        Map {
            slots: vec![(0, 0); len],
        }
    }

    #[inline]
    fn get(&self, generation: u32, i: usize) -> Option<u32> {
        match self.slots.get(i) {
            Some(&(g, id)) if g == generation => Some(id),
            _ => None,
        }
    }

    #[inline]
    fn set(&mut self, generation: u32, i: usize, id: u32) {
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = (generation, id);
        }
    }
}

/// Copies profiles out of one dictionary (see the module docs).
pub(super) struct Builder<'d, 'a> {
    dict: &'d Dictionary<'a>,
    limits: &'d DecodeLimits,
    generation: u32,
    strings: Map,
    mappings: Map,
    functions: Map,
    locations: Map,
    stacks: Map,
    /// Scratch: one stack's locations, leaf first.
    frames: Vec<LocationId>,
    /// Scratch: one sample's labels.
    labels: Vec<Label>,
}

impl<'d, 'a> Builder<'d, 'a> {
    pub(super) fn new(dict: &'d Dictionary<'a>, limits: &'d DecodeLimits) -> Self {
        let t = dict.tables;
        Builder {
            dict,
            limits,
            generation: 0,
            strings: Map::new(dict.strings.len()),
            mappings: Map::new(t.mapping_table.len()),
            functions: Map::new(t.function_table.len()),
            locations: Map::new(t.location_table.len()),
            stacks: Map::new(t.stack_table.len()),
            frames: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Builds the profile `msg`; `at` names it in errors (`resource_profiles[0]...`).
    pub(super) fn profile(&mut self, msg: &proto::Profile, at: &str) -> Result<Profile> {
        self.generation += 1;
        DecodeLimits::check("samples", msg.samples.len(), self.limits.max_samples)?;
        let mut p = Profile::new();
        let sample_type = msg.sample_type.unwrap_or_default();
        let vt = self.value_type(&mut p, &sample_type, || format!("{at}.sample_type"))?;
        p.sample_types.push(vt);
        if let Some(period_type) = &msg.period_type {
            p.period_type =
                Some(self.value_type(&mut p, period_type, || format!("{at}.period_type"))?);
        }
        p.period = msg.period;
        p.duration_nanos = i64::try_from(msg.duration_nano).unwrap_or(i64::MAX);
        p.samples.reserve(msg.samples.len());
        p.values.reserve(msg.samples.len());
        let mut stacks = StackTreeBuilder::new();
        let mut earliest: Option<i64> = None;
        for (i, s) in msg.samples.iter().enumerate() {
            let field = || format!("{at}.samples[{i}]");
            let stack = self.stack(&mut p, &mut stacks, s.stack_index, field)?;
            let labels = self.labels(&mut p, s, field)?;
            let value = value(s, field)?;
            let time = s
                .timestamps_unix_nano
                .iter()
                .min()
                .and_then(|&t| i64::try_from(t).ok());
            if let Some(t) = time {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            p.push_sample(stack, &[value], labels, time);
        }
        p.symbols.stacks = stacks.finish();
        p.time_nanos = match i64::try_from(msg.time_unix_nano) {
            Ok(0) | Err(_) => earliest.unwrap_or(0),
            Ok(t) => t,
        };
        Ok(p)
    }

    fn value_type(
        &mut self,
        p: &mut Profile,
        vt: &proto::ValueType,
        field: impl Fn() -> String,
    ) -> Result<ValueType> {
        Ok(ValueType {
            kind: self.string(p, vt.type_strindex, || format!("{}.type_strindex", field()))?,
            unit: self.string(p, vt.unit_strindex, || format!("{}.unit_strindex", field()))?,
        })
    }

    /// String index `index` of `field`, checked, as an id of the profile.
    fn string(
        &mut self,
        p: &mut Profile,
        index: i32,
        field: impl FnOnce() -> String,
    ) -> Result<StrId> {
        let at = self.dict.string_index(index, field)?;
        Ok(self.string_at(p, at))
    }

    /// The string at a checked position, as an id of the profile.
    fn string_at(&mut self, p: &mut Profile, at: usize) -> StrId {
        if at == 0 {
            return StrId::EMPTY;
        }
        if let Some(id) = self.strings.get(self.generation, at) {
            return StrId(id);
        }
        let id = p.symbols.strings.intern(self.dict.string(at));
        self.strings.set(self.generation, at, id.0);
        id
    }

    /// Stack `index` of the dictionary as a stack of the profile (stacks root first).
    fn stack(
        &mut self,
        p: &mut Profile,
        stacks: &mut StackTreeBuilder,
        index: i32,
        field: impl Fn() -> String,
    ) -> Result<StackId> {
        let table = &self.dict.tables.stack_table;
        let at = position(index, table.len(), || format!("{}.stack_index", field()))?;
        if let Some(id) = self.stacks.get(self.generation, at) {
            return Ok(StackId(id));
        }
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        // Every location index was checked by `Dictionary::new`.
        for &l in &table[at].location_indices {
            frames.push(self.location(p, l as usize));
        }
        let id = stacks.intern(frames.iter().rev().copied());
        self.frames = frames;
        self.stacks.set(self.generation, at, id.0);
        Ok(id)
    }

    /// Location at a checked position, copied with its lines, functions and mapping.
    fn location(&mut self, p: &mut Profile, at: usize) -> LocationId {
        if let Some(id) = self.locations.get(self.generation, at) {
            return LocationId(id);
        }
        let dict = self.dict;
        let l = &dict.tables.location_table[at];
        let mapping = self.mapping(p, l.mapping_index);
        let start = p.symbols.lines.len() as u32;
        for line in &l.lines {
            let function = self.function(p, line.function_index);
            p.symbols.lines.push(Line {
                function,
                line: line.line,
                column: line.column,
            });
        }
        let id = LocationId::from_index(p.symbols.locations.len());
        p.symbols.locations.push(Location {
            mapping,
            address: l.address,
            lines: start..p.symbols.lines.len() as u32,
            kind: dict.kinds.get(at).copied().unwrap_or_default(),
            is_folded: false,
        });
        self.locations.set(self.generation, at, id.0);
        id
    }

    /// Mapping index (checked by `Dictionary::new`) as a mapping of the profile.
    fn mapping(&mut self, p: &mut Profile, index: i32) -> Option<MappingId> {
        let at = usize::try_from(index).ok().filter(|&i| i != 0)?;
        if let Some(id) = self.mappings.get(self.generation, at) {
            return Some(MappingId(id));
        }
        let dict = self.dict;
        let m = dict.tables.mapping_table.get(at)?;
        let filename = self.string_at(p, m.filename_strindex as usize);
        let build_id = dict.build_ids.get(at).map_or("", |b| b);
        let build_id = p.symbols.strings.intern(build_id);
        let id = MappingId::from_index(p.symbols.mappings.len());
        p.symbols.mappings.push(Mapping {
            memory_start: m.memory_start,
            memory_limit: m.memory_limit,
            file_offset: m.file_offset,
            filename,
            build_id,
            ..Mapping::default()
        });
        self.mappings.set(self.generation, at, id.0);
        Some(id)
    }

    /// Function index (checked by `Dictionary::new`) as a function of the profile.
    fn function(&mut self, p: &mut Profile, index: i32) -> Option<FunctionId> {
        let at = usize::try_from(index).ok().filter(|&i| i != 0)?;
        if let Some(id) = self.functions.get(self.generation, at) {
            return Some(FunctionId(id));
        }
        let f = *self.dict.tables.function_table.get(at)?;
        let function = Function {
            name: self.string_at(p, f.name_strindex as usize),
            system_name: self.string_at(p, f.system_name_strindex as usize),
            filename: self.string_at(p, f.filename_strindex as usize),
            start_line: f.start_line,
        };
        let id = FunctionId::from_index(p.symbols.functions.len());
        p.symbols.functions.push(function);
        self.functions.set(self.generation, at, id.0);
        Some(id)
    }

    /// The sample's attributes (those with a key) and trace link as a label set.
    fn labels(
        &mut self,
        p: &mut Profile,
        s: &proto::Sample,
        field: impl Fn() -> String,
    ) -> Result<LabelSetId> {
        let dict = self.dict;
        let mut labels = std::mem::take(&mut self.labels);
        labels.clear();
        for (j, &a) in s.attribute_indices.iter().enumerate() {
            let at = position(a, dict.attributes.len(), || {
                format!("{}.attribute_indices[{j}]", field())
            })?;
            let attr = &dict.attributes[at];
            if attr.key == 0 {
                continue;
            }
            let key = self.string_at(p, attr.key);
            let value = p.symbols.strings.intern(&attr.value);
            labels.push(Label {
                key,
                value: LabelValue::Str(value),
            });
        }
        if s.link_index != 0 {
            let links = &dict.tables.link_table;
            let at = position(s.link_index, links.len(), || {
                format!("{}.link_index", field())
            })?;
            let link = &links[at];
            for (key, id) in [(SPAN_ID, &link.span_id), (TRACE_ID, &link.trace_id)] {
                if !id.is_empty() {
                    labels.push(Label {
                        key: p.symbols.strings.intern(key),
                        value: LabelValue::Str(p.symbols.strings.intern(&hex(id))),
                    });
                }
            }
        }
        DecodeLimits::check(
            "labels per sample",
            labels.len(),
            self.limits.max_labels_per_sample,
        )?;
        let id = if labels.is_empty() {
            LabelSetId::EMPTY
        } else {
            p.label_sets.intern(&labels)
        };
        self.labels = labels;
        Ok(id)
    }
}

/// The sample's value: the sum of its values, or without values one per timestamp.
fn value(s: &proto::Sample, field: impl Fn() -> String) -> Result<i64> {
    if s.values.is_empty() {
        if s.timestamps_unix_nano.is_empty() {
            return Err(bad(format!(
                "{} has neither values nor timestamps",
                field()
            )));
        }
        return Ok(s.timestamps_unix_nano.len() as i64);
    }
    s.values
        .iter()
        .try_fold(0i64, |sum, &v| sum.checked_add(v))
        .ok_or_else(|| bad(format!("{}: the sum of its values overflows", field())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
