//! Flags of `flamedb serve` beyond storage and decode limits: listening, auth, HTTP limits.

use crate::http::auth::Auth;
use crate::http::limits::HttpLimits;
use anyhow::{Context, Result};
use clap::Args;
use flamedb_service::events::EventLimits;
use flamedb_service::limits::{DEFAULT_INGEST_MEMORY_BYTES, RateLimits, concurrent_ingests_for};
use flamedb_storage::{CompactionConfig, LabelLimits};
use std::path::PathBuf;
use std::time::Duration;

/// Server settings.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed on
    /// stdout as `listening on ADDR`).
    #[arg(long, env = "FLAMEDB_LISTEN", default_value = "127.0.0.1:4040")]
    pub listen: String,
    /// Bearer token accepted by the API for every tenant, reading and writing; repeat for
    /// several. No token (and no token file): auth is off.
    #[arg(
        long = "auth-token",
        env = "FLAMEDB_AUTH_TOKEN",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub auth_tokens: Vec<String>,
    /// File with one accepted bearer token per line: `TOKEN [TENANTS [ROLE]]`, TENANTS
    /// `*` (every tenant, the default) or `tenant1,tenant2`, ROLE `write` (the default) or
    /// `read` (queries only); `#` starts a comment line. A request for a tenant its token
    /// was not given, or a write with a read-only token, is a 403.
    #[arg(long, env = "FLAMEDB_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// A second address serving the same API, for OTLP/gRPC exporters (the OpenTelemetry
    /// default is `0.0.0.0:4317`); off by default. The API's own listener takes gRPC
    /// (h2c) too.
    #[arg(long, env = "FLAMEDB_OTLP_GRPC_LISTEN")]
    pub otlp_grpc_listen: Option<String>,
    /// How often heads are checked for flushing to blocks, in seconds.
    #[arg(long, env = "FLAMEDB_FLUSH_INTERVAL_SECS", default_value_t = 1.0)]
    pub flush_interval_secs: f64,
    /// A head is flushed once its oldest profile is this old, in seconds.
    #[arg(long, env = "FLAMEDB_FLUSH_AGE_SECS", default_value_t = 60.0)]
    pub flush_age_secs: f64,
    #[command(flatten)]
    pub http: HttpLimitArgs,
    #[command(flatten)]
    pub maintenance: MaintenanceArgs,
    #[command(flatten)]
    pub inspection: InspectionArgs,
}

/// Regression inspection and its alerts, as flags.
#[derive(Debug, Clone, Args)]
pub struct InspectionArgs {
    /// How often every app whose newest version got new data is compared with its
    /// previous version and its findings recorded, in seconds (default one day); 0 turns
    /// it off (`POST /api/v1/inspect` still runs it for one tenant).
    #[arg(
        long,
        env = "FLAMEDB_INSPECT_INTERVAL_SECS",
        default_value_t = 86_400.0
    )]
    pub inspect_interval_secs: f64,
    /// Smallest change an inspection records, in percentage points of the app's work.
    #[arg(long, env = "FLAMEDB_INSPECT_MIN_PP", default_value_t = flamedb_query::regress::RegressionConfig::default().min_pp)]
    pub inspect_min_pp: f64,
    /// URL that each new open regression is POSTed to as JSON (`text` is one line fit
    /// for a chat message); repeat for several.
    #[arg(
        long = "alert-webhook",
        env = "FLAMEDB_ALERT_WEBHOOK",
        value_delimiter = ','
    )]
    pub alert_webhooks: Vec<String>,
    /// Attempts per alert and receiver (the waits between them double from 0.5 s);
    /// what still failed is tried again after the next inspection.
    #[arg(long, env = "FLAMEDB_ALERT_MAX_ATTEMPTS", default_value_t = 6)]
    pub alert_max_attempts: u32,
    /// Deadline of one alert request, in seconds.
    #[arg(long, env = "FLAMEDB_ALERT_TIMEOUT_SECS", default_value_t = 10.0)]
    pub alert_timeout_secs: f64,
}

impl InspectionArgs {
    /// The inspection interval (`None`: off), after checking the flags.
    pub fn interval(&self) -> Result<Option<Duration>> {
        let every = Duration::try_from_secs_f64(self.inspect_interval_secs)
            .context("--inspect-interval-secs must be a non-negative number")?;
        if !(self.inspect_min_pp.is_finite()
            && self.inspect_min_pp > 0.0
            && self.inspect_min_pp <= 100.0)
        {
            anyhow::bail!("--inspect-min-pp must be above 0 and at most 100");
        }
        for url in &self.alert_webhooks {
            let u = reqwest::Url::parse(url).with_context(|| format!("--alert-webhook {url}"))?;
            if !matches!(u.scheme(), "http" | "https") {
                anyhow::bail!("--alert-webhook {url}: use an http or https URL");
            }
        }
        if self.alert_max_attempts == 0 {
            anyhow::bail!("--alert-max-attempts must be at least 1");
        }
        Duration::try_from_secs_f64(self.alert_timeout_secs)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--alert-timeout-secs must be positive")?;
        Ok((!every.is_zero()).then_some(every))
    }
}

