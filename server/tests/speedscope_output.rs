//! `format=speedscope` flame graphs (and `flamedb flamegraph -o x.speedscope.json`) are
//! files speedscope takes: validated with ajv against the JSON schema that the
//! `speedscope` npm package ships (`dist/release/file-format-schema.json`), and read back
//! here (frames resolved by index) to the hand-computed stacks of the ingested profile.
//!
//! And the file opens in speedscope itself: the speedscope release from the same npm
//! package, in headless Chromium, imports it through its own file picker (as a person
//! picks a file) and lists the profile's frames with their weights in its sandwich view.
//!
//! npm fetches speedscope and ajv once into a cache directory; without npm the test says
//! SKIPPED, unless `CI` is set, where it fails (`.ci/setup` installs Node.js and npm). The
//! same for Chromium (installed with apt-get when missing).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::browser::{Browser, chromium};
use common::query::Api;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SPEEDSCOPE: &str = "speedscope@1.22.2";
const AJV: &str = "ajv@8.17.1";

const FOLDED: &str = "main;checkout;price 30\nmain;checkout;render 20\nmain;idle 50\n";

/// The cache with the schema and ajv, made with npm when missing; `None`: skipped.
fn validator() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join("flamedb-speedscope-1.22.2-ajv-8.17.1");
    let release = dir.join("package/dist/release");
    if release.join("file-format-schema.json").is_file()
        && release.join("index.html").is_file()
        && dir.join("node_modules/ajv").is_dir()
    {
        return Some(dir);
    }
    if !common::npm_or_skip() {
        return None;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(args[0])
            .args(&args[1..])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let tarball = run(&["npm", "pack", SPEEDSCOPE, "--silent"]);
    run(&["tar", "xzf", tarball.trim(), "package/dist/release"]);
    run(&[
        "npm",
        "install",
        "--prefix",
        ".",
        "--no-audit",
        "--no-fund",
        "--silent",
        AJV,
    ]);
    Some(dir)
}

