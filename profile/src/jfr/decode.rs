//! Walking the chunks and events of a recording and handing each sample to its profile.

use super::bind::{Binding, FrameSink, Plan, RawFrame, Slot, Values};
use super::builder::{Builder, Correlation, FrameKey, Names};
use super::metadata::Metadata;
use super::pools::{Frames, Pools};
use super::reader::{JStr, Reader};
use super::snapshot::LabelsSnapshot;
use super::{ChunkInfo, JfrOptions, JfrStats, SampleType};
use crate::{Error, FrameKind, Result};
use hashbrown::HashMap;

/// Size of a chunk header.
pub(super) const HEADER_SIZE: usize = 68;

/// The events read, by the profile they feed (grafana/jfr-parser `pprof/parser.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Execution,
    WallClock,
    InNewTlab,
    OutsideTlab,
    AllocSample,
    MonitorEnter,
    ThreadPark,
    LiveObject,
    Malloc,
    ActiveSetting,
}

// Slots: 0 stack trace, 1 thread state, 2 context id, 3 span id, 4 span name, 5 value.
const STACK: Binding = (
    "stackTrace",
    "jdk.types.StackTrace",
    true,
    false,
    Slot::Num(0),
);
const STATE: Binding = ("state", "jdk.types.ThreadState", true, false, Slot::Num(1));
const CONTEXT: Binding = ("contextId", "long", false, false, Slot::Num(2));
const SPAN_ID: Binding = ("spanId", "long", false, false, Slot::Num(3));
const SPAN_NAME: Binding = ("spanName", "long", false, false, Slot::Num(4));
const fn value(name: &'static str, ty: &'static str) -> Binding {
    (name, ty, false, false, Slot::Num(5))
}

const EVENTS: &[(&str, EventKind, &[Binding])] = &[
    (
        "jdk.ExecutionSample",
        EventKind::Execution,
        &[STACK, STATE, CONTEXT, SPAN_ID, SPAN_NAME],
    ),
    (
        "profiler.WallClockSample",
        EventKind::WallClock,
        &[
            STACK,
            STATE,
            CONTEXT,
            SPAN_ID,
            SPAN_NAME,
            value("samples", "int"),
        ],
    ),
    (
        "jdk.ObjectAllocationInNewTLAB",
        EventKind::InNewTlab,
        &[
            STACK,
            CONTEXT,
            SPAN_ID,
            SPAN_NAME,
            value("tlabSize", "long"),
        ],
    ),
    (
        "jdk.ObjectAllocationOutsideTLAB",
        EventKind::OutsideTlab,
        &[
            STACK,
            CONTEXT,
            SPAN_ID,
            SPAN_NAME,
            value("allocationSize", "long"),
        ],
    ),
    (
        "jdk.ObjectAllocationSample",
        EventKind::AllocSample,
        &[STACK, value("weight", "long")],
    ),
    (
        "jdk.JavaMonitorEnter",
        EventKind::MonitorEnter,
        &[
            STACK,
            CONTEXT,
            SPAN_ID,
            SPAN_NAME,
            value("duration", "long"),
        ],
    ),
    (
        "jdk.ThreadPark",
        EventKind::ThreadPark,
        &[STACK, value("duration", "long")],
    ),
    ("profiler.LiveObject", EventKind::LiveObject, &[STACK]),
    (
        "profiler.Malloc",
        EventKind::Malloc,
        &[STACK, value("size", "long")],
    ),
    (
        "jdk.ActiveSetting",
        EventKind::ActiveSetting,
        &[
            ("id", "long", false, false, Slot::Num(0)),
            ("name", "java.lang.String", false, false, Slot::Str(0)),
            ("value", "java.lang.String", false, false, Slot::Str(1)),
        ],
    ),
];

/// Event type ids below this are looked up in a vector, others in a map.
const DENSE_TYPES: u64 = 1024;

/// The state of a decode across chunks.
pub(super) struct Decoder<'o> {
    opts: &'o JfrOptions<'o>,
    snapshot: Option<LabelsSnapshot>,
    pub(super) builders: Vec<Option<Builder>>,
    /// The value of the last `jdk.ActiveSetting` named `event` (async-profiler's mode).
    pub(super) event: Option<String>,
    /// grafana/jfr-parser keeps one `values` array for all events: a wall clock sample's
    /// `samples` stays the first value of every later event. Kept for identical output.
    first_value: i64,
    /// `jdk.ExecutionSample` settings seen (event type, name, value), for the period.
    pub(super) settings: Vec<(String, String, String)>,
    /// Frame names of the whole recording, interned.
    names: Names,
    pub(super) chunks: Vec<ChunkInfo>,
    pub(super) stats: JfrStats,
}

