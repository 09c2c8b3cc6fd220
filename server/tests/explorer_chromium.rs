//! The explorer page at `/`, used in a real browser: headless Chromium (Debian's
//! `chromium`, installed with apt-get when missing) loads it from a real `flamedb serve`
//! with ingested profiles and is driven over the DevTools protocol as a person would use
//! it: the page picks the app, draws the totals, the flame graph and the top functions;
//! search finds a function; a drag on the chart zooms the range; the diff colours what
//! grew red and what shrank blue; each view's SQL button runs SQL that gives the same
//! numbers. With tokens, the page asks for one, refuses a wrong one, lists only the
//! token's tenants, and the API refuses the page another tenant.
//!
//! Every expected number is computed by hand from the folded profiles below. Screenshots
//! go to `$CARGO_TARGET_TMPDIR/explorer/`. Without apt-get and without Chromium the test
//! says SKIPPED, unless `CI` is set, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::browser::{Browser, chromium};
use common::query::Api;
use serde_json::Value;
use std::path::PathBuf;

/// Version 1, ten minutes into the last hour: total 100.
const V1: &str = "main;checkout_handler;compute_price 30\n\
                  main;checkout_handler;render_receipt 20\n\
                  main;idle_loop 50\n";
/// Version 2, 40 minutes later: total 120; compute_price grew, render_receipt shrank.
const V2: &str = "main;checkout_handler;compute_price 70\n\
                  main;checkout_handler;render_receipt 10\n\
                  main;idle_loop 40\n";

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explorer");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const WAIT_MS: u64 = 60_000;

