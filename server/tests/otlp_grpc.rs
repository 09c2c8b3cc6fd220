//! OTLP/gRPC from a real gRPC client: Python's `grpcio` (the gRPC C core), installed in a
//! venv on first use, calls `ProfilesService/Export` with the corpus request, identity
//! and gzip-compressed, on the API's listener and on `--otlp-grpc-listen`; what is
//! stored equals the corpus facts. Without a token, with another tenant's, and with a
//! malformed message the client gets UNAUTHENTICATED, PERMISSION_DENIED and
//! INVALID_ARGUMENT, and nothing is stored.
//!
//! Without Python's venv (or network for pip) the test says SKIPPED, unless `CI` is set,
//! where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Server, corpus, expected};
use std::path::{Path, PathBuf};
use std::process::Command;

const GRPCIO: &str = "grpcio==1.85.4";
const OTLP_PB: &str = "otel/pyroscope/otel-ebpf-profile.pb.bin";

const CLIENT: &str = r#"
import grpc, sys
target, path, tenant, token, compress = sys.argv[1:6]
data = open(path, "rb").read()
channel = grpc.insecure_channel(target)
export = channel.unary_unary(
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export",
    request_serializer=None, response_deserializer=None)
metadata = [("x-scope-orgid", tenant)]
if token:
    metadata.append(("authorization", "Bearer " + token))
compression = grpc.Compression.Gzip if compress == "gzip" else grpc.Compression.NoCompression
try:
    reply = export(data, metadata=metadata, timeout=60, compression=compression)
    print("OK", len(reply))
except grpc.RpcError as e:
    print(e.code().name, e.details())
"#;

/// A venv with grpcio, made on first use; `None`: skipped.
fn python() -> Option<PathBuf> {
    let venv = std::env::temp_dir().join("flamedb-grpcio-1.85.4");
    let py = venv.join("bin/python");
    let ready = |py: &Path| {
        Command::new(py)
            .args(["-c", "import grpc"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ready(&py) {
        return Some(py);
    }
    let ci = std::env::var_os("CI").is_some();
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", GRPCIO])
            .output()
            .is_ok_and(|o| o.status.success());
    if made && ready(&py) {
        return Some(py);
    }
    assert!(!ci, "could not make a venv with {GRPCIO} (CI is set)");
    eprintln!("SKIPPED: no python3 venv with {GRPCIO} (needs python3-venv and pip's network)");
    None
}

fn call(py: &Path, target: &str, file: &Path, tenant: &str, token: &str, gzip: bool) -> String {
    let out = Command::new(py)
        .args(["-c", CLIENT, target])
        .arg(file)
        .args([tenant, token, if gzip { "gzip" } else { "none" }])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_client_exports_profiles_with_auth_and_tenancy() {
    let Some(dir) = corpus() else { return };
    let Some(py) = python() else { return };
    let facts = expected(&dir, OTLP_PB);
    let want = &facts["by_sample_type"]["off_cpu/nanoseconds"]["value_sum"];
    let file = dir.join(OTLP_PB);
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    std::fs::write(&tokens, "tok-ab a,b\ntok-c c\n").unwrap();
    // A free port for the second listener.
    let grpc_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let server = Server::start(
        &tmp.path().join("data"),
        &[
            "--auth-token-file",
            tokens.to_str().unwrap(),
            "--otlp-grpc-listen",
            &grpc_addr,
            "--inspect-interval-secs",
            "0",
        ],
    );
    let main = server.base.trim_start_matches("http://").to_string();
    assert_eq!(call(&py, &main, &file, "a", "tok-ab", false), "OK 0");
    assert_eq!(call(&py, &main, &file, "b", "tok-ab", true), "OK 0");
    assert_eq!(call(&py, &grpc_addr, &file, "c", "tok-c", true), "OK 0");
    let refused = [
        (call(&py, &main, &file, "a", "", false), "UNAUTHENTICATED"),
        (
            call(&py, &main, &file, "a", "nope", false),
            "UNAUTHENTICATED",
        ),
        (
            call(&py, &main, &file, "d", "tok-c", false),
            "PERMISSION_DENIED",
        ),
        (
            call(
                &py,
                &grpc_addr,
                &tmp.path().join("tokens"),
                "c",
                "tok-c",
                false,
            ),
            "INVALID_ARGUMENT",
        ),
    ];
    for (got, code) in refused {
        assert!(got.starts_with(code), "{got}");
    }
    let http = reqwest::Client::new();
    for (tenant, token, profiles_in_d) in [
        ("a", "tok-ab", false),
        ("b", "tok-ab", false),
        ("c", "tok-c", false),
    ] {
        let _ = profiles_in_d;
        let resp = http
            .post(server.url("/api/v1/sql"))
            .bearer_auth(token)
            .header("X-Scope-OrgID", tenant)
            .body("SELECT sum(value) AS v FROM samples WHERE sample_type = 'off_cpu'")
            .send()
            .await
            .unwrap();
        let rows: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(&rows[0]["v"], want, "{tenant}");
    }
    server.stop();
}
