//! Inspections, findings and alerts on a real server: an inspection records the findings
//! of the newest version (open), finds them again without duplicates (also after a
//! restart), skips apps with nothing new; a PATCH moves a finding through its states
//! (per tenant); a fixed finding is verified by a later version whose share is back; a
//! webhook receiver that fails first gets each new rise exactly once, the retry included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::query::Api;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// One pod of version `version`: `render` doubles in v2 and is back in v3, where `cache`
/// is new (a rise to alert on). Pod 0 has a one-sample stack, as real profiles do.
fn folded(version: u32, pod: u32) -> String {
    let j = i64::from(pod % 3);
    let render = if version == 2 { 200 } else { 100 } + j;
    let mut s = format!(
        "main;handle;parse {}\nmain;handle;render {render}\nmain;gc {}\nmain;idle {}\n",
        300 + j,
        200 - j,
        400 + j
    );
    if version == 3 {
        // Not under `handle` and not render's size: not a cost shift with render's fall.
        s.push_str(&format!("main;cache {}\n", 150 + j));
    }
    if pod == 0 {
        s.push_str("main;gc;sweep 1\n");
    }
    s
}

async fn ingest_version(api: &Api, version: u32) {
    for pod in 0..4 {
        let q = format!(
            "app=web&version={version}&label.pod=p{pod}&format=folded&time={}",
            1_700_000_000 + i64::from(version) * 3600 + i64::from(pod)
        );
        api.ingest(&q, folded(version, pod)).await;
    }
    api.flush().await;
}

