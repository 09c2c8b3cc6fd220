//! Recognising the format of a profile from its bytes.

use crate::{Error, Result};

/// A profile format flamedb decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// pprof protobuf (`perftools.profiles.Profile`), gzipped or raw.
    Pprof,
    /// Folded (collapsed) stacks: `root;frame;leaf COUNT` per line.
    Folded,
    /// Text output of `perf script`.
    PerfScript,
    /// Java Flight Recorder recording (several profiles: one per event kind).
    Jfr,
    /// speedscope JSON file (one profile per speedscope profile).
    Speedscope,
    /// OpenTelemetry `ExportProfilesServiceRequest`, protobuf or JSON (one profile per
    /// OTLP profile, with its attributes). Never detected: protobuf looks like pprof, so
    /// it is named by its route or `format=otlp`.
    Otlp,
}

impl Format {
    /// The name used on the command line and in JSON (`pprof`, `folded`, `perf-script`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Pprof => "pprof",
            Format::Folded => "folded",
            Format::PerfScript => "perf-script",
            Format::Jfr => "jfr",
            Format::Speedscope => "speedscope",
            Format::Otlp => "otlp",
        }
    }

    /// Whether one input of this format may hold several profiles
    /// ([`crate::decode_all`]).
    pub fn is_multi(self) -> bool {
        matches!(self, Format::Jfr | Format::Speedscope | Format::Otlp)
    }
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pprof" => Ok(Format::Pprof),
            "folded" | "collapsed" => Ok(Format::Folded),
            "perf-script" | "perf" => Ok(Format::PerfScript),
            "jfr" => Ok(Format::Jfr),
            "speedscope" => Ok(Format::Speedscope),
            "otlp" => Ok(Format::Otlp),
            other => Err(Error::UnknownFormat(format!(
                "{other:?} is not a format; use pprof, folded, perf-script, jfr, speedscope or otlp"
            ))),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Detects the format of (already decompressed) profile bytes.
///
/// - Bytes starting with `FLR\0` are a JFR recording.
/// - Text starting with a UTF-16 byte-order mark is folded (the only UTF-16 format).
/// - A JSON object with a speedscope `$schema` is speedscope.
/// - Bytes that are not text (control characters other than tab, CR and LF in the first
///   4 KiB) are pprof.
/// - Text whose first event-like line (`comm pid ... event:`) is followed by a frame line,
///   or that starts with `perf script --header` comments (`# ========`), is perf script.
/// - Other text is folded.
pub fn detect(data: &[u8]) -> Result<Format> {
    if data.starts_with(b"FLR\0") {
        return Ok(Format::Jfr);
    }
    if data.starts_with(&[0xff, 0xfe]) || data.starts_with(&[0xfe, 0xff]) {
        return Ok(Format::Folded);
    }
    if crate::speedscope::looks_like(data) {
        return Ok(Format::Speedscope);
    }
    let head = &data[..data.len().min(4096)];
    let binary = head
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'));
    if binary {
        return Ok(Format::Pprof);
    }
    let text = String::from_utf8_lossy(head);
    if text.starts_with("# ========") {
        return Ok(Format::PerfScript);
    }
    let lines = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    for line in lines {
        if looks_like_folded_line(line) {
            return Ok(Format::Folded);
        }
        if line.contains(": ") || line.ends_with(':') {
            return Ok(Format::PerfScript);
        }
        if line.starts_with("//") {
            continue;
        }
        // ` 1`: a folded sample without a stack (py-spy); says nothing either way.
        let count = line.trim_start();
        if line.len() > count.len() && count.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            continue;
        }
        return Err(Error::UnknownFormat(format!(
            "first line {:?} is neither folded stacks nor perf script",
            truncate(line, 80)
        )));
    }
    // Empty or only comments: an empty folded profile.
    Ok(Format::Folded)
}

/// [`detect`] on the first 4 KiB of `data`, gunzipped first when it is gzip (only that
/// much is inflated): cheap enough to route an input before it is decoded.
pub fn detect_prefix(data: &[u8]) -> Result<Format> {
    use std::io::Read;
    if !crate::gzip::is_gzip(data) {
        return detect(&data[..data.len().min(4096)]);
    }
    let mut head = Vec::with_capacity(4096);
    flate2::bufread::MultiGzDecoder::new(data)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(Error::Gzip)?;
    detect(&head)
}

/// `frames COUNT` where COUNT is a (possibly fractional) number after the last whitespace.
fn looks_like_folded_line(line: &str) -> bool {
    let Some((stack, count)) = line.rsplit_once(|c: char| c.is_ascii_whitespace()) else {
        return false;
    };
    !stack.trim().is_empty()
        && !count.is_empty()
        && count.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && count.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