/// ajv's verdict on `file` against speedscope's schema.
fn validate(dir: &Path, file: &Path) {
    let script = "const Ajv = require(process.argv[1] + '/node_modules/ajv');\
        const fs = require('fs');\
        const schema = JSON.parse(fs.readFileSync(process.argv[1] + '/package/dist/release/file-format-schema.json'));\
        const v = new Ajv({strict: false}).compile(schema);\
        if (!v(JSON.parse(fs.readFileSync(process.argv[2])))) { console.error(JSON.stringify(v.errors)); process.exit(1); }";
    let out = Command::new("node")
        .args(["-e", script])
        .arg(dir)
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `frame;frame -> weight` of every sampled profile of a speedscope file.
fn stacks(doc: &Value) -> Vec<BTreeMap<String, f64>> {
    let frames: Vec<&str> = doc["shared"]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    doc["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["type"], "sampled");
            let mut out = BTreeMap::new();
            let weights = p["weights"].as_array().unwrap();
            for (s, w) in p["samples"].as_array().unwrap().iter().zip(weights) {
                let names: Vec<&str> = s
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| frames[i.as_u64().unwrap() as usize])
                    .collect();
                *out.entry(names.join(";")).or_insert(0.0) += w.as_f64().unwrap();
            }
            out
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speedscope_flame_graphs_follow_speedscopes_schema() {
    let Some(tools) = validator() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    api.ingest("app=shop&version=v1&format=folded", FOLDED)
        .await;
    api.ingest(
        "app=shop&version=v2&format=folded",
        "main;checkout;price 70\nmain;idle 50\n",
    )
    .await;

    let merged = api
        .get("/api/v1/flamegraph?app=shop&version=v1&format=speedscope")
        .await
        .ok();
    assert_eq!(merged.content_type, "application/json");
    let path = tmp.path().join("merged.speedscope.json");
    std::fs::write(&path, &merged.body).unwrap();
    validate(&tools, &path);
    let want: BTreeMap<String, f64> = [
        ("main;checkout;price", 30.0),
        ("main;checkout;render", 20.0),
        ("main;idle", 50.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(stacks(&merged.json()), vec![want.clone()]);

    // A diff: the left profile, then the right one.
    let diff = api
        .get("/api/v1/diff?app=shop&left.version=v1&right.version=v2&format=speedscope")
        .await
        .ok();
    let path = tmp.path().join("diff.speedscope.json");
    std::fs::write(&path, &diff.body).unwrap();
    validate(&tools, &path);
    let right: BTreeMap<String, f64> = [("main;checkout;price", 70.0), ("main;idle", 50.0)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(stacks(&diff.json()), vec![want.clone(), right]);

    // The CLI picks the format from the file name.
    let out_path = tmp.path().join("cli.speedscope.json");
    let out = common::flamedb(&[
        "flamegraph",
        "--app",
        "shop",
        "--version",
        "v1",
        "--server",
        &server.base,
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    validate(&tools, &out_path);
    let cli: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(stacks(&cli), vec![want]);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speedscope_opens_the_file_and_shows_its_frames() {
    let Some(tools) = validator() else { return };
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    api.ingest("app=shop&version=v1&format=folded", FOLDED)
        .await;
    let merged = api
        .get("/api/v1/flamegraph?app=shop&version=v1&format=speedscope")
        .await
        .ok();
    server.stop();
    let path = tmp.path().join("shop.speedscope.json");
    std::fs::write(&path, &merged.body).unwrap();

    let mut b = Browser::launch_webgl(&chromium, 1200, 800).await;
    let index = tools.join("package/dist/release/index.html");
    b.navigate(&format!("file://{}", index.display())).await;
    b.wait_for(
        "document.getElementById('file')",
        "document.body.innerText.slice(0, 200)",
        60_000,
    )
    .await;
    // speedscope's own <input type=file>, given the file as a person picking it would
    // (speedscope imports only where WebGL works: `launch_webgl`).
    let doc = b.call("DOM.getDocument", serde_json::json!({})).await;
    let input = b
        .call(
            "DOM.querySelector",
            serde_json::json!({ "nodeId": doc["root"]["nodeId"], "selector": "#file" }),
        )
        .await;
    b.call(
        "DOM.setFileInputFiles",
        serde_json::json!({ "nodeId": input["nodeId"], "files": [path.to_str().unwrap()] }),
    )
    .await;
    // Imported: the landing page's picker is gone and the view tabs are shown.
    b.wait_for(
        "!document.getElementById('file') && document.body.innerText.includes('Sandwich')",
        "document.body.innerText.slice(0, 300)",
        60_000,
    )
    .await;
    b.eval(
        "[...document.querySelectorAll('div')].filter(e => e.textContent.trim().endsWith('Sandwich')).pop().click()",
    )
    .await;
    let text = b
        .wait_for(
            "document.body.innerText.includes('checkout') && document.body.innerText",
            "document.body.innerText.slice(0, 500)",
            60_000,
        )
        .await;
    let text = text.as_str().unwrap();
    b.screenshot(&tmp.path().join("speedscope.png")).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("speedscope");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::copy(
        tmp.path().join("speedscope.png"),
        shots.join("sandwich.png"),
    )
    .unwrap();
    // Each row reads total, self, name (hand-computed from FOLDED).
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for (name, total, self_) in [
        ("main", 100, 0),
        ("checkout", 50, 0),
        ("price", 30, 30),
        ("render", 20, 20),
        ("idle", 50, 50),
    ] {
        let at = lines
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("{name} is not listed by speedscope: {text}"));
        assert!(at >= 2, "{text}");
        let cell = |l: &str| l.split(' ').next().unwrap().parse::<i64>().unwrap();
        assert_eq!(
            (cell(lines[at - 2]), cell(lines[at - 1])),
            (total, self_),
            "{name}: {text}"
        );
    }
}
