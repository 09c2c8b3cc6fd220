//! The macro run through the command line (`flamedb-bench ingest --via-cli FLAMEDB`): one
//! `flamedb ingest` process per pod, with the pod's labels as flags and its files as
//! arguments: pprof files written beside the data once, or with `--input folded`
//! gen_workload's folded files as `FILE@TIME` with `--format folded --sample-rate HZ`.

use crate::via_http::Body;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// The `flamedb ingest` arguments of one pod: its labels and its files.
pub type PodFiles = (Vec<(String, String)>, Vec<String>);

/// Groups `(labels, file argument)` pairs per label set (pod), in label order.
pub fn per_pod(files: impl IntoIterator<Item = (Vec<(String, String)>, String)>) -> Vec<PodFiles> {
    let mut groups: BTreeMap<Vec<(String, String)>, Vec<String>> = BTreeMap::new();
    for (labels, file) in files {
        groups.entry(labels).or_default().push(file);
    }
    groups.into_iter().collect()
}

/// Writes every pprof body as a file `flamedb-pprof-files-N/<app>/<version>/<dc>/<pod>/<i>.pb.gz`
/// beside the data (once; `N` is the number of profiles), and returns the files per pod.
pub fn write_pprof_files(data: &Path, bodies: Vec<Body>) -> Result<Vec<PodFiles>> {
    let root = data.join(format!("flamedb-pprof-files-{}", bodies.len()));
    let done = root.join(".complete");
    let mut files = Vec::with_capacity(bodies.len());
    for (i, (labels, _, body)) in bodies.into_iter().enumerate() {
        let mut path = root.clone();
        for (_, v) in &labels {
            path.push(v);
        }
        let file = path.join(format!("{i}.pb.gz"));
        if !done.exists() {
            std::fs::create_dir_all(&path)?;
            std::fs::write(&file, &body)?;
        }
        files.push((labels, file.display().to_string()));
    }
    std::fs::write(&done, b"")?;
    Ok(per_pod(files))
}

/// Runs `flamedb ingest [extra] FILE...` once per pod into the data directory `dir`;
/// returns the seconds taken and the largest peak RSS of the processes, in MiB, as they
/// report it.
pub fn ingest(
    flamedb: &Path,
    dir: &Path,
    tenant: &str,
    extra: &[String],
    groups: &[PodFiles],
) -> Result<(f64, f64)> {
    let t = Instant::now();
    let mut max_rss = 0.0f64;
    for (labels, files) in groups {
        let mut cmd = std::process::Command::new(flamedb);
        cmd.arg("ingest")
            .arg("--tenant")
            .arg(tenant)
            .arg("--data")
            .arg(dir)
            .args(extra);
        for (k, v) in labels {
            match k.as_str() {
                "app" | "version" | "dc" => cmd.arg(format!("--{k}")).arg(v),
                _ => cmd.arg("--label").arg(format!("{k}={v}")),
            };
        }
        let out = cmd.args(files).output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        anyhow::ensure!(out.status.success(), "flamedb ingest failed: {stderr}");
        // The summary ends with "peak RSS <n> MiB" on Linux.
        max_rss = max_rss.max(reported_rss(&stderr));
    }
    Ok((t.elapsed().as_secs_f64(), max_rss))
}

/// Runs `flamedb import` of the normalized tables into the data directory `dir`; returns
/// the seconds taken and the process's peak RSS in MiB, as it reports it.
pub fn import(
    flamedb: &Path,
    dir: &Path,
    tenant: &str,
    tables: &crate::input::ParquetTables,
) -> Result<(f64, f64)> {
    let opts = crate::input::ParquetTables::options();
    let t = Instant::now();
    let out = std::process::Command::new(flamedb)
        .arg("import")
        .arg("--tenant")
        .arg(tenant)
        .arg("--data")
        .arg(dir)
        .arg("--stacks")
        .arg(&tables.stacks)
        .arg("--sample-type")
        .arg(format!(
            "{}:{}",
            opts.sample_type.kind, opts.sample_type.unit
        ))
        .arg("--period")
        .arg(opts.period.to_string())
        .arg("--duration-secs")
        .arg((opts.duration_nanos as f64 / 1e9).to_string())
        .args(&tables.samples)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "flamedb import failed: {stderr}");
    Ok((t.elapsed().as_secs_f64(), reported_rss(&stderr)))
}

/// The "peak RSS <n> MiB" a summary line ends with (0 when absent).
fn reported_rss(stderr: &str) -> f64 {
    stderr
        .rsplit("peak RSS ")
        .next()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0)
}
