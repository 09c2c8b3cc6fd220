//! The profile model: metadata, symbol tables, the stack tree and the samples.

use crate::{FunctionId, Label, LabelSetId, LabelSets, MappingId, StackId, StrId, Symbols};
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

/// A decoded profile: metadata, [`Symbols`], label sets and samples.
///
/// Everything is interned: strings, functions, mappings and locations in tables addressed by
/// dense ids, stacks in a [`StackTree`](crate::StackTree) (root first), label sets in
/// [`LabelSets`]. Sample values are one flat vector with one value per sample type per
/// sample, so a profile of any size allocates per distinct item, never per frame per sample.
///
/// A profile dereferences to its [`Symbols`], so `profile.strings`, `profile.stacks` and the
/// interning methods are at hand.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Symbol tables and stacks.
    pub symbols: Symbols,
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
    /// The profile type name a source gives, empty when none: Pyroscope's `__name__`
    /// (`process_cpu`, `memory`, `mutex`, `block`, `wall`) for the profiles of a JFR
    /// recording ([`crate::jfr`]), which has several kinds of profile in one file.
    pub name: StrId,
    /// pprof `drop_frames` regex, empty when none.
    pub drop_frames: StrId,
    /// pprof `keep_frames` regex, empty when none.
    pub keep_frames: StrId,
    /// pprof `doc_url`, empty when none.
    pub doc_url: StrId,
    /// All label sets.
    pub label_sets: LabelSets,
    /// The samples, in source order.
    pub samples: Vec<Sample>,
    /// `sample_types.len()` values per sample, sample after sample.
    pub values: Vec<i64>,
}

impl std::ops::Deref for Profile {
    type Target = Symbols;

    fn deref(&self) -> &Symbols {
        &self.symbols
    }
}

impl std::ops::DerefMut for Profile {
    fn deref_mut(&mut self) -> &mut Symbols {
        &mut self.symbols
    }
}

impl Profile {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value type `kind`/`unit` to the sample types. Call before adding samples.
    pub fn add_sample_type(&mut self, kind: &str, unit: &str) {
        let vt = ValueType {
            kind: self.symbols.strings.intern(kind),
            unit: self.symbols.strings.intern(unit),
        };
        self.sample_types.push(vt);
    }

    /// Adds a sample. `values` must have one value per sample type.
    pub fn push_sample(
        &mut self,
        stack: StackId,
        values: &[i64],
        labels: LabelSetId,
        time_nanos: Option<i64>,
    ) {
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

    /// `type/unit` of a value type, as pprof and Pyroscope print it (`cpu/nanoseconds`).
    pub fn value_type_name(&self, vt: ValueType) -> String {
        format!(
            "{}/{}",
            self.strings.get(vt.kind),
            self.strings.get(vt.unit)
        )
    }
}
