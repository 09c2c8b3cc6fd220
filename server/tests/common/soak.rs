//! The kill soak: rounds of a real `flamedb serve` over one data directory, each ended by
//! SIGKILL or a clean stop at a seeded moment while clients ingest, push, flush and compact
//! and the server flushes, compacts, shares dictionaries and collects garbage all the time.
//! After every round a second server (maintenance off) replays the log and the test counts,
//! for every profile ever sent, how often it is stored.
//!
//! ```text
//!  round r: serve (flush 50 ms, maintain 50 ms, grace 0) ◄── ingest loop (one profile each)
//!                                                        ◄── push loop (3 profiles, atomic)
//!                                                        ◄── flush / compact loop
//!           after 100 to 2000 acknowledgements (seeded): SIGKILL (3 of 4) or SIGTERM
//!  check:   serve (no maintenance) ─► flush ─► one maintenance pass (POST /api/v1/compact)
//!           ─► per uid: profiles, total, sample sum
//!           acknowledged: exactly once, whole; not acknowledged: whole or absent;
//!           a push: all of its profiles or none
//! ```
//!
//! Every profile has a unique `uid` label and a value of its own, so a profile stored twice,
//! lost or cut is seen in the per-uid counts.
#![allow(dead_code)]

use super::Rng;
use super::Server;
use flamedb_profile::{FrameKind, LabelSetId, Profile};
use prost::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What a soak run found.
#[derive(Debug, Default, Clone)]
pub struct SoakReport {
    /// Rounds run.
    pub rounds: u64,
    /// Rounds ended by SIGKILL.
    pub kills: u64,
    /// Rounds ended by SIGTERM.
    pub clean_stops: u64,
    /// Profiles sent.
    pub sent: u64,
    /// Profiles acknowledged (HTTP 200).
    pub acknowledged: u64,
    /// Acknowledged profiles not stored.
    pub lost: u64,
    /// Profiles stored more than once.
    pub duplicated: u64,
    /// Profiles stored with another total than sent, and pushes stored in part.
    pub partial: u64,
    /// Unacknowledged profiles that were stored (allowed: the server may die after the
    /// write and before the answer).
    pub stored_unacknowledged: u64,
    /// Blocks flushed, maintenance passes and blocks compacted by the servers under test
    /// when they were stopped (read from `/metrics` just before), and by the checks' own
    /// passes, summed over the rounds.
    pub flushes: u64,
    /// See [`SoakReport::flushes`].
    pub maintenance_passes: u64,
    /// See [`SoakReport::flushes`].
    pub blocks_compacted: u64,
    /// Kills that left a block directory without `meta.json` or a staging file behind in
    /// a local store: the kill landed while a flush, compaction or sharing pass was writing.
    pub killed_mid_write: u64,
    /// Answers no client should get (a 4xx for valid input, a 5xx other than 503).
    pub errors: Vec<String>,
}

impl std::fmt::Display for SoakReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rounds={} kills={} clean_stops={} sent={} acknowledged={} lost={} duplicated={} \
             partial={} stored_unacknowledged={} errors={} flushes={} maintenance_passes={} \
             blocks_compacted={} killed_mid_write={}",
            self.rounds,
            self.kills,
            self.clean_stops,
            self.sent,
            self.acknowledged,
            self.lost,
            self.duplicated,
            self.partial,
            self.stored_unacknowledged,
            self.errors.len(),
            self.flushes,
            self.maintenance_passes,
            self.blocks_compacted,
            self.killed_mid_write
        )
    }
}

/// One profile sent.
#[derive(Debug, Clone)]
struct Sent {
    value: i64,
    /// The push request it went in (its profiles are stored all or none).
    push: Option<u64>,
    acknowledged: bool,
}

#[derive(Default)]
struct Ledger {
    sent: BTreeMap<String, Sent>,
    acks_this_round: u64,
    errors: Vec<String>,
}

/// Flags of the server under test: everything in motion.
const BUSY: &[&str] = &[
    "--flush-interval-secs",
    "0.02",
    "--flush-age-secs",
    "0.05",
    "--maintain-interval-secs",
    "0.05",
    "--compact-min-blocks",
    "2",
    "--gc-grace-secs",
    "0",
    "--gc-incomplete-grace-secs",
    "0",
    "--share-dictionaries-after-secs",
    "0",
    "--tenant-requests-per-sec",
    "100000",
    "--tenant-request-burst",
    "100000",
];

