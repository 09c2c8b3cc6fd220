//! `symbols.bin`: a block's symbol and stack dictionary ([`Symbols`]) on disk.
//!
//! One [`container`](crate::container) with one section per column. Ids are positions, as in
//! memory: string 0 is `""`, stack node 0 is the empty stack and is not written. Optional
//! references (a line's function, a location's mapping) are written as `id + 1`, 0 for none.
//! A stack node is written as `node index - parent index` (in a block the tree is in
//! depth-first order, so this is mostly 1) and its location **relative to its caller**:
//! the position of the location among the distinct callees seen so far under the parent's
//! location (1-based), or 0 followed by the location id in a separate column the first
//! time that caller calls it. Programs call few distinct functions from each function, so
//! the codes are tiny and repeat, where raw location ids cost ~8 bits per node after zstd
//! (measured on the medium bench fleet: `symbols.bin` went from 0.83 to 0.45 bytes per
//! sample row).

use crate::Result;
use crate::container::{ContainerReader, ContainerWriter};
use flamedb_profile::{
    FrameKind, Function, FunctionId, Line, Location, LocationId, Mapping, MappingId, StackId,
    StackTree, StrId, StringTable, Symbols,
};
use hashbrown::HashMap;

/// File magic of `symbols.bin`.
pub const MAGIC: [u8; 8] = *b"FLMDBSYM";
/// Newest format version this build writes and reads.
pub const VERSION: u32 = 1;

mod sec {
    pub const STR_ENDS: u32 = 1;
    pub const STR_BYTES: u32 = 2;
    pub const MAP_START: u32 = 10;
    pub const MAP_LIMIT: u32 = 11;
    pub const MAP_OFFSET: u32 = 12;
    pub const MAP_FILE: u32 = 13;
    pub const MAP_BUILD_ID: u32 = 14;
    pub const MAP_FLAGS: u32 = 15;
    pub const FN_NAME: u32 = 20;
    pub const FN_SYSTEM: u32 = 21;
    pub const FN_FILE: u32 = 22;
    pub const FN_START: u32 = 23;
    pub const LINE_FN: u32 = 30;
    pub const LINE_LINE: u32 = 31;
    pub const LINE_COL: u32 = 32;
    pub const LOC_MAPPING: u32 = 40;
    pub const LOC_ADDR: u32 = 41;
    pub const LOC_LINES: u32 = 42;
    pub const LOC_KIND: u32 = 43;
    pub const LOC_FOLDED: u32 = 44;
    pub const STACK_UP: u32 = 50;
    pub const STACK_CALLEE: u32 = 52;
    pub const STACK_NEW_LOC: u32 = 53;
}

/// Encodes `s` as `symbols.bin`.
pub fn encode(s: &Symbols) -> Result<Vec<u8>> {
    encode_with(s, crate::container::ZSTD_LEVEL)
}

/// [`encode`] with the container's sections compressed at zstd `level`.
pub fn encode_with(s: &Symbols, level: i32) -> Result<Vec<u8>> {
    let mut w = ContainerWriter::new(MAGIC, VERSION).with_level(level);
    let (bytes, ends) = s.strings.parts();
    w.u32s(sec::STR_ENDS, lengths(ends).into_iter());
    w.bytes(sec::STR_BYTES, bytes.as_bytes().to_vec());

    let m = &s.mappings;
    w.u64s(sec::MAP_START, m.iter().map(|m| m.memory_start));
    w.u64s(sec::MAP_LIMIT, m.iter().map(|m| m.memory_limit));
    w.u64s(sec::MAP_OFFSET, m.iter().map(|m| m.file_offset));
    w.u32s(sec::MAP_FILE, m.iter().map(|m| m.filename.0));
    w.u32s(sec::MAP_BUILD_ID, m.iter().map(|m| m.build_id.0));
    w.bytes(sec::MAP_FLAGS, m.iter().map(mapping_flags).collect());

    let f = &s.functions;
    w.u32s(sec::FN_NAME, f.iter().map(|f| f.name.0));
    w.u32s(sec::FN_SYSTEM, f.iter().map(|f| f.system_name.0));
    w.u32s(sec::FN_FILE, f.iter().map(|f| f.filename.0));
    w.i64s(sec::FN_START, f.iter().map(|f| f.start_line));

    // Lines are written in location order, so each location's lines are contiguous.
    let lines: Vec<Line> = (0..s.locations.len())
        .flat_map(|i| s.location_lines(LocationId::from_index(i)).iter().copied())
        .collect();
    w.u32s(
        sec::LINE_FN,
        lines.iter().map(|l| l.function.map_or(0, |f| f.0 + 1)),
    );
    w.i64s(sec::LINE_LINE, lines.iter().map(|l| l.line));
    w.i64s(sec::LINE_COL, lines.iter().map(|l| l.column));

    let l = &s.locations;
    w.u32s(
        sec::LOC_MAPPING,
        l.iter().map(|l| l.mapping.map_or(0, |m| m.0 + 1)),
    );
    w.u64s(sec::LOC_ADDR, l.iter().map(|l| l.address));
    w.u32s(
        sec::LOC_LINES,
        l.iter().map(|l| l.lines.end - l.lines.start),
    );
    w.bytes(sec::LOC_KIND, l.iter().map(|l| kind_code(l.kind)).collect());
    w.bytes(
        sec::LOC_FOLDED,
        l.iter().map(|l| u8::from(l.is_folded)).collect(),
    );

    let nodes = &s.stacks.nodes()[1..];
    w.u32s(
        sec::STACK_UP,
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| i as u32 + 1 - n.parent.0),
    );
    let (codes, new_locs) = callee_codes(s);
    w.u32s(sec::STACK_CALLEE, codes.into_iter());
    w.u32s(sec::STACK_NEW_LOC, new_locs.into_iter());
    w.finish()
}

