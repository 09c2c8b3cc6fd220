//! The built-in explorer: `GET /` serves a page (HTML, one script, one style sheet, all
//! embedded in the binary: no network and no build step at run time) that drives the
//! public API from the browser: apps and labels, a totals series with a brush, the merged
//! flame graph (inferno's SVG, which has its own search and zoom) with a top-functions
//! table, a diff of two versions or two periods, findings, and a SQL box that runs the SQL
//! behind each view.
//!
//! The page and its assets hold no data and need no token. Every request the page makes
//! goes through the API routes with the token the user types (kept in the tab's
//! `sessionStorage`) and the tenant picked, so auth, tenancy and limits are the API's.
//! `GET /api/v1/whoami` tells the page which tenants the token may pick.

use super::error::ApiResult;
use axum::Extension;
use axum::Json;
use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flamedb_service::tenant::Grant;

/// The page.
const INDEX: &str = include_str!("../../assets/explorer/index.html");
/// Its script.
const SCRIPT: &str = include_str!("../../assets/explorer/explorer.js");
/// Its style sheet.
const STYLE: &str = include_str!("../../assets/explorer/explorer.css");

/// The page's routes (outside authentication: they serve no data).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/explorer/{file}", get(asset))
}

/// `GET /`.
async fn index() -> Response {
    static_file("text/html; charset=utf-8", INDEX)
}

/// `GET /explorer/{file}`: the script and the style sheet.
async fn asset(Path(file): Path<String>) -> ApiResult<Response> {
    match file.as_str() {
        "explorer.js" => Ok(static_file("text/javascript; charset=utf-8", SCRIPT)),
        "explorer.css" => Ok(static_file("text/css; charset=utf-8", STYLE)),
        _ => Err(super::error::ApiError::new(
            super::error::ErrorKind::NotFound,
            format!("no explorer asset {file:?}"),
        )),
    }
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            // The page is never framed by another site (its blob: frames are its own).
            (
                HeaderName::from_static("content-security-policy"),
                HeaderValue::from_static("frame-ancestors 'self'"),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/v1/whoami`: the tenants the request's token may act for (`"*"`: any) and
/// its role (`write` or `read`). Without configured tokens: every tenant, `write`.
pub async fn whoami(Extension(grant): Extension<Grant>) -> Json<serde_json::Value> {
    let tenants = match grant.tenants() {
        None => serde_json::json!("*"),
        Some(list) => serde_json::json!(list),
    };
    Json(serde_json::json!({
        "tenants": tenants,
        "role": if grant.write { "write" } else { "read" },
    }))
}
