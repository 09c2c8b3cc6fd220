//! The pprof protobuf messages, written by hand with `prost` derives.
//!
//! They mirror `proto/profile.proto` of google/pprof (package `perftools.profiles`) field
//! for field, tag for tag, including the newer `Profile.doc_url` (15) and `Line.column` (3).
//! No `protoc` and no build script: the schema is small and stable. Repeated scalars are
//! written packed, as proto3 does; prost accepts packed and unpacked ones on decode.
//!
//! One deliberate difference: `string_table` is `bytes` instead of `string`, so a string
//! that is not valid UTF-8 does not fail the whole message; the decoder keeps it lossily
//! (see [`StringTable::intern_lossy`](crate::StringTable::intern_lossy)). Both types have the
//! same wire encoding.

/// `perftools.profiles.Profile`: the whole profile.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Profile {
    /// One value type per value of every sample.
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    /// The mappings, referred to by `Location.mapping_id`.
    #[prost(message, repeated, tag = "3")]
    pub mapping: Vec<Mapping>,
    /// The locations, referred to by `Sample.location_id`.
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    /// The functions, referred to by `Line.function_id`.
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    /// All strings; entry 0 must be `""`. Kept as bytes so invalid UTF-8 survives.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub string_table: Vec<Vec<u8>>,
    /// Regex of frames to drop (string index).
    #[prost(int64, tag = "7")]
    pub drop_frames: i64,
    /// Regex of frames to keep (string index).
    #[prost(int64, tag = "8")]
    pub keep_frames: i64,
    /// Start of the collection, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    /// Duration of the collection in nanoseconds.
    #[prost(int64, tag = "10")]
    pub duration_nanos: i64,
    /// The kind of events between sampled occurrences.
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    /// The number of events between sampled occurrences.
    #[prost(int64, tag = "12")]
    pub period: i64,
    /// Free-form comments (string indexes).
    #[prost(int64, repeated, tag = "13")]
    pub comment: Vec<i64>,
    /// The preferred sample type (string index of its `type`).
    #[prost(int64, tag = "14")]
    pub default_sample_type: i64,
    /// Documentation link for the profile type (string index).
    #[prost(int64, tag = "15")]
    pub doc_url: i64,
}

/// `ValueType`: what a value measures and its unit (string indexes).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct ValueType {
    /// Kind (string index), for example `cpu`.
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    /// Unit (string index), for example `nanoseconds`.
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

/// `Sample`: a stack (leaf first), its values and labels.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// Location ids, **leaf first**.
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    /// One value per `Profile.sample_type`.
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    /// Labels.
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

/// `Label`: a key with a string or a numeric value.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// Key (string index).
    #[prost(int64, tag = "1")]
    pub key: i64,
    /// String value (string index); 0 for a numeric label.
    #[prost(int64, tag = "2")]
    pub str: i64,
    /// Numeric value.
    #[prost(int64, tag = "3")]
    pub num: i64,
    /// Unit of `num` (string index).
    #[prost(int64, tag = "4")]
    pub num_unit: i64,
}

/// `Mapping`: a binary mapped into the process.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Mapping {
    /// Unique non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Load address.
    #[prost(uint64, tag = "2")]
    pub memory_start: u64,
    /// End of the mapped range.
    #[prost(uint64, tag = "3")]
    pub memory_limit: u64,
    /// File offset of `memory_start`.
    #[prost(uint64, tag = "4")]
    pub file_offset: u64,
    /// Binary path (string index).
    #[prost(int64, tag = "5")]
    pub filename: i64,
    /// Build id (string index).
    #[prost(int64, tag = "6")]
    pub build_id: i64,
    /// Symbolization flag.
    #[prost(bool, tag = "7")]
    pub has_functions: bool,
    /// Symbolization flag.
    #[prost(bool, tag = "8")]
    pub has_filenames: bool,
    /// Symbolization flag.
    #[prost(bool, tag = "9")]
    pub has_line_numbers: bool,
    /// Symbolization flag.
    #[prost(bool, tag = "10")]
    pub has_inline_frames: bool,
}

/// `Location`: a program counter and the (possibly inlined) lines it stands for.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Location {
    /// Unique non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Mapping id, 0 when unknown.
    #[prost(uint64, tag = "2")]
    pub mapping_id: u64,
    /// Instruction address.
    #[prost(uint64, tag = "3")]
    pub address: u64,
    /// Lines; `line[0]` is the innermost inlined function, the last its caller.
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
    /// Several symbols share this address (identical code folding).
    #[prost(bool, tag = "5")]
    pub is_folded: bool,
}

/// `Line`: a function and a source position.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Line {
    /// Function id, 0 when unknown.
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    /// Source line.
    #[prost(int64, tag = "2")]
    pub line: i64,
    /// Source column.
    #[prost(int64, tag = "3")]
    pub column: i64,
}

/// `Function`: names and source file of a function.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Function {
    /// Unique non-zero id.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Human-readable name (string index).
    #[prost(int64, tag = "2")]
    pub name: i64,
    /// Mangled name (string index).
    #[prost(int64, tag = "3")]
    pub system_name: i64,
    /// Source file (string index).
    #[prost(int64, tag = "4")]
    pub filename: i64,
    /// First line of the function.
    #[prost(int64, tag = "5")]
    pub start_line: i64,
}
