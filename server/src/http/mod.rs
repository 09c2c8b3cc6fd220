//! The HTTP API.
//!
//! ```text
//!  request ─► track (metrics) ─► connect_errors (push route) ─► timeout ─► auth (API routes)
//!      ─► handler: Tenant (X-Scope-OrgID) ─► rate limit ─► ingest slot (429 when all taken)
//!      ─► bounded body (+ gzip, bounded)
//!      ─► Store::append (decode, WAL fsync) ─► 200 only once durable
//!      ─► query routes: flamedb_service::query (tenant session, read-only SQL, limits) ─► stream
//! ```
//!
//! Tour:
//! - [`router`] and [`AppState`]: what every route shares. Query routes ([`query`]) merge
//!   into [`api_routes`], so they get the same auth, tenant, limits and metrics.
//! - [`error`]: the one [`error::ApiError`], status and JSON body per kind.
//! - [`ingest`]: the shared ingest path and `POST /api/v1/ingest`;
//!   [`pyroscope`]: `POST /ingest` (with the service's sample type configs and sample
//!   rates, which `flamedb ingest --sample-rate` shares);
//!   [`push`]: the Connect push RPC; [`otlp`]: OTLP profiles over HTTP and gRPC; [`querier`]: Pyroscope's querier API (Connect, for
//!   Grafana, Drilldown and Pyroscope's UI; messages in [`querier_proto`]); [`events`]: change events posted and listed;
//!   [`findings`]: regression findings, their states, inspections now; [`alerts`]: the
//!   webhooks new findings go to (outbound, in the background); [`explorer`]: the page at
//!   `/` and `GET /api/v1/whoami`.
//! - [`auth`]: bearer tokens and tenants; [`limits`]: bodies and deadlines (rate limits
//!   and ingest slots are the service's, `flamedb_service::limits`);
//!   [`metrics`]: `GET /metrics`.

pub mod alerts;
pub mod auth;
pub mod error;
pub mod events;
pub mod explorer;
pub mod findings;
pub mod import;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod otlp;
pub mod push;
pub mod pyroscope;
pub mod querier;
pub mod querier_proto;
pub mod query;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use error::{ApiError, ErrorKind};
use flamedb_service::inspect::Inspector;
use flamedb_service::limits::{IngestSlots, RateLimiter};
use flamedb_service::query::Engine;
use flamedb_storage::Store;
use std::sync::Arc;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store (WAL-durable appends, blocks).
    pub store: Arc<Store>,
    /// Body, request and rate limits.
    pub limits: Arc<limits::HttpLimits>,
    /// Per-tenant token buckets.
    pub rate: Arc<RateLimiter>,
    /// The cap on ingest requests handled at once.
    pub ingest_slots: Arc<IngestSlots>,
    /// Accepted bearer tokens.
    pub auth: Arc<auth::Auth>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// The query engine over the store's blocks.
    pub engine: Arc<Engine>,
    /// What a maintenance pass does (`POST /api/v1/compact` and the background one).
    pub compaction: Arc<flamedb_storage::CompactionConfig>,
    /// Held for a maintenance pass: two passes over the same blocks at once would each
    /// replace them (the storage allows one compactor per tenant).
    pub maintenance: Arc<tokio::sync::Mutex<()>>,
    /// Regression inspections and their findings.
    pub inspector: Arc<Inspector>,
    /// Where new findings are alerted (no receiver by default).
    pub alerter: Arc<alerts::Alerter>,
}

impl AppState {
    /// State over `store` with these limits, tokens and query engine, and fresh metrics.
    pub fn new(
        store: Store,
        limits: limits::HttpLimits,
        auth: auth::Auth,
        engine: Arc<Engine>,
    ) -> Self {
        let metrics = Arc::new(metrics::Metrics::default());
        let inspector = {
            let (objects, root) = store.objects();
            Arc::new(Inspector::new(
                engine.clone(),
                objects.clone(),
                root.clone(),
                flamedb_query::regress::RegressionConfig::default().min_pp,
            ))
        };
        AppState {
            store: Arc::new(store),
            rate: Arc::new(RateLimiter::new(limits.rate)),
            ingest_slots: Arc::new(IngestSlots::new(
                limits.max_concurrent_ingests,
                metrics.ingest_in_flight.clone(),
            )),
            limits: Arc::new(limits),
            auth: Arc::new(auth),
            metrics,
            engine,
            compaction: Arc::new(flamedb_storage::CompactionConfig::default()),
            maintenance: Arc::new(tokio::sync::Mutex::new(())),
            inspector,
            alerter: Arc::new(alerts::Alerter::none()),
        }
    }
}

/// The routes that need a token (when tokens are configured) and a tenant: ingest and
/// query.
pub fn api_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/ingest", post(pyroscope::ingest))
        .route(push::PUSH_PATH, post(push::push))
        .route(otlp::OTLP_PATH, post(otlp::export))
        .route(otlp::OTLP_GRPC_PATH, post(otlp::export_grpc))
        .route("/querier.v1.QuerierService/{method}", post(querier::call))
        .route("/pyroscope/render", get(querier::legacy::render))
        .route("/pyroscope/render-diff", get(querier::legacy::render_diff))
        .route(
            "/pyroscope/label-values",
            get(querier::legacy::label_values),
        )
        .route("/api/v1/ingest", post(ingest::api_ingest))
        .route("/api/v1/import", post(import::api_import))
        .route(
            "/api/v1/events",
            post(events::post_events).get(events::get_events),
        )
        .route("/api/v1/findings", get(findings::list))
        .route("/api/v1/findings/{id}", patch(findings::patch))
        .route("/api/v1/inspect", post(findings::inspect))
        .route("/api/v1/whoami", get(explorer::whoami))
        .merge(query::routes())
        .route_layer(from_fn_with_state(state.clone(), auth::require_token))
}

/// The whole HTTP API: [`api_routes`] plus `/healthz`, `/metrics` and the explorer page
/// at `/` ([`explorer`]; no token needed: they serve no tenant's data),
/// with the metrics, Connect-error and timeout layers.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api_routes(&state))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .merge(explorer::routes())
        .fallback(not_found)
        .layer(from_fn_with_state(state.clone(), timeout))
        .layer(from_fn(push::connect_errors))
        .layer(from_fn(otlp::grpc_errors))
        .layer(from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// The request's `Content-Type` ("" when absent or not text).
pub fn content_type(headers: &axum::http::HeaderMap) -> &str {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A multipart/form-data reader over a body already read (and bounded); a bad boundary
/// is a 400 starting with `what`.
pub fn multipart_form(
    content_type: &str,
    body: bytes::Bytes,
    what: &str,
) -> error::ApiResult<multer::Multipart<'static>> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| error::ApiError::bad_request(format!("{what}: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    Ok(multer::Multipart::new(stream, boundary))
}

/// `GET /healthz`.
async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        format!("no route {} {}", request.method(), request.uri().path()),
    )
}

/// Middleware: answers 503 when a request takes longer than the request timeout. A
/// profile whose append was already queued may still be stored (the client retries;
/// ingest is at least once).
async fn timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            ErrorKind::Unavailable,
            format!("request timed out after {} s", limit.as_secs_f64()),
        )
        .into_response(),
    }
}
