//! Shared helpers for the corpus conformance tests.
//!
//! The corpus lives outside the repository (licences): `../shared/corpus` next to the
//! workspace, or the directory named by `FLAMEDB_CORPUS`. When it is missing the tests say
//! so and pass, unless the environment variable `CI` is set, in which case they fail.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

/// The corpus directory, or `None` (after saying so) when it is missing outside CI.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FLAMEDB_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    if dir.join("expected.json").is_file() {
        return Some(dir);
    }
    let msg = format!(
        "profile corpus not found at {} (set FLAMEDB_CORPUS to its directory)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}; CI is set, so a missing corpus is a failure");
    }
    eprintln!("SKIPPED: {msg}");
    None
}

/// `expected.json` of the corpus: `{"conventions": ..., "files": {path: facts}}`.
pub fn expected(dir: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("read expected.json");
    serde_json::from_str(&text).expect("parse expected.json")
}

/// `(relative path, facts)` of every corpus file whose `format` is `format`, sorted by path.
pub fn files_of_format(expected: &Value, format: &str) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = expected["files"]
        .as_object()
        .expect("files object")
        .iter()
        .filter(|(_, facts)| facts["format"] == format)
        .map(|(path, facts)| (path.clone(), facts.clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
