//! The OTLP profiles messages, written by hand with `prost` derives (binary protobuf) and
//! `serde` derives (the OTLP/JSON mapping of the same messages).
//!
//! They mirror open-telemetry/opentelemetry-proto at tag v1.10.0 (commit
//! `ca839c51f706f5d53bfb46f06c3e90c3af3a52c6`), field for field, tag for tag:
//! - `opentelemetry/proto/collector/profiles/v1development/profiles_service.proto`
//!   (`ExportProfilesServiceRequest`),
//! - `opentelemetry/proto/profiles/v1development/profiles.proto` (`ProfilesDictionary`,
//!   `ResourceProfiles`, `ScopeProfiles`, `Profile`, `Sample`, `Stack`, ...),
//! - `opentelemetry/proto/common/v1/common.proto` (`AnyValue`, `KeyValue`,
//!   `InstrumentationScope`) and `opentelemetry/proto/resource/v1/resource.proto`.
//!
//! v1.11.0 (`790608c4d51e6ffc12210b541e8514cbed9e91a4`) changed only comments in these
//! files. Older development revisions are **not** wire compatible: up to v1.9.0 a `Sample`
//! carried `values` in field 2 and `attribute_indices` in field 3 (v1.10.0 swapped them to
//! 4 and 2), and before v1.8 profiles had no shared dictionary at all.
//!
//! Fields the decoder does not use are still declared where they are cheap (so they are
//! skipped correctly and documented); `EntityRef`s of a `Resource` are left to prost's
//! unknown-field skipping. Deliberate differences from the `.proto`:
//! - `string_table` is `bytes`, so a string that is not valid UTF-8 does not fail the
//!   whole request (it is kept lossily, as in the pprof decoder);
//! - in JSON, `profile_id` and `original_payload` are not read (ignored like unknown
//!   fields), and `Link` ids are accepted as hex (the OTLP/JSON rule) or base64.

use super::json;
use serde::Deserialize;

/// `ExportProfilesServiceRequest`: what an exporter sends; same fields as `ProfilesData`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportProfilesServiceRequest {
    /// Profiles grouped by resource (process, container, host).
    #[prost(message, repeated, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub resource_profiles: Vec<ResourceProfiles>,
    /// The tables every profile of the request refers to by index.
    #[prost(message, optional, tag = "2")]
    pub dictionary: Option<ProfilesDictionary>,
}

/// `ProfilesDictionary`: tables shared by all profiles of a request. Entry 0 of every
/// table is the zero value, so index 0 means "unset".
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ProfilesDictionary {
    /// Binaries, by `Location.mapping_index`.
    #[prost(message, repeated, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub mapping_table: Vec<Mapping>,
    /// Locations, by `Stack.location_indices`.
    #[prost(message, repeated, tag = "2")]
    #[serde(deserialize_with = "json::or_default")]
    pub location_table: Vec<Location>,
    /// Functions, by `Line.function_index`.
    #[prost(message, repeated, tag = "3")]
    #[serde(deserialize_with = "json::or_default")]
    pub function_table: Vec<Function>,
    /// Trace links, by `Sample.link_index`.
    #[prost(message, repeated, tag = "4")]
    #[serde(deserialize_with = "json::or_default")]
    pub link_table: Vec<Link>,
    /// All strings, by every `*_strindex`. Kept as bytes so invalid UTF-8 survives.
    #[prost(bytes = "vec", repeated, tag = "5")]
    #[serde(deserialize_with = "json::strings_as_bytes")]
    pub string_table: Vec<Vec<u8>>,
    /// Attributes, by every `attribute_indices`.
    #[prost(message, repeated, tag = "6")]
    #[serde(deserialize_with = "json::or_default")]
    pub attribute_table: Vec<KeyValueAndUnit>,
    /// Stacks, by `Sample.stack_index`.
    #[prost(message, repeated, tag = "7")]
    #[serde(deserialize_with = "json::or_default")]
    pub stack_table: Vec<Stack>,
}

/// `ResourceProfiles`: the profiles of one resource.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceProfiles {
    /// The resource (its attributes: `service.name`, `process.pid`, ...).
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Profiles grouped by instrumentation scope.
    #[prost(message, repeated, tag = "2")]
    #[serde(deserialize_with = "json::or_default")]
    pub scope_profiles: Vec<ScopeProfiles>,
    /// Schema URL of the resource data.
    #[prost(string, tag = "3")]
    #[serde(deserialize_with = "json::or_default")]
    pub schema_url: String,
}

