//! Importing many profiles' stacks into one dictionary: whole stacks looked up at once.
//!
//! [`Symbols::import_stack`] finds the target node of every new node of the source tree
//! with one [`StackTree::child`] probe, a random access into a hash index as large as the
//! dictionary: a head of the bench fleet (one partition, ~150 samples of depth ~20-40 per
//! profile) spent ~40% of the ingest thread there. Most stacks of a profile were already
//! imported with an earlier profile of the same series, so [`StackCache`] remembers the
//! imported stacks by a hash of their root-first location sequence (in target ids), and
//! [`Symbols::import_stack_cached`] looks a stack up with **one** probe and then checks the
//! candidate by walking its parent pointers (nodes of one branch were created together and
//! sit side by side, so the walk reads mostly adjacent memory). A candidate that does not
//! match (a hash collision) or a stack not seen yet falls back to the per-node path, so the
//! result is always the node [`Symbols::import_stack`] gives; the hash only decides how
//! fast it is found. The sequence hashes of a source's nodes are computed in one pass over
//! its tree in memory order before its first stack is looked up.

use crate::symbols::Remap;
use crate::{LocationId, StackId, Symbols};
use hashbrown::HashTable;

/// Hash of the empty stack.
const ROOT_HASH: u64 = 0x243f_6a88_85a3_08d3;

