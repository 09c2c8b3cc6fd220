//! Hinted import against the plain import: same ids, same tables, on the corpus and on
//! forged collisions.

use super::*;
use crate::{DecodeOptions, Profile, StackCache, StackId, StrId};
use std::path::Path;

/// Imports every sample stack of `src` into `dst`, with hints from `cache` when given;
/// returns the target stack of each sample and how many locations were hinted.
fn import(
    dst: &mut Symbols,
    stacks: &mut StackCache,
    cache: Option<&Arc<LocationCache>>,
    src: &Profile,
) -> (Vec<StackId>, usize) {
    let mut remap = Remap::for_source(&src.symbols);
    let hints = cache.map(|c| c.lookup(&src.symbols));
    if let (Some(h), Some(c)) = (&hints, cache) {
        assert!(h.preset(c, &mut remap));
    }
    let ids = (src.samples.iter())
        .map(|s| dst.import_stack_cached(&src.symbols, &mut remap, stacks, s.stack))
        .collect();
    if let Some(h) = &hints {
        h.record(&remap);
    }
    (ids, hints.map_or(0, |h| h.known()))
}

fn assert_same_tables(a: &Symbols, b: &Symbols) {
    assert_eq!(a.strings.len(), b.strings.len());
    for i in 0..a.strings.len() as u32 {
        assert_eq!(a.strings.get(StrId(i)), b.strings.get(StrId(i)));
    }
    assert_eq!(a.mappings, b.mappings);
    assert_eq!(a.functions, b.functions);
    assert_eq!(a.lines, b.lines);
    assert_eq!(a.locations, b.locations);
    assert_eq!(a.stacks.nodes(), b.stacks.nodes());
}

fn pprof_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            pprof_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every corpus pprof, twice (the second pass is mostly hits), into one target the plain
/// way and into one with hints from a cache hashing with `hash`.
fn corpus_round(cache: LocationCache, max_profiles: usize) {
    let Some(dir) = crate::testing::corpus_dir() else {
        return;
    };
    let mut files = Vec::new();
    pprof_files(&dir.join("pprof"), &mut files);
    let profiles: Vec<Profile> = (files.iter())
        .filter_map(|f| {
            let data = std::fs::read(f).ok()?;
            let opts = DecodeOptions::default();
            crate::decode(&data, Some(crate::Format::Pprof), &opts)
                .ok()
                .map(|(_, p)| p)
        })
        .take(max_profiles)
        .collect();
    assert!(
        profiles.len() >= 5,
        "{} pprof files decoded",
        profiles.len()
    );
    let cache = Arc::new(cache);
    let (mut plain, mut plain_stacks) = (Symbols::new(), StackCache::new());
    let (mut hinted, mut hinted_stacks) = (Symbols::new(), StackCache::new());
    let mut known = [0, 0];
    for hits in &mut known {
        for p in &profiles {
            let (a, _) = import(&mut plain, &mut plain_stacks, None, p);
            let (b, k) = import(&mut hinted, &mut hinted_stacks, Some(&cache), p);
            assert_eq!(a, b);
            *hits += k;
        }
    }
    assert_same_tables(&plain, &hinted);
    // Every location the import added is known (its content, once per fold flag).
    assert!(cache.len() >= hinted.locations.len());
    assert!(known[1] > known[0], "hits {known:?}");
}

#[test]
fn hinted_import_of_the_corpus_gives_the_plain_ids() {
    corpus_round(LocationCache::new(), usize::MAX);
}

#[test]
fn hinted_import_with_every_hash_colliding_gives_the_plain_ids() {
    // All keys of one length share a hash; the first profiles only (a full table of
    // collisions is quadratic).
    corpus_round(LocationCache::with_hash(|key| key.len() as u64), 12);
}

#[test]
fn hints_of_another_cache_are_not_applied() {
    let mut src = Symbols::new();
    let loc = src.intern_named_location("main", None, 0, crate::FrameKind::Unspecified);
    src.stacks.intern([loc]);
    let mut dst = Symbols::new();
    let old = Arc::new(LocationCache::new());
    let mut remap = Remap::for_source(&src);
    let first = old.lookup(&src);
    assert!(first.preset(&old, &mut remap));
    dst.import_location(&src, &mut remap, loc);
    first.record(&remap);
    assert_eq!(old.lookup(&src).known(), 1);
    // A new target (a flushed head's successor) with its own cache: the old hints are
    // refused, so nothing points into the old target.
    let new = Arc::new(LocationCache::new());
    let mut fresh = Remap::for_source(&src);
    assert!(!old.lookup(&src).preset(&new, &mut fresh));
    assert_eq!(fresh.locations, [u32::MAX]);
}

#[test]
fn contents_differing_only_in_one_field_are_different_keys() {
    let mut src = Symbols::new();
    let a = src.intern_named_location("ab", None, 1, crate::FrameKind::Unspecified);
    let b = src.intern_named_location("a", None, 1, crate::FrameKind::Unspecified);
    let c = src.intern_named_location("ab", None, 2, crate::FrameKind::Unspecified);
    let d = src.intern_named_location("ab", None, 1, crate::FrameKind::Jit);
    let mut keys = Vec::new();
    for l in [a, b, c, d] {
        let mut out = Vec::new();
        assert!(encode(&src, &src.locations[l.index()], &mut out));
        keys.push(out);
    }
    for i in 0..keys.len() {
        for j in i + 1..keys.len() {
            assert_ne!(keys[i], keys[j]);
        }
    }
}
