//! The per-block half of [`FlameScanExec`](super::scan::FlameScanExec): [`scan_block`]
//! reads one block and returns its passing rows.
//!
//! Pruning happens here, from cheapest to dearest: the profile mask from the side tables
//! (time, sample type, labels) may skip the block outright; [`read_plan`] then reads only
//! the row ranges of (sample type, series) groups with a kept profile, and drops the
//! `profile` column when no output needs it; the dictionary's stack mask filters the rows
//! read. A collapsing scan sums the kept rows per key ([`collapse`]) before the output
//! columns are built ([`super::scan_columns`]).

use super::scan::{Collapse, ScanSpec};
use super::scan_columns::Side;
use crate::context::{FlameContext, storage_err};
use crate::table::schema::{Col, TableKind};
use crate::table::selection::Selection;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use flamedb_storage::{BlockInfo, block};
use std::sync::Arc;

/// Rows a scan decoded, and sample rows it skipped without decoding (pages of series and
/// sample types the filters exclude), shown by EXPLAIN ANALYZE.
#[derive(Clone)]
pub(super) struct ScanCounts {
    pub(super) scanned: datafusion::physical_plan::metrics::Count,
    pub(super) pruned: datafusion::physical_plan::metrics::Count,
}

/// Reads one block and returns its passing rows as batches of the scan's schema.
pub(super) async fn scan_block(
    ctx: &FlameContext,
    spec: &ScanSpec,
    sel: &Selection,
    schema: &SchemaRef,
    b: &BlockInfo,
    batch_size: usize,
    counts: &ScanCounts,
) -> Result<Vec<RecordBatch>> {
    let (store, root) = ctx.objects();
    let profiles = ctx.profiles(&b.path).await?;
    let wants = |c: Col| spec.projection.contains(&c);
    let series = if sel.has_label_preds() || wants(Col::Labels) {
        ctx.series(&b.path).await?
    } else {
        Arc::new(vec![])
    };
    let keep_profile = sel.profile_mask(&profiles, &b.meta.sample_types, &series);
    if !keep_profile.iter().any(|&k| k) {
        return Ok(vec![]);
    }
    let side = Side {
        b,
        profiles: &profiles,
        series: &series,
    };
    if spec.kind == TableKind::Profiles {
        let rows: Vec<u32> = (0..profiles.len() as u32)
            .filter(|&i| keep_profile[i as usize])
            .collect();
        counts.scanned.add(profiles.len());
        return side.batches(spec, schema, &rows, None, None, batch_size);
    }
    let dict = if wants(Col::Stack) || sel.has_stack_preds() {
        Some(ctx.dict(&b.path, &b.meta).await?)
    } else {
        None
    };
    let keep_stack = dict.as_ref().and_then(|d| sel.stack_mask(d));
    let needs_time = wants(Col::Time) || spec.collapse == Some(Collapse::ByProfile);
    let plan = read_plan(&profiles, &keep_profile, b.meta.rows as usize, needs_time);
    let mut samples = block::read_samples_with(store, root, &b.path, &plan.read)
        .await
        .map_err(storage_err)?;
    if plan.read.skip_profile {
        // Every profile of a read group is kept and no column needs the profile itself:
        // the group's first profile stands for its rows (same sample type and series).
        samples.profile = Vec::with_capacity(samples.len());
        for (range, rep) in &plan.groups {
            samples
                .profile
                .extend(std::iter::repeat_n(*rep, range.len()));
        }
    }
    counts.scanned.add(samples.len());
    counts
        .pruned
        .add((b.meta.rows as usize).saturating_sub(samples.len()));
    let mut rows = Vec::with_capacity(samples.len());
    match (&keep_stack, plan.read.skip_profile) {
        (None, true) => rows.extend(0..samples.len() as u32),
        (Some(k), true) => {
            for (i, &s) in samples.stack.iter().enumerate() {
                if k.get(s as usize).copied().unwrap_or(false) {
                    rows.push(i as u32);
                }
            }
        }
        _ => {
            for (i, (&p, &s)) in samples.profile.iter().zip(&samples.stack).enumerate() {
                let p_ok = keep_profile.get(p as usize).copied().unwrap_or(false);
                let s_ok = keep_stack
                    .as_ref()
                    .is_none_or(|k| k.get(s as usize).copied().unwrap_or(false));
                if p_ok && s_ok {
                    rows.push(i as u32);
                }
            }
        }
    }
    let keys = dict.as_ref().map(|d| d.keys.as_slice());
    match spec.collapse {
        None => side.batches(spec, schema, &rows, Some(&samples), keys, batch_size),
        Some(Collapse::BySeriesStack) => {
            let collapsed = collapse_runs(&samples, &rows, &series_reps(&profiles, &samples));
            let all: Vec<u32> = (0..collapsed.len() as u32).collect();
            side.batches(spec, schema, &all, Some(&collapsed), keys, batch_size)
        }
        Some(mode) => {
            let nodes = dict.as_ref().map_or(0, |d| d.len());
            let collapsed = collapse(&samples, &rows, &profiles, mode, nodes);
            let all: Vec<u32> = (0..collapsed.len() as u32).collect();
            side.batches(spec, schema, &all, Some(&collapsed), keys, batch_size)
        }
    }
}

