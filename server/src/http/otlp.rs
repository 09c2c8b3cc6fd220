//! OTLP/HTTP profiles: `POST /v1development/profiles`, an
//! `ExportProfilesServiceRequest` (opentelemetry-proto's
//! `collector/profiles/v1development`) as protobuf (`application/x-protobuf`) or JSON
//! (`application/json`), as the OpenTelemetry Collector's `otlphttp` exporter and the
//! eBPF profiler send it. Every profile of the request is stored whole or none is
//! ([`flamedb_service::ingest::expand`] splits the request, its shared dictionary
//! imported once by the decoder). Resource, scope and profile attributes are series
//! labels; the app is `service.name`, else `process.executable.name`, else
//! `unknown_service`; `service.version` is the version and `cloud.region` the dc
//! ([`flamedb_service::ingest::canonical_labels`]). The answer is an empty
//! `ExportProfilesServiceResponse` in the request's encoding.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::{admit, body_of, record, store_all};
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use flamedb_profile::Format;

/// The route.
pub const OTLP_PATH: &str = "/v1development/profiles";

/// The app of a profile without `service.name`, as OpenTelemetry names an unknown one.
pub const UNKNOWN_SERVICE: &str = "unknown_service";

/// `POST /v1development/profiles`.
pub async fn export(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let _slot = admit(&state, &tenant)?;
    let content_type = super::content_type(&headers).to_ascii_lowercase();
    let json = content_type.starts_with("application/json");
    if !json && !content_type.starts_with("application/x-protobuf") {
        return Err(ApiError::bad_request(format!(
            "Content-Type {content_type:?}: send application/x-protobuf or application/json"
        )));
    }
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let request = record(&tenant, Vec::new(), Some(Format::Otlp), 0, data);
    let limits = state.store.config().decode;
    let mut entries = tokio::task::spawn_blocking(move || {
        flamedb_service::ingest::expand(vec![request.into()], &limits)
    })
    .await
    .map_err(ApiError::internal)??;
    let max = state.limits.max_profiles_per_request;
    if entries.len() > max {
        return Err(ApiError::too_large(format!(
            "{} profiles in one OTLP request, the limit is {max} (--max-profiles-per-request)",
            entries.len()
        )));
    }
    for entry in &mut entries {
        let labels = &mut entry.record.labels;
        if !labels.iter().any(|(k, v)| k == "app" && !v.is_empty()) {
            let app = labels
                .iter()
                .find(|(k, v)| k == "process.executable.name" && !v.is_empty())
                .map_or(UNKNOWN_SERVICE.to_string(), |(_, v)| v.clone());
            labels.push(("app".to_string(), app));
        }
    }
    store_all(&state, &tenant, OTLP_PATH, received, entries).await?;
    Ok(if json {
        ([(CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        ([(CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new()).into_response()
    })
}
