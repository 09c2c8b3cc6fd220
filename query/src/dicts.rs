//! Block dictionaries for queries: loaded once, cached by bytes, and used to resolve stack
//! keys back to frames.
//!
//! A block's dictionary (`symbols.bin`, the one a rollup shares with its raw block, or the
//! shared dictionary of its app and day) is loaded when a scan first needs its stack keys
//! or a stack predicate, and kept in a [`DictCache`] keyed by where the file lives (so the
//! blocks sharing a dictionary load it once) and bounded by bytes (those not read lately go
//! first). The cache is only a cache: every entry can be reloaded from object storage, so a
//! process that never saw a block (another Ballista executor, a restarted server) answers
//! the same.
//!
//! Resolution (`stack key -> frames`) happens after aggregation, on distinct keys: the
//! resolver looks through the cached dictionaries of the query's tenant for nodes with
//! the wanted keys, and on a miss loads the tenant's other dictionaries. Keys are content
//! hashes, so any block holding a path resolves it to the same names.

use crate::stack_key;
use flamedb_profile::{LocationId, StackId, Symbols};
use flamedb_storage::{BlockMeta, BlockPath, DictOwner};
use hashbrown::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Most stack predicates whose node masks one dictionary keeps ([`BlockDict::stacks_matching`]);
/// past it the oldest is dropped, so distinct predicates (one query each) cannot grow a
/// cached dictionary without bound. Counted in the dictionary's cache weight.
pub const MAX_CACHED_MASKS: usize = 16;

/// A block's dictionary with the stack key of every node.
#[derive(Debug)]
pub struct BlockDict {
    /// Where the dictionary file lives (a block, or a shared dictionary of an app and day).
    pub owner: DictOwner,
    /// Symbols and the stack tree (depth-first).
    pub symbols: Symbols,
    /// `keys[node]`: the node's stack key.
    pub keys: Vec<u64>,
    /// Node masks per predicate, oldest first, at most [`MAX_CACHED_MASKS`].
    masks: Mutex<Vec<(String, Arc<Vec<bool>>)>>,
    by_key: OnceLock<KeyIndex>,
    by_key_hash: OnceLock<HashMap<u64, u32>>,
    folded_len: OnceLock<Vec<u32>>,
    loc_text: OnceLock<LocationText>,
    bytes: usize,
}

/// A dictionary's stack keys sorted, with the (first) node of each: keys sorted the same
/// way (as [`crate::sums::StackSums`] returns them) resolve in one forward pass.
#[derive(Debug, Default)]
struct KeyIndex {
    keys: Vec<u64>,
    nodes: Vec<u32>,
}

impl KeyIndex {
    fn new(keys: &[u64]) -> Self {
        let mut pairs: Vec<(u64, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i as u32))
            .collect();
        // Equal keys (locations whose frames have equal names) keep their first node.
        crate::sums::sort_by_key(&mut pairs, |p| p.0);
        let mut out = KeyIndex {
            keys: Vec::with_capacity(pairs.len()),
            nodes: Vec::with_capacity(pairs.len()),
        };
        for (i, &(k, n)) in pairs.iter().enumerate() {
            if i > 0 && pairs[i - 1].0 == k {
                let last = out.nodes.len() - 1;
                out.nodes[last] = out.nodes[last].min(n);
                continue;
            }
            out.keys.push(k);
            out.nodes.push(n);
        }
        out
    }

    /// The node of `key`, searching forward from `*cursor` (the position of the last key
    /// looked up, for ascending lookups) by doubling steps, then bisecting; `*cursor` moves
    /// to where `key` is or would be. A key below the cursor searches from the start.
    fn find_from(&self, key: u64, cursor: &mut usize) -> Option<u32> {
        let n = self.keys.len();
        let mut lo = (*cursor).min(n);
        if lo > 0 && self.keys[lo - 1] >= key {
            lo = 0;
        }
        let mut step = 1;
        let mut hi = lo;
        while hi < n && self.keys[hi] < key {
            lo = hi + 1;
            hi += step;
            step *= 2;
        }
        let hi = hi.min(n);
        let at = lo + self.keys[lo..hi].partition_point(|&k| k < key);
        *cursor = at;
        (self.keys.get(at) == Some(&key)).then(|| self.nodes[at])
    }
}

