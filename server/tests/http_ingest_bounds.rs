//! Ingest memory holds its budget, tried on a real `flamedb serve`: a dozen gzip bombs
//! at once (as `Content-Encoding: gzip` bodies and as gzipped pprof bodies), each about
//! 1 MiB that inflates to 1 GiB, are all refused (413, or 429 past the ingest slots)
//! while another tenant's queries and ingest answer, and the process's peak RSS (VmHWM
//! in /proc) stays within the ingest memory budget plus a base.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::query::Api;
use common::{Server, peak_rss};
use reqwest::StatusCode;
use std::io::Write;

/// 1024 gzip members of 1 MiB of zeros: 1 GiB decompressed, about 1 MiB sent.
fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(&vec![0u8; 1 << 20]).unwrap();
    e.finish().unwrap().repeat(1024)
}

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gzip_bombs_stay_within_the_ingest_memory_budget() {
    let tmp = tempfile::tempdir().unwrap();
    // 512 MiB of budget over 4 MiB bodies that inflate to 64 MiB (counted 1.5 times):
    // 5 ingests at once.
    let budget = 512 * MIB;
    let server = Server::start(
        tmp.path(),
        &[
            "--max-body-bytes",
            &(4 * MIB).to_string(),
            "--max-decompressed-bytes",
            &(64 * MIB).to_string(),
            "--ingest-memory-bytes",
            &budget.to_string(),
            "--tenant-requests-per-sec",
            "0",
            "--tenant-bytes-per-sec",
            "0",
            "--inspect-interval-secs",
            "0",
        ],
    );
    let calm = Api::new(&server, "calm");
    calm.ingest("app=shop&format=folded", "main;serve 3\n")
        .await;
    let bomb = gzip_bomb();
    let http = reqwest::Client::new();
    let mut bombs = Vec::new();
    for i in 0..12 {
        let req = if i % 2 == 0 {
            http.post(server.url("/api/v1/ingest?app=boom&format=folded"))
                .header("content-encoding", "gzip")
        } else {
            http.post(server.url("/ingest?name=boom.cpu&format=pprof"))
        };
        let req = req.header("X-Scope-OrgID", "attacker").body(bomb.clone());
        // A request refused with 429 is answered before its body is read, and the
        // connection closed: the client may see that as a reset while still sending.
        bombs.push(tokio::spawn(async move {
            match req.send().await {
                Ok(resp) => Some((resp.status(), resp.text().await.unwrap_or_default())),
                // The server living on is checked below.
                Err(_) => None,
            }
        }));
    }
    // Another tenant is answered while they run.
    let mut answered = 0;
    while !bombs.iter().all(|b| b.is_finished()) {
        let rows = calm.rows("SELECT sum(value) AS v FROM samples").await;
        assert_eq!(rows, vec![serde_json::json!({"v": 3})]);
        answered += 1;
    }
    let mut statuses = Vec::new();
    for b in bombs {
        let Some((status, text)) = b.await.unwrap() else {
            continue;
        };
        assert!(
            status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::TOO_MANY_REQUESTS,
            "{status} {text}"
        );
        statuses.push(status);
    }
    assert!(
        statuses.contains(&StatusCode::PAYLOAD_TOO_LARGE),
        "{statuses:?}"
    );
    assert!(answered > 0);
    calm.ingest("app=shop&format=folded", "main;serve 4\n")
        .await;
    let rows = calm.rows("SELECT sum(value) AS v FROM samples").await;
    assert_eq!(rows, vec![serde_json::json!({"v": 7})]);
    // Nothing of the attacker's was stored.
    let attacker = Api::new(&server, "attacker");
    let rows = attacker.rows("SELECT count(*) AS n FROM profiles").await;
    assert_eq!(rows, vec![serde_json::json!({"n": 0})]);
    let peak = peak_rss(server.pid());
    assert!(
        peak <= budget + 256 * MIB,
        "peak RSS {} MiB over the {} MiB budget + 256 MiB",
        peak / MIB,
        budget / MIB
    );
    eprintln!("peak RSS {} MiB", peak / MIB);
    server.stop();
}

/// A pprof body of 2,000,001 empty `Location` messages (4 MB; 2 bytes each on the wire,
/// tens of bytes each once decoded) is refused by its table count, over HTTP and by the
/// CLI, before it is decoded; 2,000,000 is the default `--max-table-entries`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_with_huge_tables_are_refused_before_decoding() {
    let tmp = tempfile::tempdir().unwrap();
    let mut body = vec![0x32, 0x00]; // string_table: [""]
    body.extend([0x22, 0x00].repeat(2_000_001)); // location {} x 2,000,001
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let http = reqwest::Client::new();
    let r = http
        .post(server.url("/api/v1/ingest?app=huge&format=pprof"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_client_error(), "{status}: {text}");
    assert!(
        text.contains("locations") && text.contains("2000000"),
        "{status}: {text}"
    );
    // 2,000,000 empty locations are within the limit (the profile has no samples).
    let within = [&[0x32u8, 0x00][..], &[0x22, 0x00].repeat(2_000_000)].concat();
    let r = http
        .post(server.url("/api/v1/ingest?app=huge&format=pprof"))
        .body(within)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(!text.contains("locations"), "{status}: {text}");
    server.stop();

    let file = tmp.path().join("huge.pb");
    std::fs::write(&file, &body).unwrap();
    let out = common::flamedb(&["inspect", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "inspect accepted it");
    assert!(stderr.contains("locations"), "{stderr}");
}
