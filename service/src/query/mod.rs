//! The query side shared by `flamedb serve` and the CLI (`flamedb query`, `flamedb
//! flamegraph`, `flamedb diff` on a local data directory).
//!
//! ```text
//!  SqlRequest ─► Engine::sql ─► admit (a query slot, waits up to the timeout)
//!            ─► tenant session (+ allowed settings) ─► read-only plan ─► LIMIT max_rows
//!            ─► first batch (so errors become statuses) ─► ResultStream ─► encode::Encoder
//!  flame::FlameRequest / DiffRequest ─► Engine::flame_tree ─► truncate ─► render
//!  meta::SeriesRequest, LabelsRequest, LabelValuesRequest ─► DataFusion plans
//!  regress::RegressionRequest ─► versions ─► flamedb_query::regress::compare
//! ```
//!
//! Plans run on the engine's own runtime ([`QueryRuntime`]): a query that computes for
//! seconds occupies the query threads, not those that answer `/healthz`, ingest and
//! the other front doors, and a query dropped (its deadline, a client gone) is aborted
//! there at its next await.
//!
//! Tour: [`encode`] (JSON / CSV / Arrow IPC, a batch at a time), [`errors`] (DataFusion
//! error to an error kind), [`flame`] (selectors, formats, rendering), [`meta`] (series,
//! apps and labels as plans over `profiles`).

pub mod encode;
pub mod errors;
pub mod flame;
pub mod meta;
pub mod regress;

use crate::{Error, ErrorKind, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::prelude::{DataFrame, SessionContext};
use errors::query_error;
use flamedb_profile::flame::FlameTree;
use flamedb_query::{FlameContext, QueryConfig, Selector, read_only, tenant_session};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Settings a caller may change per query, besides every `flame.*` one.
pub const ALLOWED_SETTINGS: &[&str] = &["datafusion.execution.batch_size"];

/// Bounds on each query.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    /// Deadline of one query, waiting for a slot included.
    pub timeout: Duration,
    /// Most rows an SQL result holds (more are cut).
    pub max_rows: usize,
    /// Queries running at once (each may use the whole memory limit).
    pub max_concurrent: usize,
    /// Largest `max_nodes` (flame graph size) a caller may ask for.
    pub max_nodes: usize,
    /// Deepest SQL expression accepted ([`flamedb_query::sql_guard`]), checked on the
    /// text before it is parsed.
    pub max_expression_depth: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            timeout: Duration::from_secs(30),
            max_rows: 1_000_000,
            max_concurrent: 4,
            max_nodes: 65_536,
            max_expression_depth: flamedb_query::sql_guard::DEFAULT_MAX_EXPRESSION_DEPTH,
        }
    }
}

/// Read-only SQL over a tenant's `samples` and `profiles`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SqlRequest {
    /// The SQL text (one statement).
    pub sql: String,
    /// Session settings for this query: `flame.*` and [`ALLOWED_SETTINGS`].
    pub settings: Vec<(String, String)>,
}