/// The folded text of every location of a dictionary (its frames joined by ';'), built
/// once: writing folded stacks copies bytes instead of looking names up per frame.
#[derive(Debug)]
struct LocationText {
    bytes: Vec<u8>,
    /// `starts[l]..starts[l + 1]` is location `l`'s text.
    starts: Vec<usize>,
}

impl BlockDict {
    /// Wraps loaded symbols, computing node keys.
    pub fn new(owner: DictOwner, symbols: Symbols, file_bytes: usize) -> Self {
        let keys = stack_key::keys_of(&symbols);
        // Decoded symbols take a few times their compressed size; count that plus the keys,
        // the key indexes (sorted, hash), the folded lengths built on first use and the
        // node masks kept (a byte per node each).
        let bytes = file_bytes * 4 + keys.len() * (40 + MAX_CACHED_MASKS) + 1024;
        BlockDict {
            owner,
            symbols,
            keys,
            masks: Mutex::new(Vec::new()),
            by_key: OnceLock::new(),
            by_key_hash: OnceLock::new(),
            folded_len: OnceLock::new(),
            loc_text: OnceLock::new(),
            bytes,
        }
    }

    /// The length in bytes of node `node`'s folded text (computed for every node on first
    /// use, parents before children), so writers allocate their output once.
    pub fn folded_len(&self, node: u32) -> usize {
        let lens = self.folded_len.get_or_init(|| {
            let nodes = self.symbols.stacks.nodes();
            let mut lens = vec![0u32; nodes.len()];
            for (i, n) in nodes.iter().enumerate().skip(1) {
                let own = self.location_text(n.location).len();
                let own = u32::try_from(own).unwrap_or(u32::MAX);
                let parent = n.parent.index();
                lens[i] = if parent == 0 || parent >= i {
                    own
                } else {
                    lens[parent].saturating_add(1).saturating_add(own)
                };
            }
            lens
        });
        lens.get(node as usize).map_or(0, |&l| l as usize)
    }

    fn key_index(&self) -> &KeyIndex {
        self.by_key.get_or_init(|| KeyIndex::new(&self.keys))
    }

    /// The node whose stack has key `key` (a hash index built on first use: point
    /// lookups of a few keys in a large dictionary; bulk lookups use the sorted index).
    pub fn node_of(&self, key: u64) -> Option<u32> {
        self.by_key_hash
            .get_or_init(|| {
                let mut m = HashMap::with_capacity(self.keys.len());
                for (i, k) in self.keys.iter().enumerate() {
                    m.entry(*k).or_insert(i as u32);
                }
                m
            })
            .get(&key)
            .copied()
    }

    /// Approximate memory held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of stack nodes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the dictionary has only the empty stack.
    pub fn is_empty(&self) -> bool {
        self.keys.len() <= 1
    }

