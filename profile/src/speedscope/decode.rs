//! speedscope profiles -> [`Profile`]s: frames interned per profile, sampled stacks as
//! they are, evented open/close events turned into weighted stacks.

use super::parse::{Event, File, Frame, RawProfile};
use crate::{
    DecodeLimits, Error, FrameKind, Function, LabelSetId, Line, LocationId, Profile, Result,
    StackId,
};
use hashbrown::HashMap;

/// A speedscope unit as a flamedb sample type and the factor to its unit.
pub(super) struct Unit {
    pub kind: &'static str,
    pub unit: &'static str,
    pub scale: f64,
}

/// The sample type of a speedscope `unit`: time units become `cpu/nanoseconds` (values
/// scaled), `bytes` `alloc_space/bytes`, `none` `samples/count`.
pub(super) fn unit(name: &str) -> Option<Unit> {
    let time = |scale| Unit {
        kind: "cpu",
        unit: "nanoseconds",
        scale,
    };
    Some(match name {
        "nanoseconds" => time(1.0),
        "microseconds" => time(1e3),
        "milliseconds" => time(1e6),
        "seconds" => time(1e9),
        "bytes" => Unit {
            kind: "alloc_space",
            unit: "bytes",
            scale: 1.0,
        },
        "none" | "" => Unit {
            kind: "samples",
            unit: "count",
            scale: 1.0,
        },
        _ => return None,
    })
}

fn bad(message: String) -> Error {
    Error::Speedscope { message }
}

/// `v` in the sample type's unit, rounded; an error naming `field` when it does not fit.
fn scaled(v: f64, scale: f64, field: impl FnOnce() -> String) -> Result<i64> {
    let x = (v * scale).round();
    // 9.2e18 is just under `i64::MAX`; `as` would saturate silently.
    if !x.is_finite() || x.abs() > 9.2e18 {
        return Err(bad(format!("{} is {v:?}, not a usable number", field())));
    }
    Ok(x as i64)
}

/// Converts every profile of `file`.
pub(super) fn profiles(file: &File, limits: &DecodeLimits) -> Result<Vec<Profile>> {
    let mut out = Vec::with_capacity(file.profiles.len());
    // Frame index -> location, reset per profile by a generation stamp.
    let mut locations: Vec<(u32, LocationId)> = vec![(0, LocationId(0)); file.frames.len()];
    for (i, raw) in file.profiles.iter().enumerate() {
        let mut b = Builder {
            frames: &file.frames,
            locations: &mut locations,
            generation: i as u32 + 1,
            p: Profile::new(),
            at: i,
        };
        let u = unit(&raw.unit).ok_or_else(|| {
            bad(format!(
                "profiles[{i}].unit {:?} is none of none, nanoseconds, microseconds, \
                 milliseconds, seconds, bytes",
                raw.unit
            ))
        })?;
        b.p.add_sample_type(u.kind, u.unit);
        if !raw.name.is_empty() {
            let name = b.p.intern(&raw.name);
            b.p.comments.push(name);
        }
        if u.unit == "nanoseconds" {
            let span = raw.end_value - raw.start_value;
            b.p.duration_nanos = scaled(span, u.scale, || format!("profiles[{i}] duration"))?;
        }
        match raw.kind.as_str() {
            "sampled" => b.sampled(raw, &u)?,
            "evented" => b.evented(raw, &u, limits)?,
            other => {
                return Err(bad(format!(
                    "profiles[{i}].type {other:?} is neither \"sampled\" nor \"evented\""
                )));
            }
        }
        out.push(b.p);
    }
    Ok(out)
}

struct Builder<'f> {
    frames: &'f [Frame],
    locations: &'f mut [(u32, LocationId)],
    generation: u32,
    p: Profile,
    /// Index of the profile, for errors.
    at: usize,
}

