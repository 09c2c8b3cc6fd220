//! Change events on a real server: posted (one object or an array), listed, replaced by
//! id, refused with a message naming what is wrong, kept per tenant, readable as the SQL
//! table `change_events`, still there after SIGKILL (acknowledged means durable), and
//! written by the CLI; and ranked as the cause of a regression: the change through
//! which the rise flows first, a change to another caller of the culprit not at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post_events(api: &Api, body: &Value) -> common::query::Answer {
    api.post_body(
        "/api/v1/events",
        "application/json",
        serde_json::to_vec(body).unwrap(),
    )
    .await
}

fn ids(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn cli(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_stored_listed_replaced_per_tenant_and_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--events-max-per-request", "3"]);
    let api = Api::new(&server, "team-a");

    let a = post_events(
        &api,
        &json!({"id": "c1", "kind": "commit", "time": "2023-11-14T22:13:20Z", "app": "web",
                "author": "ana", "message": "faster parse", "files": ["src/parse.c"],
                "functions": ["parse"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["stored"], 1);
    let a = post_events(
        &api,
        &json!([
            {"id": "f1", "kind": "flag", "time": 1_700_000_100, "app": "web",
             "message": "new_renderer=on", "ticket": "PERF-7", "rollout": {"pct": 5}},
            {"id": "d1", "kind": "deploy", "time": "1700000050", "app": "api", "version": "v2"}
        ]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(a.json()["stored"], 2);

    let all = api.get("/api/v1/events").await.ok().json();
    assert_eq!(ids(&all), ["c1", "d1", "f1"], "by time: {all:#}");
    let c1 = &all["events"][0];
    assert_eq!(c1["time"], "2023-11-14T22:13:20Z");
    assert_eq!(c1["kind"], "commit");
    assert_eq!(c1["files"], json!(["src/parse.c"]));
    assert_eq!(c1["functions"], json!(["parse"]));
    let f1 = &all["events"][2];
    assert_eq!(
        f1["extra"],
        json!({"ticket": "PERF-7", "rollout": {"pct": 5}}),
        "unknown fields are kept"
    );
    assert_eq!(f1["time"], "2023-11-14T22:15:00Z");
    let web = api
        .get("/api/v1/events?app=web&from=1700000001&until=1700000200")
        .await
        .ok()
        .json();
    assert_eq!(ids(&web), ["f1"]);

    // Posting an id again replaces the event.
    let a = post_events(
        &api,
        &json!({"id": "c1", "kind": "commit", "time": 1_700_000_000, "app": "web",
                "message": "faster parse, take two"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let all = api.get("/api/v1/events").await.ok().json();
    assert_eq!(ids(&all), ["c1", "d1", "f1"]);
    assert_eq!(all["events"][0]["message"], "faster parse, take two");
    assert_eq!(all["events"][0]["functions"], json!([]));

    // Bad input: 4xx naming what is wrong; nothing stored.
    for (body, status, says) in [
        (
            json!({"kind": "commit", "time": 1, "app": "web"}),
            StatusCode::BAD_REQUEST,
            "missing \\\"id\\\"",
        ),
        (
            json!({"id": "x", "kind": "commit", "time": 1}),
            StatusCode::BAD_REQUEST,
            "missing \\\"app\\\"",
        ),
        (
            json!({"id": "x", "kind": "rollback", "time": 1, "app": "web"}),
            StatusCode::BAD_REQUEST,
            "use commit, flag, config or deploy",
        ),
        (
            json!({"id": "x", "kind": "commit", "time": "last tuesday", "app": "web"}),
            StatusCode::BAD_REQUEST,
            "RFC 3339",
        ),
        (
            json!([{"id": "x", "kind": "commit", "time": 1, "app": "web"}, "y"]),
            StatusCode::BAD_REQUEST,
            "event 1",
        ),
        (
            json!([
                {"id": "x1", "kind": "commit", "time": 1, "app": "web"},
                {"id": "x2", "kind": "commit", "time": 1, "app": "web"},
                {"id": "x3", "kind": "commit", "time": 1, "app": "web"},
                {"id": "x4", "kind": "commit", "time": 1, "app": "web"}
            ]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "--events-max-per-request",
        ),
    ] {
        let a = post_events(&api, &body).await;
        assert_eq!(a.status, status, "{body}: {}", a.text());
        assert!(a.text().contains(says), "{body}: {}", a.text());
    }
    let a = api
        .post_body("/api/v1/events", "application/json", b"{not json".to_vec())
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    let a = api.get("/api/v1/events?colour=red").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert_eq!(
        ids(&api.get("/api/v1/events").await.ok().json()),
        ["c1", "d1", "f1"]
    );

    // Another tenant sees none of them, and its own id "c1" is its own.
    let other = Api::new(&server, "team-b");
    assert_eq!(
        ids(&other.get("/api/v1/events").await.ok().json()),
        Vec::<String>::new()
    );
    let a = post_events(
        &other,
        &json!({"id": "c1", "kind": "config", "time": 5, "app": "db"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    assert_eq!(
        other.rows("SELECT id, kind, app FROM change_events").await,
        [json!({"id": "c1", "kind": "config", "app": "db"})]
    );

    // SQL over the table.
    let rows = api
        .rows(
            "SELECT id, kind, app, version, cardinality(files) AS files, \
             json_extra FROM (SELECT *, extra AS json_extra FROM change_events) \
             WHERE app = 'web' ORDER BY time",
        )
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["id"], "c1");
    assert_eq!(rows[0]["files"], 0);
    assert_eq!(rows[1]["id"], "f1");
    let extra: Value = serde_json::from_str(rows[1]["json_extra"].as_str().unwrap()).unwrap();
    assert_eq!(extra["ticket"], "PERF-7");

    // Acknowledged means durable: SIGKILL right after the answer, then read back.
    let a = post_events(
        &api,
        &json!({"id": "late", "kind": "commit", "time": 1_700_000_300, "app": "web"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    server.kill();
    let server = Server::start(&data, &[]);
    let api = Api::new(&server, "team-a");
    assert_eq!(
        ids(&api.get("/api/v1/events").await.ok().json()),
        ["c1", "d1", "f1", "late"]
    );

    // The CLI: to the server from a file, then to the data directory from stdin.
    let file = tmp.path().join("events.json");
    std::fs::write(
        &file,
        r#"[{"id": "cli1", "kind": "config", "time": 1700000400, "app": "web"}]"#,
    )
    .unwrap();
    let url = server.url("");
    let (ok, _, err) = cli(
        &[
            "events",
            "add",
            file.to_str().unwrap(),
            "--server",
            url.trim_end_matches('/'),
            "--tenant",
            "team-a",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(err.contains("stored 1 events"), "{err}");
    let (ok, _, err) = cli(
        &[
            "events",
            "add",
            file.to_str().unwrap(),
            "--server",
            url.trim_end_matches('/'),
        ],
        Some(""),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &["events", "add", "-", "--server", url.trim_end_matches('/')],
        Some(r#"{"id": "bad", "kind": "commit", "time": 1}"#),
    );
    assert!(!ok, "a missing app fails");
    assert!(
        err.contains("missing \\\"app\\\"") || err.contains("missing \"app\""),
        "{err}"
    );
    server.stop();
    let (ok, _, err) = cli(
        &[
            "events",
            "add",
            "-",
            "--data",
            data.to_str().unwrap(),
            "--tenant",
            "team-a",
        ],
        Some(r#"{"id": "cli2", "kind": "flag", "time": 1700000500, "app": "web"}"#),
    );
    assert!(ok, "{err}");
    let (ok, out, err) = cli(
        &[
            "events",
            "list",
            "--app",
            "web",
            "--data",
            data.to_str().unwrap(),
            "--tenant",
            "team-a",
        ],
        None,
    );
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ids(&listed), ["c1", "f1", "late", "cli1", "cli2"]);
}

/// Per pod: `serve` calls `leaf` through two callers `a` and `b` (100 each), beside 800
/// of other work. Version 2 makes `a` call `leaf` twice (a: 100 -> 200), give or take a
/// sample per pod. Like a real profile, pod 0 has a stack seen once (the value of one
/// sample is the unit of counting noise).
fn folded(version: u32, pod: u32) -> String {
    let j = i64::from(pod % 3);
    let via_a = if version == 1 { 100 } else { 200 } + j;
    let once = if pod == 0 {
        "main;other;syscall 1\n"
    } else {
        ""
    };
    format!(
        "main;serve;a;leaf {via_a}\nmain;serve;b;leaf {}\nmain;serve;a {}\nmain;other {}\n{once}",
        100 - j,
        50 + j,
        750 - j
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_the_rise_flows_through_is_its_cause() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    // web and api run the same code; v1 starts at t0, v2 at t0 + 3600.
    let t0 = 1_700_000_000i64;
    for app in ["web", "api"] {
        for (version, time) in [(1, t0), (2, t0 + 3600)] {
            for pod in 0..4 {
                let q = format!(
                    "app={app}&version={version}&label.pod=p{pod}&format=folded&time={}",
                    time + i64::from(pod)
                );
                api.ingest(&q, folded(version, pod)).await;
            }
        }
    }
    api.flush().await;
    let ev = |id: &str, app: &str, t: i64, functions: &[&str], message: &str| {
        json!({"id": id, "kind": "commit", "time": t, "app": app, "functions": functions,
               "message": message})
    };
    let a = post_events(
        &api,
        &json!([
            // The caller the rise flows through.
            ev("touch-a", "web", t0 + 1000, &["a"], "call the helper twice"),
            // The other caller of the culprit: nothing flows through it.
            ev("touch-b", "web", t0 + 1100, &["b"], "refactor b"),
            // Names the culprit in words only.
            ev("words", "web", t0 + 1200, &[], "leaf: tidy up"),
            // Touches the culprit, but before v1 started, and after v2 started.
            ev("too-early", "web", t0 - 10, &["leaf"], "x"),
            ev("too-late", "web", t0 + 4000, &["leaf"], "x"),
            // Another app's change.
            ev("elsewhere", "db", t0 + 1000, &["leaf"], "x"),
            // For api: only the decoy.
            ev("api-touch-b", "api", t0 + 1000, &["b"], "refactor b"),
        ]),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());

    let r = api.get("/api/v1/regressions?app=web").await.ok().json();
    let findings = r["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!(f["function"], "leaf", "{f:#}");
    assert_eq!(f["callers"], json!(["a"]), "{f:#}");
    assert_eq!(f["cause"], "touch-a", "{f:#}");
    let ranked: Vec<&str> = f["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ranked, ["touch-a", "words"], "{f:#}");
    assert!(
        f["events"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("100% of the change flows through"),
        "{f:#}"
    );
    assert!(f["events"][0]["score"].as_f64().unwrap() > f["events"][1]["score"].as_f64().unwrap());

    // The same ranking in SQL.
    let rows = api
        .rows("SELECT function, cause, events FROM regressions('web', '1', '2')")
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["cause"], "touch-a");
    assert_eq!(rows[0]["events"][0]["id"], "touch-a");

    // With only the change to the other caller, nothing has evidence: no cause.
    let r = api.get("/api/v1/regressions?app=api").await.ok().json();
    let f = &r["findings"][0];
    assert_eq!(f["function"], "leaf", "{r:#}");
    assert_eq!(f["cause"], Value::Null, "{f:#}");
    assert_eq!(f["events"], json!([]), "{f:#}");

    // A deploy event of v2 moves v2's start before "too-late"? No: it moves it earlier,
    // so "words" (t0 + 1200) falls out of the window and "touch-a" stays in.
    let a = post_events(
        &api,
        &json!({"id": "deploy-v2", "kind": "deploy", "time": t0 + 1150, "app": "web",
                "version": "2"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let r = api.get("/api/v1/regressions?app=web").await.ok().json();
    let ranked: Vec<&str> = r["findings"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ranked, ["touch-a"], "{r:#}");
}
