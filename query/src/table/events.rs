//! The `change_events` table: a tenant's change events ([`flamedb_storage::events`]),
//! one row per event, read whole at each scan (events are few and small; filters run
//! on the rows in memory).

use crate::context::{FlameContext, storage_err};
use arrow::array::{ArrayRef, ListBuilder, RecordBatch, StringBuilder, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use flamedb_storage::ChangeEvent;
use std::sync::{Arc, LazyLock};

/// The table's name.
pub const CHANGE_EVENTS: &str = "change_events";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let list = || DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("app", DataType::Utf8, false),
        Field::new("version", DataType::Utf8, true),
        Field::new("author", DataType::Utf8, true),
        Field::new("message", DataType::Utf8, true),
        Field::new("files", list(), false),
        Field::new("functions", list(), false),
        // The other fields the event was posted with, as a JSON object.
        Field::new("extra", DataType::Utf8, false),
    ]))
});

/// A tenant's change events as a table.
#[derive(Debug)]
pub struct ChangeEventsTable {
    ctx: Arc<FlameContext>,
    tenant: String,
}

impl ChangeEventsTable {
    /// The events of `tenant`.
    pub fn new(ctx: Arc<FlameContext>, tenant: impl Into<String>) -> Self {
        ChangeEventsTable {
            ctx,
            tenant: tenant.into(),
        }
    }
}

/// `events` as one batch of the table's schema.
pub fn events_batch(events: &[Arc<ChangeEvent>]) -> Result<RecordBatch> {
    let mut id = StringBuilder::new();
    let mut kind = StringBuilder::new();
    let mut app = StringBuilder::new();
    let mut version = StringBuilder::new();
    let mut author = StringBuilder::new();
    let mut message = StringBuilder::new();
    let mut files = ListBuilder::new(StringBuilder::new());
    let mut functions = ListBuilder::new(StringBuilder::new());
    let mut extra = StringBuilder::new();
    for e in events {
        id.append_value(&e.id);
        kind.append_value(e.kind.name());
        app.append_value(&e.app);
        version.append_option(e.version.as_deref());
        author.append_option(e.author.as_deref());
        message.append_option(e.message.as_deref());
        for f in &e.files {
            files.values().append_value(f);
        }
        files.append(true);
        for f in &e.functions {
            functions.values().append_value(f);
        }
        functions.append(true);
        extra.append_value(serde_json::Value::Object(e.extra.clone()).to_string());
    }
    let time = TimestampNanosecondArray::from_iter_values(events.iter().map(|e| e.time_nanos))
        .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(kind.finish()),
        Arc::new(time),
        Arc::new(app.finish()),
        Arc::new(version.finish()),
        Arc::new(author.finish()),
        Arc::new(message.finish()),
        Arc::new(files.finish()),
        Arc::new(functions.finish()),
        Arc::new(extra.finish()),
    ];
    RecordBatch::try_new(SCHEMA.clone(), columns).map_err(DataFusionError::from)
}

#[async_trait]
impl TableProvider for ChangeEventsTable {
    fn schema(&self) -> SchemaRef {
        SCHEMA.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut events = self
            .ctx
            .events()
            .list(&self.tenant)
            .await
            .map_err(storage_err)?;
        flamedb_storage::events::sort_by_time(&mut events);
        let batch = events_batch(&events)?;
        let exec =
            MemorySourceConfig::try_new_exec(&[vec![batch]], SCHEMA.clone(), projection.cloned())?;
        Ok(exec)
    }
}
