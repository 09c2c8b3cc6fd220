//! The HTTP client of the `--server URL` commands: `flamedb ingest` posts files to
//! `/api/v1/ingest`; `flamedb query`, `flamedb flamegraph` and `flamedb diff` call the
//! query routes.

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// What the server stored for one file (`/api/v1/ingest`'s answer).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Stored {
    /// Profiles stored.
    pub profiles: u64,
    /// Samples in them.
    pub samples: u64,
}

/// A flamedb server.
#[derive(Debug, Clone)]
pub struct Remote {
    client: reqwest::Client,
    base: reqwest::Url,
    ingest_url: reqwest::Url,
    token: Option<String>,
    tenant: String,
}

impl Remote {
    /// A client for the server at `base` (`http://HOST:PORT`).
    pub fn new(base: &str, token: Option<String>, tenant: String) -> Result<Self> {
        let base = reqwest::Url::parse(base).with_context(|| format!("--server {base:?}"))?;
        let ingest_url = base.join("/api/v1/ingest")?;
        Ok(Remote {
            client: reqwest::Client::builder().build()?,
            base,
            ingest_url,
            token,
            tenant,
        })
    }

    /// Posts one profile; fails with the server's message on a non-2xx answer.
    pub async fn ingest(
        &self,
        labels: &[(String, String)],
        format: &str,
        time_nanos: i64,
        event: Option<&str>,
        data: bytes::Bytes,
    ) -> Result<Stored> {
        let mut url = self.ingest_url.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in labels {
                match k.as_str() {
                    "app" | "version" | "dc" => q.append_pair(k, v),
                    _ => q.append_pair(&format!("label.{k}"), v),
                };
            }
            q.append_pair("format", format);
            if time_nanos != 0 {
                q.append_pair("time", &time_nanos.to_string());
            }
            if let Some(e) = event {
                q.append_pair("event", e);
            }
        }
        let mut req = self
            .client
            .post(url)
            .header("X-Scope-OrgID", &self.tenant)
            .body(data);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = checked(req.send().await.context("sending to the server")?).await?;
        let text = resp.text().await.unwrap_or_default();
        serde_json::from_str(&text).with_context(|| format!("server answer {text:?}"))
    }

    /// Sends `req` to `path` with the tenant and token; fails with the server's message on
    /// a non-2xx answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        let mut url = self.base.join(path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .client
            .request(method, url)
            .header("X-Scope-OrgID", &self.tenant);
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("sending to the server at {}", self.base))?;
        checked(resp).await
    }
}

/// `resp` if it is a success, else an error with the server's `{"error"}` message.
async fn checked(resp: reqwest::Response) -> Result<reqwest::Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or(text);
    bail!("server answered {status}: {message}");
}