/// Runs `rounds` rounds over `data` with the extra server flags `store` (the object store),
/// seeded by `seed`.
pub async fn run(data: &std::path::Path, store: &[String], rounds: u64, seed: u64) -> SoakReport {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut report = SoakReport::default();
    let store: Vec<&str> = store.iter().map(String::as_str).collect();
    let busy: Vec<&str> = BUSY.iter().copied().chain(store.iter().copied()).collect();
    let mut quiet: Vec<&str> = vec![
        "--maintain-interval-secs",
        "0",
        "--compact-min-blocks",
        "2",
        "--gc-grace-secs",
        "0",
        "--share-dictionaries-after-secs",
        "0",
    ];
    quiet.extend(store.iter().copied());
    for round in 0..rounds {
        let server = Server::start(data, &busy);
        let target = 100 + rng.next() % 1900;
        let kill = !rng.next().is_multiple_of(4);
        ledger.lock().unwrap().acks_this_round = 0;
        let clients = [
            tokio::spawn(ingest_loop(server.base.clone(), ledger.clone(), round)),
            tokio::spawn(push_loop(server.base.clone(), ledger.clone(), round)),
            tokio::spawn(admin_loop(server.base.clone(), ledger.clone(), rng.next())),
        ];
        // Acknowledgements are counted by the clients; the end comes after `target` of them
        // (the clients keep going meanwhile, so the kill lands mid-request).
        loop {
            if ledger.lock().unwrap().acks_this_round >= target {
                break;
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let busy = counters(&server.base).await;
        report.flushes += busy[0];
        report.maintenance_passes += busy[1];
        report.blocks_compacted += busy[2];
        if kill {
            server.kill();
            report.kills += 1;
            let unfinished = unfinished_writes(&data.join("blocks"));
            report.killed_mid_write += u64::from(unfinished > 0);
        } else {
            server.stop();
            report.clean_stops += 1;
        }
        for c in clients {
            c.await.unwrap();
        }
        let checker = Server::start(data, &quiet);
        check(&checker, &ledger, &mut report).await;
        checker.stop();
        report.rounds += 1;
        eprintln!("soak round {round}: {report}");
    }
    report.errors = ledger.lock().unwrap().errors.clone();
    report
}

/// Block directories without `meta.json`, and staging files (`NAME#DIGITS`), below `dir`.
fn unfinished_writes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    let mut files = 0;
    let mut has_meta = false;
    let block_dir = dir
        .file_name()
        .and_then(|f| f.to_str())
        .is_some_and(|f| f.len() == 32 && f.bytes().all(|b| b.is_ascii_hexdigit()));
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            n += unfinished_writes(&path);
        } else {
            files += 1;
            has_meta |= name == "meta.json";
            n += u64::from(name.contains('#'));
        }
    }
    n + u64::from(block_dir && files > 0 && !has_meta)
}

/// Flushes, maintenance passes and compacted blocks so far, from `/metrics`.
async fn counters(base: &str) -> [u64; 3] {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    [
        value("flamedb_blocks_written_total "),
        value("flamedb_maintenance_runs_total "),
        value("flamedb_blocks_compacted_total "),
    ]
}

/// Compares what is stored with what was sent.
async fn check(server: &Server, ledger: &Mutex<Ledger>, report: &mut SoakReport) {
    let client = reqwest::Client::new();
    let flushed = client
        .post(server.url("/api/v1/flush"))
        .send()
        .await
        .unwrap();
    assert!(
        flushed.status().is_success(),
        "{}",
        flushed.text().await.unwrap()
    );
    // One whole maintenance pass (compaction, sharing, garbage collection with no grace)
    // before counting: what it rewrites must keep every profile exactly once too.
    let compacted = client
        .post(server.url("/api/v1/compact"))
        .send()
        .await
        .unwrap();
    assert!(compacted.status().is_success());
    let done: serde_json::Value =
        serde_json::from_slice(&compacted.bytes().await.unwrap()).unwrap();
    report.blocks_compacted += done["compacted"].as_u64().unwrap_or(0);
    report.maintenance_passes += 1;
    let sql = "SELECT p.u, p.n, p.t, s.v FROM \
        (SELECT labels['uid'] AS u, count(*) AS n, sum(total) AS t FROM profiles GROUP BY 1) p \
        LEFT JOIN (SELECT labels['uid'] AS u, sum(value) AS v FROM samples GROUP BY 1) s \
        ON p.u = s.u";
    let a = client
        .post(server.url("/api/v1/sql?format=json"))
        .body(sql)
        .send()
        .await
        .unwrap();
    assert!(a.status().is_success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&a.bytes().await.unwrap()).unwrap();
    let mut stored: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for r in rows {
        let n = |k: &str| r[k].as_i64().unwrap_or(-1);
        stored.insert(
            r["u"].as_str().unwrap().to_string(),
            (n("n"), n("t"), n("v")),
        );
    }
    let ledger = ledger.lock().unwrap();
    let (mut sent, mut acked, mut lost, mut dup, mut partial, mut extra) = (0, 0, 0, 0, 0, 0);
    let mut pushes: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (uid, s) in &ledger.sent {
        sent += 1;
        acked += u64::from(s.acknowledged);
        let (n, t, v) = stored.get(uid).copied().unwrap_or((0, 0, 0));
        if n == 0 && s.acknowledged {
            lost += 1;
            eprintln!("lost: {uid} (value {})", s.value);
        }
        if n > 1 {
            dup += 1;
            eprintln!("stored {n} times: {uid}");
        }
        if n == 1 && (t != s.value || v != s.value) {
            partial += 1;
            eprintln!("{uid}: total {t}, samples {v}, sent {}", s.value);
        }
        if n >= 1 && !s.acknowledged {
            extra += 1;
        }
        if let Some(p) = s.push {
            let e = pushes.entry(p).or_default();
            e.0 += 1;
            e.1 += u64::from(n >= 1);
        }
    }
    for (p, (members, present)) in pushes {
        if present != 0 && present != members {
            partial += 1;
            eprintln!("push {p}: {present} of {members} profiles stored");
        }
    }
    let unknown = stored
        .keys()
        .filter(|u| !ledger.sent.contains_key(*u))
        .count();
    assert_eq!(unknown, 0, "profiles stored that no client sent");
    report.sent = sent;
    report.acknowledged = acked;
    report.lost = lost;
    report.duplicated = dup;
    report.partial = partial;
    report.stored_unacknowledged = extra;
}

