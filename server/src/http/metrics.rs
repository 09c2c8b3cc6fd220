//! Prometheus metrics (`GET /metrics`, text exposition format) and the middleware that
//! counts requests by endpoint and status.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of per-endpoint, per-status series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointStatus {
    /// The route (`/ingest`, `/api/v1/ingest`, ...).
    pub endpoint: String,
    /// The HTTP status code.
    pub status: u16,
}

/// Labels of per-endpoint series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    /// The route.
    pub endpoint: String,
}

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by endpoint and status.
    pub requests: Family<EndpointStatus, Counter>,
    /// Requests answered with a 4xx or 5xx, by endpoint and status.
    pub errors: Family<EndpointStatus, Counter>,
    /// Requests being served.
    pub in_flight: Gauge,
    /// Ingest requests holding one of the `--max-concurrent-ingests` slots.
    pub ingest_in_flight: Gauge,
    /// Ingested body bytes as received, by endpoint.
    pub ingest_bytes: Family<Endpoint, Counter>,
    /// Profiles stored (durable), by endpoint.
    pub ingest_profiles: Family<Endpoint, Counter>,
    /// Samples stored, by endpoint.
    pub ingest_samples: Family<Endpoint, Counter>,
    /// Flushes of heads to blocks that wrote at least one block.
    pub flushes: Counter,
    /// Flushes that failed (retried later).
    pub flush_errors: Counter,
    /// Blocks written by flushes.
    pub blocks_written: Counter,
    /// Maintenance passes (one tenant each) that completed.
    pub maintenance_runs: Counter,
    /// Maintenance passes that failed (retried at the next interval).
    pub maintenance_errors: Counter,
    /// Blocks written by compaction.
    pub blocks_compacted: Counter,
    /// Write-ahead log records that could not be applied at start-up and were quarantined.
    pub wal_quarantined: Counter,
    /// Query latency in seconds, by endpoint (for the query routes).
    pub query_seconds: Family<Endpoint, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("flamedb");
        let query_seconds =
            Family::<Endpoint, Histogram>::new_with_constructor(query_histogram as fn() -> _);
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            errors: Family::default(),
            in_flight: Gauge::default(),
            ingest_in_flight: Gauge::default(),
            ingest_bytes: Family::default(),
            ingest_profiles: Family::default(),
            ingest_samples: Family::default(),
            flushes: Counter::default(),
            flush_errors: Counter::default(),
            blocks_written: Counter::default(),
            maintenance_runs: Counter::default(),
            maintenance_errors: Counter::default(),
            blocks_compacted: Counter::default(),
            wal_quarantined: Counter::default(),
            query_seconds,
        };
        let r = &mut registry;
        r.register(
            "http_requests",
            "HTTP requests by endpoint and status",
            m.requests.clone(),
        );
        r.register(
            "http_errors",
            "HTTP requests answered 4xx/5xx",
            m.errors.clone(),
        );
        r.register(
            "http_in_flight",
            "HTTP requests being served",
            m.in_flight.clone(),
        );
        r.register(
            "ingest_in_flight",
            "Ingest requests being handled (at most --max-concurrent-ingests)",
            m.ingest_in_flight.clone(),
        );
        r.register(
            "ingest_bytes",
            "Ingested body bytes as received",
            m.ingest_bytes.clone(),
        );
        r.register(
            "ingest_profiles",
            "Profiles stored durably",
            m.ingest_profiles.clone(),
        );
        r.register("ingest_samples", "Samples stored", m.ingest_samples.clone());
        r.register("flushes", "Flushes that wrote blocks", m.flushes.clone());
        r.register(
            "flush_errors",
            "Flushes that failed",
            m.flush_errors.clone(),
        );
        r.register(
            "maintenance_runs",
            "Maintenance passes (compaction, sharing, GC, retention) completed, one tenant each",
            m.maintenance_runs.clone(),
        );
        r.register(
            "maintenance_errors",
            "Maintenance passes that failed",
            m.maintenance_errors.clone(),
        );
        r.register(
            "blocks_compacted",
            "Blocks written by compaction",
            m.blocks_compacted.clone(),
        );
        r.register(
            "wal_quarantined_records",
            "Write-ahead log records that could not be applied at start-up, moved to wal/quarantine",
            m.wal_quarantined.clone(),
        );
        r.register(
            "blocks_written",
            "Blocks written by flushes",
            m.blocks_written.clone(),
        );
        r.register(
            "query_duration_seconds",
            "Query latency",
            m.query_seconds.clone(),
        );
        Metrics { registry, ..m }
    }
}