/// What the events of one chunk are resolved against.
struct Chunk<'m> {
    m: &'m Metadata,
    pools: Pools,
    /// The input, its chunk's end and integer encoding, for frames read on use.
    data: &'m [u8],
    end: usize,
    compressed: bool,
    /// Frame type id -> kind.
    kinds: Vec<(u64, FrameKind)>,
    /// Scratch for frame names.
    name_buf: String,
    /// Scratch for the frames of one stack trace read on use.
    scratch: Vec<RawFrame>,
    /// Stack trace id -> index into `stacks` (`u32::MAX`: no such stack trace).
    stack_index: HashMap<u64, u32>,
    /// Resolved stacks: ranges of `frames`, root first.
    stacks: Vec<(u32, u32)>,
    frames: Vec<FrameKey>,
    /// Method id -> frame name id, `None` when its method or class is missing.
    methods: HashMap<u64, Option<u32>>,
}

impl<'o> Decoder<'o> {
    pub(super) fn new(opts: &'o JfrOptions<'o>, snapshot: Option<LabelsSnapshot>) -> Self {
        Decoder {
            opts,
            snapshot,
            builders: (0..SampleType::ALL.len()).map(|_| None).collect(),
            event: None,
            first_value: 1,
            settings: Vec::new(),
            names: Names::default(),
            chunks: Vec::new(),
            stats: JfrStats::default(),
        }
    }

    /// Decodes every chunk of `data`.
    pub(super) fn run(&mut self, data: &[u8]) -> Result<()> {
        if data.len() < 4 || &data[..4] != b"FLR\0" {
            return Err(Error::Jfr {
                offset: 0,
                message: "not a JFR recording (no FLR\\0 magic)".into(),
            });
        }
        let mut pos = 0;
        while pos < data.len() {
            pos = self.chunk(data, pos)?;
        }
        Ok(())
    }

    /// Decodes the chunk at `start`; returns its end.
    fn chunk(&mut self, data: &[u8], start: usize) -> Result<usize> {
        let err = |offset: usize, message: String| Error::Jfr {
            offset: offset as u64,
            message,
        };
        let h = data
            .get(start..)
            .and_then(|d| d.get(..HEADER_SIZE))
            .ok_or_else(|| err(start, "truncated chunk header".into()))?;
        let be = |i: usize, n: usize| {
            h[i..i + n]
                .iter()
                .fold(0u64, |v, &b| (v << 8) | u64::from(b))
        };
        if &h[..4] != b"FLR\0" {
            return Err(err(start, "chunk without FLR\\0 magic".into()));
        }
        let (major, minor) = (be(4, 2) as u16, be(6, 2) as u16);
        if major != 2 {
            return Err(err(
                start,
                format!("unsupported JFR version {major}.{minor}"),
            ));
        }
        let size = be(8, 8);
        let left = (data.len() - start) as u64;
        if size < HEADER_SIZE as u64 || size > left {
            return Err(err(
                start,
                format!("chunk size {size} out of range ({left} bytes left)"),
            ));
        }
        let end = start + size as usize;
        let (cp_offset, meta_offset) = (be(16, 8), be(24, 8));
        for (what, off) in [("constant pool", cp_offset), ("metadata", meta_offset)] {
            if off < HEADER_SIZE as u64 || off >= size {
                return Err(err(start, format!("{what} offset {off} outside the chunk")));
            }
        }
        let features = be(64, 4);
        let compressed = features & 1 != 0;
        self.chunks.push(ChunkInfo {
            version: (major, minor),
            size,
            start_nanos: be(32, 8) as i64,
            duration_nanos: be(40, 8) as i64,
            ticks_per_second: be(56, 8) as i64,
        });
        let mut r = Reader::new(data, start + meta_offset as usize, end, compressed);
        let m = Metadata::read(&mut r).map_err(|e| context(e, "metadata"))?;
        let pools = Pools::read(
            &m,
            data,
            (start, end),
            cp_offset,
            compressed,
            &self.opts.limits,
        )
        .map_err(|e| context(e, "constant pool"))?;
        let kinds = (pools.frame_types.iter())
            .map(|(&id, d)| (id, frame_kind(d)))
            .collect();
        let mut chunk = Chunk {
            m: &m,
            pools,
            data,
            end,
            compressed,
            kinds,
            name_buf: String::new(),
            scratch: Vec::new(),
            stack_index: HashMap::new(),
            stacks: Vec::new(),
            frames: Vec::new(),
            methods: HashMap::new(),
        };
        for b in self.builders.iter_mut().flatten() {
            b.start_chunk();
        }
        self.events(&mut chunk, data, (start + HEADER_SIZE, end), compressed)?;
        Ok(end)
    }