/// Whether an answer's status is one a valid request may get: 200, or 503 while the server
/// stops. Anything else is recorded as an error.
fn judge(ledger: &Mutex<Ledger>, what: &str, status: reqwest::StatusCode, body: &str) -> bool {
    if status.is_success() {
        return true;
    }
    if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        ledger
            .lock()
            .unwrap()
            .errors
            .push(format!("{what}: {status} {body}"));
    }
    false
}

async fn ingest_loop(base: String, ledger: Arc<Mutex<Ledger>>, round: u64) {
    let client = reqwest::Client::new();
    for i in 0u64.. {
        let uid = format!("r{round}i{i}");
        let value = 1 + ((round * 7919 + i * 31) % 997) as i64;
        ledger.lock().unwrap().sent.insert(
            uid.clone(),
            Sent {
                value,
                push: None,
                acknowledged: false,
            },
        );
        let sent = client
            .post(format!(
                "{base}/api/v1/ingest?app=soak&dc=dc{}&format=folded&label.uid={uid}",
                i % 3
            ))
            .body(format!("main;soak;f{} {value}\n", i % 50))
            .send()
            .await;
        let Ok(resp) = sent else { return };
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        if judge(&ledger, "ingest", status, &body) {
            let mut l = ledger.lock().unwrap();
            if let Some(s) = l.sent.get_mut(&uid) {
                s.acknowledged = true;
            }
            l.acks_this_round += 1;
        } else if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return;
        }
    }
}

async fn push_loop(base: String, ledger: Arc<Mutex<Ledger>>, round: u64) {
    let client = reqwest::Client::new();
    for i in 0u64.. {
        let push_id = round * 1_000_000 + i;
        let mut series = Vec::new();
        let mut uids = Vec::new();
        for k in 0..3u64 {
            let uid = format!("r{round}p{i}k{k}");
            let value = 1_000 + ((round * 131 + i * 17 + k) % 5_000) as i64;
            ledger.lock().unwrap().sent.insert(
                uid.clone(),
                Sent {
                    value,
                    push: Some(push_id),
                    acknowledged: false,
                },
            );
            series.push(super::push::series(
                &[
                    ("service_name", "soakpush"),
                    ("__name__", "process_cpu"),
                    ("uid", &uid),
                ],
                pprof(&format!("main;push;g{}", (i + k) % 20), value),
                &uid,
            ));
            uids.push(uid);
        }
        let body = super::push::PushRequest { series }.encode_to_vec();
        let sent = client
            .post(format!("{base}/push.v1.PusherService/Push"))
            .header("content-type", "application/proto")
            .body(body)
            .send()
            .await;
        let Ok(resp) = sent else { return };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if judge(&ledger, "push", status, &text) {
            let mut l = ledger.lock().unwrap();
            for uid in &uids {
                if let Some(s) = l.sent.get_mut(uid) {
                    s.acknowledged = true;
                }
            }
            l.acks_this_round += uids.len() as u64;
        } else if status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            return;
        }
    }
}

/// Flushes and compacts now and then, as an operator's scripts would.
async fn admin_loop(base: String, ledger: Arc<Mutex<Ledger>>, seed: u64) {
    let client = reqwest::Client::new();
    let mut rng = Rng(seed | 1);
    loop {
        let path = if rng.next().is_multiple_of(3) {
            "/api/v1/compact"
        } else {
            "/api/v1/flush"
        };
        let Ok(resp) = client.post(format!("{base}{path}")).send().await else {
            return;
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if !judge(&ledger, path, status, &text) && status.is_server_error() {
            eprintln!("admin {path}: {status} {text}");
            return;
        }
    }
}

/// A pprof CPU profile with one stack.
fn pprof(stack: &str, value: i64) -> Vec<u8> {
    let mut p = Profile::new();
    p.add_sample_type("cpu", "nanoseconds");
    p.time_nanos = chrono_now();
    p.duration_nanos = 10_000_000_000;
    let locations: Vec<_> = stack
        .split(';')
        .map(|f| {
            p.symbols
                .intern_named_location(f, None, 0, FrameKind::Unspecified)
        })
        .collect();
    let id = p.symbols.stacks.intern(locations);
    p.push_sample(id, &[value], LabelSetId::default(), None);
    flamedb_profile::pprof::encode(&p)
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
