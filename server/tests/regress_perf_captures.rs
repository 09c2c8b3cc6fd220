//! Regressions in real captures: `perf record -g` of a small C program (`data/regress-c/`,
//! `prog.c` and `capture.sh`) built as three versions with known changes, four runs
//! ("pods") each, ingested as `perf script` text into a real server. What changed is
//! known by construction (the README there, and its shares measured by an independent
//! stdlib parser, `shares.py`):
//! - v1 -> v2: `hash_block` does 40% more work (a slower leaf); `render_output` calls a
//!   new `escape_html`; `checksum` calls the leaf `crc_step` twice as often (the leaf has
//!   a second caller, `render_output`, whose calls did not change).
//! - v2 -> v3: `parse_input` does half its work (an improvement).
//!
//! No caller is a finding, and each finding's cause is the change event that touched what
//! it flows through, against a history with decoys. The comparisons use `min_pp=1`: the
//! planted changes are 6 to 15 pp, and real code moves a little around them (at 0.5 pp,
//! `checksum`'s own self time rises 0.8 pp in v2, the call overhead of calling `crc_step`
//! twice as often; `main`'s 0.6 pp in v3), which are true changes but not the planted ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;

const T0: i64 = 1_700_000_000;

fn captures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/regress-c")
}

/// `(function, kind)` of every finding, and the finding of `function`.
fn findings(r: &Value) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn finding<'a>(r: &'a Value, function: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == function)
        .unwrap_or_else(|| panic!("no finding for {function}: {r:#}"))
}

fn event_ids(f: &Value) -> Vec<&str> {
    f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn culprits_kinds_and_causes_in_real_perf_captures() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    for v in 1..=3i64 {
        for pod in 0..4i64 {
            let text = std::fs::read(captures().join(format!("v{v}-pod{pod}.perf.txt"))).unwrap();
            let q = format!(
                "app=cprog&version=v{v}&label.pod=pod{pod}&format=perf&time={}",
                T0 + (v - 1) * 3600 + pod
            );
            api.ingest(&q, text).await;
        }
    }
    api.flush().await;
    let ev = |id: &str, t: i64, functions: &[&str], files: &[&str], message: &str| {
        json!({"id": id, "kind": "commit", "time": T0 + t, "app": "cprog",
               "functions": functions, "files": files, "message": message})
    };
    let a = api
        .post_body(
            "/api/v1/events",
            "application/json",
            serde_json::to_vec(&json!([
                ev(
                    "hash-loop",
                    1000,
                    &["hash_block"],
                    &["prog.c"],
                    "unroll less"
                ),
                ev(
                    "verify-twice",
                    1100,
                    &["checksum"],
                    &["prog.c"],
                    "verify twice"
                ),
                ev(
                    "escape",
                    1200,
                    &["render_output", "escape_html"],
                    &["prog.c"],
                    "escape output"
                ),
                // Decoys: an unchanged function, documentation, a flag.
                ev(
                    "format-tweak",
                    1300,
                    &["format_row"],
                    &["prog.c"],
                    "tweak format"
                ),
                ev("docs", 1400, &[], &["README.md"], "update docs"),
                json!({"id": "flag", "kind": "flag", "time": T0 + 1500, "app": "cprog",
                       "message": "new_ui=on"}),
                // Between v2 and v3.
                ev(
                    "parse-fast",
                    4000,
                    &["parse_input"],
                    &["prog.c"],
                    "halve parse work"
                ),
            ]))
            .unwrap(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    let r = api
        .get("/api/v1/regressions?app=cprog&from_version=v1&to_version=v2&min_pp=1")
        .await
        .ok()
        .json();
    assert_eq!(r["replicates"], json!([4, 4]), "{r:#}");
    let mut got = findings(&r);
    got.sort();
    let want: Vec<(String, String)> = [
        ("crc_step", "increase"),
        ("escape_html", "new"),
        ("hash_block", "increase"),
    ]
    .iter()
    .map(|(f, k)| (f.to_string(), k.to_string()))
    .collect();
    assert_eq!(got, want, "{r:#}");

    // Sizes in pp of v1's work, as `shares.py` (an independent parser) measured them in
    // samples per pod (README, "v1 -> v2: changes"): within a point.
    for (function, pp) in [
        ("crc_step", 14.6),
        ("hash_block", 9.4),
        ("escape_html", 7.9),
    ] {
        let got = finding(&r, function)["work_delta_pp"].as_f64().unwrap();
        assert!((got - pp).abs() < 1.0, "{function}: {got} vs {pp}");
    }
    let crc = finding(&r, "crc_step");
    assert_eq!(crc["callers"], json!(["checksum"]), "{crc:#}");
    assert_eq!(crc["cause"], "verify-twice", "{crc:#}");
    let ids = event_ids(crc);
    // The change to the other caller (render_output) does not carry the rise.
    if let Some(i) = ids.iter().position(|e| *e == "escape") {
        assert!(i > 0, "{crc:#}");
    }
    let new = finding(&r, "escape_html");
    assert_eq!(new["callers"], json!(["render_output"]), "{new:#}");
    assert_eq!(new["cause"], "escape", "{new:#}");
    let hash = finding(&r, "hash_block");
    assert_eq!(hash["cause"], "hash-loop", "{hash:#}");
    assert_eq!(hash["callers"], json!(["compute"]), "{hash:#}");
    for f in r["findings"].as_array().unwrap() {
        // cpu-clock samples: a cost in cores, positive for a rise.
        assert!(f["cores"].as_f64().unwrap() > 0.0, "{f:#}");
        assert_eq!(f["low_confidence"], false, "{f:#}");
        for decoy in ["format-tweak", "docs", "flag", "parse-fast"] {
            assert_ne!(f["cause"], decoy, "{f:#}");
        }
    }

    let r = api
        .get("/api/v1/regressions?app=cprog&from_version=v2&to_version=v3&min_pp=1")
        .await
        .ok()
        .json();
    assert_eq!(
        findings(&r),
        [("parse_input".to_string(), "decrease".to_string())],
        "{r:#}"
    );
    let parse = finding(&r, "parse_input");
    let got = parse["work_delta_pp"].as_f64().unwrap();
    assert!((got + 6.0).abs() < 1.0, "parse_input: {got} vs -6.0");
    assert_eq!(parse["cause"], "parse-fast", "{parse:#}");
    assert!(parse["cores"].as_f64().unwrap() < 0.0, "{parse:#}");
}
