//! The speedscope JSON document read with serde, limits checked while reading.
//!
//! The top level, each profile, its `samples` and its `events` are read by hand-written
//! visitors (`DeserializeSeed`s carrying the limits), so a sample count, an event count or a
//! stack depth over the limit stops the parse before the rest is allocated. Samples are
//! stored flat (all frame indexes in one vector and the end of each sample), not as a
//! vector per sample. Unknown keys are skipped without being built.

use crate::DecodeLimits;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// A limit hit while parsing: `(what, limit)`, kept aside so the caller reports it as
/// [`Error::Limit`](crate::Error::Limit) rather than as a JSON error.
pub(super) type LimitHit = Cell<Option<(&'static str, usize)>>;

/// The parts of a file the decoder uses.
#[derive(Default)]
pub(super) struct File {
    pub frames: Vec<Frame>,
    pub profiles: Vec<RawProfile>,
}

/// `shared.frames[i]`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Frame {
    pub name: String,
    pub file: Option<String>,
    pub line: Option<f64>,
    pub col: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Shared {
    frames: Vec<Frame>,
}

/// One entry of `profiles`.
#[derive(Default)]
pub(super) struct RawProfile {
    pub kind: String,
    pub name: String,
    pub unit: String,
    pub start_value: f64,
    pub end_value: f64,
    /// Frame indexes of all samples, each sample root first.
    pub frames: Vec<u32>,
    /// End of each sample in `frames`.
    pub ends: Vec<u32>,
    pub weights: Vec<f64>,
    pub events: Vec<Event>,
}

/// An evented profile's event.
#[derive(Deserialize)]
pub(super) struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub frame: u32,
    pub at: f64,
}

/// Reads a whole file.
pub(super) struct FileSeed<'l> {
    pub limits: &'l DecodeLimits,
    pub hit: &'l LimitHit,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = File;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<File, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = File;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a speedscope file (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<File, A::Error> {
        let mut file = File::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "shared" => {
                    file.frames = map
                        .next_value::<Option<Shared>>()?
                        .unwrap_or_default()
                        .frames
                }
                "profiles" => {
                    file.profiles = map.next_value_seed(Many {
                        seed: ProfileSeed {
                            limits: self.limits,
                            hit: self.hit,
                        },
                        limit: usize::MAX,
                        what: "profiles",
                        hit: self.hit,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(file)
    }
}

/// A JSON array of `T`s read with `seed`, at most `limit` of them.
struct Many<'l, S> {
    seed: S,
    limit: usize,
    what: &'static str,
    hit: &'l LimitHit,
}

impl<'de, S: DeserializeSeed<'de> + Copy> DeserializeSeed<'de> for Many<'_, S> {
    type Value = Vec<S::Value>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for Many<'_, S> {
    type Value = Vec<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {}", self.what)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self.seed)? {
            if out.len() == self.limit {
                return Err(limit(self.hit, self.what, self.limit));
            }
            out.push(v);
        }
        Ok(out)
    }
}

fn limit<E: de::Error>(hit: &LimitHit, what: &'static str, n: usize) -> E {
    hit.set(Some((what, n)));
    E::custom(format!("{what} exceeds the limit of {n}"))
}

/// An element read by plain `Deserialize`, as a `Copy` seed for [`Many`].
struct Plain<T>(std::marker::PhantomData<T>);

impl<T> Clone for Plain<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Plain<T> {}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Plain<T> {
    type Value = T;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize(d)
    }
}

fn plain<T>() -> Plain<T> {
    Plain(std::marker::PhantomData)
}

#[derive(Clone, Copy)]
struct ProfileSeed<'l> {
    limits: &'l DecodeLimits,
    hit: &'l LimitHit,
}

impl<'de> DeserializeSeed<'de> for ProfileSeed<'_> {
    type Value = RawProfile;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawProfile, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProfileSeed<'_> {
    type Value = RawProfile;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a speedscope profile (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawProfile, A::Error> {
        let mut p = RawProfile::default();
        let max = self.limits.max_samples;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "type" => p.kind = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "name" => p.name = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "unit" => p.unit = map.next_value::<Option<String>>()?.unwrap_or_default(),
                "startValue" => p.start_value = map.next_value::<Option<f64>>()?.unwrap_or(0.0),
                "endValue" => p.end_value = map.next_value::<Option<f64>>()?.unwrap_or(0.0),
                "samples" => {
                    let seed = SamplesSeed {
                        limits: self.limits,
                        hit: self.hit,
                        frames: &mut p.frames,
                        ends: &mut p.ends,
                    };
                    map.next_value_seed(seed)?;
                }
                "weights" => {
                    p.weights = map.next_value_seed(Many {
                        seed: plain::<f64>(),
                        limit: max,
                        what: "samples",
                        hit: self.hit,
                    })?
                }
                "events" => {
                    // Each interval between two events becomes at most one sample.
                    p.events = map.next_value_seed(Many {
                        seed: plain::<Event>(),
                        limit: max.saturating_mul(2).saturating_add(1),
                        what: "events",
                        hit: self.hit,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(p)
    }
}

/// `samples`: an array of arrays of frame indexes, appended flat.
struct SamplesSeed<'l, 'p> {
    limits: &'l DecodeLimits,
    hit: &'l LimitHit,
    frames: &'p mut Vec<u32>,
    ends: &'p mut Vec<u32>,
}

impl<'de> DeserializeSeed<'de> for SamplesSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for SamplesSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of stacks (arrays of frame indexes)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let stack = StackSeed {
                limits: self.limits,
                hit: self.hit,
                frames: self.frames,
            };
            if seq.next_element_seed(stack)?.is_none() {
                return Ok(());
            }
            if self.ends.len() == self.limits.max_samples {
                return Err(limit(self.hit, "samples", self.limits.max_samples));
            }
            // The frames are bounded by the input size, far below `u32::MAX`.
            self.ends.push(self.frames.len() as u32);
        }
    }
}

/// One stack of `samples`, appended to `frames`.
struct StackSeed<'l, 'p> {
    limits: &'l DecodeLimits,
    hit: &'l LimitHit,
    frames: &'p mut Vec<u32>,
}

impl<'de> DeserializeSeed<'de> for StackSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StackSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a stack (an array of frame indexes)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let start = self.frames.len();
        let max = self.limits.max_stack_depth;
        while let Some(frame) = seq.next_element::<u32>()? {
            if self.frames.len() - start == max {
                return Err(limit(self.hit, "stack depth", max));
            }
            self.frames.push(frame);
        }
        Ok(())
    }
}
