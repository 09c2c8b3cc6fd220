//! A real `flamedb serve` process for tests, and reading its data directory back.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use flamedb_storage::{DataDir, PartitionFilter, StoreConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `flamedb serve --listen 127.0.0.1:0 --data DATA ARGS...` and waits for its
    /// `listening on ADDR` line.
    pub fn start(data: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flamedb"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(args)
            .env("FLAMEDB_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stdout line: {line:?}"))
            .to_string();
        Server {
            child,
            base: format!("http://{addr}"),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits; the server must exit 0 (after flushing).
    pub fn stop(mut self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "server exit status {status}");
    }

    /// SIGKILL, then waits.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the `flamedb` binary with `args`.
pub fn flamedb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(args)
        .output()
        .unwrap()
}

/// `flamedb ingest --app APP --tenant TENANT --data DATA FILE` (format detected), which
/// must succeed.
pub fn cli_ingest(data: &Path, app: &str, tenant: &str, file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(["ingest", "--app", app, "--tenant", tenant, "--data"])
        .arg(data)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether npm can run; without it the caller is SKIPPED (a failure when `CI` is set:
/// `.ci/setup` installs Node.js and npm).
pub fn npm_or_skip() -> bool {
    let ok = Command::new("npm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "npm is missing (CI is set): run .ci/setup"
        );
        eprintln!("SKIPPED: npm is not installed (bash .ci/setup installs it)");
    }
    ok
}

/// Peak resident set of process `pid` in bytes (`VmHWM` in /proc/PID/status).
pub fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024
}

/// The corpus directory (`None`: skipped, see `corpus_dir`).
pub fn corpus() -> Option<PathBuf> {
    flamedb_profile::testing::corpus_dir()
}

/// The facts `expected.json` holds about `file`.
pub fn expected(corpus: &Path, file: &str) -> serde_json::Value {
    let all: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("expected.json")).unwrap())
            .unwrap();
    all["files"][file].clone()
}

/// What a data directory holds for one tenant, per app.
#[derive(Debug, Default)]
pub struct Stored {
    /// Sum of sample values per app, per sample type name.
    pub sums: BTreeMap<String, BTreeMap<String, i128>>,
    /// (version, dc) partitions per app.
    pub partitions: BTreeMap<String, BTreeSet<(String, String)>>,
    /// Every series label set, as sorted pairs, per app.
    pub series: BTreeMap<String, Vec<Vec<(String, String)>>>,
}

/// Opens the data directory with the storage API (replaying what its WAL holds) and
/// reads every block of `tenant`.
pub async fn read_back(data: &Path, tenant: &str) -> Stored {
    let (store, _) = DataDir(data)
        .open_local(StoreConfig::default())
        .await
        .unwrap();
    store.close().await.unwrap();
    let mut out = Stored::default();
    for b in store
        .blocks(tenant, &PartitionFilter::default())
        .await
        .unwrap()
    {
        let p = &b.path.partition;
        out.partitions
            .entry(p.app.clone())
            .or_default()
            .insert((p.version.clone(), p.dc.clone()));
        let (_, d) = store.read_block(&b.path).await.unwrap();
        let sums = out.sums.entry(p.app.clone()).or_default();
        for i in 0..d.samples.len() {
            let t = d.sample_types[d.sample_key(i).0 as usize].name();
            *sums.entry(t).or_default() += i128::from(d.samples.value[i]);
        }
        out.series
            .entry(p.app.clone())
            .or_default()
            .extend(d.series.iter().map(|l| l.pairs().to_vec()));
    }
    out
}

/// Seeded xorshift64, for tests that draw data (no crate needed for randomness).
pub struct Rng(pub u64);

impl Rng {
    /// The next value (the seed must not be 0).
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

pub mod browser;
pub mod push;
#[allow(dead_code)]
pub mod pyroscope_api;
pub mod query;
pub mod soak;