/// The tokio runtime that plans execute on, apart from the one that serves requests
/// (DataFusion's advice for CPU-bound work beside I/O: its `thread_pools` example).
/// Shut down in the background when dropped, so dropping the engine inside another
/// runtime does not block it.
pub struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl QueryRuntime {
    /// A multi-threaded runtime with one worker per core, threads named `flamedb-query`.
    fn new() -> std::io::Result<QueryRuntime> {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("flamedb-query")
            .enable_all()
            .build()
            .map(|rt| QueryRuntime(Some(rt)))
    }

    /// Starts `work` on the query runtime; it is aborted (at its next await) when the
    /// returned guard is dropped.
    fn spawn<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<(tokio::task::JoinHandle<T>, AbortOnDrop)> {
        let Some(rt) = &self.0 else {
            return Err(Error::new(
                ErrorKind::Unavailable,
                "the query engine is closing",
            ));
        };
        let task = rt.spawn(work);
        let abort = AbortOnDrop(task.abort_handle());
        Ok((task, abort))
    }

    /// Runs `work` on the query runtime; dropping the returned future aborts it (at its
    /// next await). A panic in a query is an internal error, not a dead server.
    async fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (task, _abort) = self.spawn(work)?;
        match task.await {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => Err(Error::new(
                ErrorKind::Unavailable,
                "the query was cancelled",
            )),
            Err(e) => Err(Error::internal(format!("a query failed: {e}"))),
        }
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Aborts a task when dropped (a query whose caller went away).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The query engine of a process.
pub struct Engine {
    ctx: Arc<FlameContext>,
    limits: QueryLimits,
    slots: Arc<Semaphore>,
    runtime: QueryRuntime,
    /// The live store whose heads a query flushes first (freshness), when serving.
    live: std::sync::OnceLock<flamedb_storage::Store>,
}

/// A running query's slot and deadline.
pub struct Admission {
    _slot: OwnedSemaphorePermit,
    deadline: Instant,
    timeout: Duration,
}

impl Admission {
    /// Runs `f` until the deadline.
    pub async fn run<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout_at(self.deadline, f).await {
            Ok(r) => r,
            Err(_) => Err(timed_out(self.timeout)),
        }
    }
}

fn timed_out(limit: Duration) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "the query timed out after {} s (the query timeout): narrow the time range or \
             the selectors",
            limit.as_secs_f64()
        ),
    )
}

