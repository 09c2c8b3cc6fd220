//! [`FlameScanExec`]: reads blocks of the store as rows of `samples` or `profiles`.
//!
//! Per block: read the small side tables (profile rows, series), compute which profile rows
//! pass the pushed time, type and label predicates, load the dictionary when the stack is
//! projected or filtered, then read `samples.parquet` and keep rows whose profile and stack
//! pass. Derived columns are gathers by index: `time` and `sample_type` from the profile
//! row, `labels` from its series, `stack` from the dictionary's node keys, `app`, `version`,
//! `dc` constant per block.

use crate::context::{FlameContext, storage_err};
use crate::table::pushdown::Pred;
use crate::table::schema::{Col, TableKind};
use crate::table::selection::Selection;
use arrow::array::{
    ArrayRef, DictionaryArray, Int64Array, MapBuilder, StringArray, StringBuilder,
    TimestampNanosecondArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{SchemaRef, UInt16Type};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use flamedb_storage::{BlockInfo, Labels, block};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What a scan reads: plain data, serializable (the live context is not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSpec {
    /// Tenant whose blocks are read.
    pub tenant: String,
    /// Which table.
    pub kind: TableKind,
    /// Pushed-down predicates, all applied exactly.
    pub preds: Vec<Pred>,
    /// Output columns.
    pub projection: Vec<Col>,
    /// Stop after this many rows (only when no filter is left above the scan).
    pub limit: Option<usize>,
    /// Sum rows that agree on the projected columns before emitting them (set by
    /// [`crate::table::collapse::CollapseRule`] when the consumer only sums `value`).
    #[serde(default)]
    pub collapse: Option<Collapse>,
}

/// How a collapsing scan groups rows within a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Collapse {
    /// One row per (sample type, stack): the projection has `stack` but no per-profile
    /// column.
    ByStack,
    /// One row per profile row: the projection has `time` or `labels` but no `stack`.
    ByProfile,
    /// One row per sample type: neither.
    ByType,
}

/// Plan-time pruning counts, shown by EXPLAIN.
#[derive(Debug, Clone, Default)]
pub struct Pruning {
    /// Blocks listed in the partitions that passed.
    pub listed: usize,
    /// Blocks kept after time, dimension and sample-type pruning.
    pub kept: usize,
}

/// Scans flamedb blocks.
#[derive(Debug)]
pub struct FlameScanExec {
    spec: ScanSpec,
    groups: Vec<Vec<BlockInfo>>,
    pruning: Pruning,
    schema: SchemaRef,
    ctx: Arc<FlameContext>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl FlameScanExec {
    /// A scan of `blocks`, spread over at most `partitions` outputs balanced by rows.
    pub fn new(
        ctx: Arc<FlameContext>,
        spec: ScanSpec,
        blocks: Vec<BlockInfo>,
        pruning: Pruning,
        partitions: usize,
    ) -> Self {
        let n = partitions.max(1).min(blocks.len().max(1));
        let mut groups: Vec<(u64, Vec<BlockInfo>)> = vec![(0, vec![]); n];
        let mut sorted = blocks;
        sorted.sort_by_key(|b| std::cmp::Reverse(b.meta.rows));
        for b in sorted {
            // Largest first into the lightest group.
            if let Some(g) = groups.iter_mut().min_by_key(|g| g.0) {
                g.0 += b.meta.rows.max(1);
                g.1.push(b);
            }
        }
        let full = spec.kind.schema();
        let indices: Vec<usize> = spec
            .projection
            .iter()
            .filter_map(|c| full.index_of(c.name()).ok())
            .collect();
        let schema = Arc::new(full.project(&indices).unwrap_or_else(|_| (*full).clone()));
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        FlameScanExec {
            spec,
            groups: groups.into_iter().map(|g| g.1).collect(),
            pruning,
            schema,
            ctx,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The scan's spec.
    pub fn spec(&self) -> &ScanSpec {
        &self.spec
    }

    /// The same scan, collapsing rows as `mode` says.
    pub fn with_collapse(&self, mode: Collapse) -> Self {
        let mut spec = self.spec.clone();
        spec.collapse = Some(mode);
        FlameScanExec {
            spec,
            groups: self.groups.clone(),
            pruning: self.pruning.clone(),
            schema: self.schema.clone(),
            ctx: self.ctx.clone(),
            properties: self.properties.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for FlameScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let preds: Vec<String> = self.spec.preds.iter().map(describe).collect();
        let cols: Vec<&str> = self.spec.projection.iter().map(|c| c.name()).collect();
        write!(
            f,
            "FlameScanExec: table={}, tenant={}, blocks={}/{}, preds=[{}], projection=[{}]",
            self.spec.kind.name(),
            self.spec.tenant,
            self.pruning.kept,
            self.pruning.listed,
            preds.join(", "),
            cols.join(", ")
        )?;
        if let Some(l) = self.spec.limit {
            write!(f, ", limit={l}")?;
        }
        if let Some(c) = self.spec.collapse {
            write!(f, ", collapse={c:?}")?;
        }
        Ok(())
    }
}

fn describe(p: &Pred) -> String {
    match p {
        Pred::Dim {
            col,
            values,
            negated,
        } => format!(
            "{} {}IN ({})",
            col.name(),
            if *negated { "NOT " } else { "" },
            values.join(", ")
        ),
        Pred::Time { min, max } => format!("time IN [{min}, {max}]"),
        Pred::Label {
            name,
            values,
            negated,
        } => format!(
            "labels[{name}] {}IN ({})",
            if *negated { "NOT " } else { "" },
            values.join(", ")
        ),
        Pred::Stack {
            pattern,
            regex,
            negated,
        } => format!(
            "{}{}(stack, {pattern:?})",
            if *negated { "NOT " } else { "" },
            if *regex {
                "stack_matches"
            } else {
                "stack_contains"
            }
        ),
    }
}

impl ExecutionPlan for FlameScanExec {
    fn name(&self) -> &str {
        "FlameScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        task: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let blocks = self.groups.get(partition).cloned().unwrap_or_default();
        let selection = Arc::new(Selection::new(&self.spec.preds)?);
        let spec = Arc::new(self.spec.clone());
        let ctx = self.ctx.clone();
        let schema = self.schema.clone();
        let batch_size = task.session_config().batch_size().max(1024);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let counts = ScanCounts {
            scanned: MetricBuilder::new(&self.metrics).counter("rows_scanned", partition),
            pruned: MetricBuilder::new(&self.metrics).counter("rows_pruned", partition),
        };
        let limit = spec.limit;
        let stream = futures::stream::iter(blocks)
            .map(move |b| {
                let (ctx, spec, sel, schema) =
                    (ctx.clone(), spec.clone(), selection.clone(), schema.clone());
                let counts = counts.clone();
                async move { scan_block(&ctx, &spec, &sel, &schema, &b, batch_size, &counts).await }
            })
            .buffered(2)
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        let mut remaining = limit.unwrap_or(usize::MAX);
        let stream = stream
            .try_take_while(move |_| futures::future::ready(Ok(remaining > 0)))
            .map_ok(move |b: RecordBatch| {
                let n = b.num_rows().min(remaining);
                remaining -= n;
                output_rows.add(n);
                b.slice(0, n)
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            stream,
        )))
    }
}

/// Rows a scan decoded, and sample rows it skipped without decoding (pages of series and
/// sample types the filters exclude), shown by EXPLAIN ANALYZE.
#[derive(Clone)]
struct ScanCounts {
    scanned: datafusion::physical_plan::metrics::Count,
    pruned: datafusion::physical_plan::metrics::Count,
}

/// Reads one block and returns its passing rows as batches of the scan's schema.
async fn scan_block(
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
        Some(mode) => {
            let nodes = dict.as_ref().map_or(0, |d| d.len());
            let collapsed = collapse(&samples, &rows, &profiles, mode, nodes);
            let all: Vec<u32> = (0..collapsed.len() as u32).collect();
            side.batches(spec, schema, &all, Some(&collapsed), keys, batch_size)
        }
    }
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
        Collapse::ByType => (
            1,
            Box::new(|p, _| profiles.sample_type[p as usize] as usize),
        ),
    };
    let size = match mode {
        Collapse::ByStack => types * width,
        Collapse::ByProfile => profiles.len(),
        Collapse::ByType => types,
    };
    // Dense sums when the key space is small next to the rows, a hash map otherwise.
    let mut sums: Vec<(usize, i64)> = if size <= rows.len() * 4 + (1 << 16) {
        let mut dense = vec![0i64; size];
        let mut seen = vec![false; size];
        for &r in rows {
            let k = key(samples.profile[r as usize], samples.stack[r as usize]);
            if let (Some(v), Some(x)) = (dense.get_mut(k), seen.get_mut(k)) {
                *v += samples.value[r as usize];
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
            *map.entry(k).or_default() += samples.value[r as usize];
        }
        map.into_iter().collect()
    };
    sums.sort_unstable_by_key(|e| e.0);
    for (k, v) in sums {
        let (profile, stack) = match mode {
            Collapse::ByStack => (first_of_type[k / width], (k % width) as u32),
            Collapse::ByProfile => (k as u32, 0),
            Collapse::ByType => (first_of_type[k], 0),
        };
        out.push(profile, stack, v);
    }
    out
}

/// A block's side data, for building output columns.
struct Side<'a> {
    b: &'a BlockInfo,
    profiles: &'a flamedb_storage::ProfileRows,
    series: &'a [Labels],
}

impl Side<'_> {
    /// Output batches for `rows` (sample row indexes, or profile row indexes when
    /// `samples` is `None`).
    fn batches(
        &self,
        spec: &ScanSpec,
        schema: &SchemaRef,
        rows: &[u32],
        samples: Option<&flamedb_storage::SampleRows>,
        keys: Option<&[u64]>,
        batch_size: usize,
    ) -> Result<Vec<RecordBatch>> {
        let labels_all = spec
            .projection
            .contains(&Col::Labels)
            .then(|| labels_array(self.series));
        let mut out = Vec::with_capacity(rows.len() / batch_size + 1);
        for chunk in rows.chunks(batch_size) {
            let profile_of: Vec<u32> = match samples {
                Some(s) => chunk.iter().map(|&r| s.profile[r as usize]).collect(),
                None => chunk.to_vec(),
            };
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(spec.projection.len());
            for c in &spec.projection {
                cols.push(self.column(*c, chunk, &profile_of, samples, keys, &labels_all)?);
            }
            let opts = RecordBatchOptions::new().with_row_count(Some(chunk.len()));
            out.push(RecordBatch::try_new_with_options(
                schema.clone(),
                cols,
                &opts,
            )?);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn column(
        &self,
        c: Col,
        rows: &[u32],
        profile_of: &[u32],
        samples: Option<&flamedb_storage::SampleRows>,
        keys: Option<&[u64]>,
        labels_all: &Option<ArrayRef>,
    ) -> Result<ArrayRef> {
        let p = self.profiles;
        let gather =
            |v: &[i64]| -> Vec<i64> { profile_of.iter().map(|&i| v[i as usize]).collect() };
        let part = &self.b.path.partition;
        Ok(match c {
            Col::Time => {
                Arc::new(TimestampNanosecondArray::from(gather(&p.time)).with_timezone("UTC"))
            }
            Col::Duration => Arc::new(Int64Array::from(gather(&p.duration))),
            Col::Period => Arc::new(Int64Array::from(gather(&p.period))),
            Col::Total => Arc::new(Int64Array::from(gather(&p.total))),
            Col::Stacks => Arc::new(UInt32Array::from(
                profile_of
                    .iter()
                    .map(|&i| p.stacks[i as usize])
                    .collect::<Vec<_>>(),
            )),
            Col::App => constant(&part.app, rows.len()),
            Col::Version => constant(&part.version, rows.len()),
            Col::Dc => constant(&part.dc, rows.len()),
            Col::SampleType | Col::SampleUnit => {
                let values: Vec<&str> = self
                    .b
                    .meta
                    .sample_types
                    .iter()
                    .map(|t| {
                        if c == Col::SampleType {
                            t.kind.as_str()
                        } else {
                            t.unit.as_str()
                        }
                    })
                    .collect();
                let k: UInt16Array = profile_of
                    .iter()
                    .map(|&i| p.sample_type[i as usize])
                    .collect();
                Arc::new(DictionaryArray::<UInt16Type>::try_new(
                    k,
                    Arc::new(StringArray::from(values)),
                )?)
            }
            Col::Labels => {
                let all = labels_all.as_ref().ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("labels not built".into())
                })?;
                let idx: UInt32Array = profile_of.iter().map(|&i| p.series[i as usize]).collect();
                arrow::compute::take(all.as_ref(), &idx, None)?
            }
            Col::Stack => {
                let (s, keys) = samples.zip(keys).ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("stack keys not loaded".into())
                })?;
                Arc::new(UInt64Array::from(
                    rows.iter()
                        .map(|&r| keys.get(s.stack[r as usize] as usize).copied().unwrap_or(0))
                        .collect::<Vec<_>>(),
                ))
            }
            Col::Value => {
                let s = samples.ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("no samples".into())
                })?;
                Arc::new(Int64Array::from(
                    rows.iter()
                        .map(|&r| s.value[r as usize])
                        .collect::<Vec<_>>(),
                ))
            }
        })
    }
}

/// A dictionary column with one value repeated.
fn constant(v: &str, n: usize) -> ArrayRef {
    let keys = UInt16Array::from(vec![0u16; n]);
    Arc::new(DictionaryArray::<UInt16Type>::new(
        keys,
        Arc::new(StringArray::from(vec![v])),
    ))
}

/// One map entry per series.
fn labels_array(series: &[Labels]) -> ArrayRef {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for l in series {
        for (k, v) in l.pairs() {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        // Appending a map entry only fails when keys and values differ in length.
        let _ = b.append(true);
    }
    Arc::new(b.finish())
}