    fn events(
        &mut self,
        c: &mut Chunk<'_>,
        data: &[u8],
        (mut pos, end): (usize, usize),
        compressed: bool,
    ) -> Result<()> {
        let m = c.m;
        let mut plans: Vec<(u64, EventKind, Plan)> = Vec::new();
        for &(name, kind, bindings) in EVENTS {
            if let Some(class) = m.class_named(name) {
                let id = m.classes[class as usize].id;
                plans.push((id, kind, Plan::new(m, class, bindings, true)));
            }
        }
        let mut dense = vec![u8::MAX; DENSE_TYPES as usize];
        let mut sparse: HashMap<u64, u8> = HashMap::new();
        for (i, (id, _, _)) in plans.iter().enumerate() {
            if *id < DENSE_TYPES {
                dense[*id as usize] = i as u8;
            } else {
                sparse.insert(*id, i as u8);
            }
        }
        while pos < end {
            let mut r = Reader::new(data, pos, end, compressed);
            let size = r.int()?;
            let next = usize::try_from(size)
                .ok()
                .filter(|&s| s > 0 && s <= end - pos)
                .ok_or_else(|| r.err(format!("event size {size} out of the chunk")))?
                + pos;
            r.end = next;
            let typ = r.long()?;
            self.stats.events += 1;
            let plan = if typ < DENSE_TYPES {
                dense[typ as usize]
            } else {
                sparse.get(&typ).copied().unwrap_or(u8::MAX)
            };
            if let Some((_, kind, plan)) = plans.get(plan as usize) {
                let mut v = Values::default();
                plan.read(m, &mut r, &mut v, &mut FrameSink::none())?;
                self.event(c, &r, *kind, &v)?;
            }
            pos = next;
        }
        Ok(())
    }

    /// Handles one event as grafana/jfr-parser `pprof/parser.go` does.
    fn event(
        &mut self,
        c: &mut Chunk<'_>,
        r: &Reader<'_>,
        kind: EventKind,
        v: &Values<'_>,
    ) -> Result<()> {
        let stack = v.num[0];
        let corr = Correlation {
            context_id: v.num[2],
            span_id: v.num[3],
            span_name: v.num[4],
        };
        let none = Correlation::default();
        let value = v.num[5] as i64;
        let state = || c.pools.thread_states.get(&v.num[1]).map(String::as_str);
        let wall_mode = self.event.as_deref() == Some("wall");
        let first = self.first_value;
        match kind {
            EventKind::Execution => {
                if state().is_some_and(|s| s != "STATE_SLEEPING") {
                    self.add(c, SampleType::Cpu, corr, stack, &[first])?;
                }
                if wall_mode {
                    self.add(c, SampleType::Wall, corr, stack, &[first])?;
                }
            }
            EventKind::WallClock => {
                // jfr-parser reads `samples` as an unsigned 32-bit int.
                self.first_value = i64::from(value as u32);
                let first = self.first_value;
                if wall_mode && state() == Some("STATE_RUNNABLE") {
                    self.add(c, SampleType::Cpu, corr, stack, &[first])?;
                }
                self.add(c, SampleType::Wall, corr, stack, &[first])?;
            }
            EventKind::InNewTlab => {
                self.add(c, SampleType::InNewTlab, corr, stack, &[first, value])?
            }
            EventKind::OutsideTlab => {
                self.add(c, SampleType::OutsideTlab, corr, stack, &[first, value])?
            }
            EventKind::AllocSample => {
                self.add(c, SampleType::AllocSample, none, stack, &[first, value])?
            }
            EventKind::MonitorEnter => {
                self.add(c, SampleType::Lock, corr, stack, &[first, value])?
            }
            EventKind::ThreadPark => {
                self.add(c, SampleType::ThreadPark, none, stack, &[first, value])?
            }
            EventKind::LiveObject => self.add(c, SampleType::LiveObject, none, stack, &[first])?,
            EventKind::Malloc => self.add(c, SampleType::Malloc, none, stack, &[first, value])?,
            EventKind::ActiveSetting => {
                let text = |s: JStr<'_>| match s {
                    JStr::Pool(i) => c.pools.strings.get(&i).cloned().unwrap_or_default(),
                    s => r.text(s).unwrap_or_default(),
                };
                let (name, value) = (text(v.text[0]), text(v.text[1]));
                let event_type = c.m.type_name(v.num[0]);
                if name == "event" {
                    self.event = Some(value);
                } else if event_type == "jdk.ExecutionSample" && self.settings.len() < 1000 {
                    self.settings.push((event_type.to_string(), name, value));
                }
            }
        }
        Ok(())
    }

    /// Adds a sample of stack trace `stack` to the profile of `ty`.
    fn add(
        &mut self,
        c: &mut Chunk<'_>,
        ty: SampleType,
        corr: Correlation,
        stack: u64,
        values: &[i64],
    ) -> Result<()> {
        let limits = &self.opts.limits;
        let b = self.builders[ty as usize].get_or_insert_with(|| Builder::new(ty));
        let Some(resolved) = resolve_stack(c, &mut self.names, &mut self.stats, self.opts, stack)
        else {
            self.stats.stacktrace_not_found += 1;
            return Ok(());
        };
        let (s, e) = c.stacks[resolved as usize];
        let frames = &c.frames[s as usize..e as usize];
        let labels = match &self.snapshot {
            Some(snap) => b.labels(snap, corr, limits)?,
            None => crate::LabelSetId::EMPTY,
        };
        b.add(resolved, frames, &self.names, labels, values, limits)?;
        self.stats.samples += 1;
        Ok(())
    }
}

