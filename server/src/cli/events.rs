//! `flamedb events add FILE.json...` and `flamedb events list [--app A --from T --until T]`:
//! change events (commits, flags, configs, deploys) posted to a server
//! (`/api/v1/events`) or stored in a data directory (the service in process).

use super::query_target::{Target, TargetArgs};
use crate::params;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use flamedb_service::events::{self, EventLimits};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `flamedb events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    command: EventsCommand,
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Store the events of JSON files (each one event object or an array of them;
    /// `-` reads standard input). An event posted again (same id) replaces the old one.
    Add {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Print the stored events as JSON, by time.
    List {
        /// Only this app's.
        #[arg(long)]
        app: Option<String>,
        /// From this time (unix seconds, YYYYMMDD, now-DURATION).
        #[arg(long)]
        from: Option<String>,
        /// Until this time.
        #[arg(long)]
        until: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
    },
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buf = vec![];
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Runs `flamedb events`.
pub async fn run(args: EventsArgs) -> Result<ExitCode> {
    match args.command {
        EventsCommand::Add { files, target } => {
            let connected = target.connect()?;
            let mut stored = 0u64;
            for f in &files {
                let body = read(f)?;
                let answer: Value = match &connected {
                    Target::Remote(remote) => {
                        let resp = remote
                            .call(reqwest::Method::POST, "/api/v1/events", &[], Some(body))
                            .await
                            .with_context(|| format!("posting {}", f.display()))?;
                        serde_json::from_slice(&resp.bytes().await?)
                            .context("the answer is not JSON")?
                    }
                    Target::Local(engine) => serde_json::to_value(
                        events::post(engine, &target.tenant, &body, &EventLimits::default())
                            .await
                            .with_context(|| f.display().to_string())?,
                    )?,
                };
                stored += answer["stored"].as_u64().unwrap_or(0);
            }
            eprintln!("stored {stored} events");
        }
        EventsCommand::List {
            app,
            from,
            until,
            target,
        } => {
            let mut pairs = vec![];
            for (k, v) in [("app", app), ("from", from), ("until", until)] {
                if let Some(v) = v {
                    pairs.push((k.to_string(), v));
                }
            }
            let answer: Value = match target.connect()? {
                Target::Remote(remote) => {
                    let resp = remote
                        .call(reqwest::Method::GET, "/api/v1/events", &pairs, None)
                        .await?;
                    serde_json::from_slice(&resp.bytes().await?)
                        .context("the answer is not JSON")?
                }
                Target::Local(engine) => {
                    let req = params::events_request(&pairs)?;
                    serde_json::to_value(events::list(&engine, &target.tenant, &req).await?)?
                }
            };
            println!("{}", serde_json::to_string_pretty(&answer)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
