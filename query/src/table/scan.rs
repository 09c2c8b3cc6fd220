//! [`FlameScanExec`]: the plan node that reads blocks of the store as rows of `samples` or
//! `profiles`.
//!
//! The node spreads its blocks over output partitions balanced by rows and streams each
//! partition's blocks, two at a time, through `scan_block` (the per-block reading and
//! pruning, in `scan_block.rs`); `scan_columns.rs` builds the output columns.
//!
//! Per block: read the small side tables (profile rows, series), compute which profile rows
//! pass the pushed time, type and label predicates, load the dictionary when the stack is
//! projected or filtered, then read `samples.parquet` and keep rows whose profile and stack
//! pass. Derived columns are gathers by index: `time` and `sample_type` from the profile
//! row, `labels` from its series, `stack` from the dictionary's node keys, `app`, `version`,
//! `dc` constant per block.

use super::scan_block::{ScanCounts, scan_block};
use crate::context::FlameContext;
use crate::table::pushdown::Pred;
use crate::table::schema::{Col, TableKind};
use crate::table::selection::Selection;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
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
use flamedb_storage::BlockInfo;
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
    /// One row per (sample type, series, stack): the projection has `stack` and `labels`
    /// but no per-profile column (`time`). A block's rows are sorted by (sample type,
    /// series, stack, time), so these are runs of adjacent rows.
    BySeriesStack,
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