/// Per profile row: the first profile row of its (sample type, series) group, which
/// stands for the group's rows once collapsed by series (identity when the group's
/// representative already replaced the profile column: every row then holds one).
fn series_reps(
    profiles: &flamedb_storage::ProfileRows,
    samples: &flamedb_storage::SampleRows,
) -> Vec<u32> {
    let mut rep: Vec<u32> = (0..profiles.len() as u32).collect();
    let rows: usize = profiles.stacks.iter().map(|&n| n as usize).sum();
    if let Some(groups) = block::group_rows(profiles, rows) {
        for (first, end, _) in groups {
            rep[first..end].fill(first as u32);
        }
    }
    debug_assert!(samples.profile.iter().all(|&p| (p as usize) < rep.len()));
    rep
}

/// Sums runs of kept rows with the same (series, stack): a block's rows are sorted by
/// (sample type, series, stack, time), so equal keys are adjacent. Each output row's
/// profile is its group's representative (`rep`).
fn collapse_runs(
    samples: &flamedb_storage::SampleRows,
    rows: &[u32],
    rep: &[u32],
) -> flamedb_storage::SampleRows {
    let mut out = flamedb_storage::SampleRows::default();
    let mut cur: Option<(u32, u32, i64)> = None;
    for &r in rows {
        let r = r as usize;
        let p = rep
            .get(samples.profile[r] as usize)
            .copied()
            .unwrap_or(samples.profile[r]);
        let (s, v) = (samples.stack[r], samples.value[r]);
        match &mut cur {
            Some((cp, cs, cv)) if *cp == p && *cs == s => *cv = cv.saturating_add(v),
            _ => {
                if let Some((cp, cs, cv)) = cur.take() {
                    out.push(cp, cs, cv);
                }
                cur = Some((p, s, v));
            }
        }
    }
    if let Some((cp, cs, cv)) = cur {
        out.push(cp, cs, cv);
    }
    out
}

/// Which sample rows of a block a scan reads.
struct ReadPlan {
    read: block::SampleRead,
    /// The row ranges read, each with a representative profile of its group.
    groups: Vec<(std::ops::Range<usize>, u32)>,
}

