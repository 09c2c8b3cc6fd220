//! Messages of Pyroscope's querier API, written from `api/querier/v1/querier.proto` and
//! `api/types/v1/types.proto` (grafana/pyroscope, Apache-2.0) with their field numbers,
//! as prost messages (`application/proto`) and serde types in proto3's JSON mapping
//! (`application/json`): field names in lowerCamelCase on output, both forms accepted on
//! input (Drilldown sends `profile_typeID` beside `maxNodes`), 64-bit integers written
//! as strings and read from strings or numbers, enums by name or number. Only the
//! fields flamedb reads or answers are here; prost skips unknown fields and so does serde.

use prost::Message;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        F(f64),
        S(String),
    }
    match N::deserialize(d)? {
        N::I(i) => Ok(i),
        N::F(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        N::F(f) => Err(serde::de::Error::custom(format!(
            "{f} is not a 64-bit integer"
        ))),
        N::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a 64-bit integer"))),
    }
}

fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    de_i64(d).map(Some)
}

fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        F(f64),
        S(String),
    }
    match N::deserialize(d)? {
        N::F(f) => Ok(f),
        N::S(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a number"))),
    }
}

/// `ProfileFormat` by name or number.
fn de_format<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum E {
        N(i32),
        S(String),
    }
    match E::deserialize(d)? {
        E::N(n) => Ok(n),
        E::S(s) => Ok(match s.as_str() {
            "PROFILE_FORMAT_UNSPECIFIED" => 0,
            "PROFILE_FORMAT_FLAMEGRAPH" => 1,
            "PROFILE_FORMAT_TREE" => 2,
            "PROFILE_FORMAT_DOT" => 3,
            "PROFILE_FORMAT_PPROF" => 4,
            other => {
                return Err(serde::de::Error::custom(format!(
                    "unknown ProfileFormat {other:?}"
                )));
            }
        }),
    }
}

fn ser_i64<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn ser_i64s<S: Serializer>(v: &[i64], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
}

/// `querier.v1.ProfileTypesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct ProfileTypesRequest {
    /// ms since the epoch.
    #[prost(int64, tag = "1")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms since the epoch.
    #[prost(int64, tag = "2")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
}

/// `types.v1.ProfileType`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileType {
    /// `<name>:<sample type>:<sample unit>:<period type>:<period unit>`.
    #[prost(string, tag = "1")]
    #[serde(rename = "ID")]
    pub id: String,
    /// The profile's name (`process_cpu`, `memory`, ...).
    #[prost(string, tag = "2")]
    pub name: String,
    /// Sample type.
    #[prost(string, tag = "4")]
    pub sample_type: String,
    /// Sample unit.
    #[prost(string, tag = "5")]
    pub sample_unit: String,
    /// Period type.
    #[prost(string, tag = "6")]
    pub period_type: String,
    /// Period unit.
    #[prost(string, tag = "7")]
    pub period_unit: String,
}

/// `querier.v1.ProfileTypesResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileTypesResponse {
    /// Sorted by id.
    #[prost(message, repeated, tag = "1")]
    pub profile_types: Vec<ProfileType>,
}

/// `types.v1.LabelNamesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct LabelNamesRequest {
    /// Selectors, ANDed.
    #[prost(string, repeated, tag = "1")]
    pub matchers: Vec<String>,
    /// ms.
    #[prost(int64, tag = "2")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
}

/// `types.v1.LabelNamesResponse` and `types.v1.LabelValuesResponse` (the same shape).
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct NamesResponse {
    /// Sorted, distinct.
    #[prost(string, repeated, tag = "1")]
    pub names: Vec<String>,
}

/// `types.v1.LabelValuesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct LabelValuesRequest {
    /// The label.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Selectors, ANDed.
    #[prost(string, repeated, tag = "2")]
    pub matchers: Vec<String>,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
}

/// `querier.v1.SeriesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct SeriesRequest {
    /// Selectors, ANDed.
    #[prost(string, repeated, tag = "1")]
    pub matchers: Vec<String>,
    /// Labels to keep (all when empty).
    #[prost(string, repeated, tag = "2")]
    #[serde(alias = "label_names", rename = "labelNames")]
    pub label_names: Vec<String>,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
}

/// `types.v1.LabelPair`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Message, Serialize)]
pub struct LabelPair {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `types.v1.Labels`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct Labels {
    /// The pairs, by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
}

/// `querier.v1.SeriesResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeriesResponse {
    /// Distinct label sets.
    #[prost(message, repeated, tag = "2")]
    pub labels_set: Vec<Labels>,
}

/// `querier.v1.SelectMergeStacktracesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct SelectMergeStacktracesRequest {
    /// The profile type id.
    #[prost(string, tag = "1")]
    #[serde(alias = "profile_typeID", rename = "profileTypeID")]
    pub profile_type_id: String,
    /// `{name="value", ...}`.
    #[prost(string, tag = "2")]
    #[serde(alias = "label_selector", rename = "labelSelector")]
    pub label_selector: String,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
    /// Nodes kept before the rest folds into `other`.
    #[prost(int64, optional, tag = "5")]
    #[serde(
        alias = "max_nodes",
        rename = "maxNodes",
        deserialize_with = "de_opt_i64"
    )]
    pub max_nodes: Option<i64>,
    /// `ProfileFormat`: 0 or 1 flame graph; 2 tree, 3 dot, 4 pprof are not served.
    #[prost(int32, tag = "6")]
    #[serde(deserialize_with = "de_format")]
    pub format: i32,
}

/// `querier.v1.Level`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct Level {
    /// `[x_offset_delta, total, self, name_index]` per node.
    #[prost(int64, repeated, tag = "1")]
    #[serde(serialize_with = "ser_i64s")]
    pub values: Vec<i64>,
}