impl Engine {
    /// An engine reading the blocks under `root` of `objects`.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        root: Path,
        config: QueryConfig,
        limits: QueryLimits,
    ) -> Arc<Engine> {
        // Without threads for queries the process cannot serve any; nothing to recover.
        #[allow(clippy::expect_used)]
        let runtime = QueryRuntime::new().expect("starting the query runtime");
        Arc::new(Engine {
            ctx: FlameContext::new(objects, root, config),
            slots: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            runtime,
            limits,
            live: std::sync::OnceLock::new(),
        })
    }

    /// Makes queries read everything `store` acknowledged: a query of a tenant with
    /// profiles not yet in blocks flushes that tenant's heads first (one flush at a time;
    /// a query finding nothing unflushed pays nothing). Without it, acknowledged profiles
    /// become visible when their head flushes by age (`--flush-age-secs`).
    pub fn read_acknowledged(&self, store: flamedb_storage::Store) {
        let _ = self.live.set(store);
    }

    /// Flushes `tenant`'s heads when it has unflushed profiles ([`Engine::read_acknowledged`]).
    async fn fresh(&self, tenant: &str) -> Result<()> {
        if let Some(store) = self.live.get()
            && store.has_unflushed(tenant)
        {
            store.flush_tenant(tenant).await?;
        }
        Ok(())
    }

    /// The store's change events.
    pub fn events(&self) -> &flamedb_storage::EventLog {
        self.ctx.events()
    }

    /// The limits.
    pub fn limits(&self) -> &QueryLimits {
        &self.limits
    }

    /// A query slot, waited for until the query's deadline.
    pub async fn admit(&self) -> Result<Admission> {
        let deadline = Instant::now() + self.limits.timeout;
        let slot = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| timed_out(self.limits.timeout))?
            .map_err(Error::unavailable)?;
        Ok(Admission {
            _slot: slot,
            deadline,
            timeout: self.limits.timeout,
        })
    }

    /// A session over `tenant`'s data with `settings` applied (each checked against
    /// [`ALLOWED_SETTINGS`] and `flame.*`).
    pub fn session(&self, tenant: &str, settings: &[(String, String)]) -> Result<SessionContext> {
        let session = tenant_session(&self.ctx, tenant).map_err(query_error)?;
        for (key, value) in settings {
            self.check_setting(key, value)?;
            session
                .state_ref()
                .write()
                .config_mut()
                .options_mut()
                .set(key, value)
                .map_err(|e| Error::invalid(format!("setting {key}: {e}")))?;
        }
        Ok(session)
    }

    fn check_setting(&self, key: &str, value: &str) -> Result<()> {
        if !key.starts_with("flame.") && !ALLOWED_SETTINGS.contains(&key) {
            return Err(Error::new(
                ErrorKind::Forbidden,
                format!(
                    "setting {key:?} cannot be changed per query; allowed: flame.* and {}",
                    ALLOWED_SETTINGS.join(", ")
                ),
            ));
        }
        let bounded = |limit: usize| match value.trim().parse::<usize>() {
            Ok(n) if (1..=limit).contains(&n) => Ok(()),
            _ => Err(Error::invalid(format!(
                "setting {key}: use a whole number from 1 to {limit}"
            ))),
        };
        match key {
            "flame.max_nodes" => bounded(self.limits.max_nodes),
            "datafusion.execution.batch_size" => bounded(1 << 16),
            _ => Ok(()),
        }
    }

    /// Runs `req` for `tenant`: planned, cut at the row limit, and started (the first
    /// batch is computed, so errors up to it come back here, not mid-stream).
    pub async fn sql(&self, tenant: &str, req: &SqlRequest) -> Result<ResultStream> {
        let (sql, settings) = (req.sql.as_str(), req.settings.as_slice());
        flamedb_query::sql_guard::check_expression_depth(sql, self.limits.max_expression_depth)
            .map_err(|m| Error::invalid(format!("{m} (--query-max-expression-depth)")))?;
        let admission = self.admit().await?;
        admission.run(self.fresh(tenant)).await?;
        let session = self.session(tenant, settings)?;
        let max_rows = self.limits.max_rows;
        let sql = sql.to_string();
        let (schema, first, stream) = admission
            .run(self.runtime.run(async move {
                let df = session
                    .sql_with_options(&sql, read_only())
                    .await
                    .map_err(query_error)?;
                // EXPLAIN must stay the root of its plan (a LIMIT above it is a planning
                // error); its answer is a few rows per plan node.
                let explain = matches!(
                    df.logical_plan(),
                    datafusion::logical_expr::LogicalPlan::Explain(_)
                        | datafusion::logical_expr::LogicalPlan::Analyze(_)
                );
                let df = if explain {
                    df
                } else {
                    df.limit(0, Some(max_rows)).map_err(query_error)?
                };
                let mut stream = df.execute_stream().await.map_err(query_error)?;
                let first = stream.next().await.transpose().map_err(query_error)?;
                Ok((stream.schema(), first, stream))
            }))
            .await?;
        // The rest of the batches are computed on the query runtime too, one ahead of
        // the encoder.
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let (_, pump) = self.runtime.spawn(async move {
            let mut stream = stream;
            while let Some(batch) = stream.next().await {
                if tx.send(batch.map_err(query_error)).await.is_err() {
                    break;
                }
            }
        })?;
        Ok(ResultStream {
            schema,
            first,
            batches: rx,
            _pump: pump,
            admission,
        })
    }

    /// Every batch of the plan `build` makes on `tenant`'s session (the service's own
    /// queries: selections compile to DataFusion plans, never to SQL text), run under the
    /// same admission, deadline and row limit as SQL.
    pub async fn collect<F>(&self, tenant: &str, build: F) -> Result<Vec<RecordBatch>>
    where
        F: AsyncFnOnce(SessionContext) -> datafusion::error::Result<DataFrame>,
    {
        let admission = self.admit().await?;
        admission.run(self.fresh(tenant)).await?;
        let session = self.session(tenant, &[])?;
        let max_rows = self.limits.max_rows;
        admission
            .run(async {
                // Planning here, execution on the query runtime.
                let df = build(session)
                    .await
                    .and_then(|df| df.limit(0, Some(max_rows)))
                    .map_err(query_error)?;
                self.runtime
                    .run(async move { df.collect().await.map_err(query_error) })
                    .await
            })
            .await
    }

    /// The comparison `c` of two versions, under admission and the deadline.
    pub async fn compare_versions(
        &self,
        tenant: &str,
        c: &flamedb_query::regress::compare::Comparison<'_>,
    ) -> Result<flamedb_query::regress::Report> {
        let admission = self.admit().await?;
        admission.run(self.fresh(tenant)).await?;
        let (ctx, tenant) = (self.ctx.clone(), tenant.to_string());
        let (app, sample_type) = (c.app.to_string(), c.sample_type);
        let sample_type = (sample_type.0.to_string(), sample_type.1.to_string());
        let (before, after) = (c.before.clone(), c.after.clone());
        let (config, events) = (c.config, c.events.to_vec());
        admission
            .run(self.runtime.run(async move {
                let c = flamedb_query::regress::compare::Comparison {
                    app: &app,
                    sample_type: (&sample_type.0, &sample_type.1),
                    before: &before,
                    after: &after,
                    config,
                    events: &events,
                };
                flamedb_query::regress::compare(&ctx, &tenant, &c)
                    .await
                    .map_err(query_error)
            }))
            .await
    }

    /// The versions of `app` with `sample_type` profiles, by first profile time.
    pub async fn versions(
        &self,
        tenant: &str,
        app: &str,
        sample_type: &str,
    ) -> Result<Vec<flamedb_query::regress::VersionInfo>> {
        let admission = self.admit().await?;
        admission.run(self.fresh(tenant)).await?;
        let session = self.session(tenant, &[])?;
        let (app, sample_type) = (app.to_string(), sample_type.to_string());
        admission
            .run(self.runtime.run(async move {
                flamedb_query::regress::versions(&session, &app, &sample_type)
                    .await
                    .map_err(query_error)
            }))
            .await
    }

    /// The merged (or, with `right`, diff) flame tree, untruncated.
    pub async fn flame_tree(
        &self,
        tenant: &str,
        left: &Selector,
        right: Option<&Selector>,
    ) -> Result<FlameTree> {
        let admission = self.admit().await?;
        admission.run(self.fresh(tenant)).await?;
        let (ctx, tenant) = (self.ctx.clone(), tenant.to_string());
        let (left, right) = (left.clone(), right.cloned());
        admission
            .run(self.runtime.run(async move {
                flamedb_query::flame_tree(&ctx, &tenant, &left, right.as_ref())
                    .await
                    .map_err(query_error)
            }))
            .await
    }
}

