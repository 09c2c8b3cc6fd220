//! `flamedb inspect FILE... [--format auto|pprof|folded|perf-script] [--json]`

use super::limits_args::LimitArgs;
use clap::{Args, ValueEnum};
use flamedb_profile::{DecodeOptions, Format, Summary};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `flamedb inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Profile files to inspect (gzipped or not).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Input format; `auto` detects it from the content.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    format: FormatArg,
    /// For perf script input: the event type to keep (default: the first in the file).
    #[arg(long)]
    event: Option<String>,
    /// Print one JSON object per file and line instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect the format from the content.
    Auto,
    /// pprof protobuf, gzipped or not.
    Pprof,
    /// Folded (collapsed) stacks.
    Folded,
    /// `perf script` text.
    PerfScript,
    /// Java Flight Recorder (one profile per event kind).
    Jfr,
    /// speedscope JSON (one profile per speedscope profile).
    Speedscope,
    /// OpenTelemetry `ExportProfilesServiceRequest`, protobuf or JSON.
    Otlp,
}

impl FormatArg {
    /// The format, `None` for detection.
    pub fn format(self) -> Option<Format> {
        match self {
            FormatArg::Auto => None,
            FormatArg::Pprof => Some(Format::Pprof),
            FormatArg::Folded => Some(Format::Folded),
            FormatArg::PerfScript => Some(Format::PerfScript),
            FormatArg::Jfr => Some(Format::Jfr),
            FormatArg::Speedscope => Some(Format::Speedscope),
            FormatArg::Otlp => Some(Format::Otlp),
        }
    }
}

/// The JSON line printed per file.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    format: &'static str,
    /// Which profile of the file (formats that hold several: JFR, speedscope, OTLP).
    profile_index: usize,
    /// The labels the file gives this profile (OTLP attributes, a JFR kind's `__name__`).
    labels: Vec<(String, String)>,
    sample_types: Vec<ValueTypeJson>,
    period_type: Option<ValueTypeJson>,
    period: i64,
    time_range_nanos: Option<(i64, i64)>,
    samples: usize,
    value_sums: Vec<i128>,
    distinct_stacks: usize,
    max_depth: usize,
    max_frame_depth: usize,
    locations: usize,
    functions: usize,
    mappings: usize,
    label_keys: Vec<String>,
    numeric_label_keys: Vec<String>,
    has_inlined_frames: bool,
}

#[derive(Debug, Serialize)]
struct ValueTypeJson {
    r#type: String,
    unit: String,
}

impl ValueTypeJson {
    fn new((kind, unit): (String, String)) -> Self {
        ValueTypeJson { r#type: kind, unit }
    }
}

/// Inspects every file; a file that fails is reported on stderr and the others still run.
pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let options = DecodeOptions {
        limits: args.limits.limits(),
        perf_event: args.event.clone(),
    };
    let mut failed = 0usize;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in &args.files {
        match inspect_file(path, args.format.format(), &options) {
            Ok(reports) => {
                for report in reports {
                    if args.json {
                        writeln!(out, "{}", serde_json::to_string(&report)?)?;
                    } else {
                        write_text(&mut out, &report)?;
                    }
                }
            }
            Err(err) => {
                failed += 1;
                eprintln!("flamedb inspect: {}: {err}", path.display());
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One report per profile the file holds.
fn inspect_file(
    path: &PathBuf,
    format: Option<Format>,
    options: &DecodeOptions,
) -> anyhow::Result<Vec<Report>> {
    let data = std::fs::read(path)?;
    let (format, all) = flamedb_profile::decode_all(&data, format, options)?;
    Ok(all
        .into_iter()
        .enumerate()
        .map(|(i, d)| report(path, format, i, d))
        .collect())
}

fn report(path: &Path, format: Format, index: usize, d: flamedb_profile::Decoded) -> Report {
    let s = Summary::of(&d.profile);
    Report {
        file: path.display().to_string(),
        format: format.name(),
        profile_index: index,
        labels: d.labels,
        sample_types: s.sample_types.into_iter().map(ValueTypeJson::new).collect(),
        period_type: s.period_type.map(ValueTypeJson::new),
        period: s.period,
        time_range_nanos: s.time_range,
        samples: s.samples,
        value_sums: s.value_sums,
        distinct_stacks: s.distinct_stacks,
        max_depth: s.max_depth,
        max_frame_depth: s.max_frame_depth,
        locations: s.locations,
        functions: s.functions,
        mappings: s.mappings,
        label_keys: s.label_keys_str,
        numeric_label_keys: s.label_keys_num,
        has_inlined_frames: s.has_inlined_frames,
    }
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    let types: Vec<String> = r
        .sample_types
        .iter()
        .map(|t| format!("{}/{}", t.r#type, t.unit))
        .collect();
    writeln!(out, "{}", r.file)?;
    writeln!(out, "  format            {}", r.format)?;
    if r.profile_index > 0 || !r.labels.is_empty() {
        writeln!(out, "  profile           #{}", r.profile_index)?;
        let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "  labels            {}", labels.join(", "))?;
    }
    writeln!(out, "  sample types      {}", types.join(", "))?;
    if let Some(pt) = &r.period_type {
        writeln!(
            out,
            "  period            {} {}/{}",
            r.period, pt.r#type, pt.unit
        )?;
    }
    match r.time_range_nanos {
        Some((a, b)) => writeln!(
            out,
            "  time range (ns)   {a} .. {b} ({:.3} s)",
            (b - a) as f64 / 1e9
        )?,
        None => writeln!(out, "  time range        unknown")?,
    }
    writeln!(out, "  samples           {}", r.samples)?;
    let sums: Vec<String> = r.value_sums.iter().map(|v| v.to_string()).collect();
    writeln!(out, "  value sums        {}", sums.join(", "))?;
    writeln!(out, "  distinct stacks   {}", r.distinct_stacks)?;
    writeln!(
        out,
        "  max depth         {} locations, {} frames",
        r.max_depth, r.max_frame_depth
    )?;
    writeln!(
        out,
        "  symbols           {} locations, {} functions, {} mappings",
        r.locations, r.functions, r.mappings
    )?;
    writeln!(out, "  label keys        {}", r.label_keys.join(", "))?;
    if !r.numeric_label_keys.is_empty() {
        writeln!(
            out,
            "  numeric labels    {}",
            r.numeric_label_keys.join(", ")
        )?;
    }
    writeln!(
        out,
        "  inlined frames    {}",
        if r.has_inlined_frames { "yes" } else { "no" }
    )?;
    Ok(())
}