    /// Which stack nodes have a frame satisfying `pred` (by frame name, inlined frames
    /// included), cached per dictionary and predicate (the [`MAX_CACHED_MASKS`] most
    /// recently computed). One pass over locations and one over nodes: a node matches
    /// when its parent does or its own location does.
    pub fn stacks_matching(&self, pred: &StackPred) -> Arc<Vec<bool>> {
        let cache_key = pred.cache_key();
        {
            let cache = self.masks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, b)) = cache.iter().find(|(k, _)| *k == cache_key) {
                return b.clone();
            }
        }
        // Computed outside the lock: other predicates' lookups do not wait for it.
        let hit = Arc::new(self.stacks_matching_uncached(pred));
        let mut cache = self.masks.lock().unwrap_or_else(|e| e.into_inner());
        if !cache.iter().any(|(k, _)| *k == cache_key) {
            if cache.len() >= MAX_CACHED_MASKS {
                cache.remove(0);
            }
            cache.push((cache_key, hit.clone()));
        }
        hit
    }

    /// How many node masks are cached (at most [`MAX_CACHED_MASKS`]).
    pub fn cached_masks(&self) -> usize {
        self.masks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// [`BlockDict::stacks_matching`] computed and not kept (for predicates a caller
    /// uses once, such as the functions of one regression comparison).
    pub fn stacks_matching_uncached(&self, pred: &StackPred) -> Vec<bool> {
        let s = &self.symbols;
        let loc_hit: Vec<bool> = (0..s.locations.len())
            .map(|l| {
                s.location_frames(LocationId::from_index(l))
                    .any(|f| pred.matches_frame(&f.name))
            })
            .collect();
        let nodes = s.stacks.nodes();
        let mut hit = vec![false; nodes.len()];
        for i in 1..nodes.len() {
            let p = nodes[i].parent.index();
            hit[i] = hit[p]
                || loc_hit
                    .get(nodes[i].location.index())
                    .copied()
                    .unwrap_or(false);
        }
        hit
    }

    /// Calls `f` with each frame name of node `node`, root first, inlined frames
    /// expanded (callers before the functions inlined into them).
    pub fn for_each_frame(&self, node: u32, mut f: impl FnMut(&str)) {
        let s = &self.symbols;
        let mut locs = Vec::new();
        s.stacks.locations_into(StackId(node), &mut locs);
        for l in locs {
            self.for_each_location_frame(l, &mut f);
        }
    }

    /// Frame names of node `node`, root first, inlined frames expanded.
    pub fn frames(&self, node: u32) -> Vec<String> {
        let mut out = Vec::new();
        self.for_each_frame(node, |n| out.push(n.to_string()));
        out
    }

    /// The frame names of location `l` joined by ';' (callers before the functions inlined
    /// into them), from a table built for every location on first use.
    pub(crate) fn location_text(&self, l: LocationId) -> &[u8] {
        let t = self.loc_text.get_or_init(|| {
            let n = self.symbols.locations.len();
            let mut bytes = Vec::new();
            let mut starts = Vec::with_capacity(n + 1);
            for l in 0..n {
                starts.push(bytes.len());
                let first = bytes.len();
                self.for_each_location_frame(LocationId::from_index(l), |name| {
                    if bytes.len() > first {
                        bytes.push(b';');
                    }
                    bytes.extend_from_slice(name.as_bytes());
                });
            }
            starts.push(bytes.len());
            LocationText { bytes, starts }
        });
        match (t.starts.get(l.index()), t.starts.get(l.index() + 1)) {
            (Some(&a), Some(&z)) => &t.bytes[a..z],
            _ => &[],
        }
    }

    /// Calls `f` with the frame names of location `l`: callers before the functions
    /// inlined into them, or its mapping and address when it has no lines.
    fn for_each_location_frame(&self, l: LocationId, mut f: impl FnMut(&str)) {
        let s = &self.symbols;
        let lines = s.location_lines(l);
        if lines.is_empty() {
            f(&s.line_name(l, None));
        }
        for line in lines.iter().rev() {
            f(&s.line_name(l, Some(line)));
        }
    }

    /// Frame names of node `node` with their source files (empty when unknown), root
    /// first, inlined frames expanded.
    pub fn frame_files(&self, node: u32) -> Vec<(String, String)> {
        let s = &self.symbols;
        let mut locs = Vec::new();
        s.stacks.locations_into(StackId(node), &mut locs);
        let mut out = vec![];
        for l in locs {
            let lines = s.location_lines(l);
            if lines.is_empty() {
                out.push((s.line_name(l, None).into_owned(), String::new()));
            }
            for line in lines.iter().rev() {
                let file = line
                    .function
                    .and_then(|f| s.functions.get(f.index()))
                    .map_or("", |f| s.strings.get(f.filename));
                out.push((s.line_name(l, Some(line)).into_owned(), file.to_string()));
            }
        }
        out
    }

    /// The folded form of node `node` (`root;...;leaf`) appended to `out`.
    pub fn write_folded(&self, node: u32, out: &mut String) {
        let mut first = true;
        self.for_each_frame(node, |n| {
            if !first {
                out.push(';');
            }
            first = false;
            out.push_str(n);
        });
    }
}

