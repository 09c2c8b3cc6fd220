//! `flamedb serve` end to end, the unhappy paths: bad input, limits, auth and tenants each
//! get the right 4xx with a JSON message while the server stays healthy; and a SIGKILL
//! during ingest loses nothing that was acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, read_back};
use reqwest::StatusCode;
use std::io::{Read, Write};

/// Sends a request and returns its status and JSON body.
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, serde_json::Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, json)
}

fn gzip_bomb() -> Vec<u8> {
    // 1024 gzip members of 1 MiB of zeros: 1 GiB decompressed, about 1 MiB sent.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = e.finish().unwrap();
    member.repeat(1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_with_a_message_and_the_server_stays_healthy() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(
        tmp.path(),
        &[
            "--auth-token",
            "right",
            "--max-body-bytes",
            "2000000",
            "--max-decompressed-bytes",
            "50000000",
            "--max-stack-depth",
            "3",
            "--tenant-requests-per-sec",
            "0.000001",
            "--tenant-request-burst",
            "20",
        ],
    );
    let http = reqwest::Client::new();
    let api = |q: &str| {
        http.post(server.url(&format!("/api/v1/ingest?{q}")))
            .bearer_auth("right")
    };
    let push = || {
        http.post(server.url("/push.v1.PusherService/Push"))
            .bearer_auth("right")
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            "no token",
            http.post(server.url("/api/v1/ingest?app=a")).body("a 1"),
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
        ),
        (
            "wrong token",
            http.post(server.url("/api/v1/ingest?app=a"))
                .bearer_auth("wrong")
                .body("a 1"),
            StatusCode::UNAUTHORIZED,
            "invalid bearer token",
        ),
        (
            "bad tenant",
            api("app=a").header("X-Scope-OrgID", "../etc").body("a 1"),
            StatusCode::BAD_REQUEST,
            "bad tenant",
        ),
        (
            "unknown format",
            api("app=a&format=xml").body("a 1"),
            StatusCode::BAD_REQUEST,
            "not a format",
        ),
        (
            "missing app",
            api("version=1").body("a 1"),
            StatusCode::BAD_REQUEST,
            "missing app",
        ),
        (
            "folded line",
            api("app=a&format=folded").body("\n\nno count here\n"),
            StatusCode::BAD_REQUEST,
            "folded line 3",
        ),
        (
            "deep stack",
            api("app=a").body("a;b 1\na;b;c;d 1\n"),
            StatusCode::BAD_REQUEST,
            "limit of 3",
        ),
        (
            "garbage pprof",
            api("app=a&format=pprof").body(vec![0xffu8; 64]),
            StatusCode::BAD_REQUEST,
            "pprof",
        ),
        (
            "oversize body",
            api("app=a").body(vec![b'a'; 2_500_000]),
            StatusCode::PAYLOAD_TOO_LARGE,
            "exceeds the limit of 2000000",
        ),
        (
            "gzip bomb",
            api("app=a")
                .header("content-encoding", "gzip")
                .body(gzip_bomb()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "limit of 50000000",
        ),
        (
            "bad encoding",
            api("app=a").header("content-encoding", "br").body("x"),
            StatusCode::BAD_REQUEST,
            "not supported",
        ),
        (
            "empty body",
            api("app=a&format=folded").body(""),
            StatusCode::BAD_REQUEST,
            "body is empty",
        ),
        (
            "pyroscope empty body",
            http.post(server.url("/ingest?name=a.cpu"))
                .bearer_auth("right")
                .body(""),
            StatusCode::BAD_REQUEST,
            "body is empty",
        ),
        (
            "a date that does not exist",
            http.post(server.url("/ingest?name=a.cpu&from=20240230"))
                .bearer_auth("right")
                .body("a 1"),
            StatusCode::BAD_REQUEST,
            "does not exist",
        ),
        (
            "a time beyond the range",
            http.post(server.url("/ingest?name=a.cpu&from=now-99999999999d"))
                .bearer_auth("right")
                .body("a 1"),
            StatusCode::BAD_REQUEST,
            "now-99999999999d",
        ),
        (
            "two tenants",
            api("app=a")
                .header("X-Scope-OrgID", "a")
                .header("X-Scope-OrgID", "b")
                .body("a 1"),
            StatusCode::BAD_REQUEST,
            "more than once",
        ),
        (
            "pyroscope no name",
            http.post(server.url("/ingest"))
                .bearer_auth("right")
                .body("a 1"),
            StatusCode::BAD_REQUEST,
            "missing app",
        ),
        (
            "pyroscope format",
            http.post(server.url("/ingest?name=a.cpu&format=trie"))
                .bearer_auth("right")
                .body("x"),
            StatusCode::BAD_REQUEST,
            "trie",
        ),
    ];
    for (what, req, status, says) in cases {
        let (got, body) = send(req).await;
        assert_eq!(got, status, "{what}: {body}");
        let msg = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {body}"));
        assert!(msg.contains(says), "{what}: {msg:?} should say {says:?}");
    }
    // The push API answers in Connect's error format.
    let (got, body) = send(
        push()
            .header("content-type", "application/proto")
            .body(vec![0xffu8; 16]),
    )
    .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_argument")),
        "{body}"
    );
    let (got, body) = send(
        http.post(server.url("/push.v1.PusherService/Push"))
            .body(""),
    )
    .await;
    assert_eq!(
        (got, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated")),
        "{body}"
    );
    // A body declared far over the limit is refused before it is sent.
    assert!(raw_request(&server.base, "POST /api/v1/ingest?app=a HTTP/1.1\r\nAuthorization: Bearer right\r\nContent-Length: 1000000000\r\n\r\n").starts_with("HTTP/1.1 413"));
    // Rate limit: tenant `hammer` has a burst of 20 requests and (almost) no refill.
    for i in 0..21 {
        let (got, body) = send(
            api("app=a")
                .header("X-Scope-OrgID", "hammer")
                .body("a;b 1\n"),
        )
        .await;
        let want = if i < 20 {
            StatusCode::OK
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(got, want, "request {i}: {body}");
    }
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"flamedb_http_errors_total{endpoint="/api/v1/ingest",status="413"} 3"#),
        "{metrics}"
    );
    server.stop();
}

/// A raw HTTP/1.1 exchange (for requests a client library will not send); returns the
/// response head.
fn raw_request(base: &str, head: &str) -> String {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_ingest_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path(), &[]);
    let url = server.url("/api/v1/ingest?app=crash&format=folded");
    let (acks, mut acked) = tokio::sync::mpsc::unbounded_channel();
    let sender = tokio::spawn(async move {
        let http = reqwest::Client::new();
        for seq in 0..10_000u32 {
            let body = format!("main;work;step{} {}\n", seq % 7, seq + 1);
            let Ok(resp) = http
                .post(format!("{url}&label.seq={seq}"))
                .body(body)
                .send()
                .await
            else {
                break;
            };
            if resp.status() != StatusCode::OK || acks.send(seq).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    while got.len() < 25 {
        got.push(acked.recv().await.expect("the sender stopped early"));
    }
    server.kill();
    sender.await.unwrap();
    while let Ok(seq) = acked.try_recv() {
        got.push(seq);
    }

    // Restart: the WAL is replayed; SIGTERM flushes it to blocks.
    Server::start(tmp.path(), &[]).stop();
    let stored = read_back(tmp.path(), "default").await;
    let seqs: std::collections::BTreeSet<u32> = stored.series["crash"]
        .iter()
        .flat_map(|labels| {
            labels
                .iter()
                .filter(|(k, _)| k == "seq")
                .map(|(_, v)| v.parse().unwrap())
        })
        .collect();
    for seq in &got {
        assert!(seqs.contains(seq), "acknowledged profile {seq} is lost");
    }
}
