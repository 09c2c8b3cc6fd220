//! The flamedb profile model and its codecs.
//!
//! ```text
//!   bytes ──► gzip? ──► detect ──┬─► pprof::decode ─────┐
//!                                ├─► folded::decode ────┼──► Profile ──┬─► pprof::encode (gzip)
//!                                └─► perf::decode ──────┘              ├─► folded::encode
//!                                                                      └─► summary::Summary
//! ```
//!
//! A [`Profile`] is metadata (sample types, period, time, comments, ...), symbol tables
//! (strings, mappings, functions, locations with their lines), a [`StackTree`] that interns
//! every stack as a node of a parent-pointer tree (**stacks are root first**), interned
//! [`LabelSets`] and the samples, whose values sit in one flat vector. Nothing is allocated
//! per frame per sample: decoding a profile costs one hash lookup per frame per sample and
//! one allocation per distinct string, function, location, stack node or label set.
//!
//! Tour:
//! - [`model`]: [`Profile`], [`Location`], [`Function`], [`Mapping`], [`Frame`] (the
//!   user-facing view of one frame, inlining expanded).
//! - [`symbols`]: [`Symbols`], the symbol tables and stack tree a profile (and a store
//!   block) owns, and their merge with id remapping.
//! - [`strings`], [`stack`], [`labels`], [`ids`]: the interning tables and dense ids;
//!   `stack_builder` builds a whole stack tree at once for decoders; [`stack_cache`] imports
//!   many profiles' stacks into one dictionary (a store head) with one probe per stack.
//! - [`pprof`], [`folded`], [`perf`]: one module per format, each with `decode` (and
//!   `encode` where the format is written).
//! - [`jfr`]: Java Flight Recorder recordings, decoded into one profile per kind of
//!   sample (CPU, wall, allocations, locks, ...) as Grafana Pyroscope ingests them.
//! - [`detect`]: format detection; [`decode`] is the entry point taking any format.
//! - [`flame`]: [`flame::FlameTree`], the merged or diffed call tree of a flame graph, with
//!   truncation, per-function totals and its renderers (folded, Pyroscope flamebearer,
//!   Grafana nested set, SVG, pprof).
//! - [`summary`]: the facts `flamedb inspect` prints.
//! - [`limits`]: [`DecodeLimits`], the bounds every decoder enforces on untrusted input.
//!
//! Decoders never panic on input: malformed data gives an [`Error`] naming the problem and
//! where (byte offset or line number).

pub mod detect;
pub mod error;
pub mod flame;
pub mod folded;
pub mod gzip;
pub mod ids;
pub mod jfr;
pub mod labels;
pub mod limits;
pub mod location_cache;
pub mod model;
pub mod perf;
pub mod pprof;
pub mod stack;
pub(crate) mod stack_builder;
pub mod stack_cache;
pub mod strings;
pub mod summary;
pub mod symbols;
pub mod testing;

pub use detect::{Format, detect};
pub use error::{Error, Result};
pub use ids::{FunctionId, LabelSetId, LocationId, MappingId, StackId};
pub use labels::{Label, LabelSets, LabelValue};
pub use limits::DecodeLimits;
pub use location_cache::{LocationCache, LocationHints};
pub use model::{Frame, FrameKind, Function, Line, Location, Mapping, Profile, Sample, ValueType};
pub use stack::{StackNode, StackTree};
pub use stack_cache::StackCache;
pub use strings::{StrId, StringTable};
pub use summary::Summary;
pub use symbols::{Remap, Symbols};

/// Options for [`decode`].
#[derive(Debug, Clone, Default)]
pub struct DecodeOptions {
    /// Bounds on the input.
    pub limits: DecodeLimits,
    /// For `perf script` input: the event type to keep (`cycles`, `cpu-clock`, ...);
    /// `None` keeps the first event type in the file, as inferno and stackcollapse-perf do.
    pub perf_event: Option<String>,
}

/// Decodes a profile of the given format, or of the detected one when `format` is `None`.
/// gzip-compressed input is decompressed first (bounded by the limits).
pub fn decode(
    data: &[u8],
    format: Option<Format>,
    options: &DecodeOptions,
) -> Result<(Format, Profile)> {
    gzip::with_gunzipped(data, &options.limits, |data| {
        let format = match format {
            Some(f) => f,
            None => detect(data)?,
        };
        let profile = match format {
            Format::Pprof => pprof::decode(data, &options.limits)?,
            Format::Folded => folded::decode(data, &options.limits)?,
            Format::PerfScript => perf::decode(
                data,
                &perf::PerfOptions {
                    limits: options.limits,
                    event: options.perf_event.clone(),
                },
            )?,
        };
        Ok((format, profile))
    })
}
