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
//!
//! OTLP/gRPC is the same request as the unary RPC `ProfilesService/Export` over HTTP/2
//! (h2c, as collectors send it without TLS) on the API's listener and on
//! `--otlp-grpc-listen`: one length-prefixed message (gzip when `grpc-encoding: gzip`),
//! the empty response message and `grpc-status: 0` in the trailers; a refusal is a
//! trailers-only answer with its gRPC status and message ([`grpc_errors`]). Metadata
//! `authorization: Bearer` and `x-scope-orgid` are the token and tenant, as on every
//! route, with the same limits.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult, grpc_code};
use super::ingest::{admit, body_of, record, store_all};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flamedb_profile::Format;
use http_body::Frame;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// The route.
pub const OTLP_PATH: &str = "/v1development/profiles";

/// The gRPC method.
pub const OTLP_GRPC_PATH: &str =
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";

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
    store_request(&state, &tenant, data, received, OTLP_PATH).await?;
    Ok(if json {
        ([(CONTENT_TYPE, "application/json")], "{}").into_response()
    } else {
        ([(CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new()).into_response()
    })
}

/// Stores every profile of an `ExportProfilesServiceRequest` (protobuf or JSON).
async fn store_request(
    state: &AppState,
    tenant: &Tenant,
    data: bytes::Bytes,
    received: usize,
    endpoint: &str,
) -> ApiResult<()> {
    let request = record(tenant, Vec::new(), Some(Format::Otlp), 0, data);
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
    store_all(state, tenant, endpoint, received, entries).await?;
    Ok(())
}

/// `ProfilesService/Export` over gRPC.
pub async fn export_grpc(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let _slot = admit(&state, &tenant)?;
    let content_type = super::content_type(&headers).to_ascii_lowercase();
    if !content_type.starts_with("application/grpc") {
        return Err(ApiError::bad_request(format!(
            "Content-Type {content_type:?}: gRPC requests are application/grpc"
        )));
    }
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let message = grpc_message(&headers, &data, state.limits.max_decompressed_bytes)?;
    store_request(&state, &tenant, message, received, OTLP_GRPC_PATH).await?;
    // The empty response message, then `grpc-status: 0` in the trailers.
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = futures::stream::iter([
        Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))),
        Ok(Frame::trailers(trailers)),
    ]);
    Ok((
        [(CONTENT_TYPE, "application/grpc")],
        Body::new(http_body_util::StreamBody::new(frames)),
    )
        .into_response())
}

/// The one message of a unary gRPC request body: a compressed flag, a big-endian
/// length and that many bytes; gzip when flagged (`grpc-encoding: gzip`).
fn grpc_message(headers: &HeaderMap, data: &[u8], max_decompressed: u64) -> ApiResult<Bytes> {
    let bad = |m: &str| ApiError::bad_request(format!("gRPC message: {m}"));
    if data.len() < 5 {
        return Err(bad("shorter than its 5-byte prefix"));
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    if data.len() - 5 != len {
        return Err(bad(&format!(
            "the prefix says {len} bytes, the body holds {} (one message per unary call)",
            data.len() - 5
        )));
    }
    let message = &data[5..];
    match data[0] {
        0 => Ok(Bytes::copy_from_slice(message)),
        1 => {
            let encoding = headers
                .get("grpc-encoding")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if encoding != "gzip" {
                return Err(bad(&format!(
                    "compressed with {encoding:?}; send gzip or identity"
                )));
            }
            let limits = flamedb_profile::DecodeLimits {
                max_decompressed_bytes: max_decompressed,
                ..flamedb_profile::DecodeLimits::default()
            };
            let out = flamedb_profile::gzip::maybe_gunzip(message, &limits)?;
            Ok(Bytes::from(out.into_owned()))
        }
        f => Err(bad(&format!("compressed flag {f}"))),
    }
}

/// Middleware: on the gRPC route, an [`ApiError`] answer (from the handler, auth or the
/// timeout) becomes a trailers-only gRPC answer: HTTP 200, `grpc-status` and a
/// percent-encoded `grpc-message`.
pub async fn grpc_errors(request: Request, next: Next) -> Response {
    let is_grpc = request.uri().path() == OTLP_GRPC_PATH;
    let response = next.run(request).await;
    if !is_grpc {
        return response;
    }
    match response.extensions().get::<ApiError>() {
        Some(e) => {
            // gRPC's rule: bytes outside printable ASCII, and `%`, are percent-encoded.
            const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');
            let message = utf8_percent_encode(&e.message, GRPC_MESSAGE).to_string();
            let mut r = Response::new(Body::empty());
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
            h.insert("grpc-status", HeaderValue::from(grpc_code(e.kind)));
            if let Ok(v) = HeaderValue::from_str(&message) {
                h.insert("grpc-message", v);
            }
            r
        }
        None => response,
    }
}
