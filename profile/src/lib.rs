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
//! - [`otlp`]: OpenTelemetry profiles requests (protobuf or JSON), one [`Profile`] per
//!   OTLP profile with its resource, scope and profile attributes; the request's shared
//!   dictionary is checked once and each profile copies what it references.
//! - [`speedscope`]: speedscope JSON files (sampled and evented profiles) in, and a
//!   [`flame::FlameTree`] or [`Profile`] out as sampled profiles.
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
pub mod otlp;
pub mod perf;
pub mod pprof;
pub mod speedscope;
pub mod stack;
pub(crate) mod stack_builder;
pub mod stack_cache;
pub mod strings;
pub mod summary;
pub mod symbols;
pub mod testing;

pub use detect::{Format, detect, detect_prefix};
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
/// gzip-compressed input is decompressed first (bounded by the limits). An input of a
/// format that holds several profiles ([`Format::is_multi`]) must hold exactly one here;
/// [`decode_all`] takes any number.
pub fn decode(
    data: &[u8],
    format: Option<Format>,
    options: &DecodeOptions,
) -> Result<(Format, Profile)> {
    let (format, mut all) = decode_all(data, format, options)?;
    if all.len() != 1 {
        return Err(Error::UnknownFormat(format!(
            "this {format} input holds {} profiles where one was expected",
            all.len()
        )));
    }
    Ok((format, all.remove(0).profile))
}

/// One profile of a decoded input, with the labels the input itself gives it: an OTLP
/// profile's resource, scope and profile attributes (in that order, later ones winning);
/// `__name__`, the profile type of a JFR event kind as Pyroscope names it.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The profile.
    pub profile: Profile,
    /// Labels from the input (empty for pprof, folded, perf script and speedscope).
    pub labels: Vec<(String, String)>,
}

/// Decodes every profile of an input of the given or detected format (gzip undone first,
/// bounded by the limits): one for pprof, folded and perf script, one per event kind for
/// JFR, one per profile for speedscope and OTLP.
pub fn decode_all(
    data: &[u8],
    format: Option<Format>,
    options: &DecodeOptions,
) -> Result<(Format, Vec<Decoded>)> {
    gzip::with_gunzipped(data, &options.limits, |data| {
        let format = match format {
            Some(f) => f,
            None => detect(data)?,
        };
        let limits = &options.limits;
        let plain = |profile| Decoded {
            profile,
            labels: Vec::new(),
        };
        let all = match format {
            Format::Pprof => vec![plain(pprof::decode(data, limits)?)],
            Format::Folded => vec![plain(folded::decode(data, limits)?)],
            Format::PerfScript => vec![plain(perf::decode(
                data,
                &perf::PerfOptions {
                    limits: options.limits,
                    event: options.perf_event.clone(),
                },
            )?)],
            Format::Speedscope => speedscope::decode(data, limits)?
                .into_iter()
                .map(plain)
                .collect(),
            Format::Otlp => {
                let json = data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
                let request = if json {
                    otlp::decode_request_json(data, limits)?
                } else {
                    otlp::decode_request(data, limits)?
                };
                request.into_iter().map(otlp_decoded).collect()
            }
            Format::Jfr => jfr::decode(data, None, limits)?
                .into_iter()
                .map(jfr_decoded)
                .collect(),
        };
        Ok((format, all))
    })
}

/// A JFR profile as [`Decoded`], named (`__name__`) by its kind as Pyroscope names it
/// (`process_cpu`, `wall`, `memory`, `mutex`, `block`).
pub fn jfr_decoded(p: jfr::JfrProfile) -> Decoded {
    Decoded {
        labels: vec![("__name__".to_string(), p.sample_type.metric().to_string())],
        profile: p.profile,
    }
}

/// An OTLP profile as [`Decoded`]: `samples/count` on-CPU profiles as CPU time (as
/// Pyroscope ingests them), attributes as labels.
fn otlp_decoded(mut o: otlp::OtlpProfile) -> Decoded {
    o.samples_as_cpu_time();
    let mut labels: Vec<(String, String)> = Vec::new();
    for (k, v) in o
        .resource_attributes
        .into_iter()
        .chain(o.scope_attributes)
        .chain(o.profile_attributes)
    {
        labels.retain(|(key, _)| *key != k);
        labels.push((k, v));
    }
    Decoded {
        profile: o.profile,
        labels,
    }
}
