//! The `stack` handle: a 64-bit content key of a call path, the same in every block.
//!
//! Stack ids are dense node indexes local to one block (compaction renumbers them), so SQL
//! cannot group or join on them across blocks. The key is a hash of the frame names from
//! the root down, inlined frames expanded:
//!
//! ```text
//! key(empty stack) = ROOT_KEY
//! key(path + frame) = xxh3_64_with_seed(seed = key(path), bytes = xxh3_64(frame name) as LE)
//! ```
//!
//! so equal folded stacks have equal keys whatever block, partition or compaction level
//! they come from, a flame-graph node is itself a key, and `GROUP BY stack` runs on
//! DataFusion's fastest group-by path (a primitive `UInt64`). Two stacks differing only in
//! addresses or line numbers get one key, which is what a flame graph wants. The
//! algorithm is a persisted format (keys appear in API answers and caches): changing it
//! means a new [`STACK_KEY_VERSION`].

use flamedb_profile::{LocationId, Symbols};
use twox_hash::XxHash3_64;

/// Version of the key algorithm.
pub const STACK_KEY_VERSION: u32 = 1;

/// The key of the empty stack (the flame graph's root).
pub const ROOT_KEY: u64 = 0x666c_616d_6564_6231; // "flamedb1"

/// Hash of one frame name.
pub fn frame_hash(name: &str) -> u64 {
    XxHash3_64::oneshot(name.as_bytes())
}

/// The key of `path` followed by a frame whose name hashes to `frame`.
pub fn child_key(path: u64, frame: u64) -> u64 {
    XxHash3_64::oneshot_with_seed(path, &frame.to_le_bytes())
}

/// The key of a stack given as frame names, root first.
pub fn key_of<'a>(frames: impl IntoIterator<Item = &'a str>) -> u64 {
    frames
        .into_iter()
        .fold(ROOT_KEY, |k, f| child_key(k, frame_hash(f)))
}

/// The keys of every node of a block's stack tree, in node order (node 0, the empty
/// stack, has [`ROOT_KEY`]). One pass: parents precede children in a stack tree.
pub fn keys_of(symbols: &Symbols) -> Vec<u64> {
    // Frame-name hashes per location, outermost first, computed once per location.
    let mut loc_start = Vec::with_capacity(symbols.locations.len() + 1);
    let mut hashes = Vec::with_capacity(symbols.locations.len());
    for l in 0..symbols.locations.len() {
        loc_start.push(hashes.len());
        for f in symbols.location_frames(LocationId::from_index(l)) {
            hashes.push(frame_hash(&f.name));
        }
    }
    loc_start.push(hashes.len());
    let nodes = symbols.stacks.nodes();
    let mut keys = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        if i == 0 {
            keys.push(ROOT_KEY);
            continue;
        }
        let l = n.location.index();
        let parent = keys[n.parent.index()];
        let k = hashes[loc_start[l]..loc_start[l + 1]]
            .iter()
            .fold(parent, |k, &h| child_key(k, h));
        keys.push(k);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::FrameKind;

    #[test]
    fn equal_paths_get_equal_keys_across_dictionaries() {
        let mut a = Symbols::new();
        let mut b = Symbols::new();
        // Different insertion orders give different ids but the same keys.
        let sa = {
            let x = a.intern_named_location("other", None, 0, FrameKind::Unspecified);
            let m = a.intern_named_location("main", None, 0, FrameKind::Unspecified);
            let f = a.intern_named_location("f", None, 0, FrameKind::Unspecified);
            a.stacks.intern([x]);
            a.stacks.intern([m, f])
        };
        let sb = {
            let m = b.intern_named_location("main", None, 0, FrameKind::Unspecified);
            let f = b.intern_named_location("f", None, 0, FrameKind::Unspecified);
            b.stacks.intern([m, f])
        };
        assert_ne!(sa, sb);
        let (ka, kb) = (keys_of(&a), keys_of(&b));
        assert_eq!(ka[sa.index()], kb[sb.index()]);
        assert_eq!(ka[sa.index()], key_of(["main", "f"]));
        assert_ne!(key_of(["main", "f"]), key_of(["f", "main"]));
        assert_ne!(key_of(["main"]), key_of(["main", "main"]));
        assert_eq!(ka[0], ROOT_KEY);
    }
}
