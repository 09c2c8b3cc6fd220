//! The ingest path shared by every ingest endpoint, and flamedb's own
//! `POST /api/v1/ingest?app=&version=&dc=&label.K=V&format=`.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::limits::read_body;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_service::ingest::{self, IngestRequest, IngestSummary};
use flamedb_service::limits::IngestSlot;
use flamedb_storage::{WalEntry, WalRecord};

/// Takes one request from the tenant's rate limit, then one of the server's ingest slots
/// (before the body is read); the slot is held until the returned guard is dropped.
pub fn admit(state: &AppState, tenant: &Tenant) -> ApiResult<IngestSlot> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    Ok(state.ingest_slots.try_take()?)
}

/// Reads the body (bounded, gzip undone) and charges its size to the tenant's byte rate.
pub async fn body_of(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<(Bytes, usize)> {
    let (data, received) = read_body(headers, body, &state.limits).await?;
    state.rate.check(&tenant.0, 0.0, received as f64)?;
    Ok((data, received))
}

/// [`body_of`] for a request whose body is small by nature (SQL text, a query RPC, a
/// finding's new state): at most `max` bytes as received and `max` after gzip, checked
/// while reading and inflating, so a large or bomb body is refused before it is held.
pub async fn small_body_of(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> ApiResult<Bytes> {
    let limits = super::limits::HttpLimits {
        max_body_bytes: max.min(state.limits.max_body_bytes),
        max_decompressed_bytes: (max as u64).min(state.limits.max_decompressed_bytes),
        ..*state.limits
    };
    let (data, received) = read_body(headers, body, &limits).await?;
    state.rate.check(&tenant.0, 0.0, received as f64)?;
    Ok(data)
}

/// Stores the entries all or nothing through the service
/// ([`flamedb_service::ingest::ingest`]) and counts them in the metrics of `endpoint`.
pub async fn store_all(
    state: &AppState,
    tenant: &Tenant,
    endpoint: &str,
    received: usize,
    entries: Vec<WalEntry>,
) -> ApiResult<IngestSummary> {
    let tenant = tenant.service();
    let result = ingest::ingest(&state.store, IngestRequest { tenant, entries }).await;
    let summary = result.as_ref().copied().unwrap_or_default();
    state
        .metrics
        .ingested(endpoint, received, summary.profiles, summary.samples);
    Ok(result?)
}

/// A record for the store, for a request of `tenant`.
pub fn record(
    tenant: &Tenant,
    labels: Vec<(String, String)>,
    format: Option<Format>,
    time_nanos: i64,
    data: Bytes,
) -> WalRecord {
    ingest::record(&tenant.service(), labels, format, time_nanos, data)
}

/// Parsed query of `/api/v1/ingest`.
#[derive(Debug, Default)]
struct ApiIngestQuery {
    labels: Vec<(String, String)>,
    format: Option<Format>,
    time_nanos: i64,
    event: String,
}

fn parse_api_query(query: Option<&str>) -> ApiResult<ApiIngestQuery> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("query string: {e}")))?;
    let mut q = ApiIngestQuery::default();
    for (k, v) in pairs {
        match k.as_str() {
            "app" | "version" | "dc" => q.labels.push((k, v)),
            "format" => {
                q.format = match v.as_str() {
                    "" | "auto" => None,
                    f => Some(f.parse().map_err(|e: flamedb_profile::Error| {
                        ApiError::bad_request(format!("format: {e} or auto"))
                    })?),
                }
            }
            "time" | "from" => q.time_nanos = flamedb_service::parse::parse_time(&v)?,
            "event" => q.event = v,
            other => match other.strip_prefix("label.") {
                Some(name) => q.labels.push((name.to_string(), v)),
                None => {
                    return Err(ApiError::bad_request(format!(
                        "unknown query parameter {other:?}: use app, version, dc, label.NAME, format, time, event"
                    )));
                }
            },
        }
    }
    if !q.labels.iter().any(|(k, v)| k == "app" && !v.is_empty()) {
        return Err(ApiError::bad_request("missing app: add ?app=NAME"));
    }
    Ok(q)
}

/// `POST /api/v1/ingest`: one profile (pprof, folded or perf script, gzip or not) as
/// the body; answers `{"profiles": 1, "samples": N}` once it is durable.
pub async fn api_ingest(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<IngestSummary>> {
    let _slot = admit(&state, &tenant)?;
    let q = parse_api_query(query.as_deref())?;
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let mut r = record(&tenant, q.labels, q.format, q.time_nanos, data);
    r.perf_event = q.event;
    let summary = store_all(&state, &tenant, "/api/v1/ingest", received, vec![r.into()]).await?;
    Ok(Json(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_query_is_checked() {
        let q = parse_api_query(Some("app=a&version=1&label.team=x&format=folded")).unwrap();
        assert_eq!(q.format, Some(Format::Folded));
        assert!(q.labels.contains(&("team".into(), "x".into())));
        for (bad, says) in [
            ("version=1", "missing app"),
            ("app=a&format=xml", "not a format"),
            ("app=a&colour=red", "unknown query parameter"),
        ] {
            let e = parse_api_query(Some(bad)).unwrap_err();
            assert!(e.message.contains(says), "{bad}: {e}");
        }
    }
}
