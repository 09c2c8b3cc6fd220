//! The folded text (`root;caller;...;leaf`) of many stacks at once, written straight into
//! an Arrow string array: the algorithm behind `folded(stack)`.
//!
//! ```text
//!  rows (dictionary, node) ──► lengths (precomputed per node) ──► offsets, one allocation
//!          │
//!          └─► sorted by (dictionary, node) ──► per row, in that order:
//!                copy the text of the deepest caller shared with the row written before
//!                + append the location text of each node below it
//! ```
//!
//! A dictionary numbers its stack tree depth first, so in node order a stack comes right
//! after the stacks it shares most callers with: the shared part is one copy from the row
//! written just before, and only the nodes below it are looked at. The ancestors of the
//! previous row's node are kept as a chain of node ids (increasing from the root), so
//! finding the deepest shared caller is a merge of two decreasing walks: no hashing, and the
//! tree is read near where it was read last. Every row's place in the output is known up
//! front (the dictionary's folded lengths), so rows are written in node order yet land in
//! row order.

use crate::dicts::BlockDict;
use arrow::array::StringArray;
use arrow::array::builder::NullBufferBuilder;
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use datafusion::common::exec_err;
use datafusion::error::Result;
use flamedb_profile::StackId;
use std::sync::Arc;

/// Rows a part must have before [`folded_array`] gives it a thread of its own: a batch
/// of DataFusion's default size stays on the caller's thread.
pub const ROWS_PER_PART: usize = 8192;

/// The folded text of each row: `rows[i]` is (an index into `dicts`, a node of that
/// dictionary), or `None` for a null. A node the dictionary does not have is the empty
/// string. A batch of more than [`ROWS_PER_PART`] rows (one coalesced after a window or a
/// sort, which would otherwise be written by one thread) is split into up to `parts`
/// ranges of rows written on as many threads.
pub fn folded_array(
    dicts: &[Arc<BlockDict>],
    rows: &[Option<(u32, u32)>],
    parts: usize,
) -> Result<StringArray> {
    split_folded_array(dicts, rows, parts, ROWS_PER_PART)
}

/// [`folded_array`] with parts of at least `min_rows` rows.
fn split_folded_array(
    dicts: &[Arc<BlockDict>],
    rows: &[Option<(u32, u32)>],
    parts: usize,
    min_rows: usize,
) -> Result<StringArray> {
    if u32::try_from(rows.len()).is_err() {
        return exec_err!("folded(): more than 2^32 rows in one batch");
    }
    let mut offsets: Vec<i32> = Vec::with_capacity(rows.len() + 1);
    offsets.push(0);
    let mut nulls = NullBufferBuilder::new(rows.len());
    let mut end = 0usize;
    for r in rows {
        match r.and_then(|(d, n)| Some((n, dicts.get(d as usize)?))) {
            Some((n, dict)) => {
                end += dict.folded_len(n);
                nulls.append_non_null();
            }
            None => nulls.append_null(),
        }
        let Ok(e) = i32::try_from(end) else {
            return exec_err!(
                "folded(): the stacks of one batch exceed 2 GiB of text; select fewer rows"
            );
        };
        offsets.push(e);
    }
    // Filled by the parts; `resize` rather than `vec![0; n]` on purpose: a zeroed
    // allocation of tens of MB comes fresh from the OS (measured: a page fault and a kernel
    // page clear per 4 KiB, a quarter of the query's CPU), a plain one reuses memory.
    #[allow(clippy::slow_vector_initialization)]
    let mut values: Vec<u8> = {
        let mut v = Vec::with_capacity(end);
        v.resize(end, 0);
        v
    };
    let parts = parts.min(rows.len() / min_rows.max(1)).max(1);
    let per = rows.len().div_ceil(parts);
    let mut jobs = Vec::with_capacity(parts);
    let mut rest: &mut [u8] = &mut values;
    for p in 0..parts {
        let (r0, r1) = (p * per, ((p + 1) * per).min(rows.len()));
        if r0 >= r1 {
            break;
        }
        let len = (offsets[r1] - offsets[r0]) as usize;
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(len);
        rest = tail;
        jobs.push((r0..r1, mine));
    }
    let offsets_ref = &offsets;
    let write = |(range, buf): (std::ops::Range<usize>, &mut [u8])| {
        write_part(dicts, rows, offsets_ref, range, buf)
    };
    if jobs.len() <= 1 {
        jobs.into_iter().try_for_each(write)?;
    } else {
        std::thread::scope(|s| {
            let mut jobs = jobs.into_iter();
            let first = jobs.next();
            let handles: Vec<_> = jobs.map(|job| s.spawn(move || write(job))).collect();
            first.map_or(Ok(()), write)?;
            for h in handles {
                h.join().map_err(|_| {
                    datafusion::error::DataFusionError::Execution(
                        "folded(): a writer thread panicked".into(),
                    )
                })??;
            }
            Ok::<_, datafusion::error::DataFusionError>(())
        })?;
    }
    // Frame names are valid UTF-8 and ';' is ASCII, so every value is.
    Ok(StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        nulls.finish(),
    )?)
}

