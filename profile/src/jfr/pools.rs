//! The constant pools of a chunk: strings, symbols, classes, methods, stack traces,
//! thread states and frame types, keyed by their (64-bit) ids.
//!
//! The pools are checkpoint events chained from the header's constant pool offset, each
//! giving the (relative) offset of the previous one. Each holds, per type, entries of an id
//! and a value laid out as the metadata says. Pools of other types are skipped. A later
//! entry with the same id replaces an earlier one, as in grafana/jfr-parser.

use super::bind::{Binding, FRAME, FrameSink, Plan, RawFrame, Slot, Values};
use super::metadata::Metadata;
use super::reader::{JStr, Reader};
use super::symbols::merge_generated;
use crate::{DecodeLimits, Result};
use hashbrown::{HashMap, HashSet};

/// A stack trace: its frames in [`Pools::frames`], leaf first, or where they are still
/// to be read.
#[derive(Debug, Clone, Copy)]
pub(super) struct StackRec {
    pub(super) frames: Frames,
    pub(super) truncated: bool,
}

/// Where the frames of a stack trace are.
#[derive(Debug, Clone, Copy)]
pub(super) enum Frames {
    /// Read: `Pools::frames[start..end]`.
    Read(u32, u32),
    /// Not read yet: the frame count is at this offset of the input. Stack traces are
    /// most of a recording's pools and most are not used by the events a profile takes,
    /// so when frames are plain varints they are skipped by counting and read on use.
    Lazy(usize),
}

/// A string as a pool entry holds it: text, or a reference to the string pool.
enum PStr {
    Text(String),
    Ref(u64),
}

/// The pools of one chunk.
#[derive(Default)]
pub(super) struct Pools {
    /// `java.lang.String` pool (string encoding 2).
    pub(super) strings: HashMap<u64, String>,
    /// `jdk.types.Symbol`, JVM-generated names merged (see `symbols.rs`).
    pub(super) symbols: HashMap<u64, String>,
    /// `java.lang.Class`: the name symbol.
    pub(super) classes: HashMap<u64, u64>,
    /// `jdk.types.Method`: the class and the name symbol.
    pub(super) methods: HashMap<u64, (u64, u64)>,
    /// `jdk.types.StackTrace`.
    pub(super) stacks: HashMap<u64, StackRec>,
    /// The frames of all stack traces.
    pub(super) frames: Vec<RawFrame>,
    /// `jdk.types.ThreadState`: the name (`STATE_RUNNABLE`, ...).
    pub(super) thread_states: HashMap<u64, String>,
    /// `jdk.types.FrameType`: the description (`Interpreted`, `JIT compiled`, ...).
    pub(super) frame_types: HashMap<u64, String>,
    /// How `jdk.types.StackFrame` values are read.
    pub(super) frame_plan: Option<Plan>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Symbol,
    Class,
    Method,
    Stack,
    ThreadState,
    FrameType,
}

const TARGETS: &[(&str, Target, &[Binding])] = &[
    (
        "jdk.types.Symbol",
        Target::Symbol,
        &[("string", "java.lang.String", false, false, Slot::Str(0))],
    ),
    (
        "java.lang.Class",
        Target::Class,
        &[("name", "jdk.types.Symbol", true, false, Slot::Num(0))],
    ),
    (
        "jdk.types.Method",
        Target::Method,
        &[
            ("type", "java.lang.Class", true, false, Slot::Num(0)),
            ("name", "jdk.types.Symbol", true, false, Slot::Num(1)),
        ],
    ),
    (
        "jdk.types.StackTrace",
        Target::Stack,
        &[
            ("truncated", "boolean", false, false, Slot::Num(0)),
            ("frames", "jdk.types.StackFrame", false, true, Slot::Frames),
        ],
    ),
    (
        "jdk.types.ThreadState",
        Target::ThreadState,
        &[("name", "java.lang.String", false, false, Slot::Str(0))],
    ),
    (
        "jdk.types.FrameType",
        Target::FrameType,
        &[(
            "description",
            "java.lang.String",
            false,
            false,
            Slot::Str(0),
        )],
    ),
];

/// How the entries of one pool type are read.
enum PoolPlan {
    Strings,
    Bound(Target, Plan),
    Skip,
}

