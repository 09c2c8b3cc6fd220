//! `format=grafana` flame graphs are drawn by Grafana's own flame graph component: the
//! data frame from a real `flamedb serve` goes, as Grafana's query runner passes a data
//! source's frames on (`dataFrameFromJSON` from `@grafana/data`), into `FlameGraph` from
//! the npm package `@grafana/flamegraph` (what Grafana's flame graph panel and Explore
//! show Pyroscope profiles with), in headless Chromium. What a person reads there is the
//! hand-computed profile: the top table's self and total per function, the total above
//! the graph, the labels drawn on the canvas and the tooltip of a hovered bar.
//!
//! npm installs the pinned packages (`tests/data/grafana_flamegraph/package.json` and its
//! lock: the component, its peers, `@grafana/assistant` and `@grafana/runtime` because its
//! header imports the assistant's button, and esbuild) once into a cache directory (about
//! 620 MB, most of it `@grafana/ui`'s dependencies); esbuild from that install bundles
//! `entry.jsx` on each run. Without npm the test says SKIPPED, unless `CI` is set, where
//! it fails (`.ci/setup` installs Node.js and npm); the same for Chromium (installed with
//! apt-get when missing). Screenshots go to `$CARGO_TARGET_TMPDIR/grafana-flamegraph/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::browser::{Browser, chromium};
use common::query::Api;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Total 100: main 100 (self 0), checkout 50 (self 0), price 30, render 20, idle 50.
const FOLDED: &str = "main;checkout;price 30\nmain;checkout;render 20\nmain;idle 50\n";

const WAIT_MS: u64 = 60_000;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/grafana_flamegraph")
}

/// The npm install of the pinned packages, made when missing or made from another lock;
/// `None`: skipped.
fn packages() -> Option<PathBuf> {
    let lock = std::fs::read(data_dir().join("package-lock.json")).unwrap();
    let dir = std::env::temp_dir().join("flamedb-grafana-flamegraph-13.0.1-esbuild-0.25.12");
    let stamp = dir.join("installed-from-package-lock.json");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock) {
        return Some(dir);
    }
    if !common::npm_or_skip() {
        return None;
    }
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(data_dir().join(file), dir.join(file)).unwrap();
    }
    // Only what the lock names, no install scripts (esbuild's binary is its platform
    // package); peers are listed in package.json, the rest of them is not needed.
    let out = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--legacy-peer-deps",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "npm ci: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&stamp, lock).unwrap();
    Some(dir)
}

/// `index.html` with `entry.jsx` bundled beside it (`flamegraph.js`, `flamegraph.css`).
fn bundle(packages: &Path, out: &Path) {
    let out_js = out.join("flamegraph.js");
    let status = Command::new(packages.join("node_modules/.bin/esbuild"))
        .arg(data_dir().join("entry.jsx"))
        .args([
            "--bundle",
            "--minify",
            "--format=iife",
            "--jsx=automatic",
            "--define:process.env.NODE_ENV=\"production\"",
            // A font of the code editor in @grafana/ui's CSS.
            "--loader:.ttf=file",
            "--log-level=error",
        ])
        .arg(format!("--outfile={}", out_js.display()))
        .env("NODE_PATH", packages.join("node_modules"))
        .status()
        .unwrap();
    assert!(status.success(), "esbuild failed");
    std::fs::copy(data_dir().join("index.html"), out.join("index.html")).unwrap();
}

/// The top table's rows as shown: (symbol, self, total).
fn table_rows(rows: &Value) -> Vec<(String, String, String)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().trim())
                .filter(|c| !c.is_empty())
                .collect();
            assert_eq!(cells.len(), 3, "a row is symbol, self, total: {rows}");
            (cells[0].into(), cells[1].into(), cells[2].into())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafanas_flame_graph_shows_the_hand_computed_totals() {
    let Some(packages) = packages() else { return };
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    bundle(&packages, tmp.path());

    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    api.ingest("app=shop&format=folded", FOLDED).await;
    let frame = api
        .get("/api/v1/flamegraph?app=shop&format=grafana")
        .await
        .ok();
    server.stop();
    assert_eq!(frame.content_type, "application/json");

    let mut b = Browser::launch(&chromium, 1400, 900).await;
    let page = tmp.path().join("index.html");
    b.navigate(&format!("file://{}", page.display())).await;
    // The response body as it came, a JSON value and so a JavaScript expression.
    b.eval(&format!("showFlameGraph({}), true", frame.text()))
        .await;

    // The flame graph: the total above it and the labels drawn on its canvas. `total` and
    // `main`, 100 both, are one bar: Grafana collapses a node into its only child when the
    // child has over 99% of it, and labels the group `(2)`.
    let text = b
        .wait_for(
            "'checkout (50)' in drawnLabels && document.body.innerText",
            "document.body.innerText.slice(0, 500) + ' drawn: ' + Object.keys(drawnLabels)",
            WAIT_MS,
        )
        .await;
    assert!(
        text.as_str().unwrap().contains("100 | 100 samples (Count)"),
        "{text}"
    );
    let labels = b.eval("Object.keys(drawnLabels).sort()").await;
    assert_eq!(
        labels,
        json!([
            "(2) total (100)",
            "checkout (50)",
            "idle (50)",
            "price (30)",
            "render (20)"
        ])
    );

    // The mouse over the bar labelled `price (30)`: its tooltip.
    let at = b
        .eval(
            "(() => { const r = document.querySelector('canvas').getBoundingClientRect(); \
             const l = drawnLabels['price (30)']; return [r.left + l.x + 10, r.top + l.y]; })()",
        )
        .await;
    b.call(
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseMoved", "x": at[0], "y": at[1] }),
    )
    .await;
    let tooltip = b
        .wait_for(
            "[...document.querySelectorAll('p')].filter(p => p.innerText.includes('Samples:')) \
             .map(p => p.parentElement.innerText)[0]",
            "document.body.innerText.slice(0, 500)",
            WAIT_MS,
        )
        .await;
    let tooltip = tooltip.as_str().unwrap();
    let lines: Vec<&str> = tooltip
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        lines,
        [
            "price",
            "Count",
            "Total: 30 (30%)",
            "Self: 30 (30%)",
            "Samples: 30"
        ],
        "{tooltip}"
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grafana-flamegraph");
    std::fs::create_dir_all(&shots).unwrap();
    b.screenshot(&shots.join("flame-graph.png")).await;

    // The top table alone (beside the graph it is as tall as the graph, three levels, and
    // scrolls): self and total per symbol.
    b.eval(
        "[...document.querySelectorAll('label')].find(l => l.innerText.trim() === 'Top Table').click()",
    )
    .await;
    let rows = b
        .wait_for(
            "!document.querySelector('canvas') \
             && document.querySelectorAll('[data-testid=topTable] [role=row]').length > 6 \
             && [...document.querySelectorAll('[data-testid=topTable] [role=row]')].slice(1) \
                .map(r => [...r.querySelectorAll('[role=cell]')].map(c => c.innerText))",
            "document.body.innerText.slice(0, 500)",
            WAIT_MS,
        )
        .await;
    let mut rows = table_rows(&rows);
    rows.sort();
    let want: Vec<(String, String, String)> = [
        ("checkout", "0", "50"),
        ("idle", "50", "50"),
        ("main", "0", "100"),
        ("price", "30", "30"),
        ("render", "20", "20"),
        ("total", "0", "100"),
    ]
    .iter()
    .map(|(n, s, t)| (n.to_string(), s.to_string(), t.to_string()))
    .collect();
    assert_eq!(rows, want);
    b.screenshot(&shots.join("top-table.png")).await;
}
