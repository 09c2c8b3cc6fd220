//! Headless Chromium for tests: Debian's `chromium` (installed with apt-get when missing;
//! without apt-get the caller says SKIPPED, and under `CI` the test fails), driven over the
//! Chrome DevTools Protocol.
//!
//! The protocol client is the few calls these tests make (`Page.navigate`,
//! `Runtime.evaluate`, `Input.dispatchMouseEvent`, `Page.captureScreenshot`): JSON messages
//! with an id over one WebSocket (tokio-tungstenite). A CDP crate (chromiumoxide,
//! headless_chrome) would compile the whole generated protocol into every test build for
//! these four methods.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tokio_tungstenite::tungstenite::Message;

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The Chromium binary, installed first if needed; `None` means skip (never under `CI`).
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = on_path("chromium").or_else(|| on_path("chromium-browser")) {
        return Some(p);
    }
    let ci = std::env::var_os("CI").is_some();
    if on_path("apt-get").is_none() {
        assert!(
            !ci,
            "chromium is missing and apt-get is not available (CI is set)"
        );
        eprintln!("SKIPPED: chromium is not installed and apt-get is not available");
        return None;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        // A fresh image may have no package lists yet.
        let updated = Command::new("apt-get").arg("update").status().unwrap();
        assert!(updated.success(), "apt-get update failed");
        assert!(install(), "apt-get install chromium failed");
    }
    Some(on_path("chromium").expect("chromium installed but not on PATH"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium with one page, killed on drop.
pub struct Browser {
    child: Child,
    socket: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromium` headless with a fresh profile and a `width`x`height` window, and
    /// attaches to its page.
    pub async fn launch(chromium: &Path, width: u32, height: u32) -> Browser {
        Browser::launch_with(chromium, width, height, &["--disable-gpu"]).await
    }

    /// [`Browser::launch`] with WebGL (software rendering by SwiftShader), for pages that
    /// draw with it (speedscope).
    pub async fn launch_webgl(chromium: &Path, width: u32, height: u32) -> Browser {
        let flags = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"];
        Browser::launch_with(chromium, width, height, &flags).await
    }

    async fn launch_with(chromium: &Path, width: u32, height: u32, flags: &[&str]) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(chromium)
            .args(flags)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Chromium prints `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID`.
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let mut port = None;
        let mut lines = stderr.lines();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                port = rest.split('/').next().map(str::to_string);
                break;
            }
        }
        let port = port.expect("chromium did not print its DevTools address");
        // Keep draining stderr so that Chromium never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let list = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let targets: Vec<Value> = serde_json::from_str(&list).unwrap();
        let page = targets
            .iter()
            .find(|t| t["type"] == "page")
            .expect("no page target");
        let url = page["webSocketDebuggerUrl"].as_str().unwrap();
        let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut b = Browser {
            child,
            socket,
            next_id: 0,
            _profile: profile,
        };
        b.call("Page.enable", json!({})).await;
        b.call("Runtime.enable", json!({})).await;
        b
    }

    /// One CDP call; its `result` (panics on a protocol error).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        loop {
            let msg = self
                .socket
                .next()
                .await
                .expect("DevTools socket closed")
                .unwrap();
            let Message::Text(text) = msg else { continue };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] != id {
                continue; // an event
            }
            if let Some(e) = v.get("error") {
                panic!("{method}: {e}");
            }
            return v["result"].clone();
        }
    }

    /// Navigates to `url` and waits for its load event.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        self.eval(
            "new Promise(r => document.readyState === 'complete' ? r(true) \
             : addEventListener('load', () => r(true)))",
        )
        .await;
    }

    /// The value of the JavaScript expression `js` (awaited when it is a promise); a
    /// thrown exception panics with its text.
    pub async fn eval(&mut self, js: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": js, "awaitPromise": true, "returnByValue": true }),
            )
            .await;
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}\nthrew: {e}");
        }
        r["result"]["value"].clone()
    }

    /// Waits until the expression `cond` is truthy, checking on every animation frame
    /// (an event-driven wait in the page: no fixed sleep), and returns its value. Gives
    /// up after `limit_ms` of page time with the value of `describe`.
    pub async fn wait_for(&mut self, cond: &str, describe: &str, limit_ms: u64) -> Value {
        let js = format!(
            "new Promise((resolve, reject) => {{
                const t0 = performance.now();
                const check = () => {{
                    let v; try {{ v = ({cond}); }} catch (e) {{ v = undefined; }}
                    if (v) return resolve(v);
                    if (performance.now() - t0 > {limit_ms}) {{
                        let d; try {{ d = ({describe}); }} catch (e) {{ d = String(e); }}
                        return reject(new Error('gave up waiting for {}: ' + JSON.stringify(d)));
                    }}
                    requestAnimationFrame(check);
                }};
                check();
            }})",
            cond.replace('\'', "\\'").replace('\n', " ")
        );
        self.eval(&js).await
    }

    /// A mouse event at client coordinates (x, y).
    pub async fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        let buttons = if kind == "mouseReleased" { 0 } else { 1 };
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": kind, "x": x, "y": y, "button": "left", "buttons": buttons, "clickCount": 1 }),
        )
        .await;
    }

    /// A PNG of the page, written to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        use base64::Engine as _;
        let r = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