/// `ScopeProfiles`: the profiles of one instrumentation scope.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScopeProfiles {
    /// The scope (profiler name, version, attributes).
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// The profiles.
    #[prost(message, repeated, tag = "2")]
    #[serde(deserialize_with = "json::or_default")]
    pub profiles: Vec<Profile>,
    /// Schema URL of the scope and its profiles.
    #[prost(string, tag = "3")]
    #[serde(deserialize_with = "json::or_default")]
    pub schema_url: String,
}

/// `Profile`: one sample type and its samples.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Profile {
    /// What every value of every sample measures.
    #[prost(message, optional, tag = "1")]
    pub sample_type: Option<ValueType>,
    /// The samples.
    #[prost(message, repeated, tag = "2")]
    #[serde(deserialize_with = "json::or_default")]
    pub samples: Vec<Sample>,
    /// Start of the collection, nanoseconds since the Unix epoch.
    #[prost(fixed64, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub time_unix_nano: u64,
    /// Duration of the collection in nanoseconds.
    #[prost(uint64, tag = "4")]
    #[serde(deserialize_with = "json::int")]
    pub duration_nano: u64,
    /// The kind of events between sampled occurrences.
    #[prost(message, optional, tag = "5")]
    pub period_type: Option<ValueType>,
    /// The number of events between sampled occurrences.
    #[prost(int64, tag = "6")]
    #[serde(deserialize_with = "json::int")]
    pub period: i64,
    /// A 16-byte identifier (not read from JSON).
    #[prost(bytes = "vec", tag = "7")]
    #[serde(skip)]
    pub profile_id: Vec<u8>,
    /// Attributes dropped by the producer.
    #[prost(uint32, tag = "8")]
    #[serde(deserialize_with = "json::int")]
    pub dropped_attributes_count: u32,
    /// Format of `original_payload` (`jfr`, `pprof`, ...).
    #[prost(string, tag = "9")]
    #[serde(deserialize_with = "json::or_default")]
    pub original_payload_format: String,
    /// The profile as the profiler wrote it (not read from JSON).
    #[prost(bytes = "vec", tag = "10")]
    #[serde(skip)]
    pub original_payload: Vec<u8>,
    /// The profile's attributes (indexes into `attribute_table`).
    #[prost(int32, repeated, tag = "11")]
    #[serde(deserialize_with = "json::ints")]
    pub attribute_indices: Vec<i32>,
}

/// `Link`: a sample's trace span.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Link {
    /// 16-byte trace id.
    #[prost(bytes = "vec", tag = "1")]
    #[serde(deserialize_with = "json::id_bytes")]
    pub trace_id: Vec<u8>,
    /// 8-byte span id.
    #[prost(bytes = "vec", tag = "2")]
    #[serde(deserialize_with = "json::id_bytes")]
    pub span_id: Vec<u8>,
}

/// `ValueType`: kind and unit (string indexes).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ValueType {
    /// Kind (`off_cpu`, `samples`, ...).
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub type_strindex: i32,
    /// Unit (`nanoseconds`, `count`, ...).
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub unit_strindex: i32,
}

/// `Sample`: a stack, attributes, a link and the observations (values and/or timestamps).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sample {
    /// Index into `stack_table`.
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub stack_index: i32,
    /// Indexes into `attribute_table`.
    #[prost(int32, repeated, tag = "2")]
    #[serde(deserialize_with = "json::ints")]
    pub attribute_indices: Vec<i32>,
    /// Index into `link_table`, 0 for none.
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub link_index: i32,
    /// One value per observation; empty means 1 per timestamp.
    #[prost(int64, repeated, tag = "4")]
    #[serde(deserialize_with = "json::ints")]
    pub values: Vec<i64>,
    /// One timestamp per observation, nanoseconds since the Unix epoch.
    #[prost(fixed64, repeated, tag = "5")]
    #[serde(deserialize_with = "json::ints")]
    pub timestamps_unix_nano: Vec<u64>,
}

/// `Mapping`: a binary mapped into the process.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Mapping {
    /// Load address.
    #[prost(uint64, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub memory_start: u64,
    /// End of the mapped range.
    #[prost(uint64, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub memory_limit: u64,
    /// File offset of `memory_start`.
    #[prost(uint64, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub file_offset: u64,
    /// Binary path (string index).
    #[prost(int32, tag = "4")]
    #[serde(deserialize_with = "json::int")]
    pub filename_strindex: i32,
    /// Attributes (`process.executable.build_id.gnu`, ...).
    #[prost(int32, repeated, tag = "5")]
    #[serde(deserialize_with = "json::ints")]
    pub attribute_indices: Vec<i32>,
}

