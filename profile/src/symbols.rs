//! Symbol tables: strings, mappings, functions, locations with their lines, and the stack
//! tree. A [`Profile`](crate::Profile) owns one; the store keeps one per block as its
//! dictionary, and [`Symbols::import`] merges one set of tables into another.

use crate::{
    Frame, FrameKind, Function, FunctionId, Line, Location, LocationId, Mapping, MappingId,
    StackId, StackTree, StrId, StringTable,
};
use hashbrown::HashMap;
use std::borrow::Cow;

/// Interned symbol tables addressed by dense ids.
///
/// Everything is deduplicated on insertion through the `intern_*` methods; the `push_*`
/// methods append without deduplication where a source format keeps duplicates (pprof keeps
/// every `Location` message, and its counts are facts users check).
#[derive(Debug, Clone, Default)]
pub struct Symbols {
    /// All strings.
    pub strings: StringTable,
    /// Mappings, by [`MappingId`].
    pub mappings: Vec<Mapping>,
    /// Functions, by [`FunctionId`].
    pub functions: Vec<Function>,
    /// Lines of all locations; each location owns a range.
    pub lines: Vec<Line>,
    /// Locations, by [`LocationId`].
    pub locations: Vec<Location>,
    /// All stacks, root first.
    pub stacks: StackTree,
    function_index: HashMap<Function, FunctionId>,
    mapping_index: HashMap<Mapping, MappingId>,
    location_index: HashMap<LocationKey, LocationId>,
    /// Whether the three indexes above cover the tables (tables built by
    /// [`Symbols::from_tables`] are indexed on their first insertion).
    indexed: bool,
}

/// Identity of a location for interning: mapping, address, kind and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LocationKey {
    mapping: Option<MappingId>,
    address: u64,
    kind: FrameKind,
    lines: KeyLines,
}

impl std::hash::Hash for LocationKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `LocationKeyRef` hashes (derived: the fields in order, the lines as a slice).
        self.mapping.hash(state);
        self.address.hash(state);
        self.kind.hash(state);
        self.lines.as_slice().hash(state);
    }
}

/// The lines of a [`LocationKey`]: a location's one line (the usual case) is kept in the
/// key itself, so comparing a key in the index reads no second allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyLines {
    One(Line),
    Many(Box<[Line]>),
}

impl KeyLines {
    fn new(lines: &[Line]) -> Self {
        match lines {
            [one] => KeyLines::One(*one),
            many => KeyLines::Many(many.into()),
        }
    }

    fn as_slice(&self) -> &[Line] {
        match self {
            KeyLines::One(one) => std::slice::from_ref(one),
            KeyLines::Many(many) => many,
        }
    }
}

/// A [`LocationKey`] to look up without allocating: the same fields in the same order, so
/// it hashes the same.
#[derive(Hash)]
struct LocationKeyRef<'a> {
    mapping: Option<MappingId>,
    address: u64,
    kind: FrameKind,
    lines: &'a [Line],
}

impl hashbrown::Equivalent<LocationKey> for LocationKeyRef<'_> {
    fn equivalent(&self, k: &LocationKey) -> bool {
        self.mapping == k.mapping
            && self.address == k.address
            && self.kind == k.kind
            && self.lines == k.lines.as_slice()
    }
}

impl Symbols {
    /// Empty tables (with the empty string and the empty stack).
    pub fn new() -> Self {
        Self::default()
    }