/// A predicate on a stack's frames.
#[derive(Debug, Clone)]
pub enum StackPred {
    /// A frame named exactly this.
    Contains(String),
    /// A frame whose name matches this regex (unanchored, like `~`).
    Matches(regex::Regex),
}

impl StackPred {
    /// The predicate for a `stack_contains` name or (`regex`) a `stack_matches` pattern.
    pub fn new(pattern: &str, regex: bool) -> Result<Self, regex::Error> {
        Ok(if regex {
            StackPred::Matches(regex::Regex::new(pattern)?)
        } else {
            StackPred::Contains(pattern.to_string())
        })
    }

    fn cache_key(&self) -> String {
        match self {
            StackPred::Contains(n) => format!("c:{n}"),
            StackPred::Matches(r) => format!("m:{}", r.as_str()),
        }
    }

    /// Whether a frame name satisfies the predicate.
    pub fn matches_frame(&self, name: &str) -> bool {
        match self {
            StackPred::Contains(n) => n == name,
            StackPred::Matches(r) => r.is_match(name),
        }
    }
}

/// Where a block's dictionary lives: the block itself, the raw block a rollup shares, or
/// the shared dictionary of its app and day ([`BlockMeta::dict_owner`]).
pub fn dict_owner(block: &BlockPath, meta: &BlockMeta) -> DictOwner {
    meta.dict_owner(block)
}

/// Dictionaries by where they live, bounded by bytes, those not read lately evicted first: a
/// shared dictionary is loaded once for all the blocks that use it.
pub type DictCache = crate::cache::ByteCache<DictOwner, Arc<BlockDict>>;

impl crate::cache::Weighed for BlockDict {
    fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Where a key was found: a dictionary and a node of it.
pub type Found = (Arc<BlockDict>, u32);

/// Where each of a list of wanted keys was found: `at[i]` is (an index into `dicts`, a
/// node of that dictionary) for key `i`, or [`Resolved::NONE`] while it is missing.
/// Positions instead of a map from key: resolving millions of keys (a flame graph of
/// millions of distinct stacks) costs one probe per key and no per-key allocation.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The dictionaries that hold at least one wanted key.
    pub dicts: Vec<Arc<BlockDict>>,
    /// Per wanted key: (dictionary index, node), or [`Resolved::NONE`].
    pub at: Vec<(u32, u32)>,
    missing: usize,
}

impl Resolved {
    /// A key not found (yet).
    pub const NONE: (u32, u32) = (u32::MAX, u32::MAX);

    /// `wanted` keys, none found yet.
    pub fn new(wanted: usize) -> Self {
        Resolved {
            dicts: Vec::new(),
            at: vec![Self::NONE; wanted],
            missing: wanted,
        }
    }

    /// How many keys are still missing.
    pub fn missing(&self) -> usize {
        self.missing
    }

    /// The index of the first missing key.
    pub fn first_missing(&self) -> Option<usize> {
        self.at.iter().position(|a| *a == Self::NONE)
    }

    /// The dictionary and node of key `i`.
    pub fn get(&self, i: usize) -> Option<(&Arc<BlockDict>, u32)> {
        let (d, n) = *self.at.get(i)?;
        Some((self.dicts.get(d as usize)?, n))
    }

