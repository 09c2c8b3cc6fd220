//! The profile model: metadata, symbol tables, the stack tree and the samples.

use crate::{
    FunctionId, Label, LabelSetId, LabelSets, LocationId, MappingId, StackId, StackTree, StrId,
    StringTable,
};
use hashbrown::HashMap;
use std::borrow::Cow;
use std::ops::Range;

/// A value type: what a sample value counts and its unit (`cpu`/`nanoseconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ValueType {
    /// What is measured (`samples`, `cpu`, `alloc_space`, ...).
    pub kind: StrId,
    /// Its unit (`count`, `nanoseconds`, `bytes`, ...).
    pub unit: StrId,
}

/// A binary mapped into the profiled process (pprof `Mapping`, perf's dso).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mapping {
    /// Start address of the mapping.
    pub memory_start: u64,
    /// End address of the mapping.
    pub memory_limit: u64,
    /// Offset in the file of `memory_start`.
    pub file_offset: u64,
    /// Binary path (`/lib/x86_64-linux-gnu/libc.so.6`, `[kernel.kallsyms]`).
    pub filename: StrId,
    /// Build id, when known.
    pub build_id: StrId,
    /// Symbolization flags, as in pprof.
    pub has_functions: bool,
    /// See pprof `Mapping.has_filenames`.
    pub has_filenames: bool,
    /// See pprof `Mapping.has_line_numbers`.
    pub has_line_numbers: bool,
    /// See pprof `Mapping.has_inline_frames`.
    pub has_inline_frames: bool,
}

/// A function (pprof `Function`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Function {
    /// Human-readable name (demangled).
    pub name: StrId,
    /// Name as known to the system (mangled).
    pub system_name: StrId,
    /// Source file.
    pub filename: StrId,
    /// First line of the function in `filename`, 0 when unknown.
    pub start_line: i64,
}

/// One line of a location: a function and a position in its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Line {
    /// The function; `None` when the source has none (pprof function id 0 or dangling).
    pub function: Option<FunctionId>,
    /// Source line, 0 when unknown.
    pub line: i64,
    /// Source column, 0 when unknown.
    pub column: i64,
}

/// Where a frame ran, when the source says so (async-profiler's `_[j]`-style suffixes,
/// perf's kernel and JIT mappings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum FrameKind {
    /// Nothing known.
    #[default]
    Unspecified,
    /// JIT-compiled code (`_[j]`).
    Jit,
    /// Inlined into its caller (`_[i]`).
    Inlined,
    /// Kernel code (`_[k]`).
    Kernel,
    /// Interpreted code (`_[0]`).
    Interpreted,
    /// Compiled by the C1 compiler (`_[1]`).
    C1,
}

impl FrameKind {
    /// The async-profiler/FlameGraph suffix for this kind (`_[k]`), if any.
    pub fn suffix(self) -> Option<&'static str> {
        match self {
            FrameKind::Unspecified => None,
            FrameKind::Jit => Some("_[j]"),
            FrameKind::Inlined => Some("_[i]"),
            FrameKind::Kernel => Some("_[k]"),
            FrameKind::Interpreted => Some("_[0]"),
            FrameKind::C1 => Some("_[1]"),
        }
    }

    /// The kind a suffix stands for, and the name without it.
    pub fn split_suffix(name: &str) -> (&str, FrameKind) {
        let kinds = [
            FrameKind::Jit,
            FrameKind::Inlined,
            FrameKind::Kernel,
            FrameKind::Interpreted,
            FrameKind::C1,
        ];
        if name.len() > 4 && name.as_bytes()[name.len() - 4] == b'_' {
            for kind in kinds {
                if let Some(base) = kind.suffix().and_then(|s| name.strip_suffix(s)) {
                    return (base, kind);
                }
            }
        }
        (name, FrameKind::Unspecified)
    }
}