/// Writes rows `range` into `buf`, which starts at `offsets[range.start]`: in dictionary
/// and node order.
fn write_part(
    dicts: &[Arc<BlockDict>],
    rows: &[Option<(u32, u32)>],
    offsets: &[i32],
    range: std::ops::Range<usize>,
    buf: &mut [u8],
) -> Result<()> {
    let base = offsets[range.start] as usize;
    // (dictionary << 32 | node, row) of every non-null row; the row count fits in u32.
    let mut order: Vec<(u64, u32)> = range
        .filter_map(|i| {
            let (d, n) = rows[i]?;
            dicts.get(d as usize)?;
            Some(((u64::from(d) << 32) | u64::from(n), i as u32))
        })
        .collect();
    order.sort_unstable();
    write_rows(dicts, &order, offsets, base, buf)
}

/// Writes the text of the rows of `order` (sorted by dictionary and node) into their
/// places `offsets[row] - base..offsets[row + 1] - base` of `values`.
fn write_rows(
    dicts: &[Arc<BlockDict>],
    order: &[(u64, u32)],
    offsets: &[i32],
    base: usize,
    values: &mut [u8],
) -> Result<()> {
    // The previous row's dictionary and where its text starts; the ancestors of its node
    // (itself included), root first.
    let mut prev: Option<(usize, usize)> = None;
    let mut chain: Vec<u32> = Vec::new();
    let mut fresh: Vec<u32> = Vec::new();
    for &(dn, row) in order {
        let d = (dn >> 32) as usize;
        let node = dn as u32;
        let Some(dict) = dicts.get(d) else {
            return exec_err!("folded(): dictionary {d} of {} missing", dicts.len());
        };
        let nodes = dict.symbols.stacks.nodes();
        if prev.is_some_and(|(pd, _)| pd != d) {
            chain.clear();
        }
        // Walk up from the node until a node of the chain: the deepest shared caller.
        // Node ids decrease going up, and the chain increases, so chain entries above the
        // current node can never be its ancestors.
        fresh.clear();
        let mut shared = None;
        let mut x = node;
        while x != StackId::EMPTY.0 && (x as usize) < nodes.len() {
            while chain.last().is_some_and(|&c| c > x) {
                chain.pop();
            }
            if chain.last() == Some(&x) {
                shared = Some(x);
                break;
            }
            fresh.push(x);
            let parent = nodes[x as usize].parent.0;
            // A parent numbered after its child is not a tree the lengths count through:
            // [`BlockDict::folded_len`] takes such a node as a root, and so does this.
            if parent >= x {
                break;
            }
            x = parent;
        }
        if shared.is_none() {
            chain.clear();
        }
        let row = row as usize;
        let start = offsets[row] as usize - base;
        let stop = offsets[row + 1] as usize - base;
        if stop > values.len() {
            return exec_err!("folded(): a row outside its part");
        }
        let mut at = start;
        if let (Some(s), Some((_, from))) = (shared, prev) {
            let len = dict.folded_len(s);
            if from + len > values.len() || at + len > stop {
                return exec_err!("folded(): the text lengths of a dictionary disagree");
            }
            values.copy_within(from..from + len, at);
            at += len;
        }
        for (k, &y) in fresh.iter().rev().enumerate() {
            let text = dict.location_text(nodes[y as usize].location);
            if shared.is_some() || k > 0 {
                if at >= stop {
                    return exec_err!("folded(): the text lengths of a dictionary disagree");
                }
                values[at] = b';';
                at += 1;
            }
            let next = at + text.len();
            if next > stop {
                return exec_err!("folded(): the text lengths of a dictionary disagree");
            }
            values[at..next].copy_from_slice(text);
            at = next;
        }
        if at != stop {
            return exec_err!("folded(): the text lengths of a dictionary disagree");
        }
        chain.extend(fresh.iter().rev());
        prev = Some((d, start));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;
    use flamedb_profile::{FrameKind, Line, LocationId, Symbols};
    use proptest::prelude::*;

    fn block_dict(s: Symbols, n: u8) -> Arc<BlockDict> {
        crate::dicts::test_dict(s, n.into())
    }

    fn texts(a: &StringArray) -> Vec<Option<&str>> {
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i)))
            .collect()
    }

    /// Stacks with a shared caller, an inlined location (two frames), an address-only
    /// location and a recursive frame, in two dictionaries that number them differently.
    #[test]
    fn hand_made_stacks_in_any_row_order() {
        let mut s = Symbols::new();
        let main = s.intern_named_location("main", None, 0, FrameKind::Unspecified);
        let serve = s.intern_named_location("serve", None, 0, FrameKind::Unspecified);
        let parse = s.intern_named_location("parse", None, 0, FrameKind::Unspecified);
        let read = s.intern_named_location("read", None, 0, FrameKind::Unspecified);
        let decode = s.intern_named_location("decode", None, 0, FrameKind::Unspecified);
        let line = |l: LocationId| s.location_lines(l)[0];
        // `decode` inlined into `read` (pprof lists the callee first).
        let lines: Vec<Line> = vec![line(decode), line(read)];
        let inlined = s.intern_location(None, 0x10, &lines, FrameKind::Unspecified);
        let bare = s.intern_location(None, 0x1a2b, &[], FrameKind::Unspecified);
        let parse_deep = s.stacks.intern([main, serve, parse, parse]).0;
        let inl = s.stacks.intern([main, serve, inlined]).0;
        let addr = s.stacks.intern([main, bare]).0;
        let serve_only = s.stacks.intern([main, serve]).0;
        let main_only = s.stacks.intern([main]).0;
        let d0 = block_dict(s, 0);

        let mut s = Symbols::new();
        let other = s.intern_named_location("other", None, 0, FrameKind::Unspecified);
        let main = s.intern_named_location("main", None, 0, FrameKind::Unspecified);
        let serve = s.intern_named_location("serve", None, 0, FrameKind::Unspecified);
        let x = s.stacks.intern([other, main]).0;
        let y = s.stacks.intern([main, serve]).0;
        let d1 = block_dict(s, 1);

        let rows = vec![
            Some((0, inl)),
            None,
            Some((1, y)),
            Some((0, main_only)),
            Some((0, parse_deep)),
            Some((1, x)),
            Some((0, addr)),
            Some((0, inl)),
            Some((0, serve_only)),
            Some((0, 9999)),
            Some((7, 1)),
        ];
        let expected = vec![
            Some("main;serve;read;decode"),
            None,
            Some("main;serve"),
            Some("main"),
            Some("main;serve;parse;parse"),
            Some("other;main"),
            Some("main;0x1a2b"),
            Some("main;serve;read;decode"),
            Some("main;serve"),
            Some(""),
            None,
        ];
        let dicts = [d0, d1];
        // On one thread, and split into parts of a few rows each.
        for parts in 1..=4 {
            let a = split_folded_array(&dicts, &rows, parts, 2).expect("folded");
            assert_eq!(texts(&a), expected, "{parts} parts");
        }
        let a = folded_array(&dicts, &rows, 8).expect("folded");
        assert_eq!(texts(&a), expected);
    }

    #[test]
    fn no_rows() {
        let a = folded_array(&[], &[], 2).expect("folded");
        assert_eq!(a.len(), 0);
    }

    /// A dictionary of `stacks` (frame numbers root first, frame `i` named `f{i}`).
    fn dict_of(stacks: &[Vec<u8>], n: u8) -> (Arc<BlockDict>, Vec<u32>) {
        let mut s = Symbols::new();
        let locs: Vec<LocationId> = (0..8)
            .map(|i| s.intern_named_location(&format!("f{i}"), None, 0, FrameKind::Unspecified))
            .collect();
        let ids = stacks
            .iter()
            .map(|st| s.stacks.intern(st.iter().map(|&f| locs[f as usize])).0)
            .collect();
        (block_dict(s, n), ids)
    }

    proptest! {
        /// Any rows of any stacks of two dictionaries give, row by row, the frame names
        /// joined by ';' (the stacks' own frame lists, not the dictionaries' text).
        #[test]
        fn rows_read_back_as_their_frames(
            stacks in prop::collection::vec(prop::collection::vec(0u8..8, 1..7), 1..40),
            picks in prop::collection::vec((0usize..2, any::<prop::sample::Index>(), 0u8..10), 0..80),
            parts in 1usize..4,
        ) {
            // The second dictionary holds the stacks in reverse, so it numbers them differently.
            let reversed: Vec<Vec<u8>> = stacks.iter().rev().cloned().collect();
            let (d0, ids0) = dict_of(&stacks, 0);
            let (d1, ids1) = dict_of(&reversed, 1);
            let mut rows = Vec::new();
            let mut expected = Vec::new();
            for (d, i, null) in picks {
                if null == 0 {
                    rows.push(None);
                    expected.push(None);
                    continue;
                }
                let (list, ids) = if d == 0 { (&stacks, &ids0) } else { (&reversed, &ids1) };
                let k = i.index(list.len());
                rows.push(Some((d as u32, ids[k])));
                let names: Vec<String> = list[k].iter().map(|f| format!("f{f}")).collect();
                expected.push(Some(names.join(";")));
            }
            let a = split_folded_array(&[d0, d1], &rows, parts, 3).expect("folded");
            let got: Vec<Option<String>> = texts(&a).into_iter().map(|t| t.map(String::from)).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
