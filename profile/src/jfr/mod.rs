//! Java Flight Recorder (JFR) recordings -> one [`Profile`] per kind of sample, as
//! Grafana Pyroscope ingests them.
//!
//! ```text
//!   bytes ──► gzip? ──► chunk header ──► metadata (classes, fields)
//!                       (per chunk)  ──► constant pools (symbols, classes, methods,
//!                                        stack traces, thread states, frame types)
//!                                    ──► events ──► jdk.ExecutionSample ─────► process_cpu
//!                                                   profiler.WallClockSample ► wall
//!                                                   jdk.ObjectAllocation* ───► memory
//!                                                   jdk.JavaMonitorEnter ────► mutex
//!                                                   jdk.ThreadPark ──────────► block
//!                                                   profiler.LiveObject/Malloc ► memory
//! ```
//!
//! The output is what grafana/jfr-parser (Go, Apache-2.0, <https://github.com/grafana/jfr-parser>,
//! `pprof/parser.go` and `pprof/pprof.go` at 1d06ce37e983) makes of a recording, which is
//! what Pyroscope stores: the same profiles, sample types, frame names (`class.method`,
//! class names as the JVM writes them, `java/lang/Thread`, JVM-generated names merged, see
//! `symbols.rs`), line numbers and values, the same labels from a Pyroscope
//! `LabelsSnapshot`, and its quirks kept on purpose (each one says so where it is
//! implemented): a CPU sample counts only when its thread state is known and not
//! `STATE_SLEEPING`; in async-profiler's wall mode execution samples also go to `wall`;
//! the last wall clock sample's `samples` count stays the first value of later events.
//! A frame whose method or class is missing is left out of its stack (and counted in
//! [`JfrStats`]); an event whose stack trace is missing is dropped (counted). Where
//! jfr-parser rejects input it could read (string encoding 2, a `float` field) or misreads
//! it (floats as varints, the compressed-integer flag ignored), this decoder follows the
//! JFR format instead, so it reads every file jfr-parser reads and a few more.
//!
//! Samples of one stack (and one label set) are summed into one sample per profile, as
//! jfr-parser does. Stack trace, method and class ids are per chunk; frames are named per
//! chunk and interned by name, so a multi-chunk recording is one profile per kind.
//!
//! The format (JDK `jdk.jfr.internal` and async-profiler's writer; no official spec): a
//! file is chunks, each a 68-byte header (magic `FLR\0`, version 2.x, size, offsets of the
//! newest constant pool and of the metadata event, start and duration, feature flags:
//! bit 0 compressed integers) and events, each `size, type id, fields...`. The metadata
//! event describes every class and its fields; values are written field after field,
//! integers as LEB128-style varints (or fixed big-endian without compression), strings
//! in one of six encodings, constant pool fields as a reference. See `reader.rs`,
//! `metadata.rs`, `pools.rs`.
//!
//! Why not a crate: `jfrs` 0.2.5 (crates.io, the only Rust JFR reader found) reads each
//! chunk into a buffer sized by the chunk header before checking it against the input
//! (an allocation sized by untrusted input), deserializes every event into a generic
//! value tree, and knows nothing of the profile mapping above, which is most of the work
//! here; it was not measured.
//!
//! Speed (`cargo run --release -p flamedb-profile --example jfr_speed`, thread CPU time,
//! gunzip excluded, 2-core shared VM, 2026-12-07): the 18 corpus recordings together
//! 0.58 M samples/s, 130 MB/s; recordings made mostly of samples 1.3 to 2.7 M samples/s
//! (dump2 2.7, cortex cpu_lock0_alloc0 2.1, dd-trace-java 2.0, wall 1.7). The largest,
//! goland-multichunk (12 MB raw, 6 chunks, 41,050 samples over 15,800 distinct stacks of
//! 1.33 M frames), takes 115 ms: 0.36 M samples/s, 108 MB/s, about 85 ns per frame
//! (reading it, naming its method, interning its location and stack node). What made it
//! so (perf): stack traces are read only when an event uses them (frames skipped by
//! counting varints while the pool is read) and into a reused buffer, plain-varint frames
//! are read in a row, frame names are built in one buffer: 600 -> 115 ms.
//!
//! Bounds: every count read from the input is checked against the bytes left before a
//! loop or an allocation uses it; nested values and metadata elements are limited in
//! depth; stacks by [`DecodeLimits::max_stack_depth`], samples per profile by
//! `max_samples`, labels by `max_labels_per_sample`, the input by
//! `max_decompressed_bytes`. Malformed input is an [`Error::Jfr`] with the byte offset.

mod bind;
mod builder;
mod decode;
mod metadata;
mod pools;
mod reader;
pub mod snapshot;
mod symbols;
#[cfg(test)]
mod tests;