/// A started query: its schema, then its batches until the deadline. Holds the query's
/// slot until dropped.
pub struct ResultStream {
    /// The result schema.
    pub schema: SchemaRef,
    first: Option<RecordBatch>,
    /// The batches after the first, computed on the query runtime.
    batches: tokio::sync::mpsc::Receiver<Result<RecordBatch>>,
    /// The task computing them, aborted when the result is dropped.
    _pump: AbortOnDrop,
    admission: Admission,
}

impl ResultStream {
    /// The next batch; an error after the deadline.
    pub async fn next(&mut self) -> Option<Result<RecordBatch>> {
        if let Some(b) = self.first.take() {
            return Some(Ok(b));
        }
        let batches = &mut self.batches;
        self.admission
            .run(async { batches.recv().await.transpose() })
            .await
            .transpose()
    }
}

/// Column `i` of `batch` as strings (dictionaries decoded; `None` for nulls).
pub fn strings(batch: &RecordBatch, i: usize) -> Result<Vec<Option<String>>> {
    let col = arrow::compute::cast(batch.column(i), &DataType::Utf8).map_err(Error::internal)?;
    let col = col.as_string::<i32>();
    Ok((0..col.len())
        .map(|r| col.is_valid(r).then(|| col.value(r).to_string()))
        .collect())
}

/// Column `i` of `batch` as integers (`0` for nulls).
pub fn integers(batch: &RecordBatch, i: usize) -> Result<Vec<i64>> {
    let col = arrow::compute::cast(batch.column(i), &DataType::Int64).map_err(Error::internal)?;
    let col = col.as_primitive::<Int64Type>();
    Ok((0..col.len())
        .map(|r| if col.is_valid(r) { col.value(r) } else { 0 })
        .collect())
}