/// A location: one program counter, expanded by symbolization into one or more lines.
///
/// Several lines mean inlining: `lines[0]` is the innermost inlined function and the last
/// line is the function the code was inlined into, as in pprof.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Location {
    /// The binary, if known.
    pub mapping: Option<MappingId>,
    /// The program counter, 0 when unknown.
    pub address: u64,
    /// The lines, as a range into [`Profile::lines`].
    pub lines: Range<u32>,
    /// Where the frame ran, when the source says so.
    pub kind: FrameKind,
    /// pprof `Location.is_folded`.
    pub is_folded: bool,
}

/// One frame of a stack as a user sees it: a location's line resolved to names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Function name; for a frame without symbol, the mapping and address as pprof shows it
    /// (see [`Profile::location_name`]).
    pub name: Cow<'a, str>,
    /// Mangled name, empty when unknown.
    pub system_name: &'a str,
    /// Source file, empty when unknown.
    pub file: &'a str,
    /// Source line, 0 when unknown.
    pub line: i64,
    /// The binary's file name, empty when unknown.
    pub mapping_file: &'a str,
    /// The binary's build id, empty when unknown.
    pub build_id: &'a str,
    /// The program counter, 0 when unknown.
    pub address: u64,
    /// True for a frame that was inlined into its caller (the frame before it): every line
    /// of a location but its outermost one.
    pub inlined: bool,
    /// Where the frame ran, when known.
    pub kind: FrameKind,
}

/// One sample as stored in [`Profile::samples`]; its values are in [`Profile::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The stack, root first.
    pub stack: StackId,
    /// The sample's labels.
    pub labels: LabelSetId,
    /// Time of the sample in nanoseconds when the source records one per sample (perf
    /// script: seconds since boot as printed), else `None`.
    pub time_nanos: Option<i64>,
}

/// A decoded profile.
///
/// Everything is interned: strings in [`StringTable`], functions, mappings and locations in
/// tables addressed by dense ids, stacks in a [`StackTree`] (root first), label sets in
/// [`LabelSets`]. Sample values are one flat vector with one value per sample type per
/// sample, so a profile of any size allocates per distinct item, never per frame per sample.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// All strings.
    pub strings: StringTable,
    /// One value type per value column of every sample.
    pub sample_types: Vec<ValueType>,
    /// The sampling event's type (pprof `period_type`).
    pub period_type: Option<ValueType>,
    /// Sampling period in `period_type` units, 0 when unknown.
    pub period: i64,
    /// Start of the profile, nanoseconds since the Unix epoch; 0 when unknown.
    pub time_nanos: i64,
    /// Duration of the profile in nanoseconds; 0 when unknown.
    pub duration_nanos: i64,
    /// The sample type a viewer shows by default (pprof `default_sample_type`).
    pub default_sample_type: Option<StrId>,
    /// Free-form comments.
    pub comments: Vec<StrId>,
    /// pprof `drop_frames` regex, empty when none.
    pub drop_frames: StrId,
    /// pprof `keep_frames` regex, empty when none.
    pub keep_frames: StrId,
    /// pprof `doc_url`, empty when none.
    pub doc_url: StrId,
    /// Mappings, by [`MappingId`].
    pub mappings: Vec<Mapping>,
    /// Functions, by [`FunctionId`].
    pub functions: Vec<Function>,
    /// Lines of all locations; each location owns a range.
    pub lines: Vec<Line>,
    /// Locations, by [`LocationId`].
    pub locations: Vec<Location>,
    /// All stacks.
    pub stacks: StackTree,
    /// All label sets.
    pub label_sets: LabelSets,
    /// The samples, in source order.
    pub samples: Vec<Sample>,
    /// `sample_types.len()` values per sample, sample after sample.
    pub values: Vec<i64>,
    function_index: HashMap<Function, FunctionId>,
    mapping_index: HashMap<Mapping, MappingId>,
    location_index: HashMap<LocationKey, LocationId>,
}

