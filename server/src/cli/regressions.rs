//! `flamedb regressions --app A [--from-version X --to-version Y]`: the functions whose
//! cost changed between two versions, on a server (`GET /api/v1/regressions`) or a data
//! directory (the service in process, the same parameters parsed by the same code).

use super::query_target::{Target, TargetArgs};
use crate::params;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use flamedb_service::query::regress;
use serde_json::Value;
use std::process::ExitCode;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegressionsFormat {
    /// One line per finding.
    Table,
    /// The answer of `GET /api/v1/regressions`.
    Json,
}

/// Arguments of `flamedb regressions`.
#[derive(Debug, Args)]
pub struct RegressionsArgs {
    /// The app.
    #[arg(long)]
    app: String,
    /// The baseline version (default: the one first seen before --to-version).
    #[arg(long)]
    from_version: Option<String>,
    /// The later version (default: the one first seen last).
    #[arg(long)]
    to_version: Option<String>,
    /// Sample type (default: the only one, or cpu, wall, inuse_space, samples).
    #[arg(long)]
    sample_type: Option<String>,
    /// Smallest change reported, percentage points of the baseline's work (default 0.5).
    #[arg(long)]
    min_pp: Option<f64>,
    /// Output: table or json.
    #[arg(long, value_enum, default_value_t = RegressionsFormat::Table)]
    format: RegressionsFormat,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs `flamedb regressions`.
pub async fn run(args: RegressionsArgs) -> Result<ExitCode> {
    let mut pairs = vec![("app".to_string(), args.app.clone())];
    for (k, v) in [
        ("from_version", &args.from_version),
        ("to_version", &args.to_version),
        ("sample_type", &args.sample_type),
    ] {
        if let Some(v) = v {
            pairs.push((k.to_string(), v.clone()));
        }
    }
    if let Some(m) = args.min_pp {
        pairs.push(("min_pp".into(), m.to_string()));
    }
    let answer: Value = match args.target.connect()? {
        Target::Remote(remote) => {
            let resp = remote
                .call(reqwest::Method::GET, "/api/v1/regressions", &pairs, None)
                .await?;
            let body = resp.bytes().await.context("reading the answer")?;
            serde_json::from_slice(&body).context("the answer is not JSON")?
        }
        Target::Local(engine) => {
            let req = params::regression_request(&pairs)?;
            serde_json::to_value(regress::regressions(&engine, &args.target.tenant, &req).await?)?
        }
    };
    match args.format {
        RegressionsFormat::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        RegressionsFormat::Table => print!("{}", table(&answer)),
    }
    Ok(ExitCode::SUCCESS)
}

/// The answer as text: a heading, then one line per finding.
fn table(a: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let f = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:+.2}"));
    let mut out = format!(
        "{} {}: {} -> {} (replicates {}, work scale {:.3})\n",
        s(&a["app"]),
        s(&a["sample_type"]),
        s(&a["from_version"]),
        s(&a["to_version"]),
        a["replicates"],
        a["work_scale"].as_f64().unwrap_or(1.0)
    );
    let findings = a["findings"].as_array().cloned().unwrap_or_default();
    if findings.is_empty() {
        out.push_str("no finding\n");
        return out;
    }
    out.push_str(&format!(
        "{:<9} {:>9} {:>9} {:>9} {:>8}  {}\n",
        "kind", "work pp", "share pp", "p", "cores", "function (callers)"
    ));
    for x in findings {
        let mut kind = s(&x["kind"]);
        if x["cost_shift"] == Value::Bool(true) {
            kind.push('~');
        }
        if x["low_confidence"] == Value::Bool(true) {
            kind.push('?');
        }
        let callers: Vec<String> = x["callers"]
            .as_array()
            .map(|c| c.iter().take(3).map(s).collect())
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<9} {:>9} {:>9} {:>9} {:>8}  {} ({})\n",
            kind,
            f(&x["work_delta_pp"]),
            f(&x["delta_pp"]),
            x["significance"]["p_value"]
                .as_f64()
                .map_or("-".into(), |p| format!("{p:.1e}")),
            x["cores"]
                .as_f64()
                .map_or("-".into(), |c| format!("{c:.3}")),
            s(&x["function"]),
            callers.join(", ")
        ));
        if let Some(cause) = x["cause"].as_str() {
            let why = x["events"][0]["reason"].as_str().unwrap_or("");
            out.push_str(&format!("{:>50}cause: {cause} ({why})\n", ""));
        }
    }
    out
}
