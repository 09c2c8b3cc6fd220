//! Reading ../shared/bench's generated workload (the normalized Parquet layout) into
//! profiles, one per (app, version, dc, pod, timestamp), as the fleet produced them.

use anyhow::{Context, Result, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type, UInt64Type};
use flamedb_profile::{FrameKind, LabelSetId, Profile};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::Path;

/// One profile of the fleet.
#[derive(Debug, Clone)]
pub struct FleetProfile {
    /// Series labels: app, version, dc, pod.
    pub labels: Vec<(String, String)>,
    /// Start time, ns since the epoch.
    pub time_nanos: i64,
    /// `(stack id, cpu nanoseconds)` rows.
    pub rows: Vec<(u64, i64)>,
}

/// The workload: stacks by id (frames root first) and the profiles.
#[derive(Debug, Default)]
pub struct Workload {
    /// Frames of each stack id, root first.
    pub stacks: HashMap<u64, Vec<String>>,
    /// All profiles, in file order.
    pub profiles: Vec<FleetProfile>,
}

fn read_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
        .with_batch_size(64 * 1024)
        .build()?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

fn strings(b: &RecordBatch, name: &str) -> Result<Vec<String>> {
    let col = b
        .column_by_name(name)
        .with_context(|| format!("column {name}"))?;
    let col = cast(col, &DataType::Utf8)?;
    let s = col.as_string::<i32>();
    Ok((0..s.len()).map(|i| s.value(i).to_string()).collect())
}

fn ints(b: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    let col = b
        .column_by_name(name)
        .with_context(|| format!("column {name}"))?;
    let col = cast(col, &DataType::Int64)?;
    Ok(col.as_primitive::<Int64Type>().values().to_vec())
}

impl Workload {
    /// Loads `DIR/normalized/` (stacks.parquet and samples/*.parquet). `max_profiles`
    /// stops early (0 = all).
    pub fn load(dir: &Path, max_profiles: usize) -> Result<Workload> {
        let mut w = Workload::default();
        for b in read_batches(&dir.join("normalized/stacks.parquet"))? {
            let ids = cast(
                b.column_by_name("stack_id").context("stack_id")?,
                &DataType::UInt64,
            )?;
            let ids = ids.as_primitive::<UInt64Type>();
            let frames = b
                .column_by_name("frames")
                .context("frames")?
                .as_list::<i32>();
            for i in 0..b.num_rows() {
                let f = cast(&frames.value(i), &DataType::Utf8)?;
                let f = f.as_string::<i32>();
                w.stacks.insert(
                    ids.value(i),
                    (0..f.len()).map(|j| f.value(j).to_string()).collect(),
                );
            }
        }
        let mut files: Vec<_> = std::fs::read_dir(dir.join("normalized/samples"))?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::result::Result<_, _>>()?;
        files.sort();
        if files.is_empty() {
            bail!("no sample files under {}", dir.display());
        }
        for f in files {
            for b in read_batches(&f)? {
                let ts = ints(&b, "ts")?; // milliseconds
                let (app, version, dc, pod) = (
                    strings(&b, "app")?,
                    strings(&b, "version")?,
                    strings(&b, "dc")?,
                    strings(&b, "pod")?,
                );
                let stack = cast(
                    b.column_by_name("stack_id").context("stack_id")?,
                    &DataType::UInt64,
                )?;
                let stack = stack.as_primitive::<UInt64Type>().values().to_vec();
                let value = ints(&b, "value")?;
                for i in 0..b.num_rows() {
                    let same = w.profiles.last().is_some_and(|p| {
                        p.time_nanos == ts[i] * 1_000_000
                            && p.labels[3].1 == pod[i]
                            && p.labels[2].1 == dc[i]
                            && p.labels[1].1 == version[i]
                            && p.labels[0].1 == app[i]
                    });
                    if !same {
                        if max_profiles > 0 && w.profiles.len() == max_profiles {
                            return Ok(w);
                        }
                        w.profiles.push(FleetProfile {
                            labels: vec![
                                ("app".into(), app[i].clone()),
                                ("version".into(), version[i].clone()),
                                ("dc".into(), dc[i].clone()),
                                ("pod".into(), pod[i].clone()),
                            ],
                            time_nanos: ts[i] * 1_000_000,
                            rows: Vec::new(),
                        });
                    }
                    if let Some(p) = w.profiles.last_mut() {
                        p.rows.push((stack[i], value[i]));
                    }
                }
            }
        }
        Ok(w)
    }

    /// Total (profile, stack) rows.
    pub fn rows(&self) -> usize {
        self.profiles.iter().map(|p| p.rows.len()).sum()
    }

    /// The profile as a flamedb [`Profile`] with one sample type, `cpu/nanoseconds`, one
    /// sample per row, period 10 ms and a 10 s duration, as the generator's pprof files.
    pub fn to_profile(&self, p: &FleetProfile) -> Result<Profile> {
        let mut out = Profile::new();
        out.add_sample_type("cpu", "nanoseconds");
        out.period = 10_000_000;
        out.time_nanos = p.time_nanos;
        out.duration_nanos = 10_000_000_000;
        let mut locs = Vec::new();
        for &(id, value) in &p.rows {
            let frames = self
                .stacks
                .get(&id)
                .with_context(|| format!("stack {id} missing"))?;
            locs.clear();
            for f in frames {
                locs.push(out.intern_named_location(f, None, 0, FrameKind::Unspecified));
            }
            let stack = out.stacks.intern(locs.iter().copied());
            out.push_sample(stack, &[value], LabelSetId::EMPTY, None);
        }
        Ok(out)
    }
}
