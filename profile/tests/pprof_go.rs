//! pprof's own reader accepts what flamedb writes: every corpus pprof file is decoded,
//! re-encoded gzipped by flamedb, and read back with `go tool pprof -raw`, whose per-sample
//! values must add up to the decoded profile's value sums.
//!
//! A flame tree exported with `flame::render::to_profile` is read back the same way.
//!
//! Needs `go` on the PATH (Debian: `apt-get install -y golang-go`). Without it the test
//! prints SKIPPED and passes, unless the environment variable `CI` is set.
#![allow(clippy::unwrap_used)]

mod common;

use flamedb_profile::flame::{FlameTreeBuilder, render};
use flamedb_profile::pprof::{decode_maybe_gzip, encode_gzip};
use flamedb_profile::{DecodeLimits, Summary};
use std::path::Path;
use std::process::{Command, Output};

fn go_available() -> bool {
    let ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = "`go` not found on PATH (apt-get install -y golang-go)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{msg}; CI is set, so this is a failure"
        );
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

/// Sums of the sample value columns printed by `go tool pprof -raw`: the lines between the
/// sample-type header after `Samples:` and `Locations`, of the form `v1 v2 ...: loc ids`.
fn raw_value_sums(text: &str, columns: usize) -> Result<Vec<i128>, String> {
    let lines = text.lines().skip_while(|l| *l != "Samples:").skip(2);
    let mut sums = vec![0i128; columns];
    let mut samples = 0;
    for line in lines.take_while(|l| !l.starts_with("Locations")) {
        let Some((head, _)) = line.split_once(':') else {
            continue;
        };
        let values: Result<Vec<i64>, _> = head.split_whitespace().map(str::parse).collect();
        // Label lines (`  key:[value]`) have a non-numeric head.
        let Ok(values) = values else { continue };
        if values.len() != columns {
            return Err(format!(
                "sample line with {} values: {line:?}",
                values.len()
            ));
        }
        samples += 1;
        for (s, v) in sums.iter_mut().zip(values) {
            *s += i128::from(v);
        }
    }
    if samples == 0 && !text.contains("Samples:") {
        return Err("no `Samples:` section in the output".into());
    }
    Ok(sums)
}

/// `go tool pprof -raw` of `file`.
fn go_pprof(file: &Path, tmp: &Path) -> Output {
    Command::new("go")
        .args(["tool", "pprof", "-raw", "-symbolize=none"])
        .arg(file)
        .env("PPROF_TMPDIR", tmp)
        .output()
        .unwrap()
}

#[test]
fn go_tool_pprof_reads_flamedb_output() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    if !go_available() {
        return;
    }
    let expected = common::expected(&dir);
    let tmp = std::env::temp_dir().join(format!("flamedb-pprof-go-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, _) in common::files_of_format(&expected, "pprof") {
        let data = std::fs::read(dir.join(&path)).unwrap();
        let p = decode_maybe_gzip(&data, &DecodeLimits::default()).unwrap();
        let file = tmp.join("profile.pb.gz");
        std::fs::write(&file, encode_gzip(&p)).unwrap();
        let out = go_pprof(&file, &tmp);
        if !out.status.success() {
            // Some corpus files are invalid for pprof itself (the .NET ones have functions
            // with the reserved id 0; flamedb keeps their lines without a function, which
            // pprof also rejects). Only output pprof rejects for a valid input is a failure.
            if go_pprof(&dir.join(&path), &tmp).status.success() {
                let err = String::from_utf8_lossy(&out.stderr);
                failures.push(format!("{path}: go tool pprof failed: {}", err.trim()));
            } else {
                eprintln!("{path}: go tool pprof rejects the original file too; not compared");
            }
            continue;
        }
        let want = Summary::of(&p).value_sums;
        match raw_value_sums(&String::from_utf8_lossy(&out.stdout), want.len()) {
            Ok(got) if got == want => checked += 1,
            Ok(got) => failures.push(format!(
                "{path}: go tool pprof sums {got:?}, flamedb {want:?}"
            )),
            Err(e) => failures.push(format!("{path}: {e}")),
        }
    }
    std::fs::remove_dir_all(&tmp).unwrap();
    eprintln!("{checked} files read back by go tool pprof with equal value sums");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 50, "only {checked} files compared");
}

#[test]
fn go_tool_pprof_reads_a_flame_tree_export() {
    if !go_available() {
        return;
    }
    let mut b = FlameTreeBuilder::new();
    let stacks = [
        ("main;serve;parse", 300),
        ("main;serve;parse;alloc", 20),
        ("main;serve", 7),
        ("main;gc", 50),
        ("other;main", 4),
    ];
    for (s, v) in stacks {
        b.add_stack(s.split(';'), 0, v);
        b.add_stack(s.split(';'), 1, 2 * v);
    }
    b.add_stack(["main", "serve", "new"], 1, 9);
    let tree = b.finish(true);
    let tmp = std::env::temp_dir().join(format!("flamedb-flame-go-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (side, want) in [(0, 381i128), (1, 771)] {
        let p = render::to_profile(&tree, side, "cpu", "nanoseconds");
        let file = tmp.join(format!("flame-{side}.pb.gz"));
        std::fs::write(&file, encode_gzip(&p)).unwrap();
        let out = go_pprof(&file, &tmp);
        assert!(
            out.status.success(),
            "go tool pprof failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sums = raw_value_sums(&String::from_utf8_lossy(&out.stdout), 1).unwrap();
        assert_eq!(sums, vec![want], "side {side}");
        assert_eq!(i128::from(tree.total(side)), want);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