/// `Stack`: location indexes, **leaf first**.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Stack {
    /// Indexes into `location_table`, the leaf first.
    #[prost(int32, repeated, tag = "1")]
    #[serde(deserialize_with = "json::ints")]
    pub location_indices: Vec<i32>,
}

/// `Location`: an address and the (possibly inlined) lines it stands for.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Location {
    /// Index into `mapping_table`, 0 for none.
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub mapping_index: i32,
    /// Instruction address.
    #[prost(uint64, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub address: u64,
    /// Lines; `lines[0]` is the innermost inlined function, the last its caller.
    #[prost(message, repeated, tag = "3")]
    #[serde(deserialize_with = "json::or_default")]
    pub lines: Vec<Line>,
    /// Attributes (`profile.frame.type`, ...).
    #[prost(int32, repeated, tag = "4")]
    #[serde(deserialize_with = "json::ints")]
    pub attribute_indices: Vec<i32>,
}

/// `Line`: a function and a source position.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Line {
    /// Index into `function_table`, 0 for none.
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub function_index: i32,
    /// Source line, 0 when unset.
    #[prost(int64, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub line: i64,
    /// Source column, 0 when unset.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub column: i64,
}

/// `Function`: names and source file (string indexes).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Function {
    /// Human-readable name.
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub name_strindex: i32,
    /// Name as the system knows it (mangled).
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub system_name_strindex: i32,
    /// Source file.
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub filename_strindex: i32,
    /// First line of the function.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "json::int")]
    pub start_line: i64,
}

/// `KeyValueAndUnit`: an attribute of the dictionary.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyValueAndUnit {
    /// Key (string index).
    #[prost(int32, tag = "1")]
    #[serde(deserialize_with = "json::int")]
    pub key_strindex: i32,
    /// Value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
    /// Unit (string index), 0 for none.
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub unit_strindex: i32,
}

/// `opentelemetry.proto.resource.v1.Resource`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Resource {
    /// Attributes (`service.name`, `process.pid`, ...).
    #[prost(message, repeated, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the producer.
    #[prost(uint32, tag = "2")]
    #[serde(deserialize_with = "json::int")]
    pub dropped_attributes_count: u32,
}

/// `opentelemetry.proto.common.v1.InstrumentationScope`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstrumentationScope {
    /// Scope name (the profiler).
    #[prost(string, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub name: String,
    /// Scope version.
    #[prost(string, tag = "2")]
    #[serde(deserialize_with = "json::or_default")]
    pub version: String,
    /// Scope attributes.
    #[prost(message, repeated, tag = "3")]
    #[serde(deserialize_with = "json::or_default")]
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the producer.
    #[prost(uint32, tag = "4")]
    #[serde(deserialize_with = "json::int")]
    pub dropped_attributes_count: u32,
}

/// `opentelemetry.proto.common.v1.KeyValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyValue {
    /// Key.
    #[prost(string, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub key: String,
    /// Value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
    /// Key as a string index into the dictionary (used when `key` is empty).
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "json::int")]
    pub key_strindex: i32,
}

/// `opentelemetry.proto.common.v1.AnyValue`: one of several value kinds.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(from = "json::AnyValueJson")]
pub struct AnyValue {
    /// The value, `None` when unset.
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7, 8")]
    pub value: Option<any_value::Value>,
}

/// The `oneof` of [`AnyValue`].
pub mod any_value {
    /// `AnyValue.value`.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// A string.
        #[prost(string, tag = "1")]
        StringValue(String),
        /// A boolean.
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        /// An integer.
        #[prost(int64, tag = "3")]
        IntValue(i64),
        /// A float.
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        /// An array of values.
        #[prost(message, tag = "5")]
        ArrayValue(super::ArrayValue),
        /// A list of key-value pairs.
        #[prost(message, tag = "6")]
        KvlistValue(super::KeyValueList),
        /// Bytes.
        #[prost(bytes, tag = "7")]
        BytesValue(Vec<u8>),
        /// A string given as an index into the dictionary's string table.
        #[prost(int32, tag = "8")]
        StringValueStrindex(i32),
    }
}

/// `opentelemetry.proto.common.v1.ArrayValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ArrayValue {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub values: Vec<AnyValue>,
}

/// `opentelemetry.proto.common.v1.KeyValueList`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct KeyValueList {
    /// The pairs.
    #[prost(message, repeated, tag = "1")]
    #[serde(deserialize_with = "json::or_default")]
    pub values: Vec<KeyValue>,
}
