//! Shared support for tests and benches: where the profile corpus is.
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