use crate::{DecodeLimits, Error, Profile, Result};
use prost::Message;

/// The kinds of profile a recording gives, in grafana/jfr-parser's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SampleType {
    /// `jdk.ExecutionSample` (and running wall clock samples in wall mode): `cpu`.
    Cpu,
    /// `profiler.WallClockSample` (and execution samples in wall mode): `wall`.
    Wall,
    /// `jdk.ObjectAllocationInNewTLAB`.
    InNewTlab,
    /// `jdk.ObjectAllocationOutsideTLAB`.
    OutsideTlab,
    /// `jdk.JavaMonitorEnter`.
    Lock,
    /// `jdk.ThreadPark`.
    ThreadPark,
    /// `profiler.LiveObject`.
    LiveObject,
    /// `jdk.ObjectAllocationSample`.
    AllocSample,
    /// `profiler.Malloc`.
    Malloc,
}

impl SampleType {
    /// Every kind, in order.
    pub const ALL: [SampleType; 9] = [
        SampleType::Cpu,
        SampleType::Wall,
        SampleType::InNewTlab,
        SampleType::OutsideTlab,
        SampleType::Lock,
        SampleType::ThreadPark,
        SampleType::LiveObject,
        SampleType::AllocSample,
        SampleType::Malloc,
    ];

    /// Pyroscope's profile type name (`__name__`): `process_cpu`, `wall`, `memory`,
    /// `mutex` or `block`.
    pub fn metric(self) -> &'static str {
        match self {
            SampleType::Cpu => "process_cpu",
            SampleType::Wall => "wall",
            SampleType::Lock => "mutex",
            SampleType::ThreadPark => "block",
            _ => "memory",
        }
    }

    /// The sample types (kind, unit) of the profile.
    pub fn sample_types(self) -> &'static [(&'static str, &'static str)] {
        match self {
            SampleType::Cpu => &[("cpu", "nanoseconds")],
            SampleType::Wall => &[("wall", "nanoseconds")],
            SampleType::InNewTlab => &[
                ("alloc_in_new_tlab_objects", "count"),
                ("alloc_in_new_tlab_bytes", "bytes"),
            ],
            SampleType::OutsideTlab => &[
                ("alloc_outside_tlab_objects", "count"),
                ("alloc_outside_tlab_bytes", "bytes"),
            ],
            SampleType::Lock | SampleType::ThreadPark => {
                &[("contentions", "count"), ("delay", "nanoseconds")]
            }
            SampleType::LiveObject => &[("live", "count")],
            SampleType::AllocSample => &[
                ("alloc_sample_objects", "count"),
                ("alloc_sample_bytes", "bytes"),
            ],
            SampleType::Malloc => &[("malloc_objects", "count"), ("malloc_bytes", "bytes")],
        }
    }

    /// The period type (kind, unit), as jfr-parser sets it (none for malloc).
    pub fn period_type(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            SampleType::Cpu => ("cpu", "nanoseconds"),
            SampleType::Wall => ("wall", "nanoseconds"),
            SampleType::Lock => ("mutex", "count"),
            SampleType::ThreadPark => ("block", "count"),
            SampleType::LiveObject => ("objects", "count"),
            SampleType::Malloc => return None,
            _ => ("space", "bytes"),
        })
    }

    /// `metric_type__unit+type__unit`, the key jfr-parser's tests sort profiles by and
    /// name their expected files with (`memory_alloc_in_new_tlab_objects__count+...`).
    pub fn key(self) -> String {
        let types: Vec<String> = (self.sample_types().iter())
            .map(|(k, u)| format!("{k}__{u}"))
            .collect();
        format!("{}_{}", self.metric(), types.join("+"))
    }
}

/// One profile of a recording.
#[derive(Debug, Clone)]
pub struct JfrProfile {
    /// Which events it holds.
    pub sample_type: SampleType,
    /// The profile; `profile.name` is Pyroscope's profile type name
    /// ([`SampleType::metric`]).
    pub profile: Profile,
}

/// Facts of one chunk, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Format version (major, minor): (2, 0) or (2, 1).
    pub version: (u16, u16),
    /// Chunk size in bytes.
    pub size: u64,
    /// Start, nanoseconds since the Unix epoch.
    pub start_nanos: i64,
    /// Duration in nanoseconds.
    pub duration_nanos: i64,
    /// Ticks per second of the event timestamps.
    pub ticks_per_second: i64,
}

/// Counts of a decode, including what was dropped (jfr-parser's `ParseMetrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JfrStats {
    /// Events read (all types).
    pub events: u64,
    /// Samples added to a profile (before summing equal stacks).
    pub samples: u64,
    /// Events dropped because their stack trace is not in the pool.
    pub stacktrace_not_found: u64,
    /// Frames dropped because their method is not in the pool (once per method and chunk).
    pub method_not_found: u64,
    /// Frames dropped because their class is not in the pool (once per method and chunk).
    pub class_not_found: u64,
}