impl Pools {
    /// Reads every pool of the chunk `data[chunk_start..chunk_end]`, the newest at
    /// `chunk_start + offset`.
    pub(super) fn read(
        m: &Metadata,
        data: &[u8],
        (chunk_start, chunk_end): (usize, usize),
        offset: u64,
        compressed: bool,
        limits: &DecodeLimits,
    ) -> Result<Pools> {
        let frame_plan = m
            .class_named("jdk.types.StackFrame")
            .map(|c| Plan::new(m, c, FRAME, false));
        let frame_varints = frame_plan
            .as_ref()
            .and_then(|p| p.varint_fields(m, compressed));
        let mut plans: HashMap<u64, PoolPlan> = HashMap::new();
        let mut pools = Pools::default();
        let mut pending: Vec<(Target, u64, PStr)> = Vec::new();
        let mut seen = HashSet::new();
        let mut at = offset;
        loop {
            let pos = usize::try_from(at)
                .ok()
                .and_then(|a| chunk_start.checked_add(a))
                .filter(|&p| p < chunk_end)
                .ok_or_else(|| crate::Error::Jfr {
                    offset: chunk_start as u64,
                    message: format!("constant pool offset {at} outside the chunk"),
                })?;
            if !seen.insert(pos) {
                return Err(crate::Error::Jfr {
                    offset: pos as u64,
                    message: "constant pools chain back to themselves".into(),
                });
            }
            let mut r = Reader::new(data, pos, chunk_end, compressed);
            let size = r.int()?;
            let end = usize::try_from(size)
                .ok()
                .and_then(|s| pos.checked_add(s))
                .filter(|&e| e <= chunk_end && size > 0)
                .ok_or_else(|| {
                    r.err(format!("constant pool event size {size} out of the chunk"))
                })?;
            r.end = end;
            let typ = r.long()?;
            if typ != 1 {
                return Err(r.err(format!("constant pool event has type {typ}, not 1")));
            }
            r.long()?; // start time
            r.long()?; // duration
            let delta = r.long()? as i64;
            r.u8()?; // flush
            let types = r.count("constant pool type")?;
            for _ in 0..types {
                let class_id = r.long()?;
                if !plans.contains_key(&class_id) {
                    let plan = pool_plan(m, class_id).ok_or_else(|| {
                        r.err(format!("constant pool of undefined type {class_id}"))
                    })?;
                    plans.insert(class_id, plan);
                }
                let plan = &plans[&class_id];
                let n = r.count("constant")?;
                for _ in 0..n {
                    let id = r.long()?;
                    match plan {
                        PoolPlan::Strings => {
                            let s = r.string()?;
                            let text = match s {
                                JStr::Pool(_) => None,
                                s => r.text(s),
                            };
                            pools.strings.insert(id, text.unwrap_or_default());
                        }
                        PoolPlan::Skip => {
                            // `pool_plan` checked the class exists.
                            if let Some(&c) = m.by_id.get(&class_id) {
                                m.skip_value(&mut r, m.value_kind(c), 0)?;
                            }
                        }
                        PoolPlan::Bound(Target::Stack, plan)
                            if frame_varints.is_some() && lazy_layout(plan) =>
                        {
                            let truncated = r.u8()? != 0;
                            let at = r.pos;
                            let n = r.count("stack frame")?;
                            if n > limits.max_stack_depth {
                                return Err(crate::Error::Limit {
                                    what: "stack depth",
                                    limit: limits.max_stack_depth as u64,
                                });
                            }
                            let per_frame = frame_varints.unwrap_or(0);
                            r.skip_varints(n.saturating_mul(per_frame))?;
                            let frames = Frames::Lazy(at);
                            pools.stacks.insert(id, StackRec { frames, truncated });
                        }
                        PoolPlan::Bound(target, plan) => {
                            let mut v = Values::default();
                            let start = pools.frames.len();
                            let mut sink = FrameSink {
                                plan: frame_plan.as_ref(),
                                frames: Some(&mut pools.frames),
                                max_depth: limits.max_stack_depth,
                            };
                            plan.read(m, &mut r, &mut v, &mut sink)?;
                            pools.store(&r, *target, id, &v, start, &mut pending);
                        }
                    }
                }
            }
            if delta == 0 {
                break;
            }
            at = at.wrapping_add(delta as u64);
        }
        pools.resolve(pending);
        pools.frame_plan = frame_plan;
        Ok(pools)
    }

    fn store(
        &mut self,
        r: &Reader<'_>,
        target: Target,
        id: u64,
        v: &Values<'_>,
        start: usize,
        pending: &mut Vec<(Target, u64, PStr)>,
    ) {
        let text = || match v.text[0] {
            JStr::Pool(i) => PStr::Ref(i),
            s => PStr::Text(r.text(s).unwrap_or_default()),
        };
        match target {
            Target::Symbol | Target::ThreadState | Target::FrameType => {
                pending.push((target, id, text()));
            }
            Target::Class => {
                self.classes.insert(id, v.num[0]);
            }
            Target::Method => {
                self.methods.insert(id, (v.num[0], v.num[1]));
            }
            Target::Stack => {
                // Frames are bounded by the input size, far below u32::MAX.
                let rec = StackRec {
                    frames: Frames::Read(start as u32, self.frames.len() as u32),
                    truncated: v.num[0] != 0,
                };
                self.stacks.insert(id, rec);
            }
        }
    }

    /// Resolves strings given as string pool references, and merges generated names.
    fn resolve(&mut self, pending: Vec<(Target, u64, PStr)>) {
        for (target, id, s) in pending {
            let text = match s {
                PStr::Text(t) => t,
                PStr::Ref(i) => self.strings.get(&i).cloned().unwrap_or_default(),
            };
            match target {
                Target::Symbol => {
                    let text = match merge_generated(&text) {
                        Some(merged) => merged,
                        None => text,
                    };
                    self.symbols.insert(id, text);
                }
                Target::ThreadState => {
                    self.thread_states.insert(id, text);
                }
                _ => {
                    self.frame_types.insert(id, text);
                }
            }
        }
    }
}

/// Whether a `jdk.types.StackTrace` plan is `truncated: boolean, frames: StackFrame[]`,
/// the layout the lazy path reads.
fn lazy_layout(plan: &Plan) -> bool {
    plan.slots().eq([Some(Slot::Num(0)), Some(Slot::Frames)])
}

fn pool_plan(m: &Metadata, class_id: u64) -> Option<PoolPlan> {
    let &index = m.by_id.get(&class_id)?;
    let name = m.classes[index as usize].name.as_str();
    if name == "java.lang.String" {
        return Some(PoolPlan::Strings);
    }
    Some(match TARGETS.iter().find(|t| t.0 == name) {
        Some(&(_, target, bindings)) => {
            PoolPlan::Bound(target, Plan::new(m, index, bindings, false))
        }
        None => PoolPlan::Skip,
    })
}
