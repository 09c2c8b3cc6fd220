//! The regression analysis as SQL table functions:
//! - `function_shares(app, version [, sample_type])`: per function of that version, its
//!   self and inclusive value (inclusive once per stack) and their shares of the total,
//!   by inclusive value;
//! - `regressions(app, from_version, to_version [, min_pp])`: the findings of
//!   [`super::compare`], one row each, with the same fields as `GET /api/v1/regressions`
//!   (without the link), the events ranked for each and its cause.
//!
//! Without a sample type, the only one of the app is used, or the first of
//! [`crate::api::PREFERRED_SAMPLE_TYPES`]. The arguments are literals; the work runs
//! when the table is scanned.

use super::compare::{Comparison, compare, versions};
use super::events::candidates;
use super::{RegressionConfig, Report};
use crate::api::{
    Selector, flame_tree, preferred_sample_type, sample_type_rows, sample_types_frame,
};
use crate::context::{FlameContext, storage_err};
use crate::functions::common::Bound;
use crate::session::tenant_session;
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::TableFunctionArgs;
use datafusion::catalog::{Session, TableFunctionImpl, TableProvider};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;
use std::sync::{Arc, LazyLock};

fn list(name: &str, item: DataType) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, true))),
        false,
    )
}

static SHARES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("function", DataType::Utf8, false),
        Field::new("self", DataType::Int64, false),
        Field::new("total", DataType::Int64, false),
        Field::new("self_pct", DataType::Float64, false),
        Field::new("total_pct", DataType::Float64, false),
    ]))
});

static FINDINGS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let event = Fields::from(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("score", DataType::Float64, false),
        Field::new("reason", DataType::Utf8, false),
    ]);
    Arc::new(Schema::new(vec![
        Field::new("app", DataType::Utf8, false),
        Field::new("sample_type", DataType::Utf8, false),
        Field::new("from_version", DataType::Utf8, false),
        Field::new("to_version", DataType::Utf8, false),
        Field::new("id", DataType::Utf8, false),
        Field::new("function", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("before_pct", DataType::Float64, false),
        Field::new("after_pct", DataType::Float64, false),
        Field::new("delta_pp", DataType::Float64, false),
        Field::new("self_delta_pp", DataType::Float64, false),
        Field::new("work_delta_pp", DataType::Float64, false),
        Field::new("cores", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
        Field::new("low_confidence", DataType::Boolean, false),
        Field::new("cost_shift", DataType::Boolean, false),
        list("path", DataType::Utf8),
        list("callers", DataType::Utf8),
        list("events", DataType::Struct(event)),
        Field::new("cause", DataType::Utf8, true),
    ]))
});

/// The literal string argument `i` of `name`, if given.
fn text_arg(name: &str, args: &[Expr], i: usize) -> Result<Option<String>> {
    match args.get(i) {
        None => Ok(None),
        Some(Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        )) => Ok(Some(s.clone())),
        Some(other) => Err(DataFusionError::Plan(format!(
            "{name}: argument {} must be a string literal, got {other}",
            i + 1
        ))),
    }
}

fn required(name: &str, args: &[Expr], i: usize, what: &str) -> Result<String> {
    text_arg(name, args, i)?.ok_or_else(|| {
        DataFusionError::Plan(format!("{name}: name the {what} (argument {})", i + 1))
    })
}

/// The sample type of `app` (and `version`) to use: `named`, or the preferred one.
async fn sample_type(
    ctx: &Arc<FlameContext>,
    tenant: &str,
    sel: &Selector,
    named: Option<String>,
) -> Result<(String, String)> {
    let session = tenant_session(ctx, tenant)?;
    let types = sample_type_rows(&sample_types_frame(&session, sel).await?.collect().await?)?;
    if let Some(n) = named {
        return types.into_iter().find(|(t, _)| *t == n).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "no profiles of sample type {n:?} in this selection"
            ))
        });
    }
    match preferred_sample_type(&types) {
        Ok(Some(t)) => Ok(t),
        Ok(None) => Err(DataFusionError::Plan(format!(
            "app {:?} has no profiles{}",
            sel.app.as_deref().unwrap_or(""),
            sel.version
                .as_deref()
                .map(|v| format!(" of version {v:?}"))
                .unwrap_or_default()
        ))),
        Err(names) => Err(DataFusionError::Plan(format!(
            "several sample types ({}): name one as the last argument",
            names.join(", ")
        ))),
    }
}

/// What a table function computes when scanned.
#[derive(Debug, Clone)]
enum Job {
    Shares {
        app: String,
        version: String,
        sample_type: Option<String>,
    },
    Regressions {
        app: String,
        from: String,
        to: String,
        min_pp: f64,
    },
}

/// A table function's result, computed at scan time.
#[derive(Debug)]
struct JobTable {
    bound: Bound,
    job: Job,
}

#[async_trait]
impl TableProvider for JobTable {
    fn schema(&self) -> SchemaRef {
        match self.job {
            Job::Shares { .. } => SHARES.clone(),
            Job::Regressions { .. } => FINDINGS.clone(),
        }
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = match &self.job {
            Job::Shares {
                app,
                version,
                sample_type,
            } => self.shares(app, version, sample_type.clone()).await?,
            Job::Regressions {
                app,
                from,
                to,
                min_pp,
            } => self.regressions(app, from, to, *min_pp).await?,
        };
        let schema = batch.schema();
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            schema,
            projection.cloned(),
        )?)
    }
}

