//! Limits every front door shares, applied once in the service: per-tenant rate limits
//! (token buckets for requests and bytes, with a bounded number of tenants tracked) and
//! the cap on ingest requests handled at once. Body sizes and deadlines are each
//! protocol's (an HTTP body is read bounded before anything here sees it).

use crate::{Error, ErrorKind};
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Default memory budget for ingest requests in flight, bytes (see
/// [`concurrent_ingests_for`]).
pub const DEFAULT_INGEST_MEMORY_BYTES: u64 = 4 << 30;

/// How many ingest requests fit in `budget` bytes when each may hold a body of
/// `max_body_bytes` plus its decompressed form of `max_decompressed_bytes`, counted 1.5
/// times: the decompression buffer grows by doubling, so while the last growth copies,
/// the old half and the new buffer are both held (at least 1). Measured: a dozen gzip
/// bombs against a 512 MiB budget peaked at 605-810 MiB of RSS when counted once.
pub fn concurrent_ingests_for(
    budget: u64,
    max_body_bytes: usize,
    max_decompressed_bytes: u64,
) -> usize {
    let per_request = (max_body_bytes as u64)
        .saturating_add(max_decompressed_bytes.saturating_add(max_decompressed_bytes / 2))
        .max(1);
    usize::try_from(budget / per_request)
        .unwrap_or(usize::MAX)
        .max(1)
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
    /// Most tenants with a bucket at once. Buckets that are full are forgotten when the
    /// map is at this size (forgetting a full bucket changes nothing: a new one starts
    /// full); if all are in use, a request of a tenant without a bucket gets 429.
    pub max_tenants: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            requests_per_sec: 1000.0,
            request_burst: 2000.0,
            bytes_per_sec: (256u64 << 20) as f64,
            bytes_burst: (512u64 << 20) as f64,
            max_tenants: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Whether the bucket would be full at `now` (a bucket of rate 0 is never used).
    fn is_full(&self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        rate <= 0.0 || self.tokens + elapsed * rate >= burst
    }

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
    pub fn check(&self, tenant: &str, requests: f64, bytes: f64) -> Result<(), Error> {
        self.check_at(tenant, requests, bytes, Instant::now())
    }

    /// Number of tenants with a bucket.
    #[cfg(test)]
    fn tenants(&self) -> usize {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// [`RateLimiter::check`] at `now`.
    fn check_at(&self, tenant: &str, requests: f64, bytes: f64, now: Instant) -> Result<(), Error> {
        let l = &self.limits;
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(tenant) && map.len() >= l.max_tenants {
            map.retain(|_, (req, byt)| {
                !(req.is_full(l.requests_per_sec, l.request_burst, now)
                    && byt.is_full(l.bytes_per_sec, l.bytes_burst, now))
            });
            if map.len() >= l.max_tenants {
                return Err(Error::new(
                    ErrorKind::RateLimited,
                    format!(
                        "{} tenants are being rate limited at once (the limit); retry later",
                        map.len()
                    ),
                ));
            }
        }
        let (req, byt) = map.entry(tenant.to_string()).or_insert_with(|| {
            let full = |tokens| Bucket { tokens, at: now };
            (full(l.request_burst), full(l.bytes_burst))
        });
        if l.requests_per_sec > 0.0 && !req.take(requests, l.requests_per_sec, l.request_burst, now)
        {
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "tenant {tenant:?} is over its rate limit of {} requests/s; retry later",
                    l.requests_per_sec
                ),
            ));
        }
        if l.bytes_per_sec > 0.0 && !byt.take(bytes, l.bytes_per_sec, l.bytes_burst, now) {
            return Err(Error::new(
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

/// The cap on ingest requests handled at once (the server's `--max-concurrent-ingests`).
#[derive(Debug)]
pub struct IngestSlots {
    slots: Arc<Semaphore>,
    max: usize,
    in_use: Gauge,
}

/// An ingest request's slot, given back when dropped.
#[derive(Debug)]
pub struct IngestSlot {
    _permit: OwnedSemaphorePermit,
    in_use: Gauge,
}

impl Drop for IngestSlot {
    fn drop(&mut self) {
        self.in_use.dec();
    }
}

impl IngestSlots {
    /// `max` slots (at least 1); `in_use` counts the slots taken (a metric).
    pub fn new(max: usize, in_use: Gauge) -> Self {
        let max = max.max(1);
        IngestSlots {
            slots: Arc::new(Semaphore::new(max)),
            max,
            in_use,
        }
    }

    /// A slot, or 429 when all are taken (the client retries after `Retry-After`).
    pub fn try_take(&self) -> Result<IngestSlot, Error> {
        let permit = self.slots.clone().try_acquire_owned().map_err(|_| {
            Error::new(
                ErrorKind::RateLimited,
                format!(
                    "the server is handling {} ingest requests, its limit (--max-concurrent-ingests); retry later",
                    self.max
                ),
            )
        })?;
        self.in_use.inc();
        Ok(IngestSlot {
            _permit: permit,
            in_use: self.in_use.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_refuse_past_the_burst_and_refill() {
        let rl = RateLimiter::new(RateLimits {
            requests_per_sec: 1e-9,
            request_burst: 2.0,
            bytes_per_sec: 0.0,
            bytes_burst: 0.0,
            max_tenants: 100,
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

    #[test]
    fn idle_tenants_are_forgotten_and_the_tenant_map_is_bounded() {
        // 1 request/s, burst 2: a bucket used once is full again 1 s later.
        let rl = RateLimiter::new(RateLimits {
            requests_per_sec: 1.0,
            request_burst: 2.0,
            bytes_per_sec: 0.0,
            bytes_burst: 0.0,
            max_tenants: 2,
        });
        let t0 = Instant::now();
        rl.check_at("a", 1.0, 0.0, t0).unwrap();
        rl.check_at("b", 1.0, 0.0, t0).unwrap();
        assert_eq!(rl.tenants(), 2);
        // Both buckets are in use: a third tenant is refused, the known ones are not.
        let e = rl.check_at("c", 1.0, 0.0, t0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        assert!(e.message.contains("tenants"), "{e}");
        rl.check_at("a", 1.0, 0.0, t0).unwrap();
        assert_eq!(rl.tenants(), 2);
        // 1.5 s later b is full again (1 + 1.5 >= 2) but a is not (0 + 1.5 < 2): b goes.
        let t1 = t0 + Duration::from_millis(1500);
        rl.check_at("c", 1.0, 0.0, t1).unwrap();
        assert_eq!(rl.tenants(), 2);
        // a kept its bucket: 1.5 tokens, so one request passes and the next does not.
        rl.check_at("a", 1.0, 0.0, t1).unwrap();
        assert!(rl.check_at("a", 1.0, 0.0, t1).is_err());
    }

    #[test]
    fn ingest_slots_are_given_back_on_drop() {
        let gauge = Gauge::default();
        let slots = IngestSlots::new(1, gauge.clone());
        let first = slots.try_take().unwrap();
        assert_eq!(gauge.get(), 1);
        let e = slots.try_take().unwrap_err();
        assert_eq!(e.kind, ErrorKind::RateLimited);
        drop(first);
        assert_eq!(gauge.get(), 0);
        assert!(slots.try_take().is_ok());
        assert_eq!(
            concurrent_ingests_for(4 << 30, 64 << 20, 256 << 20),
            9,
            "4 GiB / (64 MiB + 1.5 x 256 MiB)"
        );
        assert_eq!(concurrent_ingests_for(1, 64, 64), 1, "at least one");
    }
}