    /// Tables from their parts, checking that every reference is in range (string ids,
    /// mapping and function ids, line ranges, stack locations). Interning indexes are built
    /// on the first insertion, so tables that are only read cost no hashing. On failure,
    /// says which table is inconsistent.
    pub fn from_tables(
        strings: StringTable,
        mappings: Vec<Mapping>,
        functions: Vec<Function>,
        lines: Vec<Line>,
        locations: Vec<Location>,
        stacks: StackTree,
    ) -> Result<Self, &'static str> {
        let n_str = strings.len() as u32;
        let str_ok = |s: StrId| s.0 < n_str;
        if !mappings
            .iter()
            .all(|m| str_ok(m.filename) && str_ok(m.build_id))
        {
            return Err("mapping refers to a missing string");
        }
        if !functions
            .iter()
            .all(|f| str_ok(f.name) && str_ok(f.system_name) && str_ok(f.filename))
        {
            return Err("function refers to a missing string");
        }
        let n_fn = functions.len();
        if !lines
            .iter()
            .all(|l| l.function.is_none_or(|f| f.index() < n_fn))
        {
            return Err("line refers to a missing function");
        }
        let n_lines = lines.len() as u32;
        let n_map = mappings.len();
        if !locations.iter().all(|l| {
            l.lines.start <= l.lines.end
                && l.lines.end <= n_lines
                && l.mapping.is_none_or(|m| m.index() < n_map)
        }) {
            return Err("location refers to missing lines or mapping");
        }
        let n_loc = locations.len();
        if !stacks.nodes()[1..]
            .iter()
            .all(|n| n.location.index() < n_loc)
        {
            return Err("stack refers to a missing location");
        }
        Ok(Symbols {
            strings,
            mappings,
            functions,
            lines,
            locations,
            stacks,
            ..Symbols::default()
        })
    }

    fn ensure_index(&mut self) {
        if self.indexed {
            return;
        }
        self.indexed = true;
        for (i, f) in self.functions.iter().enumerate() {
            self.function_index
                .entry(*f)
                .or_insert(FunctionId::from_index(i));
        }
        for (i, m) in self.mappings.iter().enumerate() {
            self.mapping_index
                .entry(*m)
                .or_insert(MappingId::from_index(i));
        }
        for (i, l) in self.locations.iter().enumerate() {
            let key = LocationKey {
                mapping: l.mapping,
                address: l.address,
                kind: l.kind,
                lines: KeyLines::new(&self.lines[l.lines.start as usize..l.lines.end as usize]),
            };
            self.location_index
                .entry(key)
                .or_insert(LocationId::from_index(i));
        }
    }

    /// Interns a string.
    pub fn intern(&mut self, s: &str) -> StrId {
        self.strings.intern(s)
    }

    /// Appends a function without deduplication (pprof keeps every `Function` message).
    pub fn push_function(&mut self, f: Function) -> FunctionId {
        self.ensure_index();
        let id = FunctionId::from_index(self.functions.len());
        self.functions.push(f);
        self.function_index.entry(f).or_insert(id);
        id
    }

    /// Interns a function: an equal function added before returns its id.
    pub fn intern_function(&mut self, f: Function) -> FunctionId {
        self.ensure_index();
        if let Some(&id) = self.function_index.get(&f) {
            return id;
        }
        self.push_function(f)
    }

    /// Appends a mapping without deduplication.
    pub fn push_mapping(&mut self, m: Mapping) -> MappingId {
        self.ensure_index();
        let id = MappingId::from_index(self.mappings.len());
        self.mappings.push(m);
        self.mapping_index.entry(m).or_insert(id);
        id
    }

    /// Interns a mapping.
    pub fn intern_mapping(&mut self, m: Mapping) -> MappingId {
        self.ensure_index();
        if let Some(&id) = self.mapping_index.get(&m) {
            return id;
        }
        self.push_mapping(m)
    }

    /// Appends a location with `lines` without deduplication (pprof keeps every `Location`).
    pub fn push_location(
        &mut self,
        mapping: Option<MappingId>,
        address: u64,
        lines: &[Line],
        kind: FrameKind,
        is_folded: bool,
    ) -> LocationId {
        self.ensure_index();
        let id = LocationId::from_index(self.locations.len());
        let start = self.lines.len() as u32;
        self.lines.extend_from_slice(lines);
        self.locations.push(Location {
            mapping,
            address,
            lines: start..self.lines.len() as u32,
            kind,
            is_folded,
        });
        let key = LocationKey {
            mapping,
            address,
            kind,
            lines: KeyLines::new(lines),
        };
        self.location_index.entry(key).or_insert(id);
        id
    }

    /// Interns a location: an equal location added before returns its id.
    pub fn intern_location(
        &mut self,
        mapping: Option<MappingId>,
        address: u64,
        lines: &[Line],
        kind: FrameKind,
    ) -> LocationId {
        self.ensure_index();
        let key = LocationKeyRef {
            mapping,
            address,
            kind,
            lines,
        };
        if let Some(&id) = self.location_index.get(&key) {
            return id;
        }
        self.push_location(mapping, address, lines, kind, false)
    }

    /// Interns a one-line location for a function called `name` (folded and perf frames).
    pub fn intern_named_location(
        &mut self,
        name: &str,
        mapping: Option<MappingId>,
        address: u64,
        kind: FrameKind,
    ) -> LocationId {
        let name = self.strings.intern(name);
        let function = self.intern_function(Function {
            name,
            system_name: name,
            ..Function::default()
        });
        let line = Line {
            function: Some(function),
            line: 0,
            column: 0,
        };
        self.intern_location(mapping, address, &[line], kind)
    }

    /// The lines of a location.
    pub fn location_lines(&self, id: LocationId) -> &[Line] {
        let r = &self.locations[id.index()].lines;
        &self.lines[r.start as usize..r.end as usize]
    }

    /// The name of a line of a location: its function's name, or for a location without
    /// symbol the mapping and address as pprof prints them: `libc.so.6 0x1a2b`, or `0x1a2b`
    /// without a mapping file name.
    pub fn line_name(&self, location: LocationId, line: Option<&Line>) -> Cow<'_, str> {
        let named = line
            .and_then(|l| l.function)
            .and_then(|f| self.functions.get(f.index()))
            .map(|f| {
                if f.name.is_empty() {
                    f.system_name
                } else {
                    f.name
                }
            })
            .filter(|n| !n.is_empty());
        if let Some(name) = named {
            return Cow::Borrowed(self.strings.get(name));
        }
        let loc = &self.locations[location.index()];
        let file = loc
            .mapping
            .and_then(|m| self.mappings.get(m.index()))
            .map(|m| self.strings.get(m.filename))
            .unwrap_or("");
        let base = file.rsplit('/').next().unwrap_or(file);
        if base.is_empty() {
            Cow::Owned(format!("0x{:x}", loc.address))
        } else {
            Cow::Owned(format!("{base} 0x{:x}", loc.address))
        }
    }

    /// The name of a location's outermost line (its own function, not an inlined callee).
    pub fn location_name(&self, location: LocationId) -> Cow<'_, str> {
        self.line_name(location, self.location_lines(location).last())
    }

    /// The frames of a location, outermost (caller) first, as they appear in a root-first
    /// stack: an inlined callee comes after the function it was inlined into.
    pub fn location_frames(&self, location: LocationId) -> impl Iterator<Item = Frame<'_>> + '_ {
        let loc = &self.locations[location.index()];
        let lines = self.location_lines(location);
        let mapping = loc.mapping.and_then(|m| self.mappings.get(m.index()));
        let n = lines.len().max(1);
        (0..n).rev().map(move |i| {
            let line = lines.get(i);
            let function = line
                .and_then(|l| l.function)
                .and_then(|f| self.functions.get(f.index()));
            Frame {
                name: self.line_name(location, line),
                system_name: function.map_or("", |f| self.strings.get(f.system_name)),
                file: function.map_or("", |f| self.strings.get(f.filename)),
                line: line.map_or(0, |l| l.line),
                mapping_file: mapping.map_or("", |m| self.strings.get(m.filename)),
                build_id: mapping.map_or("", |m| self.strings.get(m.build_id)),
                address: loc.address,
                inlined: i + 1 < n,
                kind: loc.kind,
            }
        })
    }

    /// The frames of a stack, root first, inlined frames expanded.
    pub fn frames(&self, stack: StackId) -> Vec<Frame<'_>> {
        self.stacks
            .locations(stack)
            .into_iter()
            .flat_map(|loc| self.location_frames(loc))
            .collect()
    }

    /// The frame names of a stack, root first, inlined frames expanded.
    pub fn frame_names(&self, stack: StackId) -> Vec<Cow<'_, str>> {
        self.frames(stack).into_iter().map(|f| f.name).collect()
    }

    /// Number of frames of a stack with inlined frames expanded.
    pub fn frame_depth(&self, stack: StackId) -> usize {
        self.stacks
            .leaf_first(stack)
            .map(|l| self.location_lines(l).len().max(1))
            .sum()
    }

    /// Imports stack `stack` of `src` (with the locations, functions, mappings and strings it
    /// references) into these tables and returns its id here. `remap` remembers what was
    /// imported, so importing many stacks of one source costs one lookup per distinct item:
    /// pass the same `Remap` (made by [`Remap::for_source`]) for every stack of `src`.
    pub fn import_stack(&mut self, src: &Symbols, remap: &mut Remap, stack: StackId) -> StackId {
        // Walk up to the nearest already-imported ancestor, then create the path down.
        let mut path = Vec::new();
        let mut node = stack;
        let mut here = StackId::EMPTY;
        while node != StackId::EMPTY {
            if let Some(id) = Remap::get(&remap.stacks, node.0) {
                here = StackId(id);
                break;
            }
            path.push(node);
            node = src.stacks.node(node).parent;
        }
        for &n in path.iter().rev() {
            let location = self.import_location(src, remap, src.stacks.node(n).location);
            here = self.stacks.child(here, location);
            remap.stacks[n.index()] = here.0;
        }
        here
    }

    /// Imports one location of `src` (see [`Symbols::import_stack`]).
    pub fn import_location(
        &mut self,
        src: &Symbols,
        remap: &mut Remap,
        id: LocationId,
    ) -> LocationId {
        if let Some(done) = Remap::get(&remap.locations, id.0) {
            return LocationId(done);
        }
        let loc = &src.locations[id.index()];
        let mapping = loc.mapping.map(|m| self.import_mapping(src, remap, m));
        // A scratch buffer kept in `remap`: no allocation per location.
        let mut lines = std::mem::take(&mut remap.lines);
        lines.clear();
        lines.extend_from_slice(src.location_lines(id));
        for line in &mut lines {
            line.function = line.function.map(|f| self.import_function(src, remap, f));
        }
        let new = self.intern_location(mapping, loc.address, &lines, loc.kind);
        remap.lines = lines;
        self.locations[new.index()].is_folded |= loc.is_folded;
        remap.locations[id.index()] = new.0;
        new
    }

    fn import_function(&mut self, src: &Symbols, remap: &mut Remap, id: FunctionId) -> FunctionId {
        if let Some(done) = Remap::get(&remap.functions, id.0) {
            return FunctionId(done);
        }
        let f = src.functions[id.index()];
        let f = Function {
            name: self.import_string(src, remap, f.name),
            system_name: self.import_string(src, remap, f.system_name),
            filename: self.import_string(src, remap, f.filename),
            start_line: f.start_line,
        };
        let new = self.intern_function(f);
        remap.functions[id.index()] = new.0;
        new
    }

    fn import_mapping(&mut self, src: &Symbols, remap: &mut Remap, id: MappingId) -> MappingId {
        if let Some(done) = Remap::get(&remap.mappings, id.0) {
            return MappingId(done);
        }
        let mut m = src.mappings[id.index()];
        m.filename = self.import_string(src, remap, m.filename);
        m.build_id = self.import_string(src, remap, m.build_id);
        let new = self.intern_mapping(m);
        remap.mappings[id.index()] = new.0;
        new
    }

    /// Imports one string of `src`.
    pub fn import_string(&mut self, src: &Symbols, remap: &mut Remap, id: StrId) -> StrId {
        if let Some(done) = Remap::get(&remap.strings, id.0) {
            return StrId(done);
        }
        let new = self.strings.intern(src.strings.get(id));
        if let Some(slot) = remap.strings.get_mut(id.index()) {
            *slot = new.0;
        }
        new
    }

    /// New tables holding only the given stacks of `self` and what they reference, with
    /// stack ids in depth-first pre-order (so every subtree is a contiguous id range) and
    /// the other tables in order of first use. Returns the tables and the old-to-new remap.
    pub fn compact(&self, stacks: impl IntoIterator<Item = StackId>) -> (Symbols, Remap) {
        let n = self.stacks.len();
        // Mark the used nodes and their ancestors.
        let mut used = vec![false; n];
        used[0] = true;
        for s in stacks {
            let mut node = s;
            while !used[node.index()] {
                used[node.index()] = true;
                node = self.stacks.node(node).parent;
            }
        }
        // Children lists of used nodes (parents have smaller ids than children).
        let mut first_child = vec![u32::MAX; n];
        let mut next_sibling = vec![u32::MAX; n];
        for i in (1..n).rev() {
            if used[i] {
                let p = self.stacks.node(StackId::from_index(i)).parent.index();
                next_sibling[i] = first_child[p];
                first_child[p] = i as u32;
            }
        }
        let mut out = Symbols::new();
        let mut remap = Remap::for_source(self);
        remap.stacks[0] = 0;
        let mut todo = Vec::new();
        let mut c = first_child[0];
        while c != u32::MAX {
            todo.push(c);
            c = next_sibling[c as usize];
        }
        todo.reverse();
        while let Some(i) = todo.pop() {
            out.import_stack(self, &mut remap, StackId(i));
            let start = todo.len();
            let mut c = first_child[i as usize];
            while c != u32::MAX {
                todo.push(c);
                c = next_sibling[c as usize];
            }
            todo[start..].reverse();
        }
        (out, remap)
    }
}

