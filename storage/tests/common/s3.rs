//! A real S3-compatible server for tests: moto's server mode, started as a child process on
//! 127.0.0.1 and killed on drop.
//!
//! The binary is `$FLAMEDB_S3_SERVER_BIN`, else `moto_server` on `PATH`, else
//! `$FLAMEDB_TOOLS/bin/moto_server` (default `~/.cache/flamedb-tools`), where
//! `bash .ci/s3-server` installs it. Without one, [`S3Server::start_or_skip`] prints SKIPPED
//! and returns `None`, unless `CI` is set: then the test fails and says how to install it.

use flamedb_storage::ObjectStoreConfig;
use flamedb_storage::object::{RetrySettings, S3Config, StoreKind};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The bucket created in every server.
pub const BUCKET: &str = "flamedb-test";

/// Polls for readiness at most this often (with a backoff of 10 ms doubling to 200 ms, about
/// 40 s in all: moto imports for a second or two; a loaded CI machine takes longer).
const READY_ATTEMPTS: u32 = 200;

/// A running server; killed when dropped.
pub struct S3Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server with [`BUCKET`] in it, or `None` when no server is installed and `CI`
    /// is not set (after printing `SKIPPED <test>`).
    pub fn start_or_skip(test: &str) -> Option<S3Server> {
        let Some(bin) = find_binary() else {
            let how = "no S3-compatible server found: install it with `bash .ci/s3-server` \
                       (moto[server] in a venv under ${FLAMEDB_TOOLS:-~/.cache/flamedb-tools}) \
                       or point FLAMEDB_S3_SERVER_BIN at a moto_server binary";
            if ci() {
                panic!("{test}: {how} (CI is set, so this test may not be skipped)");
            }
            eprintln!("SKIPPED {test}: {how}");
            return None;
        };
        Some(S3Server::start(&bin))
    }

    fn start(bin: &PathBuf) -> S3Server {
        let dir = tempfile::tempdir().expect("temp dir for the server log");
        let log_path = dir.path().join("server.log");
        // Another process may take the free port between our probe and the server's bind;
        // then the server exits and we try a new port.
        for _ in 0..3 {
            let port = free_port();
            let log = std::fs::File::create(&log_path).expect("server log");
            let mut child = Command::new(bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("server log"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            match wait_ready(&mut child, port) {
                Ready::Yes => {
                    let server = S3Server {
                        child,
                        port,
                        _dir: dir,
                    };
                    let status = http(port, "PUT", &format!("/{BUCKET}"))
                        .unwrap_or_else(|e| panic!("create bucket {BUCKET}: {e}"));
                    assert_eq!(status, 200, "create bucket {BUCKET}: HTTP {status}");
                    return server;
                }
                Ready::Exited => continue,
                Ready::TimedOut => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} did not answer on port {port}; its log:\n{}",
                        bin.display(),
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
            }
        }
        panic!(
            "{} exited at start three times; its log:\n{}",
            bin.display(),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A store config for [`BUCKET`] on this server with key prefix `prefix`; retries are
    /// few and short so a broken server fails the test quickly.
    pub fn config(&self, prefix: &str) -> ObjectStoreConfig {
        ObjectStoreConfig {
            kind: StoreKind::S3,
            s3: S3Config {
                endpoint: Some(self.endpoint()),
                bucket: BUCKET.to_string(),
                region: "us-east-1".to_string(),
                access_key_id: Some("testing".to_string()),
                secret_access_key: Some("testing".to_string()),
                session_token: None,
                allow_http: true,
                virtual_hosted_style: false,
            },
            prefix: prefix.to_string(),
            retry: RetrySettings {
                max_retries: 2,
                initial_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                timeout: Duration::from_secs(20),
            },
            ..ObjectStoreConfig::default()
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn find_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("FLAMEDB_S3_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        assert!(
            bin.is_file(),
            "FLAMEDB_S3_SERVER_BIN={} is not a file",
            bin.display()
        );
        return Some(bin);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    });
    let tools = || {
        std::env::var_os("FLAMEDB_TOOLS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/flamedb-tools"))
            })
            .map(|t| t.join("bin/moto_server"))
            .filter(|p| p.is_file())
    };
    on_path.or_else(tools)
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

enum Ready {
    Yes,
    Exited,
    TimedOut,
}

/// Polls until the server answers an HTTP request (bounded; see [`READY_ATTEMPTS`]).
fn wait_ready(child: &mut Child, port: u16) -> Ready {
    let mut backoff = Duration::from_millis(10);
    for _ in 0..READY_ATTEMPTS {
        if let Ok(Some(_)) = child.try_wait() {
            return Ready::Exited;
        }
        if http(port, "GET", "/").is_ok() {
            return Ready::Yes;
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(200));
    }
    Ready::TimedOut
}

/// Sends a bodiless HTTP/1.1 request and returns the response status.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    response
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:.80}")))
}