/// Background maintenance (compaction, dictionary sharing, garbage collection, retention)
/// as flags; defaults from [`CompactionConfig::default`].
#[derive(Debug, Clone, Args)]
pub struct MaintenanceArgs {
    /// How often every tenant's blocks are maintained (compacted, given shared dictionaries,
    /// garbage collected, expired), in seconds; 0 turns background maintenance off
    /// (`POST /api/v1/compact` still runs it for one tenant).
    #[arg(long, env = "FLAMEDB_MAINTAIN_INTERVAL_SECS", default_value_t = 60.0)]
    pub maintain_interval_secs: f64,
    /// A partition is compacted once it has at least this many current blocks.
    #[arg(long, env = "FLAMEDB_COMPACT_MIN_BLOCKS", default_value_t = CompactionConfig::default().min_blocks)]
    pub compact_min_blocks: usize,
    /// Superseded blocks and unused shared dictionaries are deleted this many seconds after
    /// they were replaced (queries that started before still read them).
    #[arg(long, env = "FLAMEDB_GC_GRACE_SECS", default_value_t = CompactionConfig::default().grace.as_secs_f64())]
    pub gc_grace_secs: f64,
    /// A block left without its `meta.json` (a writer that crashed) is deleted once its
    /// newest file is this many seconds old (or --gc-grace-secs, if longer). Blocks the
    /// server itself is writing are never deleted; this protects those another process
    /// (`flamedb import`) is writing.
    #[arg(long, env = "FLAMEDB_GC_INCOMPLETE_GRACE_SECS", default_value_t = CompactionConfig::default().incomplete_grace.as_secs_f64())]
    pub gc_incomplete_grace_secs: f64,
    /// Blocks whose newest sample is older than this many days are deleted; 0 keeps
    /// everything.
    #[arg(long, env = "FLAMEDB_RETENTION_DAYS", default_value_t = 0.0)]
    pub retention_days: f64,
    /// An app's blocks of one day get a shared dictionary once its newest block is this
    /// many seconds old; negative: never.
    #[arg(
        long,
        env = "FLAMEDB_SHARE_DICTIONARIES_AFTER_SECS",
        default_value_t = 3600.0,
        allow_negative_numbers = true
    )]
    pub share_dictionaries_after_secs: f64,
}

impl MaintenanceArgs {
    /// The interval of background maintenance (`None`: off) and what a pass does.
    pub fn config(&self) -> Result<(Option<Duration>, CompactionConfig)> {
        let secs = |v: f64, flag: &str| {
            Duration::try_from_secs_f64(v)
                .with_context(|| format!("--{flag} must be a non-negative number of seconds"))
        };
        let every = secs(self.maintain_interval_secs, "maintain-interval-secs")?;
        if self.compact_min_blocks < 2 {
            anyhow::bail!("--compact-min-blocks must be at least 2");
        }
        let retention = secs(self.retention_days * 86_400.0, "retention-days")?;
        let share_after = if self.share_dictionaries_after_secs < 0.0 {
            None
        } else {
            Some(secs(
                self.share_dictionaries_after_secs,
                "share-dictionaries-after-secs",
            )?)
        };
        let config = CompactionConfig {
            min_blocks: self.compact_min_blocks,
            grace: secs(self.gc_grace_secs, "gc-grace-secs")?,
            incomplete_grace: secs(self.gc_incomplete_grace_secs, "gc-incomplete-grace-secs")?,
            retention: (!retention.is_zero()).then_some(retention),
            share_after,
            ..CompactionConfig::default()
        };
        Ok(((!every.is_zero()).then_some(every), config))
    }
}

