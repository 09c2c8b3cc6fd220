//! Alert webhooks: each new open regression ([`Inspector::to_alert`]) POSTed as JSON to
//! every `--alert-webhook`, once per finding and receiver (recorded in the finding, so
//! restarts and later inspections do not repeat it), retried with doubling waits, and
//! run in the background: a receiver that is down or slow never holds up ingest, queries
//! or the inspection itself.
//!
//! The body: `{"text": "<one line for a chat message>", "tenant": "...", "finding": {the
//! record of GET /api/v1/findings}}`. A 2xx answer is a delivery.

use flamedb_service::inspect::{FindingRecord, Inspector};
use std::sync::Arc;
use std::time::Duration;

/// The first wait between attempts (doubling after each).
const FIRST_WAIT: Duration = Duration::from_millis(500);

/// Where alerts go and how hard to try.
#[derive(Debug, Clone)]
pub struct Alerter {
    receivers: Vec<String>,
    max_attempts: u32,
    client: reqwest::Client,
    /// One delivery round at a time (a round started while one runs waits for it, so a
    /// finding is not sent twice at once).
    round: Arc<tokio::sync::Mutex<()>>,
}

impl Alerter {
    /// Alerts to `receivers`, each request bounded by `timeout`.
    pub fn new(
        receivers: Vec<String>,
        max_attempts: u32,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        Ok(Alerter {
            receivers,
            max_attempts: max_attempts.max(1),
            client: reqwest::Client::builder().timeout(timeout).build()?,
            round: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// No receivers: alerts are off.
    pub fn none() -> Self {
        Alerter {
            receivers: vec![],
            max_attempts: 1,
            client: reqwest::Client::new(),
            round: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Whether any receiver is configured.
    pub fn enabled(&self) -> bool {
        !self.receivers.is_empty()
    }

    /// Delivers `tenant`'s undelivered alerts in a background task.
    pub fn spawn_round(&self, inspector: Arc<Inspector>, tenant: String) {
        if !self.enabled() {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move { me.round(&inspector, &tenant).await });
    }

    /// Delivers `tenant`'s undelivered alerts now.
    pub async fn round(&self, inspector: &Inspector, tenant: &str) {
        let _one = self.round.lock().await;
        for url in &self.receivers {
            let pending = match inspector.to_alert(tenant, url).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(%tenant, error = %e.message, "listing findings to alert failed");
                    continue;
                }
            };
            for record in pending {
                if self.send(url, tenant, &record).await {
                    if let Err(e) = inspector.mark_alerted(tenant, &record.id, url).await {
                        tracing::warn!(%tenant, id = %record.id, error = %e.message,
                            "recording an alert failed; it may be sent again");
                    }
                } else {
                    tracing::warn!(%tenant, id = %record.id, receiver = %url,
                        attempts = self.max_attempts,
                        "alert not delivered; trying again after the next inspection");
                }
            }
        }
    }

    /// POSTs one alert, with retries; whether a receiver took it.
    async fn send(&self, url: &str, tenant: &str, record: &FindingRecord) -> bool {
        let body = serde_json::json!({
            "text": record.summary_line(),
            "tenant": tenant,
            "finding": record,
        })
        .to_string();
        let mut wait = FIRST_WAIT;
        for attempt in 1..=self.max_attempts {
            let req = self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            match req.send().await {
                Ok(r) if r.status().is_success() => return true,
                Ok(r) => {
                    tracing::debug!(receiver = %url, status = %r.status(), attempt, "alert refused")
                }
                Err(e) => tracing::debug!(receiver = %url, error = %e, attempt, "alert failed"),
            }
            if attempt < self.max_attempts {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(60));
            }
        }
        false
    }
}