    /// Looks for the missing ones of `wanted` (the same list, by position, on every call)
    /// in `dicts`. A dictionary that is small next to the keys still missing (a flame
    /// graph of millions of stacks, a per-version scan over many blocks) is merged with
    /// them in key order through its sorted index: one forward pass, no random probe.
    /// The keys still missing after that probe the hash indexes of the large ones, each
    /// key first in the dictionary that held the previous one (keys of one query come
    /// from a few partitions), so a miss costs one probe.
    pub fn find(&mut self, dicts: &[Arc<BlockDict>], wanted: &[u64]) {
        if dicts.is_empty() || self.missing == 0 {
            return;
        }
        let mut todo: Vec<u32> = (0..wanted.len().min(self.at.len()) as u32)
            .filter(|&i| self.at[i as usize] == Self::NONE)
            .collect();
        if !todo.is_sorted_by_key(|&i| wanted[i as usize]) {
            todo.sort_unstable_by_key(|&i| wanted[i as usize]);
        }
        let mut large = Vec::new();
        for d in dicts {
            if todo.is_empty() {
                return;
            }
            if todo.len() * 8 < d.len() {
                large.push(d.clone());
                continue;
            }
            let index = d.key_index();
            let mut cursor = 0;
            let mut slot = None;
            todo.retain(|&i| {
                let Some(n) = index.find_from(wanted[i as usize], &mut cursor) else {
                    return true;
                };
                let s = *slot.get_or_insert_with(|| self.slot_of(d));
                self.at[i as usize] = (s, n);
                self.missing -= 1;
                false
            });
        }
        let mut slots: Vec<Option<u32>> = vec![None; large.len()];
        let mut start = 0;
        for &i in &todo {
            for j in 0..large.len() {
                let c = (start + j) % large.len();
                let Some(n) = large[c].node_of(wanted[i as usize]) else {
                    continue;
                };
                let s = match slots[c] {
                    Some(s) => s,
                    None => {
                        let s = self.slot_of(&large[c]);
                        slots[c] = Some(s);
                        s
                    }
                };
                self.at[i as usize] = (s, n);
                self.missing -= 1;
                start = c;
                break;
            }
        }
    }

    /// The position of `d` in `self.dicts`, added on first use.
    fn slot_of(&mut self, d: &Arc<BlockDict>) -> u32 {
        match self.dicts.iter().position(|x| Arc::ptr_eq(x, d)) {
            Some(p) => p as u32,
            None => {
                self.dicts.push(d.clone());
                (self.dicts.len() - 1) as u32
            }
        }
    }
}