impl Builder<'_> {
    /// The location of frame `index`, interned on first use; `field` names the reference.
    fn location(&mut self, index: u32, field: impl FnOnce() -> String) -> Result<LocationId> {
        let i = index as usize;
        let Some(&(generation, id)) = self.locations.get(i) else {
            return Err(bad(format!(
                "{} refers to frame {index}, but shared.frames has {} entries",
                field(),
                self.frames.len()
            )));
        };
        if generation == self.generation {
            return Ok(id);
        }
        let frame = &self.frames[i];
        let s = &mut self.p.symbols;
        let name = s.intern(&frame.name);
        let filename = s.intern(frame.file.as_deref().unwrap_or(""));
        let function = s.intern_function(Function {
            name,
            system_name: name,
            filename,
            start_line: 0,
        });
        // Line and column are 1-based in speedscope and small; anything else is dropped.
        let whole = |v: Option<f64>| {
            v.filter(|v| v.is_finite() && v.abs() < 1e15)
                .map_or(0, |v| v as i64)
        };
        let line = Line {
            function: Some(function),
            line: whole(frame.line),
            column: whole(frame.col),
        };
        let id = s.intern_location(None, 0, &[line], FrameKind::Unspecified);
        self.locations[i] = (self.generation, id);
        Ok(id)
    }

    fn sampled(&mut self, raw: &RawProfile, u: &Unit) -> Result<()> {
        let at = self.at;
        if raw.weights.len() != raw.ends.len() {
            return Err(bad(format!(
                "profiles[{at}] has {} samples but {} weights",
                raw.ends.len(),
                raw.weights.len()
            )));
        }
        self.p.samples.reserve(raw.ends.len());
        self.p.values.reserve(raw.ends.len());
        let mut start = 0usize;
        for (j, (&end, &weight)) in raw.ends.iter().zip(&raw.weights).enumerate() {
            let end = end as usize;
            let mut stack = StackId::EMPTY;
            for (k, &frame) in raw.frames[start..end].iter().enumerate() {
                let loc = self.location(frame, || format!("profiles[{at}].samples[{j}][{k}]"))?;
                stack = self.p.symbols.stacks.child(stack, loc);
            }
            start = end;
            let value = scaled(weight, u.scale, || format!("profiles[{at}].weights[{j}]"))?;
            self.p.push_sample(stack, &[value], LabelSetId::EMPTY, None);
        }
        Ok(())
    }

    /// Replays the events: each interval between two events counts for the stack open
    /// during it. Times are scaled to the unit first, so the intervals add up exactly.
    fn evented(&mut self, raw: &RawProfile, u: &Unit, limits: &DecodeLimits) -> Result<()> {
        let at = self.at;
        // The open frames and the stack each opened, innermost last.
        let mut open: Vec<(u32, StackId, usize)> = Vec::new();
        let mut sample_of: HashMap<StackId, usize> = HashMap::new();
        let mut prev: Option<i64> = None;
        for (k, e) in raw.events.iter().enumerate() {
            let field = || format!("profiles[{at}].events[{k}]");
            let time = scaled(e.at, u.scale, || format!("{}.at", field()))?;
            if let Some(prev) = prev {
                if time < prev {
                    return Err(bad(format!(
                        "{} at {} is before the previous event (events must be in time order)",
                        field(),
                        e.at
                    )));
                }
                if let Some(&(_, stack, _)) = open.last()
                    && time > prev
                {
                    let span = time.checked_sub(prev).ok_or_else(|| {
                        bad(format!("{}: the interval before it overflows", field()))
                    })?;
                    self.add(&mut sample_of, stack, span, limits)?;
                }
            }
            prev = Some(time);
            self.event(e, k, &mut open, limits)?;
        }
        if let Some(&(frame, _, k)) = open.last() {
            return Err(bad(format!(
                "profiles[{at}]: frame {frame} ({:?}) opened by events[{k}] is never closed",
                self.frames
                    .get(frame as usize)
                    .map_or("", |f| f.name.as_str())
            )));
        }
        Ok(())
    }

    /// Applies event `k` to the open frames.
    fn event(
        &mut self,
        e: &Event,
        k: usize,
        open: &mut Vec<(u32, StackId, usize)>,
        limits: &DecodeLimits,
    ) -> Result<()> {
        let at = self.at;
        let field = || format!("profiles[{at}].events[{k}]");
        match e.kind.as_str() {
            "O" => {
                DecodeLimits::check("stack depth", open.len() + 1, limits.max_stack_depth)?;
                let loc = self.location(e.frame, || format!("{}.frame", field()))?;
                let parent = open.last().map_or(StackId::EMPTY, |o| o.1);
                open.push((e.frame, self.p.symbols.stacks.child(parent, loc), k));
            }
            "C" => match open.last() {
                Some(&(frame, _, _)) if frame == e.frame => {
                    open.pop();
                }
                Some(&(frame, _, opened)) => {
                    return Err(bad(format!(
                        "{} closes frame {}, but the innermost open frame is {frame} \
                         (opened by events[{opened}])",
                        field(),
                        e.frame
                    )));
                }
                None => {
                    return Err(bad(format!(
                        "{} closes frame {} when no frame is open",
                        field(),
                        e.frame
                    )));
                }
            },
            other => {
                return Err(bad(format!(
                    "{}.type {other:?} is neither \"O\" nor \"C\"",
                    field()
                )));
            }
        }
        Ok(())
    }

    /// Adds `value` to the sample of `stack` (one sample per distinct stack).
    fn add(
        &mut self,
        sample_of: &mut HashMap<StackId, usize>,
        stack: StackId,
        value: i64,
        limits: &DecodeLimits,
    ) -> Result<()> {
        let p = &mut self.p;
        if let Some(&i) = sample_of.get(&stack) {
            let v = &mut p.values[i];
            *v = v
                .checked_add(value)
                .ok_or_else(|| bad(format!("profiles[{}]: a stack's total overflows", self.at)))?;
            return Ok(());
        }
        DecodeLimits::check("samples", p.samples.len() + 1, limits.max_samples)?;
        sample_of.insert(stack, p.samples.len());
        p.push_sample(stack, &[value], LabelSetId::EMPTY, None);
        Ok(())
    }
}
