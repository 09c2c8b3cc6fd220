//! The SVG flame graph opened in a real browser: headless Chromium (Debian's `chromium`
//! package, installed with apt-get when missing) loads `/api/v1/flamegraph?format=svg`
//! (and the diff), runs its scripts, and the rendered DOM must show the frame names.
//!
//! Without apt-get and without Chromium the test says SKIPPED, unless `CI` is set, where
//! it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::browser::chromium;
use common::query::Api;
use std::path::Path;
use std::process::Command;

const FOLDED: &str = "main;checkout_handler;compute_price 30\n\
                      main;checkout_handler;render_receipt 20\n\
                      main;idle_loop 50\n";

/// The DOM Chromium renders for `file`, after its scripts ran.
fn dump_dom(chromium: &Path, file: &Path, profile_dir: &Path) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile_dir.display()))
        .arg("--dump-dom")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn svg_flame_graphs_render_their_frames_in_chromium() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    api.ingest("app=shop&version=1&format=folded", FOLDED).await;
    api.ingest(
        "app=shop&version=2&format=folded",
        FOLDED.replace("idle_loop 50", "idle_loop 5"),
    )
    .await;
    api.flush().await;
    let svg = api
        .get("/api/v1/flamegraph?app=shop&version=1&format=svg")
        .await
        .ok();
    let diff = api
        .get("/api/v1/diff?app=shop&left.version=1&right.version=2&format=svg")
        .await
        .ok();
    server.stop();

    let single = tmp.path().join("flame.svg");
    std::fs::write(&single, &svg.body).unwrap();
    let dom = dump_dom(&chromium, &single, &tmp.path().join("chrome"));
    assert!(
        dom.contains("<svg") && dom.contains("</svg>"),
        "not an SVG document: {}",
        &dom[..dom.len().min(200)]
    );
    for name in [
        "checkout_handler",
        "compute_price",
        "render_receipt",
        "idle_loop",
    ] {
        assert!(
            dom.contains(&format!("<title>{name} (")) && dom.contains(" samples, "),
            "{name} is not in the rendered DOM"
        );
    }
    // inferno's script ran: on load it writes each frame's label (from its title, so
    // with the space before the count) where it fits the width.
    let label = ">checkout_handler </text>";
    assert!(
        !svg.text().contains(label) && dom.contains(label),
        "labels not drawn"
    );

    let differential = tmp.path().join("diff.svg");
    std::fs::write(&differential, &diff.body).unwrap();
    let dom = dump_dom(&chromium, &differential, &tmp.path().join("chrome"));
    assert!(dom.contains("Differential Flame Graph"));
    assert!(
        dom.contains("<title>idle_loop ("),
        "idle_loop missing from the diff"
    );
}
