//! `flamedb serve` end to end, what ingest does to what is sent: Pyroscope's
//! `sample_type_config` and `prev_profile` (cumulative types stored as differences),
//! `until` as the profile's duration, push requests stored all or nothing, and the cap on
//! ingest requests handled at once. Every expected value is computed by hand from the
//! small profiles built here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::push::{self, PushRequest, RawProfileSeries};
use common::query::Api;
use flamedb_profile::{FrameKind, LabelSetId, Profile};
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Write;

/// A pprof profile of `types` (`name/unit`) with one sample per (folded stack, values).
fn pprof(types: &[(&str, &str)], samples: &[(&str, &[i64])], duration_nanos: i64) -> Vec<u8> {
    let mut p = Profile::new();
    for (kind, unit) in types {
        p.add_sample_type(kind, unit);
    }
    p.time_nanos = 1_764_300_000_000_000_000;
    p.duration_nanos = duration_nanos;
    for (stack, values) in samples {
        let locations: Vec<_> = stack
            .split(';')
            .map(|f| {
                p.symbols
                    .intern_named_location(f, None, 0, FrameKind::Unspecified)
            })
            .collect();
        let id = p.symbols.stacks.intern(locations);
        p.push_sample(id, values, LabelSetId::default(), None);
    }
    flamedb_profile::pprof::encode(&p)
}

/// The four sample types of a Go heap profile.
const HEAP: &[(&str, &str)] = &[
    ("alloc_objects", "count"),
    ("alloc_space", "bytes"),
    ("inuse_objects", "count"),
    ("inuse_space", "bytes"),
];

/// A multipart/form-data body of `parts`: (Content-Type, body).
fn multipart(parts: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let b = "semantics-boundary";
    let mut body = Vec::new();
    for (name, data) in parts {
        write!(
            body,
            "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{b}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={b}"), body)
}

