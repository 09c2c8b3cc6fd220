//! The query routes: `POST /api/v1/sql` (streamed JSON, CSV or Arrow IPC),
//! `GET /api/v1/flamegraph`, `GET /api/v1/diff`, `GET /api/v1/series`, `GET /api/v1/apps`,
//! `GET /api/v1/labels`, `GET /api/v1/labels/{name}/values`, `GET /api/v1/regressions`,
//! and `POST /api/v1/flush`
//! (makes everything acknowledged so far queryable). Every query runs in a session of the
//! request's tenant only (`X-Scope-OrgID`).

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::small_body_of;
use crate::params;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use flamedb_service::query::encode::{Encoder, ResultFormat};
use flamedb_service::query::flame;
use flamedb_service::query::{ResultStream, SqlRequest, meta};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Largest SQL text accepted, in bytes (and the largest SQL body, before and after gzip).
pub const MAX_SQL_BYTES: usize = super::limits::MAX_QUERY_BODY_BYTES;

/// Response header saying how many rows a SQL result holds at most (more are cut).
pub const MAX_ROWS_HEADER: &str = "x-flamedb-max-rows";

/// The query routes (merged into the authenticated API routes).
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/sql", post(sql))
        .route("/api/v1/flamegraph", get(flamegraph))
        .route("/api/v1/diff", get(diff))
        .route("/api/v1/series", get(series))
        .route("/api/v1/apps", get(apps))
        .route("/api/v1/labels", get(labels))
        .route("/api/v1/labels/{name}/values", get(label_values))
        .route("/api/v1/regressions", get(regressions))
        .route("/api/v1/flush", post(flush))
        .route("/api/v1/compact", post(compact))
}

/// The body of `POST /api/v1/sql` as JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlBody {
    sql: String,
    #[serde(default)]
    settings: BTreeMap<String, serde_json::Value>,
}

/// The SQL text and settings of a body: JSON `{"sql", "settings"}` or plain SQL.
fn parse_sql_body(headers: &HeaderMap, data: &[u8]) -> ApiResult<SqlRequest> {
    if data.len() > MAX_SQL_BYTES {
        return Err(ApiError::too_large(format!(
            "SQL text over {MAX_SQL_BYTES} bytes"
        )));
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| ApiError::bad_request("the SQL text is not UTF-8"))?;
    let is_json = super::content_type(headers).starts_with("application/json")
        || text.trim_start().starts_with('{');
    if !is_json {
        return Ok(SqlRequest {
            sql: text.to_string(),
            settings: vec![],
        });
    }
    let body: SqlBody = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "JSON body: {e}; send {{\"sql\": \"SELECT ...\", \"settings\": {{\"flame.max_nodes\": 2048}}}} or plain SQL"
        ))
    })?;
    let settings = body
        .settings
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_)) => {
                Ok((k, v.to_string()))
            }
            _ => Err(ApiError::bad_request(format!(
                "setting {k}: use a string, number or boolean"
            ))),
        })
        .collect::<ApiResult<_>>()?;
    Ok(SqlRequest {
        sql: body.sql,
        settings,
    })
}

/// `?format=` wins over `Accept`; JSON by default.
fn result_format(query: Option<&str>, headers: &HeaderMap) -> ApiResult<ResultFormat> {
    let pairs = params::pairs(query)?;
    if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "format") {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {k:?}: use format=json|csv|arrow"
        )));
    }
    if let Some((_, v)) = pairs.last() {
        return ResultFormat::from_name(v)
            .ok_or_else(|| ApiError::bad_request(format!("format {v:?}: use json, csv or arrow")));
    }
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    Ok(accept
        .and_then(ResultFormat::from_accept)
        .unwrap_or(ResultFormat::Json))
}