/// Identity of a location for interning: mapping, address, kind and its lines.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LocationKey {
    mapping: Option<MappingId>,
    address: u64,
    kind: FrameKind,
    lines: Box<[Line]>,
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Interns a string.
    pub fn intern(&mut self, s: &str) -> StrId {
        self.strings.intern(s)
    }

    /// Adds a value type `kind`/`unit` to the sample types. Call before adding samples.
    pub fn add_sample_type(&mut self, kind: &str, unit: &str) {
        let vt = ValueType {
            kind: self.strings.intern(kind),
            unit: self.strings.intern(unit),
        };
        self.sample_types.push(vt);
    }

    /// Appends a function without deduplication (pprof keeps every `Function` message).
    pub fn push_function(&mut self, f: Function) -> FunctionId {
        let id = FunctionId::from_index(self.functions.len());
        self.functions.push(f);
        self.function_index.entry(f).or_insert(id);
        id
    }

    /// Interns a function: an equal function added before returns its id.
    pub fn intern_function(&mut self, f: Function) -> FunctionId {
        if let Some(&id) = self.function_index.get(&f) {
            return id;
        }
        self.push_function(f)
    }

    /// Appends a mapping without deduplication.
    pub fn push_mapping(&mut self, m: Mapping) -> MappingId {
        let id = MappingId::from_index(self.mappings.len());
        self.mappings.push(m);
        self.mapping_index.entry(m).or_insert(id);
        id
    }

    /// Interns a mapping.
    pub fn intern_mapping(&mut self, m: Mapping) -> MappingId {
        if let Some(&id) = self.mapping_index.get(&m) {
            return id;
        }
        self.push_mapping(m)
    }

    /// Appends a location with `lines` without deduplication (pprof keeps every `Location`).
    pub fn push_location(
        &mut self,
        mapping: Option<MappingId>,
        address: u64,
        lines: &[Line],
        kind: FrameKind,
        is_folded: bool,
    ) -> LocationId {
        let id = LocationId::from_index(self.locations.len());
        let start = self.lines.len() as u32;
        self.lines.extend_from_slice(lines);
        self.locations.push(Location {
            mapping,
            address,
            lines: start..self.lines.len() as u32,
            kind,
            is_folded,
        });
        let key = LocationKey {
            mapping,
            address,
            kind,
            lines: lines.into(),
        };
        self.location_index.entry(key).or_insert(id);
        id
    }

    /// Interns a location: an equal location added before returns its id.
    pub fn intern_location(
        &mut self,
        mapping: Option<MappingId>,
        address: u64,
        lines: &[Line],
        kind: FrameKind,
    ) -> LocationId {
        let key = LocationKey {
            mapping,
            address,
            kind,
            lines: lines.into(),
        };
        if let Some(&id) = self.location_index.get(&key) {
            return id;
        }
        self.push_location(mapping, address, lines, kind, false)
    }

    /// Interns a one-line location for a function called `name` (folded and perf frames).
    pub fn intern_named_location(
        &mut self,
        name: &str,
        mapping: Option<MappingId>,
        address: u64,
        kind: FrameKind,
    ) -> LocationId {
        let name = self.strings.intern(name);
        let function = self.intern_function(Function {
            name,
            system_name: name,
            ..Function::default()
        });
        let line = Line {
            function: Some(function),
            line: 0,
            column: 0,
        };
        self.intern_location(mapping, address, &[line], kind)
    }

    /// Adds a sample. `values` must have one value per sample type.
    pub fn push_sample(&mut self, stack: StackId, values: &[i64], labels: LabelSetId, time_nanos: Option<i64>) {
        debug_assert_eq!(values.len(), self.sample_types.len());
        self.samples.push(Sample {
            stack,
            labels,
            time_nanos,
        });
        self.values.extend_from_slice(values);
    }

    /// The values of sample `i`, one per sample type.
    pub fn sample_values(&self, i: usize) -> &[i64] {
        let n = self.sample_types.len();
        &self.values[i * n..(i + 1) * n]
    }

    /// The labels of a sample.
    pub fn labels(&self, sample: &Sample) -> &[Label] {
        self.label_sets.get(sample.labels)
    }

    /// The lines of a location.
    pub fn location_lines(&self, id: LocationId) -> &[Line] {
        let r = &self.locations[id.index()].lines;
        &self.lines[r.start as usize..r.end as usize]
    }

    /// `type/unit` of a value type, as pprof and Pyroscope print it (`cpu/nanoseconds`).
    pub fn value_type_name(&self, vt: ValueType) -> String {
        format!("{}/{}", self.strings.get(vt.kind), self.strings.get(vt.unit))
    }

    /// The name of a line of a location: its function's name, or for a location without
    /// symbol the mapping and address as pprof prints them: `libc.so.6 0x1a2b`, or `0x1a2b`
    /// without a mapping file name.
    pub fn line_name(&self, location: LocationId, line: Option<&Line>) -> Cow<'_, str> {
        let named = line
            .and_then(|l| l.function)
            .and_then(|f| self.functions.get(f.index()))
            .map(|f| if f.name.is_empty() { f.system_name } else { f.name })
            .filter(|n| !n.is_empty());
        if let Some(name) = named {
            return Cow::Borrowed(self.strings.get(name));
        }
        let loc = &self.locations[location.index()];
        let file = loc
            .mapping
            .and_then(|m| self.mappings.get(m.index()))
            .map(|m| self.strings.get(m.filename))
            .unwrap_or("");
        let base = file.rsplit('/').next().unwrap_or(file);
        if base.is_empty() {
            Cow::Owned(format!("0x{:x}", loc.address))
        } else {
            Cow::Owned(format!("{base} 0x{:x}", loc.address))
        }
    }

    /// The name of a location's outermost line (its own function, not an inlined callee).
    pub fn location_name(&self, location: LocationId) -> Cow<'_, str> {
        self.line_name(location, self.location_lines(location).last())
    }

    /// The frames of a location, outermost (caller) first, as they appear in a root-first
    /// stack: an inlined callee comes after the function it was inlined into.
    pub fn location_frames(&self, location: LocationId) -> impl Iterator<Item = Frame<'_>> + '_ {
        let loc = &self.locations[location.index()];
        let lines = self.location_lines(location);
        let mapping = loc.mapping.and_then(|m| self.mappings.get(m.index()));
        let n = lines.len().max(1);
        (0..n).rev().map(move |i| {
            let line = lines.get(i);
            let function = line
                .and_then(|l| l.function)
                .and_then(|f| self.functions.get(f.index()));
            Frame {
                name: self.line_name(location, line),
                system_name: function.map_or("", |f| self.strings.get(f.system_name)),
                file: function.map_or("", |f| self.strings.get(f.filename)),
                line: line.map_or(0, |l| l.line),
                mapping_file: mapping.map_or("", |m| self.strings.get(m.filename)),
                build_id: mapping.map_or("", |m| self.strings.get(m.build_id)),
                address: loc.address,
                inlined: i + 1 < n,
                kind: loc.kind,
            }
        })
    }

    /// The frames of a stack, root first, inlined frames expanded.
    pub fn frames(&self, stack: StackId) -> Vec<Frame<'_>> {
        self.stacks
            .locations(stack)
            .into_iter()
            .flat_map(|loc| self.location_frames(loc))
            .collect()
    }

    /// The frame names of a stack, root first, inlined frames expanded.
    pub fn frame_names(&self, stack: StackId) -> Vec<Cow<'_, str>> {
        self.frames(stack).into_iter().map(|f| f.name).collect()
    }

    /// Number of frames of a stack with inlined frames expanded.
    pub fn frame_depth(&self, stack: StackId) -> usize {
        self.stacks
            .leaf_first(stack)
            .map(|l| self.location_lines(l).len().max(1))
            .sum()
    }
}