/// Decodes `symbols.bin` (the file at `path`, named in errors), checking every reference.
pub fn decode(path: &str, data: &[u8]) -> Result<Symbols> {
    let r = ContainerReader::parse(path, data, MAGIC, VERSION)?;
    let mut ends = Vec::new();
    let mut end = 0u32;
    for len in r.u32s(sec::STR_ENDS)? {
        end = end
            .checked_add(len)
            .ok_or_else(|| r.corrupt("string lengths overflow"))?;
        ends.push(end);
    }
    let bytes = String::from_utf8(r.bytes(sec::STR_BYTES)?)
        .map_err(|_| r.corrupt("strings are not UTF-8"))?;
    let strings = StringTable::from_parts(bytes, ends)
        .ok_or_else(|| r.corrupt("string offsets are inconsistent"))?;

    let mappings = columns_of(
        &r,
        (
            r.u64s(sec::MAP_START)?,
            r.u64s(sec::MAP_LIMIT)?,
            r.u64s(sec::MAP_OFFSET)?,
            r.u32s(sec::MAP_FILE)?,
            r.u32s(sec::MAP_BUILD_ID)?,
            r.bytes(sec::MAP_FLAGS)?,
        ),
        "mapping",
    )?;
    let functions = {
        let (name, system, file, start) = (
            r.u32s(sec::FN_NAME)?,
            r.u32s(sec::FN_SYSTEM)?,
            r.u32s(sec::FN_FILE)?,
            r.i64s(sec::FN_START)?,
        );
        same_len(
            &r,
            "function",
            &[name.len(), system.len(), file.len(), start.len()],
        )?;
        (0..name.len())
            .map(|i| Function {
                name: StrId(name[i]),
                system_name: StrId(system[i]),
                filename: StrId(file[i]),
                start_line: start[i],
            })
            .collect::<Vec<_>>()
    };
    let lines = {
        let (func, line, col) = (
            r.u32s(sec::LINE_FN)?,
            r.i64s(sec::LINE_LINE)?,
            r.i64s(sec::LINE_COL)?,
        );
        same_len(&r, "line", &[func.len(), line.len(), col.len()])?;
        (0..func.len())
            .map(|i| Line {
                function: func[i].checked_sub(1).map(FunctionId),
                line: line[i],
                column: col[i],
            })
            .collect::<Vec<_>>()
    };
    let locations = {
        let (mapping, addr, count, kind, folded) = (
            r.u32s(sec::LOC_MAPPING)?,
            r.u64s(sec::LOC_ADDR)?,
            r.u32s(sec::LOC_LINES)?,
            r.bytes(sec::LOC_KIND)?,
            r.bytes(sec::LOC_FOLDED)?,
        );
        same_len(
            &r,
            "location",
            &[
                mapping.len(),
                addr.len(),
                count.len(),
                kind.len(),
                folded.len(),
            ],
        )?;
        let mut start = 0u32;
        let mut out = Vec::with_capacity(mapping.len());
        for i in 0..mapping.len() {
            let end = start
                .checked_add(count[i])
                .ok_or_else(|| r.corrupt("line counts overflow"))?;
            out.push(Location {
                mapping: mapping[i].checked_sub(1).map(MappingId),
                address: addr[i],
                lines: start..end,
                kind: kind_of(kind[i]),
                is_folded: folded[i] != 0,
            });
            start = end;
        }
        out
    };
    let stacks = {
        let up = r.u32s(sec::STACK_UP)?;
        let codes = r.u32s(sec::STACK_CALLEE)?;
        let new_locs = r.u32s(sec::STACK_NEW_LOC)?;
        same_len(&r, "stack", &[up.len(), codes.len()])?;
        let loc = callee_locations(&up, &codes, &new_locs)
            .ok_or_else(|| r.corrupt("stack callee codes are inconsistent"))?;
        let nodes = (0..up.len()).map(|i| {
            // Node i + 1; a bad distance yields an out-of-range parent, rejected below.
            let parent = (i as u32 + 1).checked_sub(up[i]).unwrap_or(u32::MAX);
            (StackId(parent), LocationId(loc[i]))
        });
        StackTree::from_nodes(nodes)
            .ok_or_else(|| r.corrupt("a stack's parent does not precede it"))?
    };
    Symbols::from_tables(strings, mappings, functions, lines, locations, stacks)
        .map_err(|m| r.corrupt(m))
}

