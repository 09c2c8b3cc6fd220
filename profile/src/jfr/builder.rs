//! One output profile: its symbol tables and stack tree, built as samples arrive.

use super::SampleType;
use super::snapshot::LabelsSnapshot;
use crate::stack_builder::StackTreeBuilder;
use crate::{
    DecodeLimits, Error, FrameKind, Function, FunctionId, Label, LabelSetId, LabelValue, Line,
    Location, LocationId, Profile, Result, StackId,
};
use hashbrown::HashMap;

/// A frame of a resolved stack: frame name id (in [`Names`]), line and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FrameKey {
    pub(super) name: u32,
    pub(super) line: u32,
    pub(super) kind: FrameKind,
}

/// The trace context of an event (async-profiler's and Pyroscope's agent's fields).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Correlation {
    pub(super) context_id: u64,
    pub(super) span_id: u64,
    pub(super) span_name: u64,
}

/// Frame names of a whole recording, interned (`class.method`).
#[derive(Default)]
pub(super) struct Names {
    map: HashMap<String, u32>,
    list: Vec<String>,
}

impl Names {
    pub(super) fn intern(&mut self, s: &str) -> u32 {
        let next = self.list.len() as u32;
        let i = *self.map.entry_ref(s).or_insert(next);
        if i == next {
            self.list.push(s.to_string());
        }
        i
    }

    fn get(&self, i: u32) -> &str {
        self.list.get(i as usize).map_or("", String::as_str)
    }
}

/// A profile under construction.
pub(super) struct Builder {
    pub(super) ty: SampleType,
    pub(super) p: Profile,
    stacks: StackTreeBuilder,
    /// Frame name id -> function id + 1 (0: none yet).
    functions: Vec<u32>,
    locations: HashMap<FrameKey, LocationId>,
    /// Resolved stack of the current chunk -> stack id + 1 (0: not interned yet).
    chunk_stacks: Vec<u32>,
    /// (stack, labels) -> sample index: events of one stack and context are one sample.
    samples: HashMap<(StackId, LabelSetId), u32>,
    label_sets: HashMap<Correlation, LabelSetId>,
    scratch: Vec<LocationId>,
}

impl Builder {
    pub(super) fn new(ty: SampleType) -> Self {
        let mut p = Profile::new();
        for (kind, unit) in ty.sample_types() {
            p.add_sample_type(kind, unit);
        }
        Builder {
            ty,
            p,
            stacks: StackTreeBuilder::new(),
            functions: Vec::new(),
            locations: HashMap::new(),
            chunk_stacks: Vec::new(),
            samples: HashMap::new(),
            label_sets: HashMap::new(),
            scratch: Vec::new(),
        }
    }

    /// Forgets the stacks resolved in the previous chunk (ids are per chunk).
    pub(super) fn start_chunk(&mut self) {
        self.chunk_stacks.clear();
    }

    /// Adds `values` to the sample of resolved stack `resolved` (frames root first).
    pub(super) fn add(
        &mut self,
        resolved: u32,
        frames: &[FrameKey],
        names: &Names,
        labels: LabelSetId,
        values: &[i64],
        limits: &DecodeLimits,
    ) -> Result<()> {
        let slot = resolved as usize;
        if slot >= self.chunk_stacks.len() {
            self.chunk_stacks.resize(slot + 1, 0);
        }
        let stack = match self.chunk_stacks[slot] {
            0 => {
                let stack = self.intern(frames, names, limits)?;
                self.chunk_stacks[slot] = stack.0 + 1;
                stack
            }
            s => StackId(s - 1),
        };
        if let Some(&i) = self.samples.get(&(stack, labels)) {
            let n = values.len();
            let sums = &mut self.p.values[i as usize * n..(i as usize + 1) * n];
            for (sum, v) in sums.iter_mut().zip(values) {
                *sum = sum.wrapping_add(*v);
            }
            return Ok(());
        }
        DecodeLimits::check("samples", self.p.samples.len() + 1, limits.max_samples)?;
        let i = self.p.samples.len() as u32;
        self.samples.insert((stack, labels), i);
        self.p.push_sample(stack, values, labels, None);
        Ok(())
    }

