//! A `flamedb serve` child process for the benches that go through HTTP: started on
//! 127.0.0.1 with a free port (`--listen 127.0.0.1:0`, the bound address read from its
//! `listening on ADDR` line), ready once `/healthz` answers, stopped with SIGTERM (the
//! server then finishes requests and flushes its heads).

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `flamedb serve`.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The HTTP client to talk to it.
    pub client: reqwest::Client,
}

impl Server {
    /// Starts `flamedb serve --data DATA` with rate limits off (the bench sends as fast as
    /// it can) and waits until it answers `/healthz`.
    pub async fn start(flamedb: &Path, data: &Path) -> Result<Server> {
        let mut child = Command::new(flamedb)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args([
                "--tenant-requests-per-sec",
                "0",
                "--tenant-bytes-per-sec",
                "0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} serve", flamedb.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        // Blocks until the line is printed or the server exits (EOF).
        let mut lines = BufReader::new(stdout).lines();
        let addr = lines.by_ref().find_map(|l| {
            l.ok()?
                .strip_prefix("listening on ")
                .map(|a| a.trim().to_string())
        });
        let Some(addr) = addr else {
            let status = child.wait()?;
            bail!("flamedb serve exited ({status}) without printing `listening on`");
        };
        // Keep reading what it prints, so that its stdout never breaks.
        std::thread::spawn(move || lines.for_each(drop));
        let server = Server {
            child,
            url: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
        };
        // Bounded readiness poll: the listener is bound, so this normally succeeds at once.
        for attempt in 0..100 {
            match server.client.get(server.at("/healthz")).send().await {
                Ok(r) if r.status().is_success() => return Ok(server),
                _ if attempt < 99 => tokio::time::sleep(Duration::from_millis(50)).await,
                r => bail!("{}/healthz does not answer: {r:?}", server.url),
            }
        }
        unreachable!("the loop returns or bails on its last attempt")
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of `path` (which starts with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// GETs `path_and_query` as `tenant` and returns the body; fails on a non-2xx status.
    pub async fn get(&self, tenant: &str, path_and_query: &str) -> Result<bytes::Bytes> {
        let r = self
            .client
            .get(self.at(path_and_query))
            .header("X-Scope-OrgID", tenant)
            .send()
            .await?;
        ok_body(r, path_and_query).await
    }

    /// POSTs `body` to `path_and_query` as `tenant`; fails on a non-2xx status.
    pub async fn post(
        &self,
        tenant: &str,
        path_and_query: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<bytes::Bytes> {
        let r = self
            .client
            .post(self.at(path_and_query))
            .header("X-Scope-OrgID", tenant)
            .body(body)
            .send()
            .await?;
        ok_body(r, path_and_query).await
    }

    /// SIGTERM, then waits for the exit (the server flushes its heads first).
    pub fn stop(mut self) -> Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        if !status.success() {
            self.child.kill()?;
        }
        let exit = self.child.wait()?;
        if !exit.success() {
            bail!("flamedb serve exited with {exit}");
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only when `stop` was not reached (an error on the way): do not leave it running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn ok_body(r: reqwest::Response, what: &str) -> Result<bytes::Bytes> {
    let status = r.status();
    let body = r.bytes().await?;
    if !status.is_success() {
        bail!("{what}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}