/// `POST /api/v1/sql`: read-only SQL over the tenant's `samples` and `profiles`. The
/// answer streams batch by batch; an error before the first batch is a status with
/// `{"error"}`, one after it (the deadline) cuts the body short.
async fn sql(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let format = result_format(query.as_deref(), &headers)?;
    let data = small_body_of(&state, &tenant, &headers, body, MAX_SQL_BYTES).await?;
    let req = parse_sql_body(&headers, &data)?;
    let timer = state.metrics.query_timer("/api/v1/sql");
    let results = state.engine.sql(&tenant.0, &req).await?;
    format
        .check(&results.schema)
        .map_err(ApiError::bad_request)?;
    let encoder = Encoder::new(format, &results.schema).map_err(ApiError::internal)?;
    let chunks = futures::stream::unfold(Some((results, encoder, timer)), next_chunk);
    Ok((
        [
            (CONTENT_TYPE, format.content_type().to_string()),
            (
                HeaderName::from_static(MAX_ROWS_HEADER),
                state.engine.limits().max_rows.to_string(),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

type Streaming = (ResultStream, Encoder, super::metrics::QueryTimer);

/// The next bytes of a streamed result; the state is `None` once it ended.
async fn next_chunk(
    state: Option<Streaming>,
) -> Option<(std::io::Result<Bytes>, Option<Streaming>)> {
    let (mut results, mut encoder, timer) = state?;
    let bytes = match results.next().await {
        Some(Ok(batch)) => encoder.batch(&batch).map_err(|e| e.to_string()),
        Some(Err(e)) => Err(e.message),
        None => {
            let end = encoder.finish(&results.schema).map_err(|e| e.to_string());
            return Some((end.map(Bytes::from).map_err(std::io::Error::other), None));
        }
    };
    match bytes {
        Ok(b) => Some((Ok(Bytes::from(b)), Some((results, encoder, timer)))),
        Err(e) => {
            tracing::warn!(error = %e, rows = encoder.rows(), "SQL result stream cut");
            Some((Err(std::io::Error::other(e)), None))
        }
    }
}

/// `GET /api/v1/flamegraph?app=&...&format=`.
async fn flamegraph(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::flame_request(&params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/flamegraph");
    let r = flame::render(&state.engine, &tenant.0, req).await?;
    Ok(([(CONTENT_TYPE, r.content_type)], r.body).into_response())
}

/// `GET /api/v1/diff?left.version=&right.version=&...&format=`.
async fn diff(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::diff_request(&params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/diff");
    let r = flame::render_diff(&state.engine, &tenant.0, req).await?;
    Ok(([(CONTENT_TYPE, r.content_type)], r.body).into_response())
}

/// `GET /api/v1/series?app=&step=60s&group_by=version&sample_type=&from=&until=`.
async fn series(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<meta::SeriesAnswer>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::series_request(&params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/series");
    Ok(Json(meta::series(&state.engine, &tenant.0, &req).await?))
}

/// `GET /api/v1/apps`.
async fn apps(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<meta::AppsAnswer>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let (selection, _) = params::selector(&params::pairs(query.as_deref())?, &[])?;
    let _timer = state.metrics.query_timer("/api/v1/apps");
    Ok(Json(
        meta::apps(&state.engine, &tenant.0, &selection).await?,
    ))
}

/// `GET /api/v1/labels`.
async fn labels(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<meta::LabelNames>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::labels_request(&params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/labels");
    Ok(Json(
        meta::label_names(&state.engine, &tenant.0, &req).await?,
    ))
}

/// `GET /api/v1/labels/{name}/values`.
async fn label_values(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<meta::LabelValues>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::label_values_request(name, &params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/labels/{name}/values");
    Ok(Json(
        meta::label_values(&state.engine, &tenant.0, &req).await?,
    ))
}

/// `GET /api/v1/regressions?app=&from_version=&to_version=&sample_type=&min_pp=`.
async fn regressions(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<flamedb_service::query::regress::RegressionAnswer>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::regression_request(&params::pairs(query.as_deref())?)?;
    let _timer = state.metrics.query_timer("/api/v1/regressions");
    Ok(Json(
        flamedb_service::query::regress::regressions(&state.engine, &tenant.0, &req).await?,
    ))
}

/// `POST /api/v1/flush`: writes the caller's tenant's heads to blocks now (the server also
/// does so by itself, by age and size; queries flush what they need first).
async fn flush(
    State(state): State<AppState>,
    tenant: Tenant,
) -> ApiResult<Json<serde_json::Value>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let blocks = state.store.flush_tenant(&tenant.0).await?;
    state.metrics.blocks_written.inc_by(blocks.len() as u64);
    Ok(Json(serde_json::json!({ "blocks": blocks.len() })))
}

/// `POST /api/v1/compact`: one maintenance pass over the caller's tenant now (the server
/// also runs one every `--maintain-interval-secs`): partitions with enough blocks are
/// compacted, settled days get shared dictionaries, superseded and expired blocks are
/// deleted. Answers what it did; totals read by queries do not change.
async fn compact(
    State(state): State<AppState>,
    tenant: Tenant,
) -> ApiResult<Json<serde_json::Value>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let _one_at_a_time = state.maintenance.lock().await;
    let report = state.store.maintain(&tenant.0, &state.compaction).await;
    let report = state.metrics.count_maintenance(report)?;
    Ok(Json(serde_json::json!({
        "compacted": report.compacted.len(),
        "shared_dictionaries": report.shared.len(),
        "deleted": report.deleted,
    })))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sql_bodies() {
        let h = HeaderMap::new();
        let r = parse_sql_body(&h, b"SELECT 1").unwrap();
        assert_eq!((r.sql.as_str(), r.settings.len()), ("SELECT 1", 0));
        let r = parse_sql_body(
            &h,
            br#"{"sql": "SELECT 2", "settings": {"flame.max_nodes": 10}}"#,
        )
        .unwrap();
        assert_eq!(r.sql, "SELECT 2");
        assert_eq!(r.settings, vec![("flame.max_nodes".into(), "10".into())]);
        assert!(parse_sql_body(&h, br#"{"query": "x"}"#).is_err());
        assert!(parse_sql_body(&h, &vec![b' '; MAX_SQL_BYTES + 1]).is_err());
    }

    #[test]
    fn format_parameter_wins_over_accept() {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, "text/csv".parse().unwrap());
        assert_eq!(result_format(None, &h).unwrap(), ResultFormat::Csv);
        assert_eq!(
            result_format(Some("format=arrow"), &h).unwrap(),
            ResultFormat::Arrow
        );
        assert!(result_format(Some("format=xml"), &h).is_err());
        assert!(result_format(Some("fmt=csv"), &h).is_err());
        assert_eq!(
            result_format(None, &HeaderMap::new()).unwrap(),
            ResultFormat::Json
        );
    }
}