/// A dictionary of `symbols` owned by test block number `n` (tests of the query crate).
#[cfg(test)]
pub(crate) fn test_dict(symbols: Symbols, n: u32) -> Arc<BlockDict> {
    let path = flamedb_storage::BlockPath::parse(
        &object_store::path::Path::from("root"),
        &object_store::path::Path::from(format!(
            "root/t/app=a/version=v/dc=d/date=2026-11-28/0192f5a0c3d47e8a9b1c2d3e{n:08x}/meta.json"
        )),
    )
    .expect("block path")
    .0;
    Arc::new(BlockDict::new(
        flamedb_storage::DictOwner::Block(path),
        symbols,
        0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::{FrameKind, Line};

    /// A dictionary with a shared caller, an inlined location (two lines) and an
    /// address-only location.
    fn dict() -> (Arc<BlockDict>, Vec<(u32, &'static str)>) {
        let mut s = Symbols::new();
        let main = s.intern_named_location("main", None, 0, FrameKind::Unspecified);
        let serve = s.intern_named_location("serve", None, 0, FrameKind::Unspecified);
        let parse = s.intern_named_location("parse", None, 0, FrameKind::Unspecified);
        // An inlined frame: `decode` inlined into `read` (pprof lists the callee first).
        let read = s.intern_named_location("read", None, 0, FrameKind::Unspecified);
        let decode = s.intern_named_location("decode", None, 0, FrameKind::Unspecified);
        let line = |l: LocationId| s.location_lines(l)[0];
        let lines: Vec<Line> = vec![line(decode), line(read)];
        let inlined = s.intern_location(None, 0x10, &lines, FrameKind::Unspecified);
        let bare = s.intern_location(None, 0x1a2b, &[], FrameKind::Unspecified);
        let a = s.stacks.intern([main, serve, parse]).0;
        let b = s.stacks.intern([main, serve, inlined]).0;
        let c = s.stacks.intern([main, bare]).0;
        let expected = vec![
            (a, "main;serve;parse"),
            (b, "main;serve;read;decode"),
            (c, "main;0x1a2b"),
        ];
        (test_dict(s, 0), expected)
    }

    #[test]
    fn cached_masks_are_bounded_and_answer_as_computed() {
        let (d, _) = dict();
        for i in 0..100 {
            let pred = StackPred::new(&format!("f{i}"), false).unwrap();
            assert!(d.stacks_matching(&pred).iter().all(|m| !m));
            assert!(d.cached_masks() <= MAX_CACHED_MASKS);
        }
        assert_eq!(d.cached_masks(), MAX_CACHED_MASKS);
        let parse = StackPred::new("parse", false).unwrap();
        let first = d.stacks_matching(&parse);
        assert_eq!(*first, d.stacks_matching_uncached(&parse));
        assert!(first.iter().any(|m| *m));
        assert!(Arc::ptr_eq(&first, &d.stacks_matching(&parse)), "kept");
    }

    #[test]
    fn folded_text_and_lengths_of_every_stack() {
        let (d, expected) = dict();
        for &(node, text) in &expected {
            assert_eq!(d.folded_len(node), text.len(), "{text}");
            let mut s = String::new();
            d.write_folded(node, &mut s);
            assert_eq!(s, text);
        }
        // Every node's length agrees with its text, inner nodes included.
        for node in 1..d.len() as u32 {
            let mut s = String::new();
            d.write_folded(node, &mut s);
            assert_eq!(d.folded_len(node), s.len(), "node {node}: {s}");
        }
    }

    /// Two dictionaries of many stacks (names `f0..f59`, three frames each; the second
    /// holds every other stack of the first plus its own).
    fn two_dicts() -> Vec<Arc<BlockDict>> {
        let mut out = Vec::new();
        for (d, step) in [(0u32, 1usize), (1, 2)] {
            let mut s = Symbols::new();
            let locs: Vec<LocationId> = (0..60)
                .map(|i| s.intern_named_location(&format!("f{i}"), None, 0, FrameKind::Unspecified))
                .collect();
            for a in (0..40).step_by(step) {
                for b in 0..30 {
                    s.stacks.intern([locs[a], locs[b], locs[(a + b) % 60]]);
                }
            }
            if d == 1 {
                s.stacks.intern([locs[59], locs[58], locs[57]]);
            }
            out.push(test_dict(s, d));
        }
        out
    }

    #[test]
    fn keys_resolve_to_a_node_with_that_key_by_either_index() {
        let dicts = two_dicts();
        // Every stack's key by its names, computed independently of the dictionaries.
        let mut wanted: Vec<u64> = Vec::new();
        for a in 0..40 {
            for b in 0..30 {
                let names = [
                    format!("f{a}"),
                    format!("f{b}"),
                    format!("f{}", (a + b) % 60),
                ];
                wanted.push(stack_key::key_of(names.iter().map(|n| n.as_str())));
                // Prefixes too (inner nodes).
                wanted.push(stack_key::key_of(names[..2].iter().map(|n| n.as_str())));
            }
        }
        wanted.push(stack_key::key_of(["f59", "f58", "f57"]));
        let absent = stack_key::key_of(["nowhere"]);
        wanted.push(absent);
        wanted.sort_unstable();
        wanted.dedup();
        // All keys at once (sorted indexes), a few (hash indexes), ascending and not.
        let subsets: Vec<Vec<u64>> = vec![
            wanted.clone(),
            wanted.iter().step_by(97).copied().collect(),
            wanted.iter().rev().copied().collect(),
        ];
        for keys in subsets {
            let mut r = Resolved::new(keys.len());
            r.find(&dicts, &keys);
            let mut missing = 0;
            for (i, &k) in keys.iter().enumerate() {
                match r.get(i) {
                    Some((d, n)) => assert_eq!(d.keys[n as usize], k),
                    None => {
                        assert_eq!(k, absent);
                        missing += 1;
                    }
                }
            }
            assert_eq!(r.missing(), missing);
            assert_eq!(missing, usize::from(keys.contains(&absent)));
        }
    }
}
