//! `perf script` decoding against the corpus: the facts of `expected.json`, the collapsed
//! outputs of inferno and stackcollapse-perf shipped with the inputs, and mutants.
#![allow(clippy::unwrap_used)]

mod common;

use flamedb_profile::perf::{self, CollapseOptions, PerfOptions};
use flamedb_profile::{DecodeLimits, Summary};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    let raw = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    flamedb_profile::gzip::maybe_gunzip(&raw, &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .into_owned()
}

/// An event name without trailing perf modifiers (`cycles:uppp` -> `cycles`).
fn base(event: &str) -> &str {
    match event.rsplit_once(':') {
        Some((b, mods))
            if !b.is_empty()
                && !mods.is_empty()
                && mods.chars().all(|c| "ukhIGHpPSDWebR".contains(c)) =>
        {
            b
        }
        _ => event,
    }
}

/// The events `decode` keeps for `event` (see `perf` module docs): a name with modifiers
/// keeps exactly that name, one without keeps every modifier variant of it. The corpus
/// facts count names with modifiers separately, so for the default (the first event's
/// variants, as inferno) two inputs differ from `events_by_event[first_event]`:
/// `inferno/single-line-stacks.txt` (`cycles:u` 1 + `cycles` 1: inferno's expected output
/// has both) and `firefox-profiler/test.perf.gz` (`cycles:uppp` 72 + `cycles:ppp` 1).
fn kept(facts: &Value, event: &str, by: &str) -> u64 {
    let exact = base(event) != event;
    facts[by]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(name, _)| {
                    if exact {
                        name.as_str() == event
                    } else {
                        base(name) == event
                    }
                })
                .map(|(_, v)| v.as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn every_perf_input_decodes_to_its_facts() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let files = common::files_of_format(&expected, "perf-script");
    assert!(files.len() >= 36, "only {} perf-script inputs", files.len());
    let mut failures = Vec::new();
    for (rel, facts) in &files {
        let data = read(&dir, rel);
        let p = match perf::decode(&data, &PerfOptions::default()) {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let s = Summary::of(&p);
        let check = |failures: &mut Vec<String>, what: &str, got: u64, want: u64| {
            if got != want {
                failures.push(format!("{rel}: {what}: got {got}, want {want}"));
            }
        };
        let Some(first) = facts["first_event"].as_str() else {
            check(
                &mut failures,
                "samples of a file without events",
                s.samples as u64,
                0,
            );
            continue;
        };
        let first_base = base(first);
        check(
            &mut failures,
            "samples",
            s.samples as u64,
            kept(facts, first_base, "events_by_event"),
        );
        let with_period = facts["events_with_period"].as_u64().unwrap_or(0);
        if with_period > 0 {
            // Every corpus input prints a period on all events or on none.
            assert_eq!(with_period, facts["events"].as_u64().unwrap(), "{rel}");
            check(
                &mut failures,
                "sample types",
                s.sample_types.len() as u64,
                2,
            );
            let sum = s.value_sums.get(1).copied().unwrap_or(0) as u64;
            check(
                &mut failures,
                "period sum",
                sum,
                kept(facts, first_base, "period_sum_by_event"),
            );
        } else {
            check(
                &mut failures,
                "sample types",
                s.sample_types.len() as u64,
                1,
            );
        }
        // The facts' max_depth counts frame lines of every event; ours counts the locations
        // of kept events and skips malformed frame lines (`flamescope/perf.test01` has a
        // truncated one, `inferno/weird-stack-line.txt` one without dso). So it is equal
        // when nothing is skipped, else at most the fact.
        let fact_depth = facts["max_depth"].as_u64().unwrap_or(0);
        let skipped = p
            .comments
            .iter()
            .any(|&c| p.strings.get(c).contains("skipped"));
        if skipped {
            if s.max_depth as u64 > fact_depth {
                failures.push(format!(
                    "{rel}: max depth {} above {fact_depth}",
                    s.max_depth
                ));
            }
        } else {
            check(&mut failures, "max depth", s.max_depth as u64, fact_depth);
        }
        // Each event type on its own.
        for event in facts["events_by_event"].as_object().unwrap().keys() {
            let options = PerfOptions {
                event: Some(event.clone()),
                ..PerfOptions::default()
            };
            match perf::decode(&data, &options) {
                Ok(p) => check(
                    &mut failures,
                    &format!("samples of {event}"),
                    p.samples.len() as u64,
                    kept(facts, event, "events_by_event"),
                ),
                Err(e) => failures.push(format!("{rel} event {event}: {e}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn options(name: &str) -> CollapseOptions {
    let mut o = CollapseOptions::default();
    match name {
        "default" => {}
        "all" => o = CollapseOptions::all(),
        "kernel" => o.annotate_kernel = true,
        "jit" => o.annotate_jit = true,
        "pid" => o.include_pid = true,
        "tid" => o.include_tid = true,
        "addrs" => o.include_addrs = true,
        other => panic!("unknown option {other}"),
    }
    o
}

/// Folded text as a multiset `stack -> count`; `strip_quotes` deletes `'` and `"` first.
fn multiset(text: &str, strip_quotes: bool) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (stack, count) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad folded line {line:?}"));
        let stack = if strip_quotes {
            stack.replace(['\'', '"'], "")
        } else {
            stack.to_string()
        };
        *out.entry(stack).or_insert(0) += count
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("bad count in {line:?}"));
    }
    out
}

#[test]
fn collapse_matches_every_expected_output() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let mut failures = Vec::new();
    let mut compared = 0;
    for (rel, facts) in common::files_of_format(&expected, "perf-script") {
        let outputs = facts["expected_outputs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if outputs.is_empty() {
            continue;
        }
        let p = perf::decode(&read(&dir, &rel), &PerfOptions::default())
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
        let strip = rel.starts_with("perf-script/flamegraph/");
        for out in outputs {
            let path = out["path"].as_str().unwrap();
            let option = out["option"].as_str().unwrap();
            compared += 1;
            let want = multiset(&String::from_utf8_lossy(&read(&dir, path)), strip);
            let text = perf::collapse(&p, &options(option));
            let got = multiset(&text, strip);
            let total: u64 = got.values().sum();
            if total != out["total_count"].as_u64().unwrap() {
                failures.push(format!(
                    "{path}: total {total}, want {}",
                    out["total_count"]
                ));
            }
            if got != want {
                let mut diff: Vec<String> = want
                    .iter()
                    .filter(|(k, v)| got.get(*k) != Some(v))
                    .map(|(k, v)| format!("  - {k} {v} (got {:?})", got.get(k)))
                    .chain(
                        got.iter()
                            .filter(|(k, _)| !want.contains_key(*k))
                            .map(|(k, v)| format!("  + {k} {v}")),
                    )
                    .collect();
                diff.sort();
                diff.truncate(6);
                failures.push(format!("{path} ({option}):\n{}", diff.join("\n")));
            }
        }
    }
    assert_eq!(compared, 87, "expected outputs compared");
    assert!(
        failures.is_empty(),
        "{} of {compared} outputs differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn mutants_never_panic() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let inputs: Vec<(String, Vec<u8>)> = common::files_of_format(&expected, "perf-script")
        .into_iter()
        .map(|(rel, _)| {
            let data = read(&dir, &rel);
            (rel, data)
        })
        .filter(|(_, d)| !d.is_empty() && d.len() <= 64 << 10)
        .collect();
    assert!(inputs.len() >= 15, "{} small inputs", inputs.len());
    let per_input = 1200usize.div_ceil(inputs.len());
    let limits = DecodeLimits {
        max_stack_depth: 64,
        ..DecodeLimits::default()
    };
    let mut total = 0;
    let (mut ok, mut err) = (0, 0);
    for (i, (rel, data)) in inputs.iter().enumerate() {
        for (j, m) in common::mutants(data, per_input, 0x5eed_0000 + i as u64)
            .into_iter()
            .enumerate()
        {
            total += 1;
            let result = std::panic::catch_unwind(|| {
                let r = perf::decode(
                    &m,
                    &PerfOptions {
                        limits,
                        event: None,
                    },
                );
                if let Ok(p) = &r {
                    let _ = perf::collapse(p, &CollapseOptions::all());
                    let _ = Summary::of(p);
                }
                r.is_ok()
            });
            match result {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => panic!("{rel}: mutant {j} panicked"),
            }
        }
    }
    assert!(total >= 1000, "{total} mutants");
    eprintln!("{total} mutants: {ok} Ok, {err} Err");
}
