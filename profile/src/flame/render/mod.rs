//! Renderers of a [`FlameTree`](super::FlameTree), one format per file.
//!
//! | function | output | read by |
//! |---|---|---|
//! | [`folded()`] | `a;b;c 12` lines (`left right` for a diff) | inferno, FlameGraph, speedscope, [`crate::folded::decode`] |
//! | [`flamebearer()`] | Pyroscope flamebearer JSON (`single` / `double`) | Pyroscope's UI |
//! | [`nested_set()`] / [`grafana_frame()`] | level/label/self/value rows, Grafana data frame JSON | Grafana's flame graph panel |
//! | [`svg()`] | SVG with search and zoom, via inferno | browsers |
//! | [`to_profile()`] | a [`Profile`](crate::Profile), encode with [`crate::pprof::encode_gzip`] | `go tool pprof` |
//!
//! Every renderer walks the pre-order once; truncate first
//! ([`FlameTree::truncate`](super::FlameTree::truncate)) to bound the output.

mod flamebearer;
mod folded;
mod nested_set;
mod pprof;
mod svg;

pub use flamebearer::{
    Flamebearer, FlamebearerMetadata, FlamebearerOptions, FlamebearerProfile, flamebearer,
};
pub use folded::folded;
pub use nested_set::{
    FrameColumn, FrameData, FrameField, FrameFieldConfig, FrameMeta, FrameSchema, GrafanaFrame,
    NestedSetRow, grafana_frame, nested_set,
};
pub use pprof::to_profile;
pub use svg::{SvgOptions, svg};

#[cfg(test)]
mod tests;
