//! gen_workload.py's folded output (`DATA/folded/manifest.jsonl` and one gzipped folded
//! file per profile) as flamedb's real ingest paths take it.
//!
//! The files' values are CPU sample counts; the manifest gives `unit: samples` and
//! `period_ns` (10 ms). The peers see `count x period` nanoseconds, so flamedb is told the
//! sampling rate (`1e9 / period_ns` Hz) and stores the same nanoseconds as
//! `cpu/nanoseconds`: Pyroscope's `POST /ingest?...&sampleRate=HZ` through the server,
//! `flamedb ingest --sample-rate HZ` through the CLI. The profile time (`ts`, seconds) is
//! `from` (and `until = from + duration_s`) over HTTP and `FILE@TIME` on the command line.

use anyhow::{Context, Result, ensure};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One line of the manifest.
#[derive(Debug, Clone, Deserialize)]
struct ManifestLine {
    app: String,
    version: String,
    dc: String,
    pod: String,
    ts: i64,
    duration_s: i64,
    #[serde(rename = "type")]
    kind: String,
    path: String,
    unit: String,
    period_ns: Option<i64>,
}

/// One folded profile of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoldedProfile {
    /// Series labels: app, version, dc, pod.
    pub labels: Vec<(String, String)>,
    /// Start time, seconds since the epoch.
    pub time_s: i64,
    /// Duration, seconds.
    pub duration_s: i64,
    /// The gzipped folded file.
    pub path: PathBuf,
}

/// The fleet's folded profiles in manifest order, and their sampling rate in Hz.
#[derive(Debug, Clone)]
pub struct FoldedFleet {
    /// Every CPU profile.
    pub profiles: Vec<FoldedProfile>,
    /// Samples per second (`1e9 / period_ns`).
    pub rate_hz: u32,
    /// Whether every CPU profile of the manifest is here (no `max_profiles` cut).
    pub complete: bool,
}

impl FoldedFleet {
    /// Reads `DATA/folded/manifest.jsonl` (CPU profiles only); `max_profiles` stops early
    /// (0 = all).
    pub fn load(data: &Path, max_profiles: usize) -> Result<FoldedFleet> {
        let dir = data.join("folded");
        let manifest = dir.join("manifest.jsonl");
        let text = std::fs::read_to_string(&manifest).with_context(|| {
            format!(
                "reading {} (generate it with gen_workload.py --formats folded; run.sh --input folded does)",
                manifest.display()
            )
        })?;
        Self::parse(&text, &dir, max_profiles)
    }

    fn parse(text: &str, dir: &Path, max_profiles: usize) -> Result<FoldedFleet> {
        let mut profiles = Vec::new();
        let mut period = None;
        let mut complete = true;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let m: ManifestLine =
                serde_json::from_str(line).with_context(|| format!("manifest line {}", i + 1))?;
            if m.kind != "cpu" {
                continue;
            }
            ensure!(
                m.unit == "samples",
                "manifest line {}: unit {:?}, expected samples",
                i + 1,
                m.unit
            );
            let p = m
                .period_ns
                .with_context(|| format!("manifest line {}: no period_ns", i + 1))?;
            ensure!(
                *period.get_or_insert(p) == p,
                "manifest line {}: period {p} ns differs from the first line's",
                i + 1
            );
            if max_profiles > 0 && profiles.len() == max_profiles {
                complete = false;
                break;
            }
            profiles.push(FoldedProfile {
                labels: vec![
                    ("app".into(), m.app),
                    ("version".into(), m.version),
                    ("dc".into(), m.dc),
                    ("pod".into(), m.pod),
                ],
                time_s: m.ts,
                duration_s: m.duration_s,
                path: dir.join(m.path),
            });
        }
        let period = period.context("the manifest lists no cpu profile")?;
        ensure!(
            period > 0 && 1_000_000_000 % period == 0,
            "period {period} ns is not a whole number of samples per second"
        );
        Ok(FoldedFleet {
            profiles,
            rate_hz: u32::try_from(1_000_000_000 / period)?,
            complete,
        })
    }
}

/// `POST /ingest?name=APP.cpu{version=..,dc=..,pod=..}&from=&until=&format=folded&sampleRate=`,
/// Pyroscope's ingest of a folded CPU profile.
pub fn pyroscope_path(p: &FoldedProfile, rate_hz: u32) -> String {
    let label = |k: &str| {
        p.labels
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.as_str())
    };
    let tags: Vec<String> = p
        .labels
        .iter()
        .filter(|(k, _)| k != "app")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let name = format!("{}.cpu{{{}}}", label("app"), tags.join(","));
    format!(
        "/ingest?name={}&from={}&until={}&format=folded&sampleRate={rate_hz}",
        crate::via_http::encode(&name),
        p.time_s,
        p.time_s + p.duration_s
    )
}

/// The `flamedb ingest` argument of a profile: `FILE@TIME` (time in seconds).
pub fn cli_arg(p: &FoldedProfile) -> String {
    format!("{}@{}", p.path.display(), p.time_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"{"app": "a", "version": "v1", "dc": "eu", "pod": "a-1", "ts": 100, "duration_s": 10, "type": "cpu", "path": "a/v1/eu/a-1/100.folded.gz", "unit": "samples", "period_ns": 10000000}
{"app": "a", "version": "v1", "dc": "eu", "pod": "a-1", "ts": 100, "duration_s": 10, "type": "alloc", "path": "a/v1/eu/a-1/100.alloc.folded.gz", "unit": "bytes"}
{"app": "a b", "version": "v2", "dc": "us", "pod": "a-2", "ts": 110, "duration_s": 10, "type": "cpu", "path": "x.folded.gz", "unit": "samples", "period_ns": 10000000}
"#;

    #[test]
    fn manifest_gives_cpu_profiles_labels_times_and_the_rate() {
        let f = FoldedFleet::parse(MANIFEST, Path::new("/d"), 0).unwrap();
        assert_eq!(f.rate_hz, 100);
        assert_eq!(f.profiles.len(), 2);
        assert!(f.complete);
        let p = &f.profiles[0];
        assert_eq!(p.path, Path::new("/d/a/v1/eu/a-1/100.folded.gz"));
        assert_eq!((p.time_s, p.duration_s), (100, 10));
        assert_eq!(
            pyroscope_path(p, f.rate_hz),
            "/ingest?name=a.cpu%7Bversion%3Dv1%2Cdc%3Deu%2Cpod%3Da-1%7D&from=100&until=110&format=folded&sampleRate=100"
        );
        assert_eq!(cli_arg(p), "/d/a/v1/eu/a-1/100.folded.gz@100");
        let first = FoldedFleet::parse(MANIFEST, Path::new("/d"), 1).unwrap();
        assert_eq!((first.profiles.len(), first.complete), (1, false));
    }

    #[test]
    fn a_manifest_of_other_units_or_periods_is_refused() {
        let counts = MANIFEST.replace(r#""unit": "samples""#, r#""unit": "count""#);
        assert!(FoldedFleet::parse(&counts, Path::new("/d"), 0).is_err());
        let mixed = MANIFEST.replacen("10000000", "3000000", 1);
        assert!(FoldedFleet::parse(&mixed, Path::new("/d"), 0).is_err());
        let odd = MANIFEST.replace("10000000", "3000000");
        assert!(FoldedFleet::parse(&odd, Path::new("/d"), 0).is_err());
    }
}
