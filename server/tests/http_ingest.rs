//! `flamedb serve` end to end: the real binary on 127.0.0.1:0, profiles through every
//! ingest endpoint (Pyroscope `/ingest`, the Connect push API, `/api/v1/ingest`, the CLI's
//! `--server`), then the data directory read back with the storage API and compared with
//! `expected.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::push::{self, PushRequest};
use common::{Server, corpus, expected, read_back};
use prost::Message;
use reqwest::StatusCode;
use std::io::Write;

const PPROF: &str = "pprof/google-pprof/sample.cpu";
const FOLDED: &str = "folded/inferno/base-flames.txt";
const PERF: &str = "perf-script/flamegraph/perf-vertx-stacks-01.txt";

fn push_request(app: &str, profile: &[u8]) -> Vec<u8> {
    let labels = [
        ("__name__", "process_cpu"),
        ("service_name", app),
        ("service_version", "2.0"),
        ("region", "us-east"),
    ];
    PushRequest {
        series: vec![push::series(&labels, profile.to_vec(), "id-1")],
    }
    .encode_to_vec()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn multipart(profile: &[u8]) -> (String, Vec<u8>) {
    let b = "flamedb-test-boundary";
    let mut body = Vec::new();
    let part = |body: &mut Vec<u8>, name: &str, data: &[u8]| {
        write!(
            body,
            "--{b}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    };
    part(&mut body, "profile", profile);
    part(
        &mut body,
        "sample_type_config",
        br#"{"cpu":{"units":"nanoseconds","aggregation":"sum"},
             "samples":{"display-name":"cpu_samples","units":"samples","sampled":true}}"#,
    );
    write!(body, "--{b}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={b}"), body)
}

async fn post_ok(req: reqwest::RequestBuilder) -> String {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    text
}

/// Sums per sample type, sorted, as `expected.json`'s `value_sums` lists them.
fn sorted_sums(s: &common::Stored, app: &str) -> Vec<i128> {
    let mut v: Vec<i128> = s
        .sums
        .get(app)
        .map(|m| m.values().copied().collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ingest_endpoint_stores_corpus_files_with_their_totals() {
    let Some(dir) = corpus() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--auth-token", "s3cret"]);
    let http = reqwest::Client::new();
    let post = |path: &str| http.post(server.url(path)).bearer_auth("s3cret");
    let pprof = std::fs::read(dir.join(PPROF)).unwrap();
    let folded = std::fs::read(dir.join(FOLDED)).unwrap();
    let perf = std::fs::read(dir.join(PERF)).unwrap();

    post_ok(
        post("/ingest?name=folded-app.cpu{version=v1,region=eu}&from=1764300000&spyName=rbspy")
            .body(folded.clone()),
    )
    .await;
    post_ok(post("/ingest?name=pprof-raw.cpu&format=pprof").body(pprof.clone())).await;
    let (ctype, body) = multipart(&pprof);
    post_ok(
        post("/ingest?name=pprof-multipart.cpu&format=pprof")
            .header("content-type", ctype)
            .body(body),
    )
    .await;
    let proto = |app| {
        post("/push.v1.PusherService/Push")
            .header("content-type", "application/proto")
            .body(push_request(app, &pprof))
    };
    post_ok(proto("push-proto")).await;
    post_ok(
        proto("push-gzip")
            .header("content-encoding", "gzip")
            .body(gzip(&push_request("push-gzip", &pprof))),
    )
    .await;
    let json = serde_json::json!({"series": [{"labels": [{"name": "service_name", "value": "push-json"}],
        "samples": [{"rawProfile": base64_encode(&pprof), "ID": "x"}]}]});
    let answer = post_ok(
        post("/push.v1.PusherService/Push")
            .header("content-type", "application/json")
            .body(json.to_string()),
    )
    .await;
    assert_eq!(answer, "{}");
    let answer = post_ok(
        post("/api/v1/ingest?app=api-perf&version=3&dc=lab&label.team=perf")
            .header("content-encoding", "gzip")
            .body(gzip(&perf)),
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["profiles"], 1);
    post_ok(
        post("/api/v1/ingest?app=tenant-app&format=folded")
            .header("X-Scope-OrgID", "acme")
            .body(folded.clone()),
    )
    .await;

    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_flamedb"))
        .args([
            "ingest",
            "--app",
            "cli-app",
            "--token",
            "s3cret",
            "--server",
            &server.base,
        ])
        .arg(dir.join(FOLDED))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert!(
        cli.status.success() && stderr.contains("ingested 1 profiles"),
        "{stderr}"
    );

    let metrics = post_ok(http.get(server.url("/metrics"))).await;
    assert!(
        metrics
            .contains(r#"flamedb_ingest_profiles_total{endpoint="/push.v1.PusherService/Push"} 3"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"flamedb_http_requests_total{endpoint="/ingest",status="200"} 3"#),
        "{metrics}"
    );
    server.stop();

    let stored = read_back(&data, "default").await;
    let pprof_sums: Vec<i128> = expected(&dir, PPROF)["value_sums"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| i128::from(v.as_i64().unwrap()))
        .collect();
    for app in [
        "pprof-raw",
        "pprof-multipart",
        "push-proto",
        "push-gzip",
        "push-json",
    ] {
        assert_eq!(sorted_sums(&stored, app), pprof_sums, "{app}");
    }
    // The multipart sample_type_config renamed `samples/count` (both types are named in
    // it, so both are kept).
    let names: Vec<&String> = stored.sums["pprof-multipart"].keys().collect();
    assert_eq!(names, ["cpu/nanoseconds", "cpu_samples/samples"]);
    let folded_total = i128::from(expected(&dir, FOLDED)["total_count"].as_i64().unwrap());
    for app in ["folded-app", "cli-app"] {
        assert_eq!(sorted_sums(&stored, app), vec![folded_total], "{app}");
    }
    let perf_events = i128::from(expected(&dir, PERF)["events"].as_i64().unwrap());
    assert_eq!(sorted_sums(&stored, "api-perf"), vec![perf_events]);
    let parts = |app: &str| stored.partitions[app].iter().cloned().collect::<Vec<_>>();
    assert_eq!(parts("folded-app"), vec![("v1".into(), "eu".into())]);
    assert_eq!(parts("push-proto"), vec![("2.0".into(), "us-east".into())]);
    assert_eq!(parts("api-perf"), vec![("3".into(), "lab".into())]);
    let series = &stored.series["folded-app"][0];
    assert!(
        series.contains(&("__name__".into(), "cpu".into())),
        "{series:?}"
    );
    assert!(
        series.contains(&("spy_name".into(), "rbspy".into())),
        "{series:?}"
    );
    assert!(
        !stored.sums.contains_key("tenant-app"),
        "other tenant's data is apart"
    );
    let acme = read_back(&data, "acme").await;
    assert_eq!(sorted_sums(&acme, "tenant-app"), vec![folded_total]);
}

fn base64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