/// Plans the read of a block's samples from its profile mask: only the row ranges of
/// (sample type, series) groups with a kept profile (label and type filters skip pages),
/// and without the `profile` column when every profile of each read group is kept and no
/// output needs the profile itself (`time`).
fn read_plan(
    profiles: &flamedb_storage::ProfileRows,
    keep_profile: &[bool],
    rows: usize,
    needs_time: bool,
) -> ReadPlan {
    let Some(all) = block::group_rows(profiles, rows) else {
        return ReadPlan {
            read: block::SampleRead::default(),
            groups: vec![],
        };
    };
    let mut groups = Vec::new();
    let mut uniform = true;
    for (first, end, range) in all {
        let kept = keep_profile[first..end].iter().filter(|&&k| k).count();
        if kept == 0 || range.is_empty() {
            continue;
        }
        uniform &= kept == end - first;
        groups.push((range, first as u32));
    }
    let selected: usize = groups.iter().map(|(r, _)| r.len()).sum();
    ReadPlan {
        read: block::SampleRead {
            rows: (selected < rows).then(|| groups.iter().map(|(r, _)| r.clone()).collect()),
            skip_profile: uniform && !needs_time,
        },
        groups,
    }
}

/// Sums the kept rows of a block by the key `mode` names. The result is sample rows whose
/// `profile` is a representative profile row (for keys without a profile: the first
/// profile row of the sample type, all that the projected columns read from it).
fn collapse(
    samples: &flamedb_storage::SampleRows,
    rows: &[u32],
    profiles: &flamedb_storage::ProfileRows,
    mode: Collapse,
    nodes: usize,
) -> flamedb_storage::SampleRows {
    let types = profiles
        .sample_type
        .iter()
        .map(|&t| t as usize + 1)
        .max()
        .unwrap_or(0);
    let mut first_of_type = vec![u32::MAX; types];
    for (i, &t) in profiles.sample_type.iter().enumerate() {
        if first_of_type[t as usize] == u32::MAX {
            first_of_type[t as usize] = i as u32;
        }
    }
    let mut out = flamedb_storage::SampleRows::default();
    let (width, key): (usize, Box<dyn Fn(u32, u32) -> usize>) = match mode {
        Collapse::ByStack => (
            nodes.max(1),
            Box::new(move |p, s| {
                profiles.sample_type[p as usize] as usize * nodes.max(1) + s as usize
            }),
        ),
        Collapse::ByProfile => (1, Box::new(|p, _| p as usize)),
        // BySeriesStack is summed by `collapse_runs`, never here.
        Collapse::ByType | Collapse::BySeriesStack => (
            1,
            Box::new(|p, _| profiles.sample_type[p as usize] as usize),
        ),
    };
    let size = match mode {
        Collapse::ByStack => types * width,
        Collapse::ByProfile => profiles.len(),
        Collapse::ByType | Collapse::BySeriesStack => types,
    };
    // Dense sums when the key space is small next to the rows, a hash map otherwise.
    let mut sums: Vec<(usize, i64)> = if size <= rows.len() * 4 + (1 << 16) {
        let mut dense = vec![0i64; size];
        let mut seen = vec![false; size];
        for &r in rows {
            let k = key(samples.profile[r as usize], samples.stack[r as usize]);
            if let (Some(v), Some(x)) = (dense.get_mut(k), seen.get_mut(k)) {
                *v = v.saturating_add(samples.value[r as usize]);
                *x = true;
            }
        }
        (0..size)
            .filter(|&k| seen[k])
            .map(|k| (k, dense[k]))
            .collect()
    } else {
        let mut map: hashbrown::HashMap<usize, i64> = hashbrown::HashMap::new();
        for &r in rows {
            let k = key(samples.profile[r as usize], samples.stack[r as usize]);
            let e = map.entry(k).or_default();
            *e = e.saturating_add(samples.value[r as usize]);
        }
        map.into_iter().collect()
    };
    sums.sort_unstable_by_key(|e| e.0);
    for (k, v) in sums {
        let (profile, stack) = match mode {
            Collapse::ByStack => (first_of_type[k / width], (k % width) as u32),
            Collapse::ByProfile => (k as u32, 0),
            Collapse::ByType | Collapse::BySeriesStack => (first_of_type[k], 0),
        };
        out.push(profile, stack, v);
    }
    out
}
