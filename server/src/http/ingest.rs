//! The ingest path shared by every ingest endpoint, and flamedb's own
//! `POST /api/v1/ingest?app=&version=&dc=&label.K=V&format=`.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::limits::{IngestSlot, read_body};
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_storage::{WalEntry, WalRecord};
use serde::Serialize;

/// Label names read as `version` when `version` itself is absent, first match wins.
pub const VERSION_ALIASES: &[&str] = &["service_version", "service.version", "app_version"];

/// Label names read as `dc` (data center) when `dc` itself is absent, first match wins.
pub const DC_ALIASES: &[&str] = &[
    "datacenter",
    "data_center",
    "region",
    "cloud.region",
    "cloud_region",
];

/// Label names read as `app` when `app` itself is absent (Pyroscope's `service_name`).
pub const APP_ALIASES: &[&str] = &["service_name", "service.name"];

/// What an ingest request stored.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct IngestSummary {
    /// Profiles stored durably.
    pub profiles: u64,
    /// Samples in them.
    pub samples: u64,
}

/// Adds `app`, `version` and `dc` from their aliases when absent; every given label stays.
pub fn canonical_labels(mut labels: Vec<(String, String)>) -> Vec<(String, String)> {
    for (canonical, aliases) in [
        ("app", APP_ALIASES),
        ("version", VERSION_ALIASES),
        ("dc", DC_ALIASES),
    ] {
        if labels.iter().any(|(k, v)| k == canonical && !v.is_empty()) {
            continue;
        }
        let found = aliases.iter().find_map(|alias| {
            labels
                .iter()
                .find(|(k, v)| k == alias && !v.is_empty())
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = found {
            labels.push((canonical.to_string(), v));
        }
    }
    labels
}

/// Takes one request from the tenant's rate limit, then one of the server's ingest slots
/// (before the body is read); the slot is held until the returned guard is dropped.
pub fn admit(state: &AppState, tenant: &Tenant) -> ApiResult<IngestSlot> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    state.ingest_slots.try_take()
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

/// Appends the entries all or nothing ([`flamedb_storage::Store::append_batch`]: every
/// profile is decoded and validated first, then all go into one write-ahead log record)
/// and returns once they are durable.
pub async fn store_all(
    state: &AppState,
    endpoint: &str,
    received: usize,
    entries: Vec<WalEntry>,
) -> ApiResult<IngestSummary> {
    let result = state.store.append_batch(entries).await;
    let mut summary = IngestSummary::default();
    if let Ok(receipts) = &result {
        summary.profiles = receipts.len() as u64;
        summary.samples = receipts.iter().map(|r| r.samples).sum();
    }
    state
        .metrics
        .ingested(endpoint, received, summary.profiles, summary.samples);
    result.map(|_| summary).map_err(ApiError::from)
}

/// A record for the store.
pub fn record(
    tenant: &Tenant,
    labels: Vec<(String, String)>,
    format: Option<Format>,
    time_nanos: i64,
    data: Bytes,
) -> WalRecord {
    WalRecord {
        tenant: tenant.0.clone(),
        labels: canonical_labels(labels),
        format,
        time_nanos,
        perf_event: String::new(),
        data,
    }
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
            "time" | "from" => q.time_nanos = super::pyroscope::parse_time(&v)?,
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
    let summary = store_all(&state, "/api/v1/ingest", received, vec![r.into()]).await?;
    Ok(Json(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn aliases_fill_in_missing_canonical_labels() {
        let l = canonical_labels(pairs(&[
            ("service_name", "api"),
            ("service_version", "1.2"),
            ("region", "eu"),
        ]));
        assert!(l.contains(&("app".into(), "api".into())));
        assert!(l.contains(&("version".into(), "1.2".into())));
        assert!(l.contains(&("dc".into(), "eu".into())));
        assert!(
            l.contains(&("region".into(), "eu".into())),
            "originals stay"
        );
        let l = canonical_labels(pairs(&[("dc", "us"), ("region", "eu")]));
        assert_eq!(l.iter().filter(|(k, _)| k == "dc").count(), 1);
    }

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