fn query_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    /// Counts one maintenance pass's outcome and hands it back.
    pub fn count_maintenance(
        &self,
        report: flamedb_storage::Result<flamedb_storage::MaintenanceReport>,
    ) -> flamedb_storage::Result<flamedb_storage::MaintenanceReport> {
        match &report {
            Ok(r) => {
                self.maintenance_runs.inc();
                self.blocks_compacted.inc_by(r.compacted.len() as u64);
            }
            Err(_) => {
                self.maintenance_errors.inc();
            }
        }
        report
    }
}

impl Metrics {
    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts what one ingest request stored.
    pub fn ingested(&self, endpoint: &str, bytes: usize, profiles: u64, samples: u64) {
        let e = Endpoint {
            endpoint: endpoint.to_string(),
        };
        self.ingest_bytes.get_or_create(&e).inc_by(bytes as u64);
        self.ingest_profiles.get_or_create(&e).inc_by(profiles);
        self.ingest_samples.get_or_create(&e).inc_by(samples);
    }
}

/// Observes one query's latency in [`Metrics::query_seconds`] when dropped (so a
/// streamed result counts until its last byte, a failed query until its error).
pub struct QueryTimer {
    metrics: std::sync::Arc<Metrics>,
    endpoint: &'static str,
    started: std::time::Instant,
}

impl Metrics {
    /// A timer of one query on `endpoint`.
    pub fn query_timer(self: &std::sync::Arc<Self>, endpoint: &'static str) -> QueryTimer {
        QueryTimer {
            metrics: self.clone(),
            endpoint,
            started: std::time::Instant::now(),
        }
    }
}

impl Drop for QueryTimer {
    fn drop(&mut self) {
        let e = Endpoint {
            endpoint: self.endpoint.to_string(),
        };
        self.metrics
            .query_seconds
            .get_or_create(&e)
            .observe(self.started.elapsed().as_secs_f64());
    }
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Counts a request in the gauge until dropped (also when the request is cancelled).
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(g: &'a Gauge) -> Self {
        g.inc();
        InFlight(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: in-flight gauge and request/error counters by matched route and status.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let m = &state.metrics;
    let response = {
        let _in_flight = InFlight::enter(&m.in_flight);
        next.run(request).await
    };
    let key = EndpointStatus {
        endpoint,
        status: response.status().as_u16(),
    };
    m.requests.get_or_create(&key).inc();
    if response.status().is_client_error() || response.status().is_server_error() {
        m.errors.get_or_create(&key).inc();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_the_histogram_type() {
        let m = Metrics::default();
        m.ingested("/ingest", 10, 1, 5);
        m.requests
            .get_or_create(&EndpointStatus {
                endpoint: "/ingest".into(),
                status: 200,
            })
            .inc();
        let sql = Endpoint {
            endpoint: "/api/v1/sql".into(),
        };
        m.query_seconds.get_or_create(&sql).observe(0.01);
        let text = m.render();
        assert!(
            text.contains(r#"flamedb_ingest_bytes_total{endpoint="/ingest"} 10"#),
            "{text}"
        );
        assert!(text.contains(r#"flamedb_http_requests_total{endpoint="/ingest",status="200"} 1"#));
        assert!(text.contains("# TYPE flamedb_query_duration_seconds histogram"));
    }
}