/// A webhook receiver: answers 500 to its first request, 200 after; every body is sent
/// to the channel with the status it got.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(u16, Value)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let hits = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (tx, hits) = (tx.clone(), hits.clone());
            async move {
                let status = if hits.fetch_add(1, Ordering::SeqCst) == 0 {
                    500
                } else {
                    200
                };
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                tx.send((status, v)).unwrap();
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

/// The next webhook request (waiting for the event, bounded so a missing alert fails).
async fn next_hit(rx: &mut mpsc::UnboundedReceiver<(u16, Value)>) -> (u16, Value) {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("an alert within a minute")
        .unwrap()
}

fn records(a: &Value) -> Vec<(String, String, String)> {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["finding"]["function"].as_str().unwrap().to_string(),
                r["finding"]["kind"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspections_keep_findings_with_their_lifecycle_and_alert_once() {
    let (hook, mut hits) = receiver().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let args = [
        "--inspect-interval-secs",
        "0",
        "--alert-webhook",
        hook.as_str(),
    ];
    let server = Server::start(&data, &args);
    let api = Api::new(&server, "default");
    ingest_version(&api, 1).await;
    // One version: nothing to compare.
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(
        (r["apps"].as_u64(), r["compared"].as_u64()),
        (Some(1), Some(0)),
        "{r}"
    );
    ingest_version(&api, 2).await;
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(r["compared"], 1, "{r}");
    assert_eq!(r["new_findings"], 1, "{r}");
    let all = api.get("/api/v1/findings").await.ok().json();
    assert_eq!(
        records(&all),
        [("render".into(), "increase".into(), "open".into())]
    );
    let rec = &all["findings"][0];
    let render_id = rec["id"].as_str().unwrap().to_string();
    assert_eq!(rec["from_version"], "1");
    assert_eq!(rec["to_version"], "2");

    // The alert: refused once, delivered on the retry.
    let (status, body) = next_hit(&mut hits).await;
    assert_eq!(status, 500);
    assert_eq!(body["finding"]["id"], render_id);
    let (status, body) = next_hit(&mut hits).await;
    assert_eq!(status, 200);
    assert_eq!(body["finding"]["id"], render_id);
    assert_eq!(body["tenant"], "default");
    let text = body["text"].as_str().unwrap();
    assert!(
        text.contains("web 2: render increase") && text.contains("callers: handle"),
        "{text}"
    );

    // Nothing new: skipped. After a restart, compared again and found again: the same
    // record, no duplicate.
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(
        (r["compared"].as_u64(), r["skipped"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    server.stop();
    let server = Server::start(&data, &args);
    let api = Api::new(&server, "default");
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(
        (
            r["compared"].as_u64(),
            r["new_findings"].as_u64(),
            r["seen_again"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{r}"
    );
    let all = api.get("/api/v1/findings").await.ok().json();
    assert_eq!(all["findings"].as_array().unwrap().len(), 1, "{all:#}");
    assert_eq!(all["findings"][0]["alerted_to"], json!([hook]));

    // States by hand, per tenant.
    let patch = |id: &str, body: &str| {
        let (url, body) = (
            server.url(&format!("/api/v1/findings/{id}")),
            body.to_string(),
        );
        async move {
            let resp = reqwest::Client::new()
                .patch(url)
                .header("X-Scope-OrgID", "default")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };
    let (status, text) = patch(&render_id, r#"{"state": "acknowledged"}"#).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("\"state\":\"acknowledged\""), "{text}");
    for (id, body, want, says) in [
        (
            render_id.as_str(),
            r#"{"state": "done"}"#,
            StatusCode::BAD_REQUEST,
            "use open",
        ),
        (
            render_id.as_str(),
            r#"{"state": "verified"}"#,
            StatusCode::BAD_REQUEST,
            "mark the finding fixed",
        ),
        (
            render_id.as_str(),
            r#"{"colour": "red"}"#,
            StatusCode::BAD_REQUEST,
            "state",
        ),
        (
            "0000",
            r#"{"state": "fixed"}"#,
            StatusCode::NOT_FOUND,
            "no finding",
        ),
    ] {
        let (status, text) = patch(id, body).await;
        assert_eq!(status, want, "{body}: {text}");
        assert!(text.contains(says), "{body}: {text}");
    }
    let other = Api::new(&server, "other");
    assert_eq!(
        other.get("/api/v1/findings").await.ok().json()["findings"],
        json!([])
    );
    let resp = reqwest::Client::new()
        .patch(server.url(&format!("/api/v1/findings/{render_id}")))
        .header("X-Scope-OrgID", "other")
        .body(r#"{"state": "wontfix"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let (status, _) = patch(&render_id, r#"{"state": "fixed"}"#).await;
    assert_eq!(status, StatusCode::OK);

    // v3: render is back (the fix verified), cache is new (alerted once).
    ingest_version(&api, 3).await;
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(
        (r["compared"].as_u64(), r["verified"].as_u64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let verified = api.get("/api/v1/findings?state=verified").await.ok().json();
    assert_eq!(
        verified["findings"][0]["id"],
        render_id.as_str(),
        "{verified:#}"
    );
    assert_eq!(verified["findings"][0]["verified_by"], "3");
    let mut all = records(&api.get("/api/v1/findings?app=web").await.ok().json());
    all.sort();
    assert_eq!(
        all,
        [
            ("cache".into(), "new".into(), "open".into()),
            ("render".into(), "decrease".into(), "open".into()),
            ("render".into(), "increase".into(), "verified".into()),
        ]
    );
    // The next delivery is the new rise (not the decrease, not render again).
    let (status, body) = next_hit(&mut hits).await;
    assert_eq!(status, 200);
    assert_eq!(body["finding"]["finding"]["function"], "cache", "{body:#}");
    let a = api.get("/api/v1/findings?state=sleeping").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
}

/// The same function rising in two apps in overlapping windows is one cross-app finding;
/// a third app where it rose ten days later is not part of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_function_rising_in_several_apps_is_one_cross_app_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    let day = 86_400i64;
    for (app, start) in [("web", 0), ("api", 1800), ("batch", 10 * day)] {
        for version in 1..=2u32 {
            for pod in 0..4 {
                let q = format!(
                    "app={app}&version={version}&label.pod=p{pod}&format=folded&time={}",
                    1_700_000_000 + start + i64::from(version) * 3600 + i64::from(pod)
                );
                api.ingest(&q, folded(version, pod)).await;
            }
        }
    }
    api.flush().await;
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(
        (r["compared"].as_u64(), r["new_findings"].as_u64()),
        (Some(3), Some(3)),
        "{r}"
    );
    let all = api.get("/api/v1/findings").await.ok().json();
    let groups = all["cross_app"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{all:#}");
    assert_eq!(groups[0]["function"], "render");
    assert_eq!(groups[0]["apps"], json!(["api", "web"]));
    assert_eq!(groups[0]["findings"].as_array().unwrap().len(), 2);
    // Each app's render rose about 10 pp of its own work (100 of ~1000 per pod).
    let pp = groups[0]["work_delta_pp"].as_f64().unwrap();
    assert!((pp - 20.0).abs() < 1.0, "{pp}");
}

/// A receiver that accepts connections and never answers holds up nothing: the
/// inspection answers, ingest and queries go on while the alert waits for its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_blocks_nothing() {
    // Accepts and keeps every connection open without reading or answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let (held_tx, mut held) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut open = vec![];
        while let Ok((s, _)) = listener.accept().await {
            open.push(s);
            let _ = held_tx.send(());
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--inspect-interval-secs",
        "0",
        "--alert-webhook",
        hook.as_str(),
        "--alert-timeout-secs",
        "3600",
    ];
    let server = Server::start(&tmp.path().join("data"), &args);
    let api = Api::new(&server, "default");
    ingest_version(&api, 1).await;
    ingest_version(&api, 2).await;
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(r["new_findings"], 1, "{r}");
    // The alert's connection is open and unanswered ...
    tokio::time::timeout(Duration::from_secs(60), held.recv())
        .await
        .expect("the alert connects")
        .unwrap();
    // ... while ingest, queries and another inspection answer.
    ingest_version(&api, 3).await;
    let rows = api
        .rows("SELECT count(DISTINCT version) AS n FROM samples")
        .await;
    assert_eq!(rows, [json!({"n": 3})]);
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(r["compared"], 1, "{r}");
    let all = api.get("/api/v1/findings?state=open").await.ok().json();
    let undelivered = all["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["alerted_to"] == json!([]));
    assert!(undelivered, "{all:#}");
    api.assert_healthy().await;
}
