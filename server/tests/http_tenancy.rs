//! Tenant-bound tokens, tried from outside: a real `flamedb serve` with a token file whose
//! tokens are given some tenants and a role. Every route is asked for another tenant's
//! data (403), written with a read-only token (403), and used as the token allows (not
//! 401/403); what a token sees is its own tenant's data only; a flush flushes the
//! caller's tenant only; a repeated `X-Scope-OrgID` is a 400.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use reqwest::{Method, StatusCode};

/// `TOKEN TENANTS ROLE` lines, as an operator writes them.
const TOKENS: &str = "\
# team a writes a; the dashboards of a only read it
tok-a a
tok-read-a a read
tok-ab a,b write
tok-all *
";

/// One request of a route: method, path and query, content type, body.
struct Route {
    method: Method,
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const fn route(
    method: Method,
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
) -> Route {
    Route {
        method,
        path,
        content_type,
        body,
    }
}

/// Every route that takes a tenant and reads.
fn reads() -> Vec<Route> {
    let json = "application/json";
    vec![
        route(
            Method::POST,
            "/api/v1/sql",
            "text/plain",
            "SELECT count(*) AS n FROM samples",
        ),
        route(Method::GET, "/api/v1/flamegraph?app=shop", "", ""),
        route(
            Method::GET,
            "/api/v1/diff?app=shop&left.version=v1&right.version=v1",
            "",
            "",
        ),
        route(Method::GET, "/api/v1/series?app=shop&step=60s", "", ""),
        route(Method::GET, "/api/v1/apps", "", ""),
        route(Method::GET, "/api/v1/labels", "", ""),
        route(Method::GET, "/api/v1/labels/version/values", "", ""),
        route(Method::GET, "/api/v1/regressions?app=shop", "", ""),
        route(Method::GET, "/api/v1/events", "", ""),
        route(Method::GET, "/api/v1/findings", "", ""),
        route(
            Method::POST,
            "/querier.v1.QuerierService/ProfileTypes",
            json,
            "{}",
        ),
        route(
            Method::POST,
            "/querier.v1.QuerierService/LabelNames",
            json,
            "{}",
        ),
        route(
            Method::GET,
            "/pyroscope/render?query=process_cpu:cpu:nanoseconds:cpu:nanoseconds%7Bservice_name%3D%22shop%22%7D&from=0&until=now",
            "",
            "",
        ),
        route(
            Method::GET,
            "/pyroscope/render-diff?leftQuery=process_cpu:cpu:nanoseconds:cpu:nanoseconds%7Bservice_name%3D%22shop%22%7D&rightQuery=process_cpu:cpu:nanoseconds:cpu:nanoseconds%7Bservice_name%3D%22shop%22%7D&leftFrom=0&leftUntil=now&rightFrom=0&rightUntil=now",
            "",
            "",
        ),
        route(
            Method::GET,
            "/pyroscope/label-values?label=service_name",
            "",
            "",
        ),
    ]
}

/// Every route that takes a tenant and writes (OTLP/gRPC answers its refusals as gRPC
/// statuses: server/tests/otlp_grpc.rs crosses it).
fn writes() -> Vec<Route> {
    let json = "application/json";
    vec![
        route(
            Method::POST,
            "/api/v1/ingest?app=shop&version=v2&format=folded",
            "text/plain",
            "main;serve 3\n",
        ),
        route(
            Method::POST,
            "/ingest?name=shop.cpu&from=1764300000",
            "text/plain",
            "main;serve 2\n",
        ),
        route(Method::POST, "/push.v1.PusherService/Push", json, "{}"),
        route(Method::POST, "/v1development/profiles", json, "{}"),
        route(
            Method::POST,
            "/api/v1/import",
            "text/plain",
            "not an import",
        ),
        route(
            Method::POST,
            "/api/v1/events",
            json,
            r#"{"id": "e1", "kind": "deploy", "time": 1764300000, "app": "shop"}"#,
        ),
        route(
            Method::PATCH,
            "/api/v1/findings/nope",
            json,
            r#"{"state": "fixed"}"#,
        ),
        route(Method::POST, "/api/v1/inspect", json, "{}"),
        route(Method::POST, "/api/v1/flush", "", ""),
        route(Method::POST, "/api/v1/compact", "", ""),
    ]
}

async fn send(
    http: &reqwest::Client,
    server: &Server,
    r: &Route,
    token: Option<&str>,
    tenant: Option<&str>,
) -> (StatusCode, String) {
    let mut req = http.request(r.method.clone(), server.url(r.path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    if !r.content_type.is_empty() {
        req = req.header("content-type", r.content_type);
    }
    let resp = req.body(r.body).send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

fn is_auth_refusal(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

/// Ingests `stack COUNT` into `tenant`'s app `shop` with `token`.
async fn ingest(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    tenant: &str,
    body: &'static str,
) {
    let r = route(
        Method::POST,
        "/api/v1/ingest?app=shop&version=v1&format=folded",
        "text/plain",
        body,
    );
    let (status, text) = send(http, server, &r, Some(token), Some(tenant)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
}

/// The first column of the one row `sql` answers in `tenant`, as `token` sees it.
async fn scalar(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    tenant: &str,
    sql: &'static str,
) -> i64 {
    let r = route(Method::POST, "/api/v1/sql", "text/plain", sql);
    let (status, text) = send(http, server, &r, Some(token), Some(tenant)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    rows[0]["v"].as_i64().unwrap()
}

/// Sum of the values of version v1's samples in `tenant`.
async fn total(http: &reqwest::Client, server: &Server, token: &str, tenant: &str) -> i64 {
    let sql = "SELECT coalesce(sum(value), 0) AS v FROM samples WHERE version = 'v1'";
    scalar(http, server, token, tenant, sql).await
}

/// Profiles stored in `tenant`.
async fn profiles(http: &reqwest::Client, server: &Server, token: &str, tenant: &str) -> i64 {
    let sql = "SELECT count(*) AS v FROM profiles";
    scalar(http, server, token, tenant, sql).await
}

/// Parquet blocks under `data/blocks/TENANT`.
fn blocks_of(data: &std::path::Path, tenant: &str) -> usize {
    fn walk(dir: &std::path::Path, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, n);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(&data.join("blocks").join(tenant), &mut n);
    n
}

#[tokio::test]
async fn tokens_act_only_for_their_tenants_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, TOKENS).unwrap();
    let server = Server::start(
        &data,
        &[
            "--auth-token-file",
            token_file.to_str().unwrap(),
            // Heads flush only when asked (or when a query needs them), so the flush
            // below shows whose heads it wrote.
            "--flush-age-secs",
            "3600",
            "--inspect-interval-secs",
            "0",
        ],
    );
    let http = reqwest::Client::new();

    // Data in both tenants; a token of two tenants writes both.
    ingest(&http, &server, "tok-a", "a", "main;a_only 5\n").await;
    ingest(&http, &server, "tok-ab", "b", "main;b_only 7\n").await;

    // A flush of tenant a writes a's head and leaves b's.
    let flush = route(Method::POST, "/api/v1/flush", "", "");
    let (status, text) = send(&http, &server, &flush, Some("tok-a"), Some("a")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(blocks_of(&data, "a") > 0, "tenant a's head was not flushed");
    assert_eq!(
        blocks_of(&data, "b"),
        0,
        "a flush by tenant a wrote tenant b's head"
    );

    // Each token reads its own tenant's data, and only that.
    assert_eq!(total(&http, &server, "tok-a", "a").await, 5);
    assert_eq!(total(&http, &server, "tok-read-a", "a").await, 5);
    assert_eq!(total(&http, &server, "tok-ab", "b").await, 7);
    assert_eq!(total(&http, &server, "tok-all", "b").await, 7);

    for r in reads().iter().chain(writes().iter()) {
        let what = format!("{} {}", r.method, r.path);
        // No token, or an unknown one: 401.
        for token in [None, Some("tok-zzz")] {
            let (status, text) = send(&http, &server, r, token, Some("a")).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what} {token:?}: {text}");
        }
        // Another tenant, named or the default one: 403, saying why.
        for tenant in [Some("b"), None] {
            for token in ["tok-a", "tok-read-a"] {
                let (status, text) = send(&http, &server, r, Some(token), tenant).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{what} {token} {tenant:?}: {text}"
                );
                assert!(text.contains("may not act for tenant"), "{what}: {text}");
            }
        }
        // Two tenant headers: 400.
        let mut req = http
            .request(r.method.clone(), server.url(r.path))
            .bearer_auth("tok-all")
            .header("X-Scope-OrgID", "a")
            .header("X-Scope-OrgID", "b");
        if !r.content_type.is_empty() {
            req = req.header("content-type", r.content_type);
        }
        let resp = req.body(r.body).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        // The Connect routes answer their errors as Connect errors, with the same status.
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{what} two tenants: {text}"
        );
        assert!(text.contains("more than once"), "{what}: {text}");
    }

    // Reads: a reading token and a writing one both get past auth for their tenant.
    for r in reads() {
        for token in ["tok-a", "tok-read-a", "tok-ab"] {
            let (status, text) = send(&http, &server, &r, Some(token), Some("a")).await;
            assert!(
                !is_auth_refusal(status) && !status.is_server_error(),
                "{} {} {token}: {status} {text}",
                r.method,
                r.path
            );
        }
    }
    // Writes: refused to a read-only token before any work, allowed to writing ones.
    for r in writes() {
        let what = format!("{} {}", r.method, r.path);
        let (status, text) = send(&http, &server, &r, Some("tok-read-a"), Some("a")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {text}");
        assert!(text.contains("read-only"), "{what}: {text}");
        for (token, tenant) in [("tok-a", "a"), ("tok-ab", "b"), ("tok-all", "c")] {
            let (status, text) = send(&http, &server, &r, Some(token), Some(tenant)).await;
            assert!(
                !is_auth_refusal(status) && !status.is_server_error(),
                "{what} {token} {tenant}: {status} {text}"
            );
        }
    }
    // The refused writes stored nothing: each tenant holds its first profile plus the
    // two that its writing token ingested (/api/v1/ingest and /ingest; the empty push
    // stores none), and tenant c only the two of tok-all.
    assert_eq!(profiles(&http, &server, "tok-a", "a").await, 3);
    assert_eq!(profiles(&http, &server, "tok-ab", "b").await, 3);
    assert_eq!(profiles(&http, &server, "tok-all", "c").await, 2);
    assert_eq!(total(&http, &server, "tok-a", "a").await, 5);
}
