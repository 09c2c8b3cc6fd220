//! The formats that hold several profiles, through every ingest path of a real server:
//! OTLP (`POST /v1development/profiles`, protobuf and JSON), speedscope (`/api/v1/ingest`
//! detected, `/ingest?format=speedscope`, `flamedb ingest`), read back with SQL and
//! checked against the corpus facts (expected.json, made by an independent parser) and
//! against Pyroscope's own answers for the same OTLP request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::Api;
use common::{Server, corpus, expected};
use reqwest::StatusCode;
use serde_json::{Value, json};

const OTLP_PB: &str = "otel/pyroscope/otel-ebpf-profile.pb.bin";
const OTLP_JSON: &str = "otel/pyroscope/otel-ebpf-profile.pb.json";
const SPEEDSCOPE: &str = "speedscope/speedscope/0.6.0__two-sampled.speedscope.json";

/// `{sample_type: sum(value)}` of `sql_where` in the tenant.
async fn sums(api: &Api, sql_where: &str) -> Value {
    let rows = api
        .rows(&format!(
            "SELECT sample_type, sum(value) AS v FROM samples WHERE {sql_where} \
             GROUP BY sample_type ORDER BY sample_type"
        ))
        .await;
    Value::Object(
        rows.iter()
            .map(|r| {
                (
                    r["sample_type"].as_str().unwrap().to_string(),
                    r["v"].clone(),
                )
            })
            .collect(),
    )
}

