//! `flamedb flamegraph [selectors] -o out.svg|out.json|out.pb.gz|out.folded` and
//! `flamedb diff [selectors] --left-* ... --right-* ... -o ...`, on a server or a data
//! directory. The flags become the query parameters of `/api/v1/flamegraph` and
//! `/api/v1/diff`, parsed by the same code in both cases ([`crate::params`]).

use super::query_target::{Target, TargetArgs};
use crate::params;
use anyhow::{Context, Result, bail};
use clap::Args;
use flamedb_service::query::flame::{self, FlameFormat};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Selector flags (applying to both sides of a diff).
#[derive(Debug, Args)]
pub struct SelectorArgs {
    /// Application.
    #[arg(long)]
    app: Option<String>,
    /// Version.
    #[arg(long)]
    version: Option<String>,
    /// Data center.
    #[arg(long)]
    dc: Option<String>,
    /// Sample type (`cpu`, `alloc_space`, ...); default: the only one, or cpu, wall,
    /// inuse_space, samples in that order.
    #[arg(long)]
    sample_type: Option<String>,
    /// Earliest profile time: unix seconds (or ms/us/ns), YYYYMMDD, now or now-1h.
    #[arg(long)]
    from: Option<String>,
    /// Latest profile time (exclusive), as --from.
    #[arg(long)]
    until: Option<String>,
    /// A series label that must match, `KEY=VALUE`; repeat for several.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
}

/// The side selectors of `flamedb diff` (over the common ones).
#[derive(Debug, Args)]
pub struct SideArgs {
    /// Baseline application.
    #[arg(long)]
    left_app: Option<String>,
    /// Baseline version.
    #[arg(long)]
    left_version: Option<String>,
    /// Baseline data center.
    #[arg(long)]
    left_dc: Option<String>,
    /// Baseline start time.
    #[arg(long)]
    left_from: Option<String>,
    /// Baseline end time.
    #[arg(long)]
    left_until: Option<String>,
    /// Baseline label, `KEY=VALUE`.
    #[arg(long = "left-label", value_name = "KEY=VALUE")]
    left_labels: Vec<String>,
    /// Compared application.
    #[arg(long)]
    right_app: Option<String>,
    /// Compared version.
    #[arg(long)]
    right_version: Option<String>,
    /// Compared data center.
    #[arg(long)]
    right_dc: Option<String>,
    /// Compared start time.
    #[arg(long)]
    right_from: Option<String>,
    /// Compared end time.
    #[arg(long)]
    right_until: Option<String>,
    /// Compared label, `KEY=VALUE`.
    #[arg(long = "right-label", value_name = "KEY=VALUE")]
    right_labels: Vec<String>,
}

/// Output flags.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output file (`-` for stdout); its extension picks the format unless --format is
    /// given: .svg, .speedscope.json, .json (flamebearer), .pb.gz (pprof), .folded.
    #[arg(short, long)]
    output: PathBuf,
    /// Output format: svg, json, flamebearer, grafana, folded, pprof, speedscope.
    #[arg(long)]
    format: Option<String>,
    /// Nodes kept; lighter ones fold into `other` (default 1024).
    #[arg(long)]
    max_nodes: Option<usize>,
}

/// Arguments of `flamedb flamegraph`.
#[derive(Debug, Args)]
pub struct FlamegraphArgs {
    #[command(flatten)]
    selector: SelectorArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    target: TargetArgs,
}

/// Arguments of `flamedb diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    selector: SelectorArgs,
    #[command(flatten)]
    sides: SideArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    target: TargetArgs,
}

fn push_fields(
    out: &mut Vec<(String, String)>,
    prefix: &str,
    fields: [(&str, &Option<String>); 5],
    labels: &[String],
) -> Result<()> {
    for (k, v) in fields {
        if let Some(v) = v {
            out.push((format!("{prefix}{k}"), v.clone()));
        }
    }
    for l in labels {
        let Some((k, v)) = l.split_once('=') else {
            bail!(
                "--{}label {l:?}: expected KEY=VALUE",
                prefix.replace('.', "-")
            );
        };
        out.push((format!("{prefix}label.{k}"), v.to_string()));
    }
    Ok(())
}

impl SelectorArgs {
    fn pairs(&self, out: &mut Vec<(String, String)>) -> Result<()> {
        if let Some(t) = &self.sample_type {
            out.push(("sample_type".into(), t.clone()));
        }
        let s = self;
        let fields = [
            ("app", &s.app),
            ("version", &s.version),
            ("dc", &s.dc),
            ("from", &s.from),
            ("until", &s.until),
        ];
        push_fields(out, "", fields, &self.labels)
    }
}

impl SideArgs {
    fn pairs(&self, out: &mut Vec<(String, String)>) -> Result<()> {
        let s = self;
        let left = [
            ("app", &s.left_app),
            ("version", &s.left_version),
            ("dc", &s.left_dc),
            ("from", &s.left_from),
            ("until", &s.left_until),
        ];
        push_fields(out, "left.", left, &self.left_labels)?;
        let right = [
            ("app", &s.right_app),
            ("version", &s.right_version),
            ("dc", &s.right_dc),
            ("from", &s.right_from),
            ("until", &s.right_until),
        ];
        push_fields(out, "right.", right, &self.right_labels)
    }
}

/// Runs `flamedb flamegraph`.
pub async fn run(args: FlamegraphArgs) -> Result<ExitCode> {
    let mut pairs = vec![];
    args.selector.pairs(&mut pairs)?;
    draw(pairs, false, &args.output, &args.target).await
}

/// Runs `flamedb diff`.
pub async fn run_diff(args: DiffArgs) -> Result<ExitCode> {
    let mut pairs = vec![];
    args.selector.pairs(&mut pairs)?;
    args.sides.pairs(&mut pairs)?;
    draw(pairs, true, &args.output, &args.target).await
}

async fn draw(
    mut pairs: Vec<(String, String)>,
    diff: bool,
    output: &OutputArgs,
    target: &TargetArgs,
) -> Result<ExitCode> {
    let path = output.output.to_string_lossy();
    let format = match &output.format {
        Some(f) => FlameFormat::from_name(f).with_context(|| {
            format!("--format {f:?}: use svg, json, flamebearer, grafana, folded, pprof or speedscope")
        })?,
        None => FlameFormat::from_path(&path).with_context(|| {
            format!("-o {path}: name it .svg, .json, .speedscope.json, .pb.gz or .folded, or pass --format")
        })?,
    };
    pairs.push(("format".into(), format.name().into()));
    if let Some(n) = output.max_nodes {
        pairs.push(("max_nodes".into(), n.to_string()));
    }
    let body = match target.connect()? {
        Target::Remote(remote) => {
            let endpoint = if diff {
                "/api/v1/diff"
            } else {
                "/api/v1/flamegraph"
            };
            let resp = remote
                .call(reqwest::Method::GET, endpoint, &pairs, None)
                .await?;
            resp.bytes().await.context("reading the answer")?.to_vec()
        }
        Target::Local(engine) if diff => {
            let req = params::diff_request(&pairs)?;
            flame::render_diff(&engine, &target.tenant, req).await?.body
        }
        Target::Local(engine) => {
            let req = params::flame_request(&pairs)?;
            flame::render(&engine, &target.tenant, req).await?.body
        }
    };
    if path == "-" {
        std::io::stdout().lock().write_all(&body)?;
    } else {
        std::fs::write(&output.output, &body).with_context(|| format!("writing {path}"))?;
        eprintln!("wrote {path} ({} bytes, {})", body.len(), format.name());
    }
    Ok(ExitCode::SUCCESS)
}