/// Per stack node (without the root): its callee code, and the location ids of escapes.
fn callee_codes(s: &Symbols) -> (Vec<u32>, Vec<u32>) {
    let nodes = s.stacks.nodes();
    let mut callees: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut codes = Vec::with_capacity(nodes.len());
    let mut new_locs = Vec::new();
    for n in &nodes[1..] {
        let caller = caller_of(
            nodes.get(n.parent.index()).map(|p| p.location.0),
            n.parent.0,
        );
        let list = callees.entry(caller).or_default();
        match list.iter().position(|&l| l == n.location.0) {
            Some(i) => codes.push(i as u32 + 1),
            None => {
                codes.push(0);
                new_locs.push(n.location.0);
                list.push(n.location.0);
            }
        }
    }
    (codes, new_locs)
}

/// Reverses [`callee_codes`]: the location of every node (without the root), or `None`
/// when a code or parent is out of range.
fn callee_locations(up: &[u32], codes: &[u32], new_locs: &[u32]) -> Option<Vec<u32>> {
    let mut callees: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut locs: Vec<u32> = Vec::with_capacity(codes.len());
    let mut next_new = new_locs.iter();
    for (i, (&d, &code)) in up.iter().zip(codes).enumerate() {
        let parent = (i as u32 + 1).checked_sub(d)?;
        let parent_loc = match parent {
            0 => None,
            p => Some(*locs.get(p as usize - 1)?),
        };
        let list = callees.entry(caller_of(parent_loc, parent)).or_default();
        let loc = match code {
            0 => {
                let l = *next_new.next()?;
                list.push(l);
                l
            }
            c => *list.get(c as usize - 1)?,
        };
        locs.push(loc);
    }
    Some(locs)
}

/// The caller key of a node: its parent's location, or a sentinel for root children.
fn caller_of(parent_location: Option<u32>, parent: u32) -> u32 {
    if parent == 0 {
        u32::MAX
    } else {
        parent_location.unwrap_or(u32::MAX)
    }
}

type MappingColumns = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u32>, Vec<u32>, Vec<u8>);

fn columns_of(r: &ContainerReader<'_>, c: MappingColumns, what: &str) -> Result<Vec<Mapping>> {
    let (start, limit, offset, file, build, flags) = c;
    same_len(
        r,
        what,
        &[
            start.len(),
            limit.len(),
            offset.len(),
            file.len(),
            build.len(),
            flags.len(),
        ],
    )?;
    Ok((0..start.len())
        .map(|i| Mapping {
            memory_start: start[i],
            memory_limit: limit[i],
            file_offset: offset[i],
            filename: StrId(file[i]),
            build_id: StrId(build[i]),
            has_functions: flags[i] & 1 != 0,
            has_filenames: flags[i] & 2 != 0,
            has_line_numbers: flags[i] & 4 != 0,
            has_inline_frames: flags[i] & 8 != 0,
        })
        .collect())
}

fn same_len(r: &ContainerReader<'_>, what: &str, lens: &[usize]) -> Result<()> {
    if lens.windows(2).any(|w| w[0] != w[1]) {
        return Err(r.corrupt(format!("{what} columns differ in length: {lens:?}")));
    }
    Ok(())
}

fn lengths(ends: &[u32]) -> Vec<u32> {
    let mut prev = 0;
    ends.iter()
        .map(|&e| {
            let len = e - prev;
            prev = e;
            len
        })
        .collect()
}

