//! The `samples` and `profiles` tables: a [`FlameTable`] per tenant and kind; and
//! [`events::ChangeEventsTable`], the tenant's change events.

pub mod collapse;
pub mod events;
pub mod pushdown;
pub mod scan;
mod scan_block;
mod scan_columns;
pub mod schema;
pub mod selection;

use crate::context::FlameContext;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use pushdown::{Pred, classify};
use scan::{FlameScanExec, Pruning, ScanSpec};
use schema::TableKind;
use selection::Selection;
use std::sync::Arc;

/// One table of one tenant. Serializable as (tenant, kind); the context is injected.
#[derive(Debug)]
pub struct FlameTable {
    ctx: Arc<FlameContext>,
    tenant: String,
    kind: TableKind,
}

impl FlameTable {
    /// The `kind` table of `tenant`.
    pub fn new(ctx: Arc<FlameContext>, tenant: impl Into<String>, kind: TableKind) -> Self {
        FlameTable {
            ctx,
            tenant: tenant.into(),
            kind,
        }
    }

    /// The tenant whose data the table shows.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

#[async_trait]
impl TableProvider for FlameTable {
    fn schema(&self) -> SchemaRef {
        self.kind.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match classify(f, self.kind) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let preds: Vec<Pred> = filters
            .iter()
            .filter_map(|f| classify(f, self.kind))
            .collect();
        let columns = self.kind.columns();
        let projection = match projection {
            Some(p) => p.iter().filter_map(|&i| columns.get(i).copied()).collect(),
            None => columns.to_vec(),
        };
        let sel = Selection::new(&preds)?;
        let listed = self
            .ctx
            .blocks(&self.tenant, &sel.partition_filter())
            .await?;
        let n_listed = listed.len();
        let kept: Vec<_> = listed
            .into_iter()
            .filter(|b| sel.keeps_block(&b.path.partition, &b.meta))
            .collect();
        let pruning = Pruning {
            listed: n_listed,
            kept: kept.len(),
        };
        let spec = ScanSpec {
            tenant: self.tenant.clone(),
            kind: self.kind,
            preds,
            projection,
            limit,
            collapse: None,
        };
        let partitions = state.config().target_partitions();
        Ok(Arc::new(FlameScanExec::new(
            self.ctx.clone(),
            spec,
            kept,
            pruning,
            partitions,
        )))
    }
}