/// Waits until the views named (element ids) are `ready`.
async fn ready(b: &mut Browser, ids: &[&str]) {
    let cond = ids
        .iter()
        .map(|id| format!("document.getElementById('{id}').dataset.state === 'ready'"))
        .collect::<Vec<_>>()
        .join(" && ");
    let describe = format!(
        "[{}].map(id => id + ':' + document.getElementById(id).dataset.state).join(' ') + ' ' + document.getElementById('error').textContent",
        ids.iter()
            .map(|id| format!("'{id}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    b.wait_for(&cond, &describe, WAIT_MS).await;
}

/// Waits for view `id` to finish a load newer than generation `after`.
async fn reloaded(b: &mut Browser, id: &str, after: i64) {
    let el = format!("document.getElementById('{id}')");
    b.wait_for(
        &format!("Number({el}.dataset.gen) > {after} && {el}.dataset.state === 'ready'"),
        &format!("{el}.dataset.gen + ' ' + {el}.dataset.state + ' ' + document.getElementById('error').textContent"),
        WAIT_MS,
    )
    .await;
}

/// What the page shows as totals: the series' total and the flame graph's root.
async fn shown_totals(b: &mut Browser) -> (Value, Value) {
    (
        b.eval("document.getElementById('total').dataset.value")
            .await,
        b.eval("document.getElementById('flame').dataset.total")
            .await,
    )
}

async fn generation(b: &mut Browser, id: &str) -> i64 {
    let v = b
        .eval(&format!(
            "Number(document.getElementById('{id}').dataset.gen || 0)"
        ))
        .await;
    v.as_i64().unwrap()
}

/// The rows of the top-functions table: (function, self, total).
async fn functions(b: &mut Browser) -> Vec<(String, i64, i64)> {
    let v = b
        .eval(
            "[...document.querySelectorAll('#functions tbody tr')].map(tr => \
             [tr.dataset.function, Number(tr.dataset.self), Number(tr.dataset.total)])",
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_i64().unwrap(),
                r[2].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Clicks the SQL button of `view`, waits for the SQL tab's result, and returns it as
/// row objects (column name to cell text).
async fn sql_of(b: &mut Browser, view: &str) -> Vec<serde_json::Map<String, Value>> {
    let before = generation(b, "sql-result").await;
    b.eval(&format!(
        "document.querySelector('.sql-link[data-view={view}]').click()"
    ))
    .await;
    let el = "document.getElementById('sql-result')";
    b.wait_for(
        &format!("Number({el}.dataset.gen) > {before} && {el}.dataset.state !== 'loading'"),
        &format!("{el}.dataset.state"),
        WAIT_MS,
    )
    .await;
    let state = b.eval(&format!("{el}.dataset.state")).await;
    let status = b
        .eval("document.getElementById('sql-status').textContent")
        .await;
    assert_eq!(state, "ready", "the SQL of {view} failed: {status}");
    let rows = b
        .eval(&format!(
            "(() => {{ const t = {el}; const cols = [...t.tHead.rows[0].cells].map(c => c.textContent); \
             return [...t.tBodies[0].rows].map(r => Object.fromEntries(cols.map((c, i) => [c, r.cells[i].textContent]))); }})()"
        ))
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_object().unwrap().clone())
        .collect()
}

fn num(row: &serde_json::Map<String, Value>, col: &str) -> i64 {
    row[col].as_str().unwrap().parse().unwrap()
}

/// The fill of the first frame of `function` in frame document `frame` as (r, g, b).
async fn fill(b: &mut Browser, frame: &str, function: &str) -> (i64, i64, i64) {
    let v = b
        .eval(&format!(
            "(() => {{ const d = document.getElementById('{frame}').contentDocument; \
             const g = [...d.querySelectorAll('#frames g')].find(g => g.querySelector('title').textContent.startsWith('{function} (')); \
             return g ? g.querySelector('rect').getAttribute('fill') : null; }})()"
        ))
        .await;
    let fill = v.as_str().unwrap_or_else(|| panic!("no frame {function}"));
    let parts: Vec<i64> = fill
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .map(|p| p.trim().parse().unwrap())
        .collect();
    (parts[0], parts[1], parts[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_shows_totals_flame_graph_search_zoom_diff_and_sql() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let api = Api::new(&server, "default");
    let now = now_secs();
    let (t1, t2) = (now - 50 * 60, now - 10 * 60);
    api.ingest(&format!("app=shop&version=1&format=folded&time={t1}"), V1)
        .await;
    api.ingest(&format!("app=shop&version=2&format=folded&time={t2}"), V2)
        .await;

    let shots = screenshots();
    let mut b = Browser::launch(&chromium, 1400, 1000).await;
    b.navigate(&server.url("/")).await;
    ready(&mut b, &["series", "flame", "functions"]).await;

    // The page picked the only app and the last hour: both profiles.
    assert_eq!(b.eval("document.getElementById('app').value").await, "shop");
    assert_eq!(
        b.eval("document.getElementById('sample-type').value").await,
        "samples"
    );
    assert_eq!(shown_totals(&mut b).await, ("220".into(), "220".into()));
    let root = b
        .eval(
            "[...document.getElementById('flame').contentDocument\
             .querySelectorAll('#frames g title')].map(t => t.textContent)\
             .find(t => t.startsWith('all '))",
        )
        .await;
    assert!(
        root.as_str()
            .unwrap()
            .starts_with("all (220 samples, 100%)"),
        "root frame: {root}"
    );
    let mut table = functions(&mut b).await;
    table.sort();
    assert_eq!(
        table,
        vec![
            ("checkout_handler".to_string(), 0, 130),
            ("compute_price".to_string(), 100, 100),
            ("idle_loop".to_string(), 90, 90),
            ("main".to_string(), 0, 220),
            ("render_receipt".to_string(), 30, 30),
        ]
    );

    // Search with inferno's own search: compute_price is 100 of 220.
    eprintln!("DEBUG {}", b.eval("(() => { const w = document.getElementById('flame').contentWindow; return [typeof w, typeof w.search, typeof w.init, String(w.location), w.document.contentType, typeof w.searching]; })()").await);
    b.eval(
        "(() => { const s = document.getElementById('search'); s.value = 'compute_price'; \
         s.dispatchEvent(new Event('change')); })()",
    )
    .await;
    let matched = b
        .wait_for(
            "document.getElementById('search-result').textContent",
            "document.getElementById('search-result').textContent",
            WAIT_MS,
        )
        .await;
    assert_eq!(matched, "Matched: 45.5%");
    let highlighted = b
        .eval(
            "[...document.querySelectorAll('#functions tr.match')].map(tr => tr.dataset.function)",
        )
        .await;
    assert_eq!(highlighted, serde_json::json!(["compute_price"]));
    b.screenshot(&shots.join("flame-search.png")).await;

    // A click on checkout_handler zooms to it (inferno's zoom): it spans the width, and
    // idle_loop, outside it, is hidden.
    let frame_js = |f: &str| {
        format!(
            "[...document.getElementById('flame').contentDocument.querySelectorAll('#frames g')]\
             .find(g => g.querySelector('title').textContent.startsWith('{f} ('))"
        )
    };
    let at = b
        .eval(&format!(
            "(() => {{ const r = {}.querySelector('rect').getBoundingClientRect(); \
             const f = document.getElementById('flame').getBoundingClientRect(); \
             return [f.left + r.left + 5, f.top + r.top + r.height / 2]; }})()",
            frame_js("checkout_handler")
        ))
        .await;
    let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    b.mouse("mousePressed", x, y).await;
    b.mouse("mouseReleased", x, y).await;
    let zoomed = b
        .wait_for(
            &format!("{}.classList.contains('hide')", frame_js("idle_loop")),
            "'idle_loop still shown'",
            WAIT_MS,
        )
        .await;
    assert_eq!(zoomed, true);
    let widths = b
        .eval(&format!(
            "[{}.querySelector('rect').getBoundingClientRect().width, \
             {}.querySelector('rect').getBoundingClientRect().width]",
            frame_js("checkout_handler"),
            frame_js("main")
        ))
        .await;
    let (w_checkout, w_main) = (widths[0].as_f64().unwrap(), widths[1].as_f64().unwrap());
    assert!(
        (w_checkout - w_main).abs() < 2.0,
        "zoomed checkout_handler is {w_checkout} px, the full width {w_main} px"
    );
    b.screenshot(&shots.join("flame-zoomed.png")).await;

    // Each view's SQL gives its numbers.
    let series = sql_of(&mut b, "series").await;
    assert_eq!(series.iter().map(|r| num(r, "total")).sum::<i64>(), 220);
    assert_eq!(series.len(), 2, "one bucket per profile: {series:?}");
    let flame = sql_of(&mut b, "flame").await;
    let node = |name: &str| {
        flame
            .iter()
            .find(|r| r["function"] == name)
            .map(|r| (num(r, "self"), num(r, "total")))
    };
    assert_eq!(node("compute_price"), Some((100, 100)));
    assert_eq!(node("main"), Some((0, 220)));
    let top = sql_of(&mut b, "functions").await;
    let mut from_sql: Vec<_> = top
        .iter()
        .map(|r| {
            (
                r["function"].as_str().unwrap().to_string(),
                num(r, "self"),
                num(r, "total"),
            )
        })
        .collect();
    from_sql.sort();
    assert_eq!(from_sql, table);

    // Back to the flame graph; a drag on the chart around the second profile zooms to it.
    b.eval("document.querySelector('.tab[data-tab=flame]').click()")
        .await;
    ready(&mut b, &["series", "flame", "functions"]).await;
    let before = generation(&mut b, "flame").await;
    let (x0, x1, y) = {
        let v = b
            .eval(&format!(
                "(() => {{ const e = window.flamedbExplorer; const box = document.getElementById('series').getBoundingClientRect(); \
                 return [e.xOf({}), e.xOf({}), box.top + box.height / 2]; }})()",
                (t2 - 300) * 1000,
                (t2 + 300) * 1000
            ))
            .await;
        (
            v[0].as_f64().unwrap(),
            v[1].as_f64().unwrap(),
            v[2].as_f64().unwrap(),
        )
    };
    b.mouse("mousePressed", x0, y).await;
    b.mouse("mouseMoved", (x0 + x1) / 2.0, y).await;
    b.mouse("mouseMoved", x1, y).await;
    b.mouse("mouseReleased", x1, y).await;
    reloaded(&mut b, "flame", before).await;
    ready(&mut b, &["series", "functions"]).await;
    assert_eq!(shown_totals(&mut b).await, ("120".into(), "120".into()));
    assert_eq!(b.eval("window.flamedbExplorer.state.range").await, "custom");
    let hash = b.eval("location.hash").await;
    assert!(hash.as_str().unwrap().contains("range=custom"), "{hash}");
    b.screenshot(&shots.join("zoomed.png")).await;

    // The diff of the two versions over the last hour, opened from a link.
    open(
        &mut b,
        &server.url("/#tab=diff&app=shop&dmode=versions&dleft=1&dright=2"),
    )
    .await;
    ready(&mut b, &["diff"]).await;
    let (r, _, bl) = fill(&mut b, "diff", "compute_price").await;
    assert!(
        r > bl,
        "compute_price grew 30 -> 70 but is not red: {r} vs {bl}"
    );
    let (r, _, bl) = fill(&mut b, "diff", "render_receipt").await;
    assert!(
        bl > r,
        "render_receipt shrank 20 -> 10 but is not blue: {r} vs {bl}"
    );
    b.screenshot(&shots.join("diff.png")).await;
    let diff = sql_of(&mut b, "diff").await;
    let cp = diff
        .iter()
        .find(|r| r["function"] == "compute_price")
        .unwrap();
    assert_eq!(
        (num(cp, "baseline_total"), num(cp, "comparison_total")),
        (30, 70)
    );
    drop(b);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_asks_for_a_token_once_and_keeps_tenants_apart() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    std::fs::write(
        &tokens,
        "writer-token * write\nalpha-token team-a,team-c read\nbeta-token team-b\n",
    )
    .unwrap();
    let server = Server::start(
        &tmp.path().join("data"),
        &["--auth-token-file", tokens.to_str().unwrap()],
    );
    let http = reqwest::Client::new();
    for (tenant, app, body) in [("team-a", "alpha", V1), ("team-b", "beta", V2)] {
        let r = http
            .post(server.url(&format!(
                "/api/v1/ingest?app={app}&version=1&format=folded&time={}",
                now_secs() - 600
            )))
            .bearer_auth("writer-token")
            .header("X-Scope-OrgID", tenant)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    let shots = screenshots();
    let mut b = Browser::launch(&chromium, 1400, 1000).await;
    b.navigate(&server.url("/")).await;
    b.wait_for(
        "!document.getElementById('login').hidden",
        "document.getElementById('error').textContent",
        WAIT_MS,
    )
    .await;
    assert_eq!(
        b.eval("document.getElementById('login-message').textContent")
            .await,
        "This server wants a token."
    );
    b.screenshot(&shots.join("login.png")).await;

    let submit = |token: &str| {
        format!(
            "(() => {{ document.getElementById('token').value = '{token}'; \
             document.getElementById('login').requestSubmit(); }})()"
        )
    };
    b.eval(&submit("wrong-token")).await;
    let refused = b
        .wait_for(
            "document.getElementById('login-message').textContent.startsWith('The token was refused') \
             && document.getElementById('login-message').textContent",
            "document.getElementById('login-message').textContent",
            WAIT_MS,
        )
        .await;
    assert!(!document_hidden(&mut b, "login").await, "{refused}");

    b.eval(&submit("alpha-token")).await;
    ready(&mut b, &["series", "flame", "functions"]).await;
    assert!(document_hidden(&mut b, "login").await);
    let tenants = b
        .eval("[...document.getElementById('tenant-select').options].map(o => o.value)")
        .await;
    assert_eq!(tenants, serde_json::json!(["team-a", "team-c"]));
    let apps = b
        .eval("[...document.getElementById('app').options].map(o => o.value)")
        .await;
    assert_eq!(apps, serde_json::json!(["alpha"]));
    assert_eq!(
        b.eval("document.getElementById('flame').dataset.total")
            .await,
        "100"
    );
    assert_eq!(
        b.eval("document.getElementById('whoami').textContent")
            .await,
        "read-only token"
    );

    // The page's own origin cannot read another tenant with this token, nor write.
    let status = |tenant: &str, method: &str, path: &str| {
        format!(
            "fetch('{path}', {{ method: '{method}', headers: {{ Authorization: 'Bearer alpha-token', 'X-Scope-OrgID': '{tenant}' }} }}).then(r => r.status)"
        )
    };
    assert_eq!(b.eval(&status("team-b", "GET", "/api/v1/apps")).await, 403);
    assert_eq!(
        b.eval(&status("team-a", "POST", "/api/v1/flush")).await,
        403
    );
    // A tenant forced through the link is not one the token has: the page falls back.
    open(&mut b, &server.url("/#tenant=team-b")).await;
    ready(&mut b, &["series", "flame"]).await;
    assert!(
        document_hidden(&mut b, "login").await,
        "the token was asked again"
    );
    assert_eq!(
        b.eval("window.flamedbExplorer.state.tenant").await,
        "team-a"
    );
    assert_eq!(
        b.eval("document.getElementById('app').value").await,
        "alpha"
    );
    // The other tenant of the token holds nothing.
    let before = generation(&mut b, "series").await;
    b.eval(
        "(() => { const s = document.getElementById('tenant-select'); s.value = 'team-c'; \
         s.dispatchEvent(new Event('change')); })()",
    )
    .await;
    let el = "document.getElementById('series')";
    b.wait_for(
        &format!("Number({el}.dataset.gen) > {before} && {el}.dataset.state === 'empty'"),
        &format!("{el}.dataset.state + document.getElementById('error').textContent"),
        WAIT_MS,
    )
    .await;
    let apps = b
        .eval("[...document.getElementById('app').options].map(o => o.value)")
        .await;
    assert_eq!(apps, serde_json::json!([]));
    drop(b);
    server.stop();
}

/// Loads `url` as a new document (a hash change alone would not reload the page).
async fn open(b: &mut Browser, url: &str) {
    b.navigate("about:blank").await;
    b.navigate(url).await;
}

async fn document_hidden(b: &mut Browser, id: &str) -> bool {
    b.eval(&format!("document.getElementById('{id}').hidden"))
        .await
        .as_bool()
        .unwrap()
}

/// One pod of `version` of app `web`: `render` doubles in version 2 (a regression).
fn pod_profile(version: u32, pod: u32) -> String {
    let j = pod % 3;
    let render = if version == 2 { 200 } else { 100 } + j;
    format!(
        "main;handle;parse {}\nmain;handle;render {render}\nmain;gc {}\nmain;idle {}\n",
        300 + j,
        200 - j,
        400 + j
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_lists_findings_and_opens_their_diff() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    let start = now_secs() - 40 * 60;
    for version in [1u32, 2] {
        for pod in 0..4u32 {
            let q = format!(
                "app=web&version={version}&label.pod=p{pod}&format=folded&time={}",
                start + i64::from(version) * 600 + i64::from(pod)
            );
            api.ingest(&q, pod_profile(version, pod)).await;
        }
    }
    let r = api.post("/api/v1/inspect").await.ok().json();
    assert_eq!(r["new_findings"], 1, "{r}");

    let mut b = Browser::launch(&chromium, 1400, 1000).await;
    b.navigate(&server.url("/#tab=findings")).await;
    ready(&mut b, &["findings"]).await;
    let rows = b
        .eval(
            "[...document.querySelectorAll('#findings tbody tr')].map(tr => \
             [...tr.cells].map(c => c.textContent))",
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let cells: Vec<&str> = rows[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    // App, function, kind, versions, ..., state.
    assert_eq!(
        (cells[0], cells[1], cells[2], cells[3], cells[7]),
        ("web", "render", "increase", "1 → 2", "open")
    );
    b.screenshot(&screenshots().join("findings.png")).await;

    // Its diff: version 1 against 2 over the finding's window, searching for render.
    b.eval("document.querySelector('#findings tbody tr button').click()")
        .await;
    ready(&mut b, &["diff"]).await;
    assert_eq!(
        b.eval("document.getElementById('diff-summary').textContent")
            .await,
        "Baseline version 1; comparison version 2."
    );
    assert_eq!(
        b.eval("window.flamedbExplorer.state.search").await,
        "render"
    );
    let (r, _, bl) = fill(&mut b, "diff", "render").await;
    assert!(r > bl, "render doubled but is not red: {r} vs {bl}");
    b.screenshot(&screenshots().join("finding-diff.png")).await;
    drop(b);
    server.stop();
}

/// Sets `<select id=ID>` to `value` as a person picking it would (a change event).
async fn pick(b: &mut Browser, id: &str, value: &str) {
    b.eval(&format!(
        "(() => {{ const s = document.getElementById('{id}'); s.value = '{value}'; \
         s.dispatchEvent(new Event('change')); return s.value; }})()"
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_filters_by_label_and_diffs_a_range_with_the_one_before() {
    let Some(chromium) = chromium() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--inspect-interval-secs", "0"]);
    let api = Api::new(&server, "default");
    let now = now_secs();
    // The hour before the last one: V1 on pod a. The last hour: V1 on pod a, V2 on pod b.
    for (pod, body, ago) in [("a", V1, 90 * 60), ("a", V1, 30 * 60), ("b", V2, 20 * 60)] {
        let q = format!(
            "app=shop&version=1&label.pod={pod}&format=folded&time={}",
            now - ago
        );
        api.ingest(&q, body).await;
    }

    let mut b = Browser::launch(&chromium, 1400, 1000).await;
    b.navigate(&server.url("/")).await;
    ready(&mut b, &["series", "flame", "functions"]).await;
    // The last hour: pods a and b, 100 + 120.
    assert_eq!(
        b.eval("document.getElementById('total').dataset.value")
            .await,
        "220"
    );
    let labels = b
        .eval("[...document.getElementById('label-name').options].map(o => o.value)")
        .await;
    assert_eq!(labels, serde_json::json!(["", "pod"]));

    // label pod, then its value b: V2 alone.
    pick(&mut b, "label-name", "pod").await;
    b.wait_for(
        "[...document.getElementById('label-value').options].map(o => o.value).join(',') === ',a,b'",
        "[...document.getElementById('label-value').options].map(o => o.value).join(',')",
        WAIT_MS,
    )
    .await;
    let before = generation(&mut b, "flame").await;
    pick(&mut b, "label-value", "b").await;
    reloaded(&mut b, "flame", before).await;
    ready(&mut b, &["series", "functions"]).await;
    assert_eq!(shown_totals(&mut b).await, ("120".into(), "120".into()));
    let mut table = functions(&mut b).await;
    table.sort();
    assert_eq!(
        table,
        vec![
            ("checkout_handler".to_string(), 0, 80),
            ("compute_price".to_string(), 70, 70),
            ("idle_loop".to_string(), 40, 40),
            ("main".to_string(), 0, 120),
            ("render_receipt".to_string(), 10, 10),
        ]
    );

    // Pod a alone, then the label dropped: this hour (both pods) against the hour before,
    // on the diff tab.
    pick(&mut b, "label-value", "a").await;
    ready(&mut b, &["series"]).await;
    b.eval("document.querySelector('.tab[data-tab=diff]').click()")
        .await;
    let series_before = generation(&mut b, "series").await;
    pick(&mut b, "label-name", "").await;
    let before = generation(&mut b, "diff").await;
    pick(&mut b, "diff-mode", "period").await;
    b.eval("document.getElementById('diff-run').click()").await;
    reloaded(&mut b, "diff", before).await;
    let summary = b
        .eval("document.getElementById('diff-summary').textContent")
        .await;
    assert!(
        summary.as_str().unwrap().starts_with("Baseline "),
        "{summary}"
    );
    // The hour before: V1 (compute_price 30); this hour: V1 + V2 (30 + 70 = 100).
    let (r, _, bl) = fill(&mut b, "diff", "compute_price").await;
    assert!(
        r > bl,
        "compute_price grew 30 -> 100 but is not red: {r} vs {bl}"
    );
    // The totals show both pods again, once the selectors are read again.
    reloaded(&mut b, "series", series_before).await;
    assert_eq!(
        b.eval("document.getElementById('total').dataset.value")
            .await,
        "220"
    );
    b.screenshot(&screenshots().join("period-diff.png")).await;
    let diff = sql_of(&mut b, "diff").await;
    let cp = diff
        .iter()
        .find(|r| r["function"] == "compute_price")
        .unwrap();
    assert_eq!(
        (num(cp, "baseline_total"), num(cp, "comparison_total")),
        (30, 100)
    );
    drop(b);
    server.stop();
}