    fn intern(
        &mut self,
        frames: &[FrameKey],
        names: &Names,
        limits: &DecodeLimits,
    ) -> Result<StackId> {
        DecodeLimits::check("stack depth", frames.len(), limits.max_stack_depth)?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        for f in frames {
            scratch.push(self.location(*f, names));
        }
        let stack = self.stacks.intern(scratch.iter().copied());
        self.scratch = scratch;
        Ok(stack)
    }

    fn location(&mut self, f: FrameKey, names: &Names) -> LocationId {
        if let Some(&l) = self.locations.get(&f) {
            return l;
        }
        let slot = f.name as usize;
        if slot >= self.functions.len() {
            self.functions.resize(slot + 1, 0);
        }
        let s = &mut self.p.symbols;
        let function = match self.functions[slot] {
            0 => {
                let id = FunctionId::from_index(s.functions.len());
                let name = s.strings.intern(names.get(f.name));
                s.functions.push(Function {
                    name,
                    ..Function::default()
                });
                self.functions[slot] = id.0 + 1;
                id
            }
            i => FunctionId(i - 1),
        };
        let start = s.lines.len() as u32;
        s.lines.push(Line {
            function: Some(function),
            line: i64::from(f.line),
            column: 0,
        });
        let id = LocationId::from_index(s.locations.len());
        s.locations.push(Location {
            mapping: None,
            address: 0,
            lines: start..start + 1,
            kind: f.kind,
            is_folded: false,
        });
        self.locations.insert(f, id);
        id
    }

    /// The label set of a correlation, as grafana/jfr-parser `pprof/profile_builder.go`
    /// labels a sample when a labels snapshot is given: the context's labels, then
    /// `profile_id` (the span id, 16 hex digits) and `span_name`. Missing strings are
    /// empty, as a Go map lookup gives them. The context's labels are sorted by name.
    pub(super) fn labels(
        &mut self,
        snap: &LabelsSnapshot,
        corr: Correlation,
        limits: &DecodeLimits,
    ) -> Result<LabelSetId> {
        if let Some(&id) = self.label_sets.get(&corr) {
            return Ok(id);
        }
        let string = |i: i64| snap.strings.get(&i).map_or("", String::as_str);
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(ctx) = snap.contexts.get(&(corr.context_id as i64)) {
            pairs.extend(
                ctx.labels
                    .iter()
                    .map(|(&k, &v)| (string(k), string(v).to_string())),
            );
            pairs.sort();
        }
        if corr.span_id != 0 {
            pairs.push(("profile_id", format!("{:016x}", corr.span_id)));
        }
        if corr.span_name != 0 {
            let name = string(corr.span_name as i64);
            if !name.is_empty() {
                pairs.push(("span_name", name.to_string()));
            }
        }
        if pairs.len() > limits.max_labels_per_sample {
            return Err(Error::Limit {
                what: "labels per sample",
                limit: limits.max_labels_per_sample as u64,
            });
        }
        let strings = &mut self.p.symbols.strings;
        let labels: Vec<Label> = pairs
            .iter()
            .map(|(k, v)| Label {
                key: strings.intern(k),
                value: LabelValue::Str(strings.intern(v)),
            })
            .collect();
        let id = self.p.label_sets.intern(&labels);
        self.label_sets.insert(corr, id);
        Ok(id)
    }

    /// The finished profile; CPU and wall values are sample counts until here and become
    /// nanoseconds: times `period`.
    pub(super) fn finish(mut self, period: i64, time_nanos: i64, duration_nanos: i64) -> Profile {
        let p = &mut self.p;
        if matches!(self.ty, SampleType::Cpu | SampleType::Wall) {
            for v in &mut p.values {
                *v = v.wrapping_mul(period);
            }
            p.period = period;
        }
        if let Some((kind, unit)) = self.ty.period_type() {
            let vt = crate::ValueType {
                kind: p.symbols.strings.intern(kind),
                unit: p.symbols.strings.intern(unit),
            };
            p.period_type = Some(vt);
        }
        p.name = p.symbols.strings.intern(self.ty.metric());
        p.time_nanos = time_nanos;
        p.duration_nanos = duration_nanos;
        p.symbols.stacks = self.stacks.finish();
        self.p
    }
}
