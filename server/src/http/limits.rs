//! Request limits: bounded bodies (compressed and decompressed), per-tenant rate limits.

use super::error::{ApiError, ErrorKind};
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use flamedb_profile::DecodeLimits;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits of the HTTP layer (decode limits are in the store's config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HttpLimits {
    /// Largest request body as received (before `Content-Encoding` is undone), bytes.
    pub max_body_bytes: usize,
    /// Largest body or profile after decompression, bytes.
    pub max_decompressed_bytes: u64,
    /// Most profiles in one push request.
    pub max_profiles_per_request: usize,
    /// Whole-request deadline (reading, decoding, durable append).
    pub request_timeout: Duration,
    /// Per-tenant rate limits.
    pub rate: RateLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 64 << 20,
            max_decompressed_bytes: DecodeLimits::default().max_decompressed_bytes,
            max_profiles_per_request: 1024,
            request_timeout: Duration::from_secs(60),
            rate: RateLimits::default(),
        }
    }
}

/// Token-bucket rates per tenant; a rate of 0 turns that bucket off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Requests per second (refill rate).
    pub requests_per_sec: f64,
    /// Requests allowed at once (bucket size).
    pub request_burst: f64,
    /// Body bytes (as received) per second.
    pub bytes_per_sec: f64,
    /// Bytes allowed at once; at least one maximal body, or such a body never passes.
    pub bytes_burst: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_sec: 1000.0,
            request_burst: 2000.0,
            bytes_per_sec: (256u64 << 20) as f64,
            bytes_burst: (512u64 << 20) as f64,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Refills at `rate` up to `burst`, then takes `n` if there are that many tokens.
    fn take(&mut self, n: f64, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// Per-tenant token buckets for requests and bytes.
#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<String, (Bucket, Bucket)>>,
}

impl RateLimiter {
    /// A limiter with these rates.
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request and `bytes` body bytes from `tenant`'s buckets, or fails with 429.
    pub fn check(&self, tenant: &str, requests: f64, bytes: f64) -> Result<(), ApiError> {
        let l = &self.limits;
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (req, byt) = map.entry(tenant.to_string()).or_insert_with(|| {
            let full = |tokens| Bucket { tokens, at: now };
            (full(l.request_burst), full(l.bytes_burst))
        });
        if l.requests_per_sec > 0.0 && !req.take(requests, l.requests_per_sec, l.request_burst, now)
        {
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "tenant {tenant:?} is over its rate limit of {} requests/s; retry later",
                    l.requests_per_sec
                ),
            ));
        }
        if l.bytes_per_sec > 0.0 && !byt.take(bytes, l.bytes_per_sec, l.bytes_burst, now) {
            return Err(ApiError::new(
                ErrorKind::RateLimited,
                format!(
                    "tenant {tenant:?} is over its rate limit of {} bytes/s; retry later",
                    l.bytes_per_sec
                ),
            ));
        }
        Ok(())
    }
}

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

    #[test]
    fn buckets_refuse_past_the_burst_and_refill() {
        let rl = RateLimiter::new(RateLimits {
            requests_per_sec: 1e-9,
            request_burst: 2.0,
            bytes_per_sec: 0.0,
            bytes_burst: 0.0,
        });
        assert!(rl.check("a", 1.0, 1e12).is_ok());
        assert!(rl.check("a", 1.0, 0.0).is_ok());
        let e = rl.check("a", 1.0, 0.0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(rl.check("b", 1.0, 0.0).is_ok(), "buckets are per tenant");
        let mut b = Bucket {
            tokens: 0.0,
            at: Instant::now(),
        };
        let later = b.at + Duration::from_secs(2);
        assert!(b.take(1.0, 1.0, 5.0, later), "refilled 2 tokens in 2 s");
    }

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
        assert_eq!(e.kind, ErrorKind::BadRequest);
    }
}
