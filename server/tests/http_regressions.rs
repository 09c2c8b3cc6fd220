//! `GET /api/v1/regressions` on a real server: two versions of an app, four pods each, in
//! folded text whose changes are known by construction (hand-computed below); and the
//! errors a user gets for an unknown app or version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::Api;
use common::{Rng, Server};
use reqwest::StatusCode;

/// One pod's profile: `main;handle;parse` and `main;handle;render` under a request
/// handler, `main;gc` beside it. Version 2 makes `render` twice as slow (100 -> 200 per
/// profile); the other stacks are unchanged, give or take one sample per pod (so the
/// replicates vary and the test has a variance to work with). Like a real profile, pod 0
/// has a stack seen once (one sample is the unit of counting noise).
fn folded(version: u32, pod: u32) -> String {
    let jitter = i64::from(pod % 3);
    let render = if version == 1 { 100 } else { 200 } + jitter;
    let once = if pod == 0 { "main;gc;sweep 1\n" } else { "" };
    format!(
        "main;handle;parse {}\nmain;handle;render {render}\nmain;gc {}\nmain;idle {}\n{once}",
        300 + jitter,
        200 - jitter,
        400 + jitter
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slower_function_is_the_finding_and_its_callers_are_not() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    for (version, time) in [(1, 1_700_000_000), (2, 1_700_003_600)] {
        for pod in 0..4 {
            let q = format!(
                "app=web&version={version}&label.pod=p{pod}&format=folded&time={}",
                time + pod
            );
            api.ingest(&q, folded(version, pod)).await;
        }
    }
    api.flush().await;
    let a = api.get("/api/v1/regressions?app=web").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let r = a.json();
    assert_eq!(r["from_version"], "1");
    assert_eq!(r["to_version"], "2");
    assert_eq!(r["replicates"], serde_json::json!([4, 4]));
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(
        f["function"],
        "main;handle;render".rsplit(';').next().unwrap()
    );
    assert_eq!(f["kind"], "increase");
    assert_eq!(f["path"], serde_json::json!(["main", "handle"]));
    assert_eq!(f["callers"], serde_json::json!(["handle"]));
    // Per pod, render goes from about 100 of 1000 to 200 of 1100: shares 10% -> 18.2%;
    // in work of the baseline, +100 of 1000 = +10 pp.
    let (before, after) = (
        f["before_pct"].as_f64().unwrap(),
        f["after_pct"].as_f64().unwrap(),
    );
    assert!((before - 10.0).abs() < 0.2, "{before}");
    assert!((after - 200.0 / 11.0).abs() < 0.2, "{after}");
    assert!(
        (f["work_delta_pp"].as_f64().unwrap() - 10.0).abs() < 0.3,
        "{f}"
    );
    assert!(f["significance"]["p_value"].as_f64().unwrap() < 0.01, "{f}");
    assert_eq!(f["low_confidence"], false);
    assert!(f["diff_url"].as_str().unwrap().contains("right.version=2"));
    // The link answers.
    let d = api.get(f["diff_url"].as_str().unwrap()).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text());

    for (q, status, says) in [
        ("app=nope", StatusCode::NOT_FOUND, "nope"),
        ("app=web&to_version=9", StatusCode::NOT_FOUND, "no version"),
        (
            "app=web&from_version=2&to_version=2",
            StatusCode::BAD_REQUEST,
            "same",
        ),
        ("app=web&min_pp=-1", StatusCode::BAD_REQUEST, "min_pp"),
        (
            "app=web&colour=red",
            StatusCode::BAD_REQUEST,
            "unknown query parameter",
        ),
    ] {
        let a = api.get(&format!("/api/v1/regressions?{q}")).await;
        assert_eq!(a.status, status, "{q}: {}", a.text());
        assert!(a.text().contains(says), "{q}: {}", a.text());
    }
    // The same analysis in SQL: the findings as rows, and a version's function shares.
    // Per pod, render is 100 + pod % 3 (pods 0-3: +0, +1, +2, +0), parse 300 + the same.
    let rows = api
        .rows("SELECT function, kind, callers, path, cause FROM regressions('web', '1', '2')")
        .await;
    assert_eq!(
        rows,
        [
            serde_json::json!({"function": "render", "kind": "increase", "callers": ["handle"],
                             "path": ["main", "handle"], "cause": null})
        ]
    );
    let rows = api
        .rows(
            "SELECT function, self, total FROM function_shares('web', '1') \
             WHERE function IN ('render', 'handle') ORDER BY function",
        )
        .await;
    assert_eq!(
        rows,
        [
            serde_json::json!({"function": "handle", "self": 0, "total": 1606}),
            serde_json::json!({"function": "render", "self": 403, "total": 403}),
        ]
    );
    let a = api
        .sql_with("SELECT * FROM regressions('web', '1', '9')", "")
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let message = a.json()["error"].as_str().unwrap().to_string();
    assert!(
        message.contains("app \"web\" has no version \"9\""),
        "{message}"
    );
    let a = api.sql_with("SELECT * FROM regressions('web')", "").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert!(a.text().contains("from_version"), "{}", a.text());

    // Another tenant sees nothing of this one's app.
    let other = Api::new(&server, "other");
    let a = other.get("/api/v1/regressions?app=web").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{}", a.text());
    assert!(a.text().contains("no profiles"), "{}", a.text());
    api.assert_healthy().await;

    // The CLI against the same server, and in process on the same data directory once the
    // server is gone: the same finding.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flamedb"))
            .arg("regressions")
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let url = server.url("");
    let (ok, out, err) = cli(&[
        "--app",
        "web",
        "--server",
        url.trim_end_matches('/'),
        "--format",
        "json",
    ]);
    assert!(ok, "{err}");
    let remote: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(remote["findings"][0]["function"], "render");
    server.stop();
    let data = tmp.path().join("data");
    let (ok, out, err) = cli(&["--app", "web", "--data", data.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("increase") && l.contains("render (handle)")),
        "{out}"
    );
    let (ok, _, err) = cli(&["--app", "nope", "--data", data.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("app \"nope\" has no profiles"), "{err}");
}

/// One pod's profile drawn from fixed stack weights: `samples` samples, each stack's count
/// multinomial (so pods differ as real ones do).
fn sampled(rng: &mut Rng, samples: usize) -> String {
    const STACKS: [(&str, u64); 8] = [
        ("main;serve;parse;lex", 20),
        ("main;serve;parse", 5),
        ("main;serve;render;template", 15),
        ("main;serve;render;escape", 10),
        ("main;serve;db;query", 25),
        ("main;serve;db;decode", 10),
        ("main;gc;mark", 10),
        ("main;gc;sweep", 5),
    ];
    let total: u64 = STACKS.iter().map(|s| s.1).sum();
    let mut counts = [0u64; 8];
    for _ in 0..samples {
        let mut x = rng.next() % total;
        for (i, (_, w)) in STACKS.iter().enumerate() {
            if x < *w {
                counts[i] += 1;
                break;
            }
            x -= w;
        }
    }
    STACKS
        .iter()
        .zip(counts)
        .filter(|(_, c)| *c > 0)
        .map(|((s, _), c)| format!("{s} {c}\n"))
        .collect()
}

/// A/A: one build's pods split into two "versions" (the same stack weights, sampling noise
/// only) give no finding, at the default threshold and at a fifth of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_build_split_in_two_gives_no_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for (version, time) in [("a", 1_700_000_000), ("b", 1_700_003_600)] {
        for pod in 0..8 {
            let q = format!(
                "app=web&version={version}&label.pod=p{pod}&format=folded&time={}",
                time + pod
            );
            api.ingest(&q, sampled(&mut rng, 2000)).await;
        }
    }
    api.flush().await;
    for min_pp in ["0.5", "0.1"] {
        let a = api
            .get(&format!("/api/v1/regressions?app=web&min_pp={min_pp}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text());
        let r = a.json();
        assert_eq!(r["replicates"], serde_json::json!([8, 8]));
        assert_eq!(
            r["findings"],
            serde_json::json!([]),
            "min_pp {min_pp}: {r:#}"
        );
    }
}
