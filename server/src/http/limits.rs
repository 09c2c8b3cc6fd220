//! The HTTP layer's limits: bounded bodies (compressed and decompressed) and the request
//! deadline. The per-tenant rate limits and the ingest slots every front door shares are
//! the service's ([`flamedb_service::limits`]).

use super::error::ApiError;
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use flamedb_profile::DecodeLimits;
use flamedb_service::limits::{DEFAULT_INGEST_MEMORY_BYTES, RateLimits, concurrent_ingests_for};
use std::time::Duration;

/// Limits of the HTTP layer (decode limits are in the store's config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// Largest request body as received (before `Content-Encoding` is undone), bytes.
    pub max_body_bytes: usize,
    /// Largest body or profile after decompression, bytes.
    pub max_decompressed_bytes: u64,
    /// Most profiles in one push request.
    pub max_profiles_per_request: usize,
    /// Most ingest requests handled at once (from admission to the durable append); more
    /// are refused with 429. Bounds ingest memory to about this times (body +
    /// decompressed body + decoded profile).
    pub max_concurrent_ingests: usize,
    /// Change events per request and their size.
    pub events: flamedb_service::events::EventLimits,
    /// Whole-request deadline (reading, decoding, durable append).
    pub request_timeout: Duration,
    /// Per-tenant rate limits.
    pub rate: RateLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        let max_body_bytes = 64 << 20;
        let max_decompressed_bytes = DecodeLimits::default().max_decompressed_bytes;
        HttpLimits {
            max_body_bytes,
            max_decompressed_bytes,
            max_profiles_per_request: 1024,
            max_concurrent_ingests: concurrent_ingests_for(
                DEFAULT_INGEST_MEMORY_BYTES,
                max_body_bytes,
                max_decompressed_bytes,
            ),
            events: flamedb_service::events::EventLimits::default(),
            request_timeout: Duration::from_secs(60),
            rate: RateLimits::default(),
        }
    }
}

/// Largest body of a query request (SQL text, a querier RPC, a finding's state), as
/// received and after gzip: 1 MiB.
pub const MAX_QUERY_BODY_BYTES: usize = 1 << 20;

/// How much of an oversized body is read and dropped before answering 413, so the client
/// sees the answer instead of a reset connection; a body declared larger is refused at once.
const DRAIN_BYTES: u64 = 16 << 20;

/// Reads a body of at most `limits.max_body_bytes`, then undoes `Content-Encoding: gzip`
/// (bounded by `limits.max_decompressed_bytes`, so a gzip bomb stops at the limit).
/// Returns the decoded body and the size received.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &HttpLimits,
) -> Result<(Bytes, usize), ApiError> {
    let max = limits.max_body_bytes;
    let too_large =
        || ApiError::too_large(format!("request body exceeds the limit of {max} bytes"));
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64 + DRAIN_BYTES) {
        return Err(too_large());
    }
    let raw = read_bounded(body, max).await?.ok_or_else(too_large)?;
    let received = raw.len();
    let decoded = decode_content_encoding(headers, raw, limits)?;
    Ok((decoded, received))
}

/// The body, or `None` when it is over `max` (the rest is drained up to [`DRAIN_BYTES`]).
async fn read_bounded(body: Body, max: usize) -> Result<Option<Bytes>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut buf = bytes::BytesMut::new();
    let mut over = 0u64;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if over > 0 || buf.len() + chunk.len() > max {
            over += chunk.len() as u64;
            if over > DRAIN_BYTES {
                break;
            }
        } else {
            buf.extend_from_slice(&chunk);
        }
    }
    Ok((over == 0).then(|| buf.freeze()))
}

fn decode_content_encoding(
    headers: &HeaderMap,
    raw: Bytes,
    limits: &HttpLimits,
) -> Result<Bytes, ApiError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(raw),
        Some("gzip") | Some("x-gzip") => {
            if !flamedb_profile::gzip::is_gzip(&raw) {
                return Err(ApiError::bad_request(
                    "Content-Encoding is gzip but the body is not gzip data",
                ));
            }
            let decode = DecodeLimits {
                max_decompressed_bytes: limits.max_decompressed_bytes,
                ..DecodeLimits::default()
            };
            let out = flamedb_profile::gzip::maybe_gunzip(&raw, &decode)?;
            Ok(Bytes::from(out.into_owned()))
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "Content-Encoding {other:?} is not supported; use gzip or none"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_service::ErrorKind;

    #[tokio::test]
    async fn bodies_are_bounded_before_and_after_gzip() {
        use std::io::Write;
        let limits = HttpLimits {
            max_body_bytes: 1000,
            max_decompressed_bytes: 1000,
            ..HttpLimits::default()
        };
        let h = HeaderMap::new();
        let e = read_body(&h, Body::from(vec![b'a'; 1001]), &limits)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&[0u8; 100_000]).unwrap();
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() <= 1000);
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "gzip".parse().unwrap());
        let e = read_body(&h, Body::from(bomb), &limits).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge, "{e}");
        let e = read_body(&h, Body::from("plain"), &limits)
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
    }
}