fn mapping_flags(m: &Mapping) -> u8 {
    u8::from(m.has_functions)
        | u8::from(m.has_filenames) << 1
        | u8::from(m.has_line_numbers) << 2
        | u8::from(m.has_inline_frames) << 3
}

fn kind_code(k: FrameKind) -> u8 {
    match k {
        FrameKind::Unspecified => 0,
        FrameKind::Jit => 1,
        FrameKind::Inlined => 2,
        FrameKind::Kernel => 3,
        FrameKind::Interpreted => 4,
        FrameKind::C1 => 5,
    }
}

fn kind_of(code: u8) -> FrameKind {
    match code {
        1 => FrameKind::Jit,
        2 => FrameKind::Inlined,
        3 => FrameKind::Kernel,
        4 => FrameKind::Interpreted,
        5 => FrameKind::C1,
        // Unknown codes from a newer writer read as unspecified (additive evolution).
        _ => FrameKind::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols() -> Symbols {
        let mut s = Symbols::new();
        let file = s.intern("/lib/libc.so.6");
        let build = s.intern("abc123");
        let m = s.intern_mapping(Mapping {
            memory_start: 0x1000,
            memory_limit: 0x9000,
            file_offset: 0x10,
            filename: file,
            build_id: build,
            has_functions: true,
            has_inline_frames: true,
            ..Mapping::default()
        });
        let name = s.intern("memcpy");
        let src = s.intern("memcpy.S");
        let f = s.intern_function(Function {
            name,
            system_name: name,
            filename: src,
            start_line: -3,
        });
        let main = s.intern_named_location("main", None, 0, FrameKind::Jit);
        let lines = [
            Line {
                function: Some(f),
                line: 12,
                column: 4,
            },
            Line {
                function: None,
                line: 0,
                column: 0,
            },
        ];
        let inl = s.intern_location(Some(m), 0xdead_beef, &lines, FrameKind::Kernel);
        let bare = s.intern_location(Some(m), 0x1a2b, &[], FrameKind::Unspecified);
        s.stacks.intern([main, inl, bare]);
        s.stacks.intern([main, bare]);
        s.stacks.intern([inl]);
        s
    }

    #[test]
    fn symbols_round_trip() {
        let s = symbols();
        let data = encode(&s).unwrap();
        let mut back = decode("blk/symbols.bin", &data).unwrap();
        assert_eq!(back.strings.parts(), s.strings.parts());
        assert_eq!(back.mappings, s.mappings);
        assert_eq!(back.functions, s.functions);
        assert_eq!(back.locations, s.locations);
        assert_eq!(back.lines, s.lines);
        assert_eq!(back.stacks.nodes(), s.stacks.nodes());
        for i in 0..s.stacks.len() {
            let id = StackId::from_index(i);
            assert_eq!(back.frames(id), s.frames(id));
        }
        // The decoded tables accept new entries and dedup against the old ones.
        let main = back.intern_named_location("main", None, 0, FrameKind::Jit);
        assert_eq!(main, LocationId(0));
        assert_eq!(back.stacks.intern([main]), StackId(1));
    }

    proptest::proptest! {
        /// Any tree (depth-first after compaction, or in insertion order) round-trips,
        /// node for node: the callee coding and the parent distances lose nothing.
        #[test]
        fn random_trees_round_trip(stacks in proptest::collection::vec(
            proptest::collection::vec(0u8..12, 0..12), 0..40), compact in proptest::bool::ANY) {
            let mut s = Symbols::new();
            let locs: Vec<LocationId> = (0..12)
                .map(|i| s.intern_named_location(&format!("f{i}"), None, 0, FrameKind::Unspecified))
                .collect();
            let ids: Vec<StackId> = stacks
                .iter()
                .map(|st| s.stacks.intern(st.iter().map(|&i| locs[i as usize])))
                .collect();
            let s = if compact { s.compact(ids).0 } else { s };
            let back = decode("p", &encode(&s).unwrap()).unwrap();
            proptest::prop_assert_eq!(back.stacks.nodes(), s.stacks.nodes());
        }
    }

    #[test]
    fn corrupt_references_are_rejected_with_the_path() {
        let mut s = symbols();
        // A stack pointing at a location that does not exist.
        s.stacks.child(StackId::EMPTY, LocationId(99));
        let err = decode("p/symbols.bin", &encode(&s).unwrap()).err().unwrap();
        assert!(err.to_string().contains("p/symbols.bin"), "{err}");
        assert!(err.to_string().contains("missing location"), "{err}");
        let data = encode(&symbols()).unwrap();
        assert!(decode("x", &data[..data.len() / 2]).is_err());
    }
}
