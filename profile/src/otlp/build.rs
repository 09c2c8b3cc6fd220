//! One OTLP `Profile` -> one [`Profile`], copying from the checked [`Dictionary`] only what
//! its samples reference.
//!
//! The item maps (dictionary index -> id in the profile being built) are allocated once
//! per request and reused for every profile: an entry is valid only when it carries the
//! current profile's generation, so starting a profile clears nothing. A profile thus
//! costs in proportion to what it references, never to the dictionary's size. Strings
//! are copied into the profile's table without hashing (each is distinct in the
//! dictionary's table already), and the table is assembled with
//! [`StringTable::from_parts`] at the end.

use super::dictionary::{Dictionary, bad, position};
use super::proto;
use crate::stack_builder::StackTreeBuilder;
use crate::{
    DecodeLimits, Function, FunctionId, Label, LabelSetId, LabelValue, Line, Location, LocationId,
    Mapping, MappingId, Profile, Result, StackId, StrId, StringTable, ValueType,
};

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
    /// The strings of the profile being built, concatenated, and the end of each.
    bytes: String,
    ends: Vec<u32>,
}

impl<'d, 'a> Builder<'d, 'a> {
    pub(super) fn new(dict: &'d Dictionary<'a>, limits: &'d DecodeLimits) -> Self {
        let t = dict.tables;
        Builder {
            dict,
            limits,
            generation: 0,
            strings: Map::new(dict.texts.len()),
            mappings: Map::new(t.mapping_table.len()),
            functions: Map::new(t.function_table.len()),
            locations: Map::new(t.location_table.len()),
            stacks: Map::new(t.stack_table.len()),
            frames: Vec::new(),
            labels: Vec::new(),
            bytes: String::new(),
            ends: Vec::new(),
        }
    }

    /// Builds the profile `msg`; `at` names it in errors (`resource_profiles[0]...`).
    pub(super) fn profile(&mut self, msg: &proto::Profile, at: &str) -> Result<Profile> {
        self.generation += 1;
        DecodeLimits::check("samples", msg.samples.len(), self.limits.max_samples)?;
        self.bytes.clear();
        self.ends.clear();
        self.ends.push(0);
        let mut p = Profile::new();
        let sample_type = msg.sample_type.unwrap_or_default();
        let vt = self.value_type(&sample_type, || format!("{at}.sample_type"))?;
        p.sample_types.push(vt);
        if let Some(period_type) = &msg.period_type {
            p.period_type = Some(self.value_type(period_type, || format!("{at}.period_type"))?);
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
        p.symbols.strings = StringTable::from_parts(
            std::mem::take(&mut self.bytes),
            std::mem::take(&mut self.ends),
        )
        .ok_or_else(|| bad(format!("{at}: inconsistent string table (a decoder bug)")))?;
        p.time_nanos = match i64::try_from(msg.time_unix_nano) {
            Ok(0) | Err(_) => earliest.unwrap_or(0),
            Ok(t) => t,
        };
        Ok(p)
    }

    fn value_type(
        &mut self,
        vt: &proto::ValueType,
        field: impl Fn() -> String,
    ) -> Result<ValueType> {
        Ok(ValueType {
            kind: self.string(vt.type_strindex, || format!("{}.type_strindex", field()))?,
            unit: self.string(vt.unit_strindex, || format!("{}.unit_strindex", field()))?,
        })
    }

    /// String index `index` of `field`, checked, as an id of the profile.
    fn string(&mut self, index: i32, field: impl FnOnce() -> String) -> Result<StrId> {
        let text = self.dict.string(index, field)?;
        Ok(self.text(text))
    }

    /// A text of the dictionary as an id of the profile.
    fn text(&mut self, text: StrId) -> StrId {
        if text == StrId::EMPTY {
            return StrId::EMPTY;
        }
        if let Some(id) = self.strings.get(self.generation, text.index()) {
            return StrId(id);
        }
        self.bytes.push_str(self.dict.texts.get(text));
        // Strings are bounded by the input size, far below `u32::MAX` bytes.
        self.ends.push(self.bytes.len() as u32);
        let id = StrId((self.ends.len() - 1) as u32);
        self.strings.set(self.generation, text.index(), id.0);
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
        let filename = self.text(dict.checked_string(m.filename_strindex));
        let build_id = self.text(dict.build_ids.get(at).copied().unwrap_or_default());
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
        let dict = self.dict;
        let f = *dict.tables.function_table.get(at)?;
        let function = Function {
            name: self.text(dict.checked_string(f.name_strindex)),
            system_name: self.text(dict.checked_string(f.system_name_strindex)),
            filename: self.text(dict.checked_string(f.filename_strindex)),
            start_line: f.start_line,
        };
        let id = FunctionId::from_index(p.symbols.functions.len());
        p.symbols.functions.push(function);
        self.functions.set(self.generation, at, id.0);
        Some(id)
    }

    /// The sample's attributes (those with a key and a value) and trace link as a label set.
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
            let attr = dict.attributes[at];
            // An empty key or value says nothing (and pprof cannot tell an empty string
            // label from a numeric one).
            if attr.key == StrId::EMPTY || attr.value == StrId::EMPTY {
                continue;
            }
            labels.push(Label {
                key: self.text(attr.key),
                value: LabelValue::Str(self.text(attr.value)),
            });
        }
        if s.link_index != 0 {
            let at = position(s.link_index, dict.links.len(), || {
                format!("{}.link_index", field())
            })?;
            for (key, value) in dict.links[at].into_iter().flatten() {
                labels.push(Label {
                    key: self.text(key),
                    value: LabelValue::Str(self.text(value)),
                });
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
