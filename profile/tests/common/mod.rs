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
    flamedb_profile::testing::corpus_dir()
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

pub use flamedb_profile::testing::Rng;

/// `count` mutants of `data`: bytes flipped, set to edge values, inserted, deleted,
/// ranges duplicated, and truncations. Mutant `i` of a given seed is always the same.
pub fn mutants(data: &[u8], count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let mut m = data.to_vec();
            let edits = 1 + rng.below(4);
            for _ in 0..edits {
                if m.is_empty() {
                    m.push(rng.next_u64() as u8);
                    continue;
                }
                let at = rng.below(m.len());
                match rng.below(6) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = [0x00, 0xff, 0x7f, 0x80, b'\n', b';', b' '][rng.below(7)],
                    2 => m.insert(at, rng.next_u64() as u8),
                    3 => {
                        let end = (at + 1 + rng.below(16)).min(m.len());
                        m.drain(at..end);
                    }
                    4 => {
                        let end = (at + 1 + rng.below(64)).min(m.len());
                        let chunk = m[at..end].to_vec();
                        let to = rng.below(m.len());
                        m.splice(to..to, chunk);
                    }
                    _ => m.truncate(at),
                }
            }
            m
        })
        .collect()
}