/// A decoded recording.
#[derive(Debug, Clone)]
pub struct JfrRecording {
    /// The profiles, ordered by [`SampleType::key`] (as jfr-parser's tests order them).
    pub profiles: Vec<JfrProfile>,
    /// The chunks, in file order.
    pub chunks: Vec<ChunkInfo>,
    /// The value of the last `jdk.ActiveSetting` named `event` (async-profiler's mode:
    /// `cpu`, `itimer`, `wall`, ...), jfr-parser's `JFREvent`.
    pub event: Option<String>,
    /// The period CPU and wall samples were weighted with, nanoseconds.
    pub period_nanos: i64,
    /// Counts.
    pub stats: JfrStats,
}

/// Options of [`decode_with`].
#[derive(Debug, Clone, Default)]
pub struct JfrOptions<'a> {
    /// Bounds on the input.
    pub limits: DecodeLimits,
    /// Pyroscope `LabelsSnapshot` protobuf (raw or gzipped), mapping each event's
    /// `contextId` to labels.
    pub labels: Option<&'a [u8]>,
    /// Samples per second, as Pyroscope's ingest gets it (`sampleRate`): each CPU or wall
    /// sample weighs `1e9 / sample_rate` ns. `None`: the recording's own setting
    /// (async-profiler `interval`, `jdk.ExecutionSample#period`), else 10 ms.
    pub sample_rate: Option<u32>,
    /// Add a `[truncated]` root frame to stacks the recorder truncated (jfr-parser's
    /// `WithTruncatedFrame`, off by default there too).
    pub truncated_frame: bool,
}

/// Decodes a JFR recording (raw or gzipped) into one profile per kind of sample, with the
/// labels of a Pyroscope `LabelsSnapshot` when `labels` is given. CPU and wall samples
/// weigh the recording's sampling period. See [`decode_with`] for more control and facts.
pub fn decode(
    data: &[u8],
    labels: Option<&[u8]>,
    limits: &DecodeLimits,
) -> Result<Vec<JfrProfile>> {
    let opts = JfrOptions {
        limits: *limits,
        labels,
        ..JfrOptions::default()
    };
    Ok(decode_with(data, &opts)?.profiles)
}

/// Decodes a JFR recording (raw or gzipped) with `opts`.
pub fn decode_with(data: &[u8], opts: &JfrOptions<'_>) -> Result<JfrRecording> {
    let snapshot = match opts.labels {
        Some(bytes) => {
            let raw = crate::gzip::maybe_gunzip(bytes, &opts.limits)?;
            Some(
                snapshot::LabelsSnapshot::decode(raw.as_ref()).map_err(|e| Error::Jfr {
                    offset: 0,
                    message: format!("labels snapshot: {e}"),
                })?,
            )
        }
        None => None,
    };
    crate::gzip::with_gunzipped(data, &opts.limits, |data| {
        let mut d = decode::Decoder::new(opts, snapshot);
        d.run(data)?;
        let period = match opts.sample_rate {
            Some(rate) if rate > 0 => 1_000_000_000 / i64::from(rate),
            _ => recorded_period(&d.settings).unwrap_or(10_000_000),
        };
        let start = d.chunks.first().map_or(0, |c| c.start_nanos);
        let end = (d.chunks.iter())
            .map(|c| c.start_nanos.saturating_add(c.duration_nanos))
            .max()
            .unwrap_or(start);
        let mut profiles: Vec<JfrProfile> = (d.builders.drain(..).flatten())
            .map(|b| JfrProfile {
                sample_type: b.ty,
                profile: b.finish(period, start, end.saturating_sub(start)),
            })
            .collect();
        profiles.sort_by_key(|p| p.sample_type.key());
        Ok(JfrRecording {
            profiles,
            chunks: d.chunks,
            event: d.event,
            period_nanos: period,
            stats: d.stats,
        })
    })
}

/// The CPU sampling period a recording states, the last one given: the JDK's
/// `jdk.ExecutionSample#period` (`10 ms`; dd-trace-java: `9 ms`) or async-profiler's
/// `jdk.ExecutionSample#interval` (nanoseconds, `10000000`).
fn recorded_period(settings: &[(String, String, String)]) -> Option<i64> {
    settings.iter().rev().find_map(|(event, name, value)| {
        let relevant = event == "jdk.ExecutionSample" && (name == "period" || name == "interval");
        relevant.then(|| parse_duration(value)).flatten()
    })
}

/// `10 ms`, `20ms`, `1 s`, `500 us`, `100000 ns` or a bare number of nanoseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: i64 = s[..digits].parse().ok()?;
    let scale = match s[digits..].trim() {
        "" | "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|&p| p > 0)
}