/// Old-to-new id maps filled by [`Symbols::import_stack`] and [`Symbols::compact`];
/// `u32::MAX` marks an item not (yet) imported.
#[derive(Debug, Clone)]
pub struct Remap {
    /// New id of each string of the source.
    pub strings: Vec<u32>,
    /// New id of each mapping of the source.
    pub mappings: Vec<u32>,
    /// New id of each function of the source.
    pub functions: Vec<u32>,
    /// New id of each location of the source.
    pub locations: Vec<u32>,
    /// New id of each stack node of the source.
    pub stacks: Vec<u32>,
    /// Scratch: the lines of the location being imported.
    lines: Vec<Line>,
    /// Per stack node of the source, the hash of its location sequence in target ids
    /// (filled by [`Symbols::import_stack_cached`] on its first call).
    pub(crate) stack_hashes: Vec<u64>,
}

impl Remap {
    /// An empty remap sized for importing from `src`.
    pub fn for_source(src: &Symbols) -> Self {
        let mut stacks = vec![u32::MAX; src.stacks.len()];
        stacks[0] = 0;
        let mut strings = vec![u32::MAX; src.strings.len()];
        strings[0] = 0;
        Remap {
            strings,
            mappings: vec![u32::MAX; src.mappings.len()],
            functions: vec![u32::MAX; src.functions.len()],
            locations: vec![u32::MAX; src.locations.len()],
            stacks,
            lines: Vec::new(),
            stack_hashes: Vec::new(),
        }
    }