async fn post(server: &Server, path: &str, ctype: &str, body: Vec<u8>) -> (StatusCode, String) {
    let resp = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

/// `(sample_type/unit, folded stack, sum)` of `app`, sorted, zero sums left out.
async fn sums(api: &Api, app: &str) -> Vec<(String, String, i64)> {
    let rows = api
        .rows(&format!(
            "SELECT sample_type || '/' || sample_unit AS t, folded(stack) AS s, sum(value) AS v \
             FROM samples WHERE app = '{app}' GROUP BY 1, 2 HAVING sum(value) <> 0 ORDER BY 1, 2"
        ))
        .await;
    rows.iter()
        .map(|r| {
            (
                r["t"].as_str().unwrap().to_string(),
                r["s"].as_str().unwrap().to_string(),
                r["v"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn row(t: &str, s: &str, v: i64) -> (String, String, i64) {
    (t.to_string(), s.to_string(), v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_type_config_and_prev_profile_are_applied_as_pyroscope_did() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let prev = pprof(
        HEAP,
        &[
            ("main;a", &[10, 1000, 2, 200]),
            ("main;b", &[5, 500, 1, 100]),
        ],
        0,
    );
    let cur = pprof(
        HEAP,
        &[
            ("main;a", &[14, 1600, 3, 300]),
            ("main;b", &[5, 400, 0, 0]),
            ("main;c", &[2, 64, 2, 64]),
        ],
        0,
    );
    // No sample_type_config part: Pyroscope's default mapping (alloc_* cumulative,
    // units objects/bytes).
    let (ctype, body) = multipart(&[("profile", &cur), ("prev_profile", &prev)]);
    let (status, text) = post(&server, "/ingest?name=heap-default", &ctype, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // An explicit config: inuse_space renamed, alloc_space cumulative but no
    // prev_profile (dropped), the other two types not named (dropped).
    let config = br#"{"inuse_space": {"display-name": "heap", "units": "megabytes", "aggregation": "average"},
                      "alloc_space": {"units": "bytes", "cumulative": true}}"#;
    let (ctype, body) = multipart(&[("profile", &cur), ("sample_type_config", config)]);
    let (status, text) = post(&server, "/ingest?name=heap-config", &ctype, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // Only cumulative types and no prev_profile: nothing to store, still 200.
    let only_alloc = br#"{"alloc_space": {"cumulative": true}}"#;
    let (ctype, body) = multipart(&[("profile", &cur), ("sample_type_config", only_alloc)]);
    let (status, text) = post(&server, "/ingest?name=heap-nothing", &ctype, body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // A config that is not an object of objects, or an unknown aggregation: 400.
    for bad in [&b"[1]"[..], br#"{"inuse_space": {"aggregation": "max"}}"#] {
        let (ctype, body) = multipart(&[("profile", &cur), ("sample_type_config", bad)]);
        let (status, text) = post(&server, "/ingest?name=heap-bad", &ctype, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("sample_type_config"), "{text}");
    }
    api.flush().await;

    // Hand-computed: alloc = cur - prev per stack (b went down in alloc_space: 0; c is new).
    assert_eq!(
        sums(&api, "heap-default").await,
        vec![
            row("alloc_objects/objects", "main;a", 4),
            row("alloc_objects/objects", "main;c", 2),
            row("alloc_space/bytes", "main;a", 600),
            row("alloc_space/bytes", "main;c", 64),
            row("inuse_objects/objects", "main;a", 3),
            row("inuse_objects/objects", "main;c", 2),
            row("inuse_space/bytes", "main;a", 300),
            row("inuse_space/bytes", "main;c", 64),
        ]
    );
    assert_eq!(
        sums(&api, "heap-config").await,
        vec![
            row("heap/megabytes", "main;a", 300),
            row("heap/megabytes", "main;c", 64)
        ]
    );
    let n = api
        .rows("SELECT count(*) AS n FROM profiles WHERE app IN ('heap-nothing', 'heap-bad')")
        .await;
    assert_eq!(n[0]["n"], 0);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn until_minus_from_is_the_duration_of_profiles_without_one() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let text = "text/plain";
    let folded = b"main;a 3\nmain;b 1\n".to_vec();
    // Seconds: 10 s.
    let q = "/ingest?name=dur-folded.cpu&from=1764300000&until=1764300010";
    let (status, body) = post(&server, q, text, folded.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Milliseconds, lines format: 250 ms.
    let q = "/ingest?name=dur-lines.cpu&format=lines&from=1764300000000&until=1764300000250";
    let (status, body) = post(&server, q, text, b"main;a\nmain;a\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // pprof with its own duration (5 s) keeps it; without one it gets until - from (10 s).
    let own = pprof(
        &[("cpu", "nanoseconds")],
        &[("main;a", &[7])],
        5_000_000_000,
    );
    let q = "/ingest?name=dur-pprof-own.cpu&format=pprof&from=1764300000&until=1764300010";
    let (status, body) = post(&server, q, "application/octet-stream", own).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let none = pprof(&[("cpu", "nanoseconds")], &[("main;a", &[7])], 0);
    let q = "/ingest?name=dur-pprof-none.cpu&format=pprof&from=1764300000&until=1764300010";
    let (status, body) = post(&server, q, "application/octet-stream", none).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // until before from: 400, nothing stored.
    let q = "/ingest?name=dur-bad.cpu&from=1764300010&until=1764300000";
    let (status, body) = post(&server, q, text, folded).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("before from"), "{body}");
    api.flush().await;

    let rows = api
        .rows("SELECT app, duration_nanos FROM profiles ORDER BY app")
        .await;
    assert_eq!(
        Value::Array(rows),
        json!([
            {"app": "dur-folded", "duration_nanos": 10_000_000_000i64},
            {"app": "dur-lines", "duration_nanos": 250_000_000},
            {"app": "dur-pprof-none", "duration_nanos": 10_000_000_000i64},
            {"app": "dur-pprof-own", "duration_nanos": 5_000_000_000i64},
        ])
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_rate_stores_folded_cpu_and_wall_counts_as_nanoseconds_as_pyroscope() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let text = "text/plain";
    let folded = b"main;a 3\nmain;b 1\n".to_vec();
    for (name, status) in [
        // 100 Hz: 10 ms per sample.
        ("rate-cpu.cpu", StatusCode::OK),
        // No profile name is a CPU profile (Pyroscope's default).
        ("rate-bare", StatusCode::OK),
        // 100 Hz wall clock.
        ("rate-wall.wall", StatusCode::OK),
        // Not a time profile: the counts stay.
        ("rate-objects.alloc_objects", StatusCode::OK),
    ] {
        let q = format!("/ingest?name={name}&from=1764300000&sampleRate=100");
        let (got, body) = post(&server, &q, text, folded.clone()).await;
        assert_eq!(got, status, "{name}: {body}");
    }
    // Lines are one sample each: 3 Hz is 333333333 ns per sample.
    let q = "/ingest?name=rate-lines.cpu&format=lines&from=1764300000&sampleRate=3";
    let (got, body) = post(&server, q, text, b"main;a\nmain;a\n".to_vec()).await;
    assert_eq!(got, StatusCode::OK, "{body}");
    // Two count columns (a differential folded file) are not sample counts of one profile.
    let q = "/ingest?name=rate-diff.cpu&from=1764300000&sampleRate=100";
    let (got, body) = post(&server, q, text, b"main;a 1 2\n".to_vec()).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("sampleRate"), "{body}");
    api.flush().await;

    let cpu = vec![
        row("cpu/nanoseconds", "main;a", 30_000_000),
        row("cpu/nanoseconds", "main;b", 10_000_000),
    ];
    assert_eq!(sums(&api, "rate-cpu").await, cpu);
    assert_eq!(sums(&api, "rate-bare").await, cpu);
    assert_eq!(
        sums(&api, "rate-wall").await,
        vec![
            row("wall/nanoseconds", "main;a", 30_000_000),
            row("wall/nanoseconds", "main;b", 10_000_000),
        ]
    );
    assert_eq!(
        sums(&api, "rate-objects").await,
        vec![
            row("samples/count", "main;a", 3),
            row("samples/count", "main;b", 1),
        ]
    );
    assert_eq!(
        sums(&api, "rate-lines").await,
        vec![row("cpu/nanoseconds", "main;a", 666_666_666)]
    );
    let rows = api
        .rows("SELECT app, period FROM profiles WHERE app LIKE 'rate-%' ORDER BY app")
        .await;
    assert_eq!(
        Value::Array(rows),
        json!([
            {"app": "rate-bare", "period": 10_000_000},
            {"app": "rate-cpu", "period": 10_000_000},
            {"app": "rate-lines", "period": 333_333_333},
            {"app": "rate-objects", "period": 0},
            {"app": "rate-wall", "period": 10_000_000},
        ])
    );
    server.stop();
}

fn series(app: &str, profile: Vec<u8>) -> RawProfileSeries {
    push::series(&[("service_name", app)], profile, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_with_one_bad_profile_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let good = pprof(&[("cpu", "nanoseconds")], &[("main;a", &[7])], 0);
    let bad = PushRequest {
        series: vec![
            series("push-good", good.clone()),
            series("push-bad", b"\x0a\xff\xff\xff not a profile".to_vec()),
        ],
    };
    let (status, text) = post(
        &server,
        "/push.v1.PusherService/Push",
        "application/proto",
        bad.encode_to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["code"], "invalid_argument", "{text}");
    api.flush().await;
    let count = "SELECT count(*) AS n FROM profiles";
    assert_eq!(api.rows(count).await[0]["n"], 0);
    // The same request without the bad series is stored: the count can be non-zero.
    let ok = PushRequest {
        series: vec![series("push-good", good)],
    };
    let (status, text) = post(
        &server,
        "/push.v1.PusherService/Push",
        "application/proto",
        ok.encode_to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    api.flush().await;
    assert_eq!(api.rows(count).await[0]["n"], 1);
    server.stop();
}

/// The value of `flamedb_ingest_in_flight` in `/metrics`.
async fn ingest_in_flight(server: &Server) -> i64 {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("flamedb_ingest_in_flight "))
        .unwrap_or_else(|| panic!("no flamedb_ingest_in_flight in {text}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_requests_over_the_cap_get_429_until_a_slot_is_free_and_queries_still_answer() {
    let tmp = tempfile::tempdir().unwrap();
    // Set through the config file (flags and FLAMEDB_* variables parse the same way).
    let config = tmp.path().join("flamedb.conf");
    std::fs::write(&config, "max-concurrent-ingests = 1\n").unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let api = Api::new(&server, "default");
    // The first request's body is a stream this test controls: it stays open (holding
    // the only slot) until the sender is dropped.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tx.send(Ok(b"main;slow 1\n".to_vec())).await.unwrap();
    let stream = tokio_stream_from(rx);
    let first = tokio::spawn(
        reqwest::Client::new()
            .post(server.url("/api/v1/ingest?app=slow&format=folded"))
            .body(reqwest::Body::wrap_stream(stream))
            .send(),
    );
    // Wait (on the server's own gauge, not on time) until the first request holds it.
    let mut polls = 0;
    while ingest_in_flight(&server).await == 0 {
        polls += 1;
        assert!(polls < 100_000, "the first request never got its slot");
        tokio::task::yield_now().await;
    }
    for path in [
        "/api/v1/ingest?app=second&format=folded",
        "/ingest?name=second.cpu",
    ] {
        let resp = reqwest::Client::new()
            .post(server.url(path))
            .body("main;b 1\n")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(resp.headers()["retry-after"], "1");
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("--max-concurrent-ingests"),
            "{body}"
        );
    }
    // The push route answers in Connect's format, with the same status and Retry-After.
    let resp = reqwest::Client::new()
        .post(server.url("/push.v1.PusherService/Push"))
        .header("content-type", "application/proto")
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "resource_exhausted", "{body}");
    // Queries have their own admission (--query-concurrency): with every ingest slot
    // taken they still answer.
    let sql = api
        .sql_with("SELECT count(*) AS n FROM samples", "")
        .await
        .ok();
    assert_eq!(sql.json(), json!([{"n": 0}]));
    for path in [
        "/api/v1/apps",
        "/api/v1/labels",
        "/api/v1/flamegraph?app=slow",
    ] {
        let a = api.get(path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.text());
    }
    let a = api
        .post_body(
            "/querier.v1.QuerierService/ProfileTypes",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "ProfileTypes: {}", a.text());
    assert_eq!(ingest_in_flight(&server).await, 1);
    // Finish the first request: it succeeds, and the slot is free again.
    tx.send(Ok(b"main;slow 2\n".to_vec())).await.unwrap();
    drop(tx);
    let resp = first.await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    api.ingest("app=second&format=folded", "main;b 1\n").await;
    api.flush().await;
    let rows = api
        .rows("SELECT app, sum(value) AS v FROM samples GROUP BY app ORDER BY app")
        .await;
    assert_eq!(
        Value::Array(rows),
        json!([{"app": "second", "v": 1}, {"app": "slow", "v": 3}])
    );
    server.stop();
}

/// A `Stream` over an mpsc receiver (what `tokio_stream::wrappers::ReceiverStream` does).
fn tokio_stream_from<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[test]
fn a_cap_of_zero_is_refused_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    for (flag, value) in [
        ("--max-concurrent-ingests", "0"),
        ("--tenant-rate-max-tenants", "0"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_flamedb"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(tmp.path())
            .args([flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag}");
        assert!(
            stderr.contains(flag) && stderr.contains("at least 1"),
            "{stderr}"
        );
    }
}
