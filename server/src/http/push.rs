//! `POST /push.v1.PusherService/Push`: Pyroscope's push API, which its SDKs and Grafana
//! Alloy use. Connect unary RPC (<https://connectrpc.com/docs/protocol>): the body is the
//! message as `application/proto` or `application/json`, possibly `Content-Encoding:
//! gzip`; errors are `{"code": "...", "message": "..."}`.
//!
//! The series label `service_name` is the app (see [`super::ingest::canonical_labels`]);
//! `__name__` and every other label are kept as series labels. Each sample's
//! `raw_profile` is a pprof profile (gzipped or not).

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::{admit, body_of, record, store_all};
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use flamedb_profile::Format;
use prost::Message;
use serde::Deserialize;

/// The route of the push RPC.
pub const PUSH_PATH: &str = "/push.v1.PusherService/Push";

// Messages of Pyroscope's public API, written from `api/push/v1/push.proto`
// (`PushRequest`, `RawProfileSeries`, `RawSample`) and `api/types/v1/types.proto`
// (`LabelPair`), package `push.v1` / `types.v1`; field numbers as there.
// `RawProfileSeries.annotations = 3` is not read (Pyroscope drops pushed annotations too).

/// `push.v1.PushRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct PushRequest {
    /// Profiles with their labels.
    #[prost(message, repeated, tag = "1")]
    pub series: Vec<RawProfileSeries>,
}

/// `push.v1.RawProfileSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct RawProfileSeries {
    /// Series labels.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<LabelPair>,
    /// Profiles of the series.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RawSample>,
}

/// `types.v1.LabelPair`.
#[derive(Clone, PartialEq, Message)]
pub struct LabelPair {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `push.v1.RawSample`.
#[derive(Clone, PartialEq, Message)]
pub struct RawSample {
    /// A pprof profile, gzipped or not.
    #[prost(bytes = "vec", tag = "1")]
    pub raw_profile: Vec<u8>,
    /// Unique id of the profile (field `ID` in the proto).
    #[prost(string, tag = "2")]
    pub id: String,
}

/// The protobuf JSON form of [`PushRequest`] (field names in lowerCamelCase or as in the
/// proto; bytes in base64).
#[derive(Debug, Deserialize)]
struct JsonPush {
    #[serde(default)]
    series: Vec<JsonSeries>,
}

#[derive(Debug, Deserialize)]
struct JsonSeries {
    #[serde(default)]
    labels: Vec<JsonLabel>,
    #[serde(default)]
    samples: Vec<JsonSample>,
}

#[derive(Debug, Deserialize)]
struct JsonLabel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct JsonSample {
    #[serde(default, alias = "raw_profile", rename = "rawProfile")]
    raw_profile: String,
}

fn is_json(headers: &HeaderMap) -> bool {
    super::content_type(headers).starts_with("application/json")
}

/// One series of a push request: its labels and raw profiles.
type Series = (Vec<(String, String)>, Vec<Bytes>);

/// Decodes the request body into its series.
fn decode_request(json: bool, body: &[u8]) -> ApiResult<Vec<Series>> {
    if json {
        let req: JsonPush = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("PushRequest JSON: {e}")))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        req.series
            .into_iter()
            .map(|s| {
                let labels = s.labels.into_iter().map(|l| (l.name, l.value)).collect();
                let samples = s
                    .samples
                    .into_iter()
                    .map(|x| {
                        b64.decode(x.raw_profile.as_bytes())
                            .map(Bytes::from)
                            .map_err(|e| {
                                ApiError::bad_request(format!("rawProfile is not base64: {e}"))
                            })
                    })
                    .collect::<ApiResult<Vec<_>>>()?;
                Ok((labels, samples))
            })
            .collect()
    } else {
        let req = PushRequest::decode(body)
            .map_err(|e| ApiError::bad_request(format!("PushRequest protobuf: {e}")))?;
        Ok(req
            .series
            .into_iter()
            .map(|s| {
                let labels = s.labels.into_iter().map(|l| (l.name, l.value)).collect();
                let samples = s
                    .samples
                    .into_iter()
                    .map(|x| Bytes::from(x.raw_profile))
                    .collect();
                (labels, samples)
            })
            .collect())
    }
}

/// `POST /push.v1.PusherService/Push`: answers an empty `PushResponse` once every profile
/// is durable. A request is stored whole or not at all: one bad profile fails it (400,
/// Connect code `invalid_argument`) and none of its profiles is stored.
pub async fn push(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let _slot = admit(&state, &tenant)?;
    let json = is_json(&headers);
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let series = decode_request(json, &data)?;
    drop(data);
    let n: usize = series.iter().map(|(_, s)| s.len()).sum();
    let max = state.limits.max_profiles_per_request;
    if n > max {
        return Err(ApiError::too_large(format!(
            "{n} profiles in one push request, the limit is {max}"
        )));
    }
    let mut entries = Vec::with_capacity(n);
    for (labels, samples) in series {
        for raw in samples.into_iter().filter(|s| !s.is_empty()) {
            entries.push(record(&tenant, labels.clone(), Some(Format::Pprof), 0, raw).into());
        }
    }
    // All or nothing: every profile is decoded and validated before any is written.
    store_all(&state, &tenant, PUSH_PATH, received, entries).await?;
    Ok(if json {
        Json(serde_json::json!({})).into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static("application/proto"))],
            Vec::<u8>::new(),
        )
            .into_response()
    })
}

/// Middleware: on the push route, renders an [`ApiError`] response (from the handler,
/// auth or the timeout) in Connect's error format, keeping its HTTP status.
pub async fn connect_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_connect = path == PUSH_PATH || path.starts_with(super::querier::QUERIER_PREFIX);
    let response = next.run(request).await;
    if !is_connect {
        return response;
    }
    match response.extensions().get::<ApiError>() {
        Some(e) => {
            let body = serde_json::json!({ "code": super::error::connect_code(e.kind), "message": e.message });
            let mut connect = (e.status(), Json(body)).into_response();
            if let Some(retry) = response.headers().get(RETRY_AFTER) {
                connect.headers_mut().insert(RETRY_AFTER, retry.clone());
            }
            connect
        }
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_and_json_decode_to_the_same_series() {
        let req = PushRequest {
            series: vec![RawProfileSeries {
                labels: vec![LabelPair {
                    name: "service_name".into(),
                    value: "api".into(),
                }],
                samples: vec![RawSample {
                    raw_profile: b"\x0a\x00".to_vec(),
                    id: "x".into(),
                }],
            }],
        };
        let from_proto = decode_request(false, &req.encode_to_vec()).unwrap();
        let json = r#"{"series":[{"labels":[{"name":"service_name","value":"api"}],
            "samples":[{"rawProfile":"CgA=","ID":"x"}]}]}"#;
        let from_json = decode_request(true, json.as_bytes()).unwrap();
        assert_eq!(from_proto, from_json);
        assert!(decode_request(false, b"\xff\xff").is_err());
        assert!(decode_request(true, br#"{"series":[{"samples":[{"rawProfile":"!"}]}]}"#).is_err());
    }
}