/// The hash of a stack whose parent stack hashes to `parent`, extended by `location`.
#[inline]
fn step(parent: u64, location: LocationId) -> u64 {
    // FxHash-style mixing; `spread` finishes it for the table.
    (parent.rotate_left(5) ^ u64::from(location.0)).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// The table hash of a sequence hash (its low bits pick the bucket, so mix the high in).
#[inline]
fn spread(h: u64) -> u64 {
    let h = (h ^ (h >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// Imported stacks of one target dictionary, by location sequence (see the module docs).
/// Use one cache per target [`Symbols`], with every source imported into it.
#[derive(Debug, Clone, Default)]
pub struct StackCache {
    /// `(sequence hash, node)` of the stacks imported as whole stacks.
    index: HashTable<(u64, u32)>,
    /// Scratch: the source nodes of one import not yet mapped, leaf first, with their
    /// target locations.
    path: Vec<(StackId, LocationId)>,
}

impl StackCache {
    /// An empty cache (stacks already in the target are found the per-node way once, then
    /// cached).
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes held, roughly (for flush-by-size policies).
    pub fn approx_bytes(&self) -> usize {
        self.index.capacity() * 17 + self.path.capacity() * 8
    }
}

impl Symbols {
    /// [`Symbols::import_stack`] with a [`StackCache`] of these tables: the same stack id,
    /// found with one hash probe per stack instead of one per new node when the stack was
    /// imported before (from any source). `cache` must only ever be used with `self`.
    ///
    /// The first call with a `remap` imports the locations of every node of `src` (in
    /// node order, see `hash_source_stacks`), so a source's stacks that are never imported
    /// may leave unused locations behind (compaction drops them).
    pub fn import_stack_cached(
        &mut self,
        src: &Symbols,
        remap: &mut Remap,
        cache: &mut StackCache,
        stack: StackId,
    ) -> StackId {
        if let Some(done) = remap.stack(stack) {
            return done;
        }
        if remap.stack_hashes.is_empty() {
            self.hash_source_stacks(src, remap);
        }
        // The source nodes up to the nearest one already mapped (the anchor), leaf first,
        // with their target locations.
        let mut path = std::mem::take(&mut cache.path);
        path.clear();
        let mut node = stack;
        let mut anchor = StackId::EMPTY;
        while node != StackId::EMPTY {
            if let Some(done) = remap.stack(node) {
                anchor = done;
                break;
            }
            let n = src.stacks.node(node);
            path.push((node, LocationId(remap.locations[n.location.index()])));
            node = n.parent;
        }
        let hash = remap.stack_hashes[stack.index()];
        let nodes = self.stacks.nodes();
        let matches = |&(h, candidate): &(u64, u32)| {
            h == hash && {
                let mut c = StackId(candidate);
                path.iter().all(|&(_, l)| {
                    let n = nodes[c.index()];
                    c = n.parent;
                    n.location == l
                }) && c == anchor
            }
        };
        let found = cache
            .index
            .find(spread(hash), matches)
            .map(|&(_, n)| StackId(n));
        let result = match found {
            Some(leaf) => {
                let mut c = leaf;
                for &(n, _) in &path {
                    remap.stacks[n.index()] = c.0;
                    c = self.stacks.node(c).parent;
                }
                leaf
            }
            None => {
                let mut here = anchor;
                for &(n, location) in path.iter().rev() {
                    here = self.stacks.child(here, location);
                    remap.stacks[n.index()] = here.0;
                }
                cache
                    .index
                    .insert_unique(spread(hash), (hash, here.0), |&(h, _)| spread(h));
                here
            }
        };
        cache.path = path;
        result
    }

    /// Imports the location of every stack node of `src` and computes each node's sequence
    /// hash into `remap`, in node order: one pass over the source tree in memory order
    /// (parents first), where walking it up from each stack would miss the cache at every
    /// node the first time (the source was decoded on another thread). Node order is the
    /// order in which `import_stack` meets the locations when the stacks are imported in
    /// the order the source tree was built, as decoders build it, so location ids match.
    fn hash_source_stacks(&mut self, src: &Symbols, remap: &mut Remap) {
        let nodes = src.stacks.nodes();
        let mut hashes = Vec::with_capacity(nodes.len());
        hashes.push(ROOT_HASH);
        for n in &nodes[1..] {
            let location = self.import_location(src, remap, n.location);
            hashes.push(step(hashes[n.parent.index()], location));
        }
        remap.stack_hashes = hashes;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FrameKind;

    /// Sources whose stacks overlap each other and the target's in every way: shared
    /// prefixes, a stack that is a prefix of another, repeats, the empty stack.
    fn source(names: &[&[&str]]) -> (Symbols, Vec<StackId>) {
        let mut s = Symbols::new();
        let ids = names
            .iter()
            .map(|stack| {
                let locs: Vec<LocationId> = stack
                    .iter()
                    .map(|n| s.intern_named_location(n, None, 0, FrameKind::Unspecified))
                    .collect();
                s.stacks.intern(locs)
            })
            .collect();
        (s, ids)
    }

    #[test]
    fn cached_import_gives_the_same_ids_as_plain_import() {
        let sources = [
            source(&[
                &["main", "a", "b"],
                &["main", "a"],
                &["main", "c", "b"],
                &[],
            ]),
            source(&[
                &["main", "a", "b"],
                &["main", "a", "b", "d"],
                &["x"],
                &["main"],
            ]),
            source(&[
                &["main", "c", "b"],
                &["main", "a"],
                &["x", "main", "a", "b"],
            ]),
            source(&[&["main", "a", "b"], &["main", "a", "b"], &["main", "c"]]),
        ];
        let mut plain = Symbols::new();
        let mut cached = Symbols::new();
        let mut cache = StackCache::new();
        for (src, stacks) in &sources {
            let mut r1 = Remap::for_source(src);
            let mut r2 = Remap::for_source(src);
            for &s in stacks {
                let a = plain.import_stack(src, &mut r1, s);
                let b = cached.import_stack_cached(src, &mut r2, &mut cache, s);
                assert_eq!(a, b);
                assert_eq!(cached.frame_names(b), src.frame_names(s));
            }
            assert_eq!(r1.stacks, r2.stacks);
        }
        assert_eq!(plain.stacks.nodes(), cached.stacks.nodes());
        // Entries are the stacks first imported whole: main;a;b, main;a, main;c;b, then
        // main;a;b;d, x, x;main;a;b, main;c. The others were found in the cache, or
        // (main, ;) were mapped as a prefix of an earlier stack of the same source.
        assert_eq!(cache.index.len(), 7);
    }

    #[test]
    fn a_colliding_hash_is_checked_and_not_trusted() {
        let (src, stacks) = source(&[&["main", "a", "b"], &["main", "c", "b"]]);
        let mut dst = Symbols::new();
        let mut cache = StackCache::new();
        let first =
            dst.import_stack_cached(&src, &mut Remap::for_source(&src), &mut cache, stacks[0]);
        // Forge a collision: every entry now claims the hash of "main;c;b".
        let mut remap = Remap::for_source(&src);
        let b = dst.import_location(&src, &mut remap, src.stacks.node(stacks[1]).location);
        let c_parent = src.stacks.node(stacks[1]).parent;
        let c = dst.import_location(&src, &mut remap, src.stacks.node(c_parent).location);
        let main = dst.import_location(&src, &mut remap, LocationId(0));
        let forged = [main, c, b].into_iter().fold(ROOT_HASH, step);
        cache.index = HashTable::new();
        cache
            .index
            .insert_unique(spread(forged), (forged, first.0), |&(h, _)| spread(h));
        let second = dst.import_stack_cached(&src, &mut remap, &mut cache, stacks[1]);
        assert_ne!(second, first);
        assert_eq!(dst.frame_names(second), ["main", "c", "b"]);
    }
}