/// HTTP limits as flags.
#[derive(Debug, Clone, Args)]
pub struct HttpLimitArgs {
    /// Largest request body as received (compressed), in bytes.
    #[arg(long, env = "FLAMEDB_MAX_BODY_BYTES", default_value_t = HttpLimits::default().max_body_bytes)]
    pub max_body_bytes: usize,
    /// Most profiles in one push request.
    #[arg(long, env = "FLAMEDB_MAX_PROFILES_PER_REQUEST", default_value_t = HttpLimits::default().max_profiles_per_request)]
    pub max_profiles_per_request: usize,
    /// Memory budget for ingest requests handled at once, in bytes: the default of
    /// --max-concurrent-ingests is this over (--max-body-bytes + 1.5 x --max-decompressed-bytes),
    /// at least 1 (9 with the default 4 GiB, 64 MiB and 256 MiB; the decompressed size
    /// counts 1.5 times, for the buffer's last growth).
    #[arg(long, env = "FLAMEDB_INGEST_MEMORY_BYTES", default_value_t = DEFAULT_INGEST_MEMORY_BYTES)]
    pub ingest_memory_bytes: u64,
    /// Most ingest requests handled at once (/ingest, push, /api/v1/ingest); more get 429
    /// with Retry-After. Default: derived from --ingest-memory-bytes.
    #[arg(long, env = "FLAMEDB_MAX_CONCURRENT_INGESTS")]
    pub max_concurrent_ingests: Option<usize>,
    /// Most change events in one POST /api/v1/events.
    #[arg(long, env = "FLAMEDB_EVENTS_MAX_PER_REQUEST", default_value_t = EventLimits::default().max_per_request)]
    pub events_max_per_request: usize,
    /// Largest change event, as JSON bytes.
    #[arg(long, env = "FLAMEDB_EVENT_MAX_BYTES", default_value_t = EventLimits::default().max_event_bytes)]
    pub event_max_bytes: usize,
    /// Most labels on one series (app, version and dc included).
    #[arg(long, env = "FLAMEDB_MAX_LABELS_PER_SERIES", default_value_t = LabelLimits::default().max_labels)]
    pub max_labels_per_series: usize,
    /// Whole-request deadline, in seconds.
    #[arg(long, env = "FLAMEDB_REQUEST_TIMEOUT_SECS", default_value_t = HttpLimits::default().request_timeout.as_secs_f64())]
    pub request_timeout_secs: f64,
    /// Per-tenant requests per second (0: unlimited).
    #[arg(long, env = "FLAMEDB_TENANT_REQUESTS_PER_SEC", default_value_t = RateLimits::default().requests_per_sec)]
    pub tenant_requests_per_sec: f64,
    /// Per-tenant burst of requests.
    #[arg(long, env = "FLAMEDB_TENANT_REQUEST_BURST", default_value_t = RateLimits::default().request_burst)]
    pub tenant_request_burst: f64,
    /// Per-tenant body bytes per second (0: unlimited).
    #[arg(long, env = "FLAMEDB_TENANT_BYTES_PER_SEC", default_value_t = RateLimits::default().bytes_per_sec)]
    pub tenant_bytes_per_sec: f64,
    /// Per-tenant burst of body bytes (raised to at least --max-body-bytes).
    #[arg(long, env = "FLAMEDB_TENANT_BYTES_BURST", default_value_t = RateLimits::default().bytes_burst)]
    pub tenant_bytes_burst: f64,
    /// Most tenants whose rate buckets are kept at once; idle tenants (full buckets) are
    /// forgotten first, and past it a new tenant gets 429.
    #[arg(long, env = "FLAMEDB_TENANT_RATE_MAX_TENANTS", default_value_t = RateLimits::default().max_tenants)]
    pub tenant_rate_max_tenants: usize,
}

impl ServerArgs {
    /// The accepted tokens: flags plus the token file.
    pub fn auth(&self) -> Result<Auth> {
        let mut auth = Auth::new(self.auth_tokens.clone());
        if let Some(path) = &self.auth_token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --auth-token-file {}", path.display()))?;
            auth.add_file(&text)
                .map_err(|e| anyhow::anyhow!("--auth-token-file {}: {e}", path.display()))?;
        }
        Ok(auth)
    }

    /// The HTTP limits; `max_decompressed_bytes` comes from the decode limits.
    pub fn limits(&self, max_decompressed_bytes: u64) -> Result<HttpLimits> {
        let h = &self.http;
        let timeout = Duration::try_from_secs_f64(h.request_timeout_secs)
            .context("--request-timeout-secs must be a non-negative number")?;
        let max_concurrent_ingests = match h.max_concurrent_ingests {
            Some(0) => anyhow::bail!("--max-concurrent-ingests must be at least 1"),
            Some(n) => n,
            None => concurrent_ingests_for(
                h.ingest_memory_bytes,
                h.max_body_bytes,
                max_decompressed_bytes,
            ),
        };
        if h.tenant_rate_max_tenants == 0 {
            anyhow::bail!("--tenant-rate-max-tenants must be at least 1");
        }
        Ok(HttpLimits {
            max_body_bytes: h.max_body_bytes,
            max_decompressed_bytes,
            max_profiles_per_request: h.max_profiles_per_request,
            max_concurrent_ingests,
            events: EventLimits {
                max_per_request: h.events_max_per_request.max(1),
                max_event_bytes: h.event_max_bytes.max(1),
                ..EventLimits::default()
            },
            request_timeout: timeout,
            rate: RateLimits {
                requests_per_sec: h.tenant_requests_per_sec,
                request_burst: h.tenant_request_burst.max(1.0),
                bytes_per_sec: h.tenant_bytes_per_sec,
                bytes_burst: h.tenant_bytes_burst.max(h.max_body_bytes as f64),
                max_tenants: h.tenant_rate_max_tenants,
            },
        })
    }

    /// Flush check interval and age.
    pub fn flush_times(&self) -> Result<(Duration, Duration)> {
        let every = Duration::try_from_secs_f64(self.flush_interval_secs)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--flush-interval-secs must be positive")?;
        let age = Duration::try_from_secs_f64(self.flush_age_secs)
            .context("--flush-age-secs must be a non-negative number")?;
        Ok((every, age))
    }
}
