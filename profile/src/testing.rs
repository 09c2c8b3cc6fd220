//! Shared support for tests and benches: where the profile corpus is, and a seeded PRNG.
//!
//! The corpus lives outside the repository (licences): `../shared/corpus` next to the
//! workspace, or the directory named by `FLAMEDB_CORPUS`. Tests that need it call
//! [`corpus_dir`], which says when it is missing and makes that a failure under CI.

use std::path::PathBuf;

/// The corpus directory: `FLAMEDB_CORPUS`, else `../shared/corpus` beside the workspace.
/// `None` (after printing `SKIPPED: ...`) when it has no `expected.json`; panics instead
/// when the environment variable `CI` is set, so a CI run without the corpus fails.
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
    assert!(
        std::env::var_os("CI").is_none(),
        "{msg}; CI is set, so a missing corpus is a failure"
    );
    eprintln!("SKIPPED: {msg}");
    None
}

/// xorshift64* PRNG: deterministic across platforms and releases.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by 1).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
