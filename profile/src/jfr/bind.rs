//! Reading only the fields a decoder needs out of a value whose layout the metadata gives.
//!
//! A [`Plan`] is compiled once per chunk and class: one [`Step`] per field, which either
//! captures the field into a slot of [`Values`] or skips it. A field is captured only
//! when its name, type, constant-pool flag and array flag are all the expected ones (as
//! grafana/jfr-parser binds them); a field of another shape is skipped, so a producer that
//! changes a field's type loses that field, not the whole file.

use super::metadata::{Field, Kind, Metadata};
use super::reader::{JStr, Reader};
use crate::Result;

/// Where a captured field goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// A number, boolean or constant pool reference, into `Values::num[i]`.
    Num(u8),
    /// A string, into `Values::text[i]`.
    Str(u8),
    /// An array of `jdk.types.StackFrame` structs, each read with the frame plan.
    Frames,
}

/// What a plan binds: field name, type name, constant pool flag, array flag, slot.
pub(super) type Binding = (&'static str, &'static str, bool, bool, Slot);

#[derive(Debug, Clone, Copy)]
struct Step {
    field: u32,
    slot: Option<Slot>,
}

/// How to read a value of one class.
#[derive(Debug, Clone, Default)]
pub(super) struct Plan {
    class: u32,
    steps: Vec<Step>,
}

/// The captured fields of one value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Values<'a> {
    pub(super) num: [u64; 8],
    pub(super) text: [JStr<'a>; 2],
}

impl Default for Values<'_> {
    fn default() -> Self {
        Values {
            num: [0; 8],
            text: [JStr::Null; 2],
        }
    }
}

/// One stack frame as the pool gives it.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct RawFrame {
    /// `jdk.types.Method` reference.
    pub(super) method: u64,
    pub(super) line: u32,
    /// `jdk.types.FrameType` reference.
    pub(super) kind: u64,
}

/// Bindings of `jdk.types.StackFrame`.
pub(super) const FRAME: &[Binding] = &[
    ("method", "jdk.types.Method", true, false, Slot::Num(0)),
    ("lineNumber", "int", false, false, Slot::Num(1)),
    ("type", "jdk.types.FrameType", true, false, Slot::Num(2)),
];

impl Plan {
    /// The plan for class `class` with `bindings`; with `trim`, the steps after the last
    /// captured field are dropped (for values whose end is known, as events').
    pub(super) fn new(m: &Metadata, class: u32, bindings: &[Binding], trim: bool) -> Plan {
        let fields = &m.classes[class as usize].fields;
        let mut steps: Vec<Step> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| Step {
                field: i as u32,
                slot: bindings
                    .iter()
                    .find(|b| {
                        b.0 == f.name
                            && b.1 == m.type_name(f.type_id)
                            && b.2 == f.cp
                            && b.3 == f.array
                    })
                    .map(|b| b.4),
            })
            .collect();
        if trim {
            let keep = steps
                .iter()
                .rposition(|s| s.slot.is_some())
                .map_or(0, |i| i + 1);
            steps.truncate(keep);
        }
        Plan { class, steps }
    }

    /// With compressed integers, the number of fields when every field of the class is
    /// one varint (a reference, short, char, int or long): such values can be skipped
    /// by counting varints.
    pub(super) fn varint_fields(&self, m: &Metadata, compressed: bool) -> Option<usize> {
        let fields = &m.classes[self.class as usize].fields;
        let scalar = |f: &Field| {
            !f.array && (f.cp || matches!(f.kind, Kind::Short | Kind::Int | Kind::Long))
        };
        (compressed && self.steps.len() == fields.len() && fields.iter().all(scalar))
            .then_some(fields.len())
    }

    /// The slots of the fields, in order (`None` for a skipped field).
    pub(super) fn slots(&self) -> impl Iterator<Item = Option<Slot>> + '_ {
        self.steps.iter().map(|s| s.slot)
    }

    /// Reads one value: captured fields into `out`, frames (with `frame_plan`) appended to
    /// `frames`, at most `max_frames` per array.
    pub(super) fn read<'a>(
        &self,
        m: &Metadata,
        r: &mut Reader<'a>,
        out: &mut Values<'a>,
        frames: &mut FrameSink<'_>,
    ) -> Result<()> {
        let fields = &m.classes[self.class as usize].fields;
        for step in &self.steps {
            let f = &fields[step.field as usize];
            match step.slot {
                None => m.skip_field(r, f, 1)?,
                Some(Slot::Num(i)) => out.num[i as usize] = number(r, f)?,
                Some(Slot::Str(i)) => out.text[i as usize] = r.string()?,
                Some(Slot::Frames) => frames.read(m, r)?,
            }
        }
        Ok(())
    }
}

/// Reads a captured number: a reference, boolean/byte, short, int or long.
#[inline]
fn number(r: &mut Reader<'_>, f: &Field) -> Result<u64> {
    if f.cp {
        return r.long();
    }
    match f.kind {
        Kind::Byte => r.u8().map(u64::from),
        Kind::Short => r.short(),
        Kind::Int => r.int(),
        Kind::Long => r.long(),
        _ => Err(r.err(format!("field {} is not a number", f.name))),
    }
}

/// Where the frames of stack traces go.
pub(super) struct FrameSink<'s> {
    pub(super) plan: Option<&'s Plan>,
    pub(super) frames: Option<&'s mut Vec<RawFrame>>,
    pub(super) max_depth: usize,
}

impl FrameSink<'_> {
    /// Reads an array of frames: the count, then the frames.
    pub(super) fn read(&mut self, m: &Metadata, r: &mut Reader<'_>) -> Result<()> {
        let n = r.count("stack frame")?;
        if n > self.max_depth {
            return Err(crate::Error::Limit {
                what: "stack depth",
                limit: self.max_depth as u64,
            });
        }
        let (Some(plan), Some(frames)) = (self.plan, self.frames.as_deref_mut()) else {
            return Err(r.err("stack frames where none are expected"));
        };
        frames.reserve(n);
        // Fast path: every field one varint (references and ints, compressed): read them
        // in a row, each into its slot (0 method, 1 line, 2 type) or nowhere.
        if let Some(k) = plan.varint_fields(m, r.compressed).filter(|&k| k <= 8) {
            let mut slot_of = [usize::MAX; 8];
            for (j, slot) in plan.slots().enumerate().take(k) {
                if let Some(Slot::Num(i)) = slot {
                    slot_of[j] = usize::from(i);
                }
            }
            for _ in 0..n {
                let mut v = [0u64; 4];
                for &slot in &slot_of[..k] {
                    let x = r.varint()?;
                    if let Some(dst) = v.get_mut(slot) {
                        *dst = x;
                    }
                }
                frames.push(RawFrame {
                    method: v[0],
                    line: v[1] as u32,
                    kind: v[2],
                });
            }
            return Ok(());
        }
        let mut v = Values::default();
        for _ in 0..n {
            v.num[..3].fill(0);
            plan.read(m, r, &mut v, &mut FrameSink::none())?;
            frames.push(RawFrame {
                method: v.num[0],
                line: v.num[1] as u32,
                kind: v.num[2],
            });
        }
        Ok(())
    }

    /// A sink for values that have no frames.
    pub(super) fn none() -> FrameSink<'static> {
        FrameSink {
            plan: None,
            frames: None,
            max_depth: 0,
        }
    }
}
