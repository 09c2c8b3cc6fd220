//! `index.bin`: per function, the roaring bitmap of the stacks that contain it.
//!
//! A block's stack tree is in depth-first pre-order, so the stacks that pass through a node
//! (the node's subtree) are one contiguous id range, and "stacks containing function F" is
//! the union of the ranges of the nodes whose location has F on one of its lines. Roaring
//! stores such ranges as run containers: a few bytes per range, whatever the range's size.
//! `stack_contains(stack, 'F')` becomes a bitmap lookup instead of a walk over every stack.

use crate::container::{ContainerReader, ContainerWriter};
use crate::{Error, Result};
use flamedb_profile::{FunctionId, StackId, Symbols};
use roaring::RoaringBitmap;

/// File magic of `index.bin`.
pub const MAGIC: [u8; 8] = *b"FLMDBIDX";
/// Newest format version this build writes and reads.
pub const VERSION: u32 = 1;

const SEC_ENDS: u32 = 1;
const SEC_BITMAPS: u32 = 2;

/// Function id -> stacks containing it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionIndex {
    bitmaps: Vec<RoaringBitmap>,
}

impl FunctionIndex {
    /// Builds the index of `s`, whose stack tree must be in depth-first pre-order (as
    /// [`Symbols::compact`] makes it); otherwise [`Error::Invalid`].
    pub fn build(s: &Symbols) -> Result<Self> {
        let nodes = s.stacks.nodes();
        let n = nodes.len();
        // end[i]: one past the last node of i's subtree.
        let mut size = vec![1u32; n];
        for i in (1..n).rev() {
            let p = nodes[i].parent.index();
            size[p] += size[i];
        }
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let p = node.parent.index();
            if !(p < i && i < p + size[p] as usize) {
                return Err(Error::Invalid(
                    "stack tree is not in depth-first order".into(),
                ));
            }
        }
        let mut bitmaps = vec![RoaringBitmap::new(); s.functions.len()];
        for (i, node) in nodes.iter().enumerate().skip(1) {
            let range = i as u32..i as u32 + size[i];
            for line in s.location_lines(node.location) {
                if let Some(bm) = line.function.and_then(|f| bitmaps.get_mut(f.index())) {
                    bm.insert_range(range.clone());
                }
            }
        }
        Ok(FunctionIndex { bitmaps })
    }

    /// The stacks containing function `f` (empty for an unknown id).
    pub fn stacks_with(&self, f: FunctionId) -> Option<&RoaringBitmap> {
        self.bitmaps.get(f.index())
    }

    /// The stacks containing any function named `name` (exact match on the function
    /// name, or the system name when the name is empty).
    pub fn stacks_with_name(&self, s: &Symbols, name: &str) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (i, f) in s.functions.iter().enumerate() {
            let fname = if f.name.is_empty() {
                f.system_name
            } else {
                f.name
            };
            if s.strings.get(fname) == name
                && let Some(bm) = self.bitmaps.get(i)
            {
                out |= bm;
            }
        }
        out
    }

    /// Whether stack `stack` contains function `f`.
    pub fn contains(&self, f: FunctionId, stack: StackId) -> bool {
        self.stacks_with(f).is_some_and(|b| b.contains(stack.0))
    }

    /// Number of functions indexed.
    pub fn len(&self) -> usize {
        self.bitmaps.len()
    }

    /// Whether no function is indexed.
    pub fn is_empty(&self) -> bool {
        self.bitmaps.is_empty()
    }

    /// Encodes as `index.bin`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut ends = Vec::with_capacity(self.bitmaps.len());
        let mut bytes = Vec::new();
        for bm in &self.bitmaps {
            bm.serialize_into(&mut bytes)
                .map_err(|e| Error::Invalid(format!("roaring: {e}")))?;
            ends.push(
                u32::try_from(bytes.len())
                    .map_err(|_| Error::Invalid("index exceeds 4 GiB".into()))?,
            );
        }
        let mut w = ContainerWriter::new(MAGIC, VERSION);
        w.u32s(SEC_ENDS, ends.into_iter());
        w.bytes(SEC_BITMAPS, bytes);
        w.finish()
    }

    /// Decodes `index.bin` (the file at `path`), checking it covers `functions` functions.
    pub fn decode(path: &str, data: &[u8], functions: usize) -> Result<Self> {
        let r = ContainerReader::parse(path, data, MAGIC, VERSION)?;
        let ends = r.u32s(SEC_ENDS)?;
        let bytes = r.bytes(SEC_BITMAPS)?;
        if ends.len() != functions {
            return Err(r.corrupt(format!(
                "indexes {} functions, the dictionary has {functions}",
                ends.len()
            )));
        }
        let mut start = 0usize;
        let mut bitmaps = Vec::with_capacity(ends.len());
        for &end in &ends {
            let chunk = bytes
                .get(start..end as usize)
                .ok_or_else(|| r.corrupt("bitmap offsets out of range"))?;
            let bm = RoaringBitmap::deserialize_from(chunk)
                .map_err(|e| r.corrupt(format!("bitmap: {e}")))?;
            bitmaps.push(bm);
            start = end as usize;
        }
        Ok(FunctionIndex { bitmaps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::FrameKind;

    #[test]
    fn contains_matches_a_walk_of_every_stack() {
        let mut s = Symbols::new();
        let loc =
            |s: &mut Symbols, n: &str| s.intern_named_location(n, None, 0, FrameKind::Unspecified);
        let (main, a, b, c) = (
            loc(&mut s, "main"),
            loc(&mut s, "a"),
            loc(&mut s, "b"),
            loc(&mut s, "c"),
        );
        let stacks = [
            s.stacks.intern([main, a, b]),
            s.stacks.intern([main, b]),
            s.stacks.intern([main, a, c, a]),
            s.stacks.intern([c]),
        ];
        let (dfs, remap) = s.compact(stacks);
        let index = FunctionIndex::build(&dfs).unwrap();
        let back =
            FunctionIndex::decode("i", &index.encode().unwrap(), dfs.functions.len()).unwrap();
        assert_eq!(back, index);
        for name in ["main", "a", "b", "c", "absent"] {
            let bm = index.stacks_with_name(&dfs, name);
            for &old in &stacks {
                let id = remap.stack(old).unwrap();
                let walk = dfs.frames(id).iter().any(|f| f.name == name);
                assert_eq!(bm.contains(id.0), walk, "{name} in {:?}", dfs.frames(id));
            }
        }
        // The unordered tree is refused.
        let mut unordered = Symbols::new();
        let x = loc(&mut unordered, "x");
        let y = loc(&mut unordered, "y");
        unordered.stacks.intern([x]);
        unordered.stacks.intern([y]);
        unordered.stacks.intern([x, y]);
        assert!(FunctionIndex::build(&unordered).is_err());
    }
}
