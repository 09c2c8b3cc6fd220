//! Regression findings over HTTP: `GET /api/v1/findings?state=&app=` (the tenant's
//! findings with their lifecycle), `PATCH /api/v1/findings/{id}` with `{"state": ...}`
//! (open, acknowledged, fixed, wontfix), and `POST /api/v1/inspect` (an inspection of
//! the caller's tenant now, as the background one does every --inspect-interval-secs;
//! its alerts go out in the background).

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use crate::params;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use flamedb_service::inspect::{FindingRecord, FindingState, FindingsAnswer, InspectReport};

/// `GET /api/v1/findings`.
pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<FindingsAnswer>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let (mut st, mut app) = (None, None);
    for (k, v) in params::pairs(query.as_deref())? {
        match k.as_str() {
            "state" if !v.is_empty() => st = Some(FindingState::parse(&v)?),
            "app" if !v.is_empty() => app = Some(v),
            "state" | "app" => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {k:?}: use state, app"
                )));
            }
        }
    }
    Ok(Json(
        state.inspector.list(&tenant.0, st, app.as_deref()).await?,
    ))
}

/// The body of a PATCH.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    state: String,
}

/// `PATCH /api/v1/findings/{id}`.
pub async fn patch(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Json<FindingRecord>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let body = super::ingest::small_body_of(
        &state,
        &tenant,
        &headers,
        body,
        super::limits::MAX_QUERY_BODY_BYTES,
    )
    .await?;
    if body.len() > 4096 {
        return Err(ApiError::bad_request(
            "the body is larger than 4 KiB: send {\"state\": ...}",
        ));
    }
    let p: Patch = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!("the body must be {{\"state\": \"...\"}}: {e}"))
    })?;
    let s = FindingState::parse(&p.state)?;
    Ok(Json(state.inspector.set_state(&tenant.0, &id, s).await?))
}

/// `POST /api/v1/inspect`.
pub async fn inspect(
    State(state): State<AppState>,
    tenant: Tenant,
) -> ApiResult<Json<InspectReport>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let report = state.inspector.inspect(&tenant.0).await?;
    state
        .alerter
        .spawn_round(state.inspector.clone(), tenant.0.clone());
    Ok(Json(report))
}