/// `querier.v1.FlameGraph`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlameGraph {
    /// Function names; `name_index` indexes them.
    #[prost(string, repeated, tag = "1")]
    pub names: Vec<String>,
    /// Level by level, from the root `total`.
    #[prost(message, repeated, tag = "2")]
    pub levels: Vec<Level>,
    /// The sum of all values.
    #[prost(int64, tag = "3")]
    #[serde(serialize_with = "ser_i64")]
    pub total: i64,
    /// The largest self value.
    #[prost(int64, tag = "4")]
    #[serde(serialize_with = "ser_i64")]
    pub max_self: i64,
}

/// `querier.v1.SelectMergeStacktracesResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct SelectMergeStacktracesResponse {
    /// The merged flame graph.
    #[prost(message, optional, tag = "1")]
    pub flamegraph: Option<FlameGraph>,
}

/// `querier.v1.SelectSeriesRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct SelectSeriesRequest {
    /// The profile type id.
    #[prost(string, tag = "1")]
    #[serde(alias = "profile_typeID", rename = "profileTypeID")]
    pub profile_type_id: String,
    /// `{name="value", ...}`.
    #[prost(string, tag = "2")]
    #[serde(alias = "label_selector", rename = "labelSelector")]
    pub label_selector: String,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
    /// Labels to group by.
    #[prost(string, repeated, tag = "5")]
    #[serde(alias = "group_by", rename = "groupBy")]
    pub group_by: Vec<String>,
    /// Seconds.
    #[prost(double, tag = "6")]
    #[serde(deserialize_with = "de_f64")]
    pub step: f64,
    /// The top series kept (by their sum), all when absent or 0.
    #[prost(int64, optional, tag = "9")]
    #[serde(deserialize_with = "de_opt_i64")]
    pub limit: Option<i64>,
}

/// `types.v1.Point`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct Point {
    /// The step's total.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// ms: the step's end.
    #[prost(int64, tag = "2")]
    #[serde(serialize_with = "ser_i64")]
    pub timestamp: i64,
}

/// `types.v1.Series`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct Series {
    /// The group's labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    /// By time.
    #[prost(message, repeated, tag = "2")]
    pub points: Vec<Point>,
}

/// `querier.v1.SelectSeriesResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct SelectSeriesResponse {
    /// Biggest first.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<Series>,
}

/// `querier.v1.GetProfileStatsRequest` (no fields).
#[derive(Clone, PartialEq, Message, Deserialize)]
pub struct GetProfileStatsRequest {}

/// `types.v1.GetProfileStatsResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetProfileStatsResponse {
    /// Whether the tenant has any profile.
    #[prost(bool, tag = "1")]
    pub data_ingested: bool,
    /// ms.
    #[prost(int64, tag = "2")]
    #[serde(serialize_with = "ser_i64")]
    pub oldest_profile_time: i64,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(serialize_with = "ser_i64")]
    pub newest_profile_time: i64,
}

/// `querier.v1.DiffRequest`.
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct DiffRequest {
    /// The baseline.
    #[prost(message, optional, tag = "1")]
    pub left: Option<SelectMergeStacktracesRequest>,
    /// The comparison.
    #[prost(message, optional, tag = "2")]
    pub right: Option<SelectMergeStacktracesRequest>,
}

/// `querier.v1.FlameGraphDiff`.
#[derive(Clone, PartialEq, Message, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlameGraphDiff {
    /// Function names.
    #[prost(string, repeated, tag = "1")]
    pub names: Vec<String>,
    /// `[x_left_delta, total_left, self_left, x_right_delta, total_right, self_right,
    /// name_index]` per node.
    #[prost(message, repeated, tag = "2")]
    pub levels: Vec<Level>,
    /// Left and right totals summed.
    #[prost(int64, tag = "3")]
    #[serde(serialize_with = "ser_i64")]
    pub total: i64,
    /// The largest self value of either side.
    #[prost(int64, tag = "4")]
    #[serde(serialize_with = "ser_i64")]
    pub max_self: i64,
    /// The baseline's total.
    #[prost(int64, tag = "5")]
    #[serde(serialize_with = "ser_i64")]
    pub left_ticks: i64,
    /// The comparison's total.
    #[prost(int64, tag = "6")]
    #[serde(serialize_with = "ser_i64")]
    pub right_ticks: i64,
}

/// `querier.v1.DiffResponse`.
#[derive(Clone, PartialEq, Message, Serialize)]
pub struct DiffResponse {
    /// The aligned trees.
    #[prost(message, optional, tag = "1")]
    pub flamegraph: Option<FlameGraphDiff>,
}

/// `querier.v1.SelectMergeProfileRequest` (its answer is a `google.v1.Profile`: pprof).
#[derive(Clone, PartialEq, Message, Deserialize)]
#[serde(default)]
pub struct SelectMergeProfileRequest {
    /// The profile type id.
    #[prost(string, tag = "1")]
    #[serde(alias = "profile_typeID", rename = "profileTypeID")]
    pub profile_type_id: String,
    /// `{name="value", ...}`.
    #[prost(string, tag = "2")]
    #[serde(alias = "label_selector", rename = "labelSelector")]
    pub label_selector: String,
    /// ms.
    #[prost(int64, tag = "3")]
    #[serde(deserialize_with = "de_i64")]
    pub start: i64,
    /// ms.
    #[prost(int64, tag = "4")]
    #[serde(deserialize_with = "de_i64")]
    pub end: i64,
    /// Nodes kept (none: the whole profile).
    #[prost(int64, optional, tag = "5")]
    #[serde(
        alias = "max_nodes",
        rename = "maxNodes",
        deserialize_with = "de_opt_i64"
    )]
    pub max_nodes: Option<i64>,
}