async fn post(
    server: &Server,
    tenant: &str,
    path: &str,
    ctype: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let resp = reqwest::Client::new()
        .post(server.url(path))
        .header("X-Scope-OrgID", tenant)
        .header("content-type", ctype)
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_requests_are_stored_with_their_attributes() {
    let Some(dir) = corpus() else { return };
    let facts = expected(&dir, OTLP_PB);
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let (status, text) = post(
        &server,
        "pb",
        "/v1development/profiles",
        "application/x-protobuf",
        std::fs::read(dir.join(OTLP_PB)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (status, text) = post(
        &server,
        "js",
        "/v1development/profiles",
        "application/json",
        std::fs::read(dir.join(OTLP_JSON)).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(text, "{}");

    let off_cpu = &facts["by_sample_type"]["off_cpu/nanoseconds"];
    for tenant in ["pb", "js"] {
        let api = Api::new(&server, tenant);
        let all = sums(&api, "true").await;
        assert_eq!(all["off_cpu"], off_cpu["value_sum"], "{tenant}: {all}");
        // Pyroscope's answers for service_name=unknown_service (resources without a
        // service.name or an executable name): its off-CPU and CPU flame graph totals.
        let unknown = sums(&api, "app = 'unknown_service'").await;
        let pyro_off = expected(&dir, "otel/pyroscope/otel-ebpf-profile-offcpu.out.json");
        let pyro_cpu = expected(&dir, "otel/pyroscope/otel-ebpf-profile-cpu.out.json");
        assert_eq!(
            unknown["off_cpu"], pyro_off["value_sum"],
            "{tenant}: {unknown}"
        );
        assert_eq!(unknown["cpu"], pyro_cpu["value_sum"], "{tenant}: {unknown}");
        // Resource attributes are series labels.
        let pids = api
            .rows("SELECT count(DISTINCT labels['process.pid']) AS n FROM profiles")
            .await;
        assert!(pids[0]["n"].as_i64().unwrap() > 1, "{pids:?}");
    }
    // Malformed requests are a 400 naming the problem; nothing is stored.
    let (status, text) = post(
        &server,
        "bad",
        "/v1development/profiles",
        "application/x-protobuf",
        vec![0xff; 64],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, text) = post(
        &server,
        "bad",
        "/v1development/profiles",
        "text/plain",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("application/x-protobuf"), "{text}");
    let bad = Api::new(&server, "bad");
    assert_eq!(
        bad.rows("SELECT count(*) AS n FROM profiles").await,
        vec![json!({"n": 0})]
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speedscope_files_are_stored_through_every_path() {
    let Some(dir) = corpus() else { return };
    let facts = expected(&dir, SPEEDSCOPE);
    let profiles = facts["profiles"].as_array().unwrap();
    // The sampled profiles are in seconds: stored as nanoseconds of CPU time.
    let want: i64 = profiles
        .iter()
        .map(|p| {
            assert_eq!(p["unit"], "seconds");
            p["weight_sum"].as_i64().unwrap() * 1_000_000_000
        })
        .sum();
    let file = dir.join(SPEEDSCOPE);
    let body = std::fs::read(&file).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    // The CLI into the data directory, detected.
    common::cli_ingest(&data, "cli", "t", &file);

    let server = Server::start(&data, &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "t");
    api.ingest("app=api&format=auto", body.clone()).await;
    let (status, text) = post(
        &server,
        "t",
        "/ingest?name=pyro.cpu&format=speedscope",
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    for app in ["cli", "api", "pyro"] {
        let n = api
            .rows(&format!(
                "SELECT count(*) AS n FROM profiles WHERE app = '{app}'"
            ))
            .await;
        assert_eq!(
            n[0]["n"].as_u64().unwrap() as usize,
            profiles.len(),
            "{app}"
        );
        let s = sums(&api, &format!("app = '{app}'")).await;
        assert_eq!(s, json!({"cpu": want}), "{app}");
    }
    // An evented file whose events do not nest is a 400 naming the event.
    let bad =
        std::fs::read(dir.join("speedscope/speedscope/invalid__out-of-order-events.json")).unwrap();
    let a = api
        .post_body("/api/v1/ingest?app=bad", "application/json", bad)
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.text());
    assert!(a.text().contains("events[6]"), "{}", a.text());
    server.stop();
}

const JFR: &str = "jfr/jfr-parser/example.jfr.gz";

/// `{"NAME/TYPE": sum}` of the facts' expected outputs: jfr-parser's metric names are
/// `NAME_TYPE1__UNIT1+TYPE2__UNIT2` with NAME one of Pyroscope's profile types.
fn jfr_facts(facts: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for o in facts["expected_outputs"].as_array().unwrap() {
        let metric = o["metric"].as_str().unwrap();
        let name = ["process_cpu", "memory", "mutex", "block", "wall"]
            .into_iter()
            .find(|n| metric.starts_with(&format!("{n}_")))
            .unwrap();
        let types = metric[name.len() + 1..].split('+');
        for (t, sum) in types.zip(o["value_sums"].as_array().unwrap()) {
            let kind = t.split("__").next().unwrap();
            out.insert(format!("{name}/{kind}"), sum.clone());
        }
    }
    Value::Object(out)
}

/// `{"NAME/TYPE": sum}` of what `app` holds.
async fn named_sums(api: &Api, app: &str) -> Value {
    let rows = api
        .rows(&format!(
            "SELECT labels['__name__'] AS name, sample_type AS t, sum(value) AS v \
             FROM samples WHERE app = '{app}' GROUP BY 1, 2"
        ))
        .await;
    Value::Object(
        rows.iter()
            .map(|r| {
                let key = format!(
                    "{}/{}",
                    r["name"].as_str().unwrap(),
                    r["t"].as_str().unwrap()
                );
                (key, r["v"].clone())
            })
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jfr_recordings_are_stored_through_every_path() {
    let Some(dir) = corpus() else { return };
    let want = jfr_facts(&expected(&dir, JFR));
    let file = dir.join(JFR);
    let body = std::fs::read(&file).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    common::cli_ingest(&data, "cli", "t", &file);
    let server = Server::start(&data, &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "t");
    api.ingest("app=api", body.clone()).await;
    let (status, text) = post(
        &server,
        "t",
        "/ingest?name=raw.cpu&format=jfr",
        "application/octet-stream",
        body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // As Pyroscope's Java agent sends it: multipart with `jfr` and `labels` parts.
    let boundary = "flamedbjfrboundary";
    let mut form = Vec::new();
    for (name, part) in [("jfr", body.as_slice()), ("labels", &[][..])] {
        form.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        form.extend_from_slice(part);
        form.extend_from_slice(b"\r\n");
    }
    form.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let (status, text) = post(
        &server,
        "t",
        "/ingest?name=agent.itimer&format=jfr",
        &format!("multipart/form-data; boundary={boundary}"),
        form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    for app in ["cli", "api", "raw", "agent"] {
        assert_eq!(named_sums(&api, app).await, want, "{app}");
    }
    // A recording cut short is a 400 naming JFR.
    let raw = flamedb_profile::gzip::maybe_gunzip(&body, &Default::default())
        .unwrap()
        .into_owned();
    let (status, text) = post(
        &server,
        "t",
        "/ingest?name=cut.cpu&format=jfr",
        "application/octet-stream",
        raw[..raw.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.to_lowercase().contains("jfr"), "{text}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folded_samples_without_a_stack_keep_the_files_total() {
    // As py-spy writes them: ` 1` for a sample it could not unwind.
    let body = " 1\nmain;work 2\n 4\n";
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("py.folded");
    std::fs::write(&file, body).unwrap();
    common::cli_ingest(&data, "cli", "t", &file);
    let server = Server::start(&data, &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "t");
    api.ingest("app=api&format=folded", body).await;
    let (status, text) = post(
        &server,
        "t",
        "/ingest?name=pyro.cpu",
        "text/plain",
        body.into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    for app in ["cli", "api", "pyro"] {
        let rows = api
            .rows(&format!(
                "SELECT folded(stack) AS s, sum(value) AS v FROM samples WHERE app = '{app}' \
                 GROUP BY 1 ORDER BY 1"
            ))
            .await;
        assert_eq!(
            rows,
            vec![
                json!({"s": "[unknown]", "v": 5}),
                json!({"s": "main;work", "v": 2})
            ],
            "{app}"
        );
    }
    server.stop();
}
