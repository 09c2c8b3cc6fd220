//! `POST /api/v1/events` (one change event as a JSON object, or an array of them;
//! answered once durable) and `GET /api/v1/events?app=&from=&until=`: the service's
//! [`flamedb_service::events`] behind the API's auth, tenant and limits. A post takes an
//! ingest slot and is charged to the tenant's byte rate, like any write.

use super::AppState;
use super::auth::Tenant;
use super::error::ApiResult;
use super::ingest::{admit, body_of};
use crate::params;
use axum::Json;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use flamedb_service::events::{self, EventsAnswer, Stored};

/// `POST /api/v1/events`.
pub async fn post_events(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Stored>> {
    let _slot = admit(&state, &tenant)?;
    let (data, _) = body_of(&state, &tenant, &headers, body).await?;
    let stored = events::post(&state.engine, &tenant.0, &data, &state.limits.events).await?;
    Ok(Json(stored))
}

/// `GET /api/v1/events`.
pub async fn get_events(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<EventsAnswer>> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let req = params::events_request(&params::pairs(query.as_deref())?)?;
    Ok(Json(events::list(&state.engine, &tenant.0, &req).await?))
}