impl JobTable {
    async fn shares(&self, app: &str, version: &str, named: Option<String>) -> Result<RecordBatch> {
        let (ctx, tenant) = (&self.bound.ctx, self.bound.tenant.as_str());
        let mut sel = Selector {
            app: Some(app.to_string()),
            version: Some(version.to_string()),
            ..Selector::default()
        };
        let (st, _) = sample_type(ctx, tenant, &sel, named).await?;
        sel.sample_type = Some(st);
        let tree = flame_tree(ctx, tenant, &sel, None).await?;
        let total = tree.total(0).max(1) as f64;
        let rows: Vec<serde_json::Value> = tree
            .function_totals()
            .into_iter()
            .map(|f| {
                serde_json::json!({
                    "function": f.name,
                    "self": f.self_[0],
                    "total": f.total[0],
                    "self_pct": f.self_[0] as f64 / total * 100.0,
                    "total_pct": f.total[0] as f64 / total * 100.0,
                })
            })
            .collect();
        to_batch(&SHARES, &rows)
    }

    async fn regressions(
        &self,
        app: &str,
        from: &str,
        to: &str,
        min_pp: f64,
    ) -> Result<RecordBatch> {
        let (ctx, tenant) = (&self.bound.ctx, self.bound.tenant.as_str());
        let sel = Selector {
            app: Some(app.to_string()),
            ..Selector::default()
        };
        let (st, unit) = sample_type(ctx, tenant, &sel, None).await?;
        let session = tenant_session(ctx, tenant)?;
        let all = versions(&session, app, &st).await?;
        let find = |v: &str| {
            all.iter()
                .find(|x| x.version == v)
                .ok_or_else(|| DataFusionError::Plan(format!("app {app:?} has no version {v:?}")))
        };
        let (before, after) = (find(from)?, find(to)?);
        let all_events = ctx.events().list(tenant).await.map_err(storage_err)?;
        let events = candidates(&all_events, app, before, after);
        let c = Comparison {
            app,
            sample_type: (&st, &unit),
            before,
            after,
            config: RegressionConfig {
                min_pp,
                ..RegressionConfig::default()
            },
            events: &events,
        };
        let Report { summary, findings } = compare(ctx, tenant, &c).await?;
        let rows: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                let mut v = serde_json::to_value(f).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("app".into(), summary.app.clone().into());
                    o.insert("sample_type".into(), summary.sample_type.clone().into());
                    o.insert("from_version".into(), summary.from_version.clone().into());
                    o.insert("to_version".into(), summary.to_version.clone().into());
                    o.insert(
                        "p_value".into(),
                        f.significance.as_ref().map(|s| s.p_value).into(),
                    );
                }
                v
            })
            .collect();
        to_batch(&FINDINGS, &rows)
    }
}

/// JSON rows as one batch of `schema` (fields it does not name are ignored).
fn to_batch(schema: &SchemaRef, rows: &[serde_json::Value]) -> Result<RecordBatch> {
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone()).build_decoder()?;
    decoder.serialize(rows)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema.clone())))
}

/// `function_shares(app, version [, sample_type])`.
#[derive(Debug)]
pub struct FunctionSharesFunc(pub Bound);

impl TableFunctionImpl for FunctionSharesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "function_shares";
        let a = args.exprs();
        if a.len() > 3 {
            return Err(DataFusionError::Plan(format!(
                "{NAME}(app, version [, sample_type])"
            )));
        }
        Ok(Arc::new(JobTable {
            bound: self.0.clone(),
            job: Job::Shares {
                app: required(NAME, a, 0, "app")?,
                version: required(NAME, a, 1, "version")?,
                sample_type: text_arg(NAME, a, 2)?,
            },
        }))
    }
}

/// `regressions(app, from_version, to_version [, min_pp])`.
#[derive(Debug)]
pub struct RegressionsFunc(pub Bound);

impl TableFunctionImpl for RegressionsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "regressions";
        let a = args.exprs();
        if a.len() > 4 {
            return Err(DataFusionError::Plan(format!(
                "{NAME}(app, from_version, to_version [, min_pp])"
            )));
        }
        let min_pp = match a.get(3) {
            None => RegressionConfig::default().min_pp,
            Some(Expr::Literal(v, _)) => match v.clone().cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(x))) if x.is_finite() && x > 0.0 && x <= 100.0 => x,
                _ => {
                    return Err(DataFusionError::Plan(format!(
                        "{NAME}: min_pp must be a number of percentage points above 0, at most 100"
                    )));
                }
            },
            Some(other) => {
                return Err(DataFusionError::Plan(format!(
                    "{NAME}: min_pp must be a literal number, got {other}"
                )));
            }
        };
        Ok(Arc::new(JobTable {
            bound: self.0.clone(),
            job: Job::Regressions {
                app: required(NAME, a, 0, "app")?,
                from: required(NAME, a, 1, "from_version")?,
                to: required(NAME, a, 2, "to_version")?,
                min_pp,
            },
        }))
    }
}
