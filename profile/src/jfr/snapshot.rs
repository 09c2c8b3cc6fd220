//! Pyroscope's `LabelsSnapshot`: the labels of each context id a Java agent recorded,
//! sent beside the JFR file (the `labels` part of the agent's multipart upload).
//!
//! Hand-written prost messages for grafana/jfr-parser `pprof/jfr_labels.proto` at commit
//! 1d06ce37e9830f5456873bd3524b77567ad39a30 (the same messages as grafana/pyroscope
//! `pkg/og/convert/jfr`, package `io.pyroscope.labels.pb`):
//!
//! ```proto
//! message Context { map<int64, int64> labels = 1; }
//! message LabelsSnapshot {
//!   map<int64, Context> contexts = 1;
//!   map<int64, string> strings = 2;
//! }
//! ```

use std::collections::HashMap;

/// The labels of one context: label name string id -> value string id.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Context {
    /// Key and value are ids into [`LabelsSnapshot::strings`].
    #[prost(map = "int64, int64", tag = "1")]
    pub labels: HashMap<i64, i64>,
}

/// Contexts by context id, and the strings they refer to.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelsSnapshot {
    /// Context id (an event's `contextId`) -> its labels.
    #[prost(map = "int64, message", tag = "1")]
    pub contexts: HashMap<i64, Context>,
    /// String id -> string.
    #[prost(map = "int64, string", tag = "2")]
    pub strings: HashMap<i64, String>,
}