/// `e` with `what` (the part of the chunk being read) in front of its message.
fn context(e: Error, what: &str) -> Error {
    match e {
        Error::Jfr { offset, message } if !message.starts_with(what) => Error::Jfr {
            offset,
            message: format!("{what}: {message}"),
        },
        e => e,
    }
}

/// The resolved stack of stack trace `id` in this chunk, resolving it on first use.
fn resolve_stack(
    c: &mut Chunk<'_>,
    names: &mut Names,
    stats: &mut JfrStats,
    opts: &JfrOptions<'_>,
    id: u64,
) -> Option<u32> {
    if let Some(&i) = c.stack_index.get(&id) {
        return (i != u32::MAX).then_some(i);
    }
    let Some(rec) = c.pools.stacks.get(&id).copied() else {
        c.stack_index.insert(id, u32::MAX);
        return None;
    };
    // Lazy frames are read into a scratch vector reused by every stack of the chunk.
    if let Frames::Lazy(at) = rec.frames {
        c.scratch.clear();
        let mut r = Reader::new(c.data, at, c.end, c.compressed);
        let mut sink = FrameSink {
            plan: c.pools.frame_plan.as_ref(),
            frames: Some(&mut c.scratch),
            max_depth: opts.limits.max_stack_depth,
        };
        // The frames were counted when the pool was read; an error now means they are
        // not what they seemed: a stack trace with no frames.
        if sink.read(c.m, &mut r).is_err() {
            c.scratch.clear();
        }
    }
    let raw: &[RawFrame] = match rec.frames {
        Frames::Read(from, to) => (c.pools.frames)
            .get(from as usize..to as usize)
            .unwrap_or_default(),
        Frames::Lazy(_) => &c.scratch,
    };
    let start = c.frames.len() as u32;
    if opts.truncated_frame && rec.truncated {
        let name = names.intern("[truncated]");
        c.frames.push(FrameKey {
            name,
            line: 0,
            kind: FrameKind::Unspecified,
        });
    }
    for f in raw.iter().rev() {
        let name = match c.methods.get(&f.method) {
            Some(&n) => n,
            None => {
                let n = frame_name(&c.pools, f.method, stats, &mut c.name_buf)
                    .then(|| names.intern(&c.name_buf));
                c.methods.insert(f.method, n);
                n
            }
        };
        let Some(name) = name else { continue };
        let kind = (c.kinds.iter())
            .find(|k| k.0 == f.kind)
            .map_or(FrameKind::Unspecified, |k| k.1);
        c.frames.push(FrameKey {
            name,
            line: f.line,
            kind,
        });
    }
    let i = c.stacks.len() as u32;
    c.stacks.push((start, c.frames.len() as u32));
    c.stack_index.insert(id, i);
    Some(i)
}

/// `class.method` for method `id` into `out`; false (counted) when the method or its class is
/// missing; a missing symbol is an empty name, as in jfr-parser.
fn frame_name(p: &Pools, id: u64, stats: &mut JfrStats, out: &mut String) -> bool {
    let Some(&(class, name)) = p.methods.get(&id) else {
        stats.method_not_found += 1;
        return false;
    };
    let Some(class_name) = p.classes.get(&class) else {
        stats.class_not_found += 1;
        return false;
    };
    let sym = |s: &u64| p.symbols.get(s).map_or("", String::as_str);
    out.clear();
    out.push_str(sym(class_name));
    out.push('.');
    out.push_str(sym(&name));
    true
}

/// The frame kind of a `jdk.types.FrameType` description.
fn frame_kind(description: &str) -> FrameKind {
    match description {
        "Interpreted" => FrameKind::Interpreted,
        "JIT compiled" => FrameKind::Jit,
        "Inlined" => FrameKind::Inlined,
        "C1 compiled" => FrameKind::C1,
        "Kernel" => FrameKind::Kernel,
        _ => FrameKind::Unspecified,
    }
}
