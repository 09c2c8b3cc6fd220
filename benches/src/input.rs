//! What `flamedb-bench ingest` sends (`--input`): the fleet as gzipped pprof, encoded
//! from the normalized data once and cached beside it, gen_workload's own folded files
//! ([`crate::folded`]), or the normalized Parquet tables themselves (bulk import, the
//! input the peers load).

use crate::folded::FoldedFleet;
use crate::via_http::Body;
use crate::workload::Workload;
use anyhow::{Context, Result};
use bytes::Bytes;
use flamedb_profile::pprof;
use std::path::Path;
use std::time::Instant;

/// The input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Input {
    /// Gzipped pprof, one profile per (pod, time), encoded from the normalized data.
    Pprof,
    /// gen_workload.py's gzipped folded files.
    Folded,
    /// The normalized Parquet tables (`DATA/normalized/`: samples with stack ids and the
    /// stacks table), bulk imported (`Store::import`, `flamedb import`).
    Parquet,
}

/// The profiles to ingest.
pub enum Source {
    /// The workload's (profile x stack) rows and its profiles as gzipped pprof.
    Pprof {
        /// Rows of the profiles loaded.
        rows: usize,
        /// One body per profile.
        bodies: Vec<Body>,
    },
    /// The folded files.
    Folded(FoldedFleet),
    /// The normalized Parquet tables.
    Parquet(ParquetTables),
}

/// The normalized layout's files.
pub struct ParquetTables {
    /// `normalized/samples/*.parquet`, sorted.
    pub samples: Vec<std::path::PathBuf>,
    /// `normalized/stacks.parquet`.
    pub stacks: std::path::PathBuf,
}

impl ParquetTables {
    /// The files of the generated data `data`.
    pub fn find(data: &Path) -> Result<Self> {
        let dir = data.join("normalized/samples");
        let mut samples: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| dir.display().to_string())?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::result::Result<_, _>>()?;
        samples.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
        samples.sort();
        anyhow::ensure!(!samples.is_empty(), "no sample files in {}", dir.display());
        Ok(ParquetTables {
            samples,
            stacks: data.join("normalized/stacks.parquet"),
        })
    }

    /// Options for the fleet's tables: CPU nanoseconds of 10 s profiles sampled every
    /// 10 ms (as the pprof encoding of the same fleet says).
    pub fn options() -> flamedb_storage::ImportOptions {
        let mut o = flamedb_storage::ImportOptions::new(flamedb_storage::SampleType {
            kind: "cpu".into(),
            unit: "nanoseconds".into(),
        });
        o.period = 10_000_000;
        o.duration_nanos = 10_000_000_000;
        o
    }
}

impl Source {
    /// Loads the input from the generated data `data`; `max_profiles` stops early (0 =
    /// all).
    pub fn load(data: &Path, input: Input, max_profiles: usize) -> Result<Source> {
        Ok(match input {
            Input::Pprof => {
                let (rows, bodies) = pprof_bodies(data, max_profiles)?;
                Source::Pprof { rows, bodies }
            }
            Input::Folded => Source::Folded(FoldedFleet::load(data, max_profiles)?),
            Input::Parquet => {
                anyhow::ensure!(
                    max_profiles == 0,
                    "--max-profiles does not apply to --input parquet (whole files are imported)"
                );
                Source::Parquet(ParquetTables::find(data)?)
            }
        })
    }

    /// Number of profiles.
    pub fn profiles(&self) -> usize {
        match self {
            Source::Pprof { bodies, .. } => bodies.len(),
            Source::Folded(f) => f.profiles.len(),
            Source::Parquet(_) => 0,
        }
    }

    /// The rows the store must hold afterwards: the loaded profiles' for pprof, the
    /// generated ones (`workload.json`) for all folded profiles; `None` for some of them.
    pub fn expected_rows(&self, data: &Path) -> Result<Option<usize>> {
        match self {
            Source::Pprof { rows, .. } => Ok(Some(*rows)),
            Source::Folded(f) if f.complete => workload_rows(data).map(Some),
            Source::Folded(_) => Ok(None),
            Source::Parquet(_) => workload_rows(data).map(Some),
        }
    }