    /// The new id of stack `s`, if imported.
    pub fn stack(&self, s: StackId) -> Option<StackId> {
        Self::get(&self.stacks, s.0).map(StackId)
    }

    fn get(table: &[u32], old: u32) -> Option<u32> {
        table.get(old as usize).copied().filter(|&v| v != u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Symbols, stack: StackId) -> Vec<String> {
        s.frames(stack)
            .into_iter()
            .map(|f| f.name.into_owned())
            .collect()
    }

    fn sample_symbols() -> (Symbols, Vec<StackId>) {
        let mut s = Symbols::new();
        let m = s.intern("libc.so.6");
        let mapping = s.intern_mapping(Mapping {
            filename: m,
            ..Mapping::default()
        });
        let main = s.intern_named_location("main", None, 0, FrameKind::Unspecified);
        let work = s.intern_named_location("work", None, 0, FrameKind::Jit);
        let anon = s.intern_location(Some(mapping), 0x1a2b, &[], FrameKind::Unspecified);
        let a = s.stacks.intern([main, work]);
        let b = s.stacks.intern([main, anon]);
        let c = s.stacks.intern([work]);
        (s, vec![a, b, c])
    }

    #[test]
    fn import_keeps_frames_and_dedups() {
        let (src, stacks) = sample_symbols();
        let mut dst = Symbols::new();
        dst.intern("unrelated");
        let mut remap = Remap::for_source(&src);
        for &s in &stacks {
            let new = dst.import_stack(&src, &mut remap, s);
            assert_eq!(names(&dst, new), names(&src, s));
            assert_eq!(dst.frames(new), src.frames(s));
        }
        // Importing again from a fresh remap interns to the same ids.
        let mut again = Remap::for_source(&src);
        for &s in &stacks {
            assert_eq!(
                dst.import_stack(&src, &mut again, s),
                remap.stack(s).unwrap()
            );
        }
        assert_eq!(names(&src, stacks[1]), vec!["main", "libc.so.6 0x1a2b"]);
        assert_eq!(dst.locations.len(), 3);
        assert_eq!(dst.stacks.len(), src.stacks.len());
    }

    #[test]
    fn locations_of_no_one_or_many_lines_intern_once_also_after_reindexing() {
        let mut s = Symbols::new();
        let name = s.intern("f");
        let f = s.intern_function(Function {
            name,
            ..Function::default()
        });
        let line = |n| Line {
            function: Some(f),
            line: n,
            column: 0,
        };
        let shapes: [&[Line]; 4] = [&[], &[line(1)], &[line(1), line(2)], &[line(2)]];
        let ids: Vec<LocationId> = shapes
            .iter()
            .map(|l| s.intern_location(None, 0x10, l, FrameKind::Unspecified))
            .collect();
        assert_eq!(ids, (0..4).map(LocationId).collect::<Vec<_>>());
        let again = |s: &mut Symbols| -> Vec<LocationId> {
            (shapes.iter())
                .map(|l| s.intern_location(None, 0x10, l, FrameKind::Unspecified))
                .collect()
        };
        assert_eq!(again(&mut s), ids);
        // Tables built from parts index themselves on the first insertion.
        let mut rebuilt = Symbols::from_tables(
            s.strings.clone(),
            s.mappings.clone(),
            s.functions.clone(),
            s.lines.clone(),
            s.locations.clone(),
            s.stacks.clone(),
        )
        .unwrap();
        assert_eq!(again(&mut rebuilt), ids);
        let other = rebuilt.intern_location(None, 0x11, &[line(1)], FrameKind::Unspecified);
        assert_eq!(other, LocationId(4));
    }

    #[test]
    fn compact_orders_stacks_depth_first_and_drops_unused() {
        let (src, stacks) = sample_symbols();
        // Keep only [main, anon] and [work].
        let (out, remap) = src.compact([stacks[1], stacks[2]]);
        assert_eq!(out.stacks.len(), 4); // root, main, main;anon, work
        let b = remap.stack(stacks[1]).unwrap();
        let c = remap.stack(stacks[2]).unwrap();
        assert_eq!(names(&out, b), names(&src, stacks[1]));
        assert_eq!(names(&out, c), names(&src, stacks[2]));
        assert!(remap.stack(stacks[0]).is_none());
        // Depth-first pre-order: each node's subtree follows it.
        assert_eq!((b.0, c.0), (2, 3));
        assert_eq!(out.functions.len(), 2);
    }
}