    /// Bytes sent: the bodies, or the files' sizes.
    pub fn input_bytes(&self) -> Result<u64> {
        match self {
            Source::Pprof { bodies, .. } => Ok(bodies.iter().map(|b| b.2.len() as u64).sum()),
            Source::Folded(f) => f.profiles.iter().try_fold(0, |n, p| {
                let m = std::fs::metadata(&p.path).with_context(|| p.path.display().to_string())?;
                Ok(n + m.len())
            }),
            Source::Parquet(t) => t.samples.iter().chain([&t.stacks]).try_fold(0, |n, p| {
                let m = std::fs::metadata(p).with_context(|| p.display().to_string())?;
                Ok(n + m.len())
            }),
        }
    }

    /// The input in words, for the report.
    pub fn describe(&self) -> String {
        match self {
            Source::Pprof { .. } => "gzipped pprof".to_string(),
            Source::Folded(f) => format!("gzipped folded (sample counts at {} Hz)", f.rate_hz),
            Source::Parquet(_) => {
                "the normalized Parquet tables the peers load (samples with stack ids, stacks table)"
                    .to_string()
            }
        }
    }
}

/// The (profile x stack) rows of the CPU profiles, from `DATA/workload.json`.
fn workload_rows(data: &Path) -> Result<usize> {
    let w: serde_json::Value = serde_json::from_slice(
        &std::fs::read(data.join("workload.json")).context("reading workload.json")?,
    )?;
    let rows = w["rows"]["cpu"]
        .as_u64()
        .context("workload.json has no rows.cpu")?;
    Ok(usize::try_from(rows)?)
}

/// The workload's (profile x stack) rows and its profiles as gzipped pprof, encoded once
/// and cached beside the data.
fn pprof_bodies(data: &Path, max_profiles: usize) -> Result<(usize, Vec<Body>)> {
    let t = Instant::now();
    let w = Workload::load(data, max_profiles)?;
    let rows = w.rows();
    eprintln!(
        "loaded {} profiles, {rows} rows in {:.1}s",
        w.profiles.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let cache = data.join(format!("flamedb-pprof-{}.cache", w.profiles.len()));
    let bodies = match read_cache(&cache, &w) {
        Some(b) => b,
        None => {
            let mut bodies = Vec::with_capacity(w.profiles.len());
            for p in &w.profiles {
                bodies.push((
                    p.labels.clone(),
                    p.time_nanos,
                    Bytes::from(pprof::encode_gzip(&w.to_profile(p)?)),
                ));
            }
            write_cache(&cache, &bodies)?;
            bodies
        }
    };
    let input_bytes: usize = bodies.iter().map(|b| b.2.len()).sum();
    eprintln!(
        "encoded pprof ({input_bytes} bytes gzipped) in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    Ok((rows, bodies))
}

/// The encoded pprof bodies of a workload, cached next to it: encoding the medium fleet
/// takes minutes. The file is the bodies, each as a u64 length and the bytes, in profile
/// order; labels and times come from the workload.
fn read_cache(path: &Path, w: &Workload) -> Option<Vec<Body>> {
    let data = std::fs::read(path).ok()?;
    let mut at = 0usize;
    let mut out = Vec::with_capacity(w.profiles.len());
    let data = Bytes::from(data);
    for p in &w.profiles {
        let len = u64::from_le_bytes(data.get(at..at + 8)?.try_into().ok()?) as usize;
        let body = data.slice(at + 8..(at + 8 + len).min(data.len()));
        at += 8 + len;
        out.push((p.labels.clone(), p.time_nanos, body));
    }
    (at == data.len()).then_some(out)
}

fn write_cache(path: &Path, bodies: &[Body]) -> Result<()> {
    let mut out = Vec::new();
    for (_, _, b) in bodies {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    std::fs::write(path, out).with_context(|| format!("write {}", path.display()))
}
