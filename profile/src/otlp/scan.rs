//! A walk over the protobuf framing of a request, before prost decodes it.
//!
//! prost turns every `Sample` message into a struct of about 80 bytes, so a request of
//! empty samples (2 bytes each) would take 40 times its size in memory before the
//! decoder could look at `DecodeLimits::max_samples`. This walk counts the samples of each
//! profile from the framing alone (no allocation) and refuses a profile over the limit
//! first; the same for the entries of each dictionary table (an empty `Location` is 2
//! bytes on the wire and about 100 in memory) against `DecodeLimits::max_table_entries`.
//! Anything malformed ends the walk quietly: prost then reports it, stopping where the
//! walk stopped. A group wire type is an error: prost would skip it and go on. JSON
//! requests get the same counts from a walk over the JSON ([`check_json`]) that keeps
//! nothing of the values.

use crate::{DecodeLimits, Result};

/// The dictionary's tables: field of `ProfilesDictionary`, name in errors, JSON name.
const TABLES: [(u64, &str, &str); 7] = [
    (1, "mapping table entries", "mappingTable"),
    (2, "location table entries", "locationTable"),
    (3, "function table entries", "functionTable"),
    (4, "link table entries", "linkTable"),
    (5, "string table entries", "stringTable"),
    (6, "attribute table entries", "attributeTable"),
    (7, "stack table entries", "stackTable"),
];

/// Fails with [`Error::Limit`](crate::Error::Limit) when a table of the binary request's
/// dictionary has more entries than `limits.max_table_entries`.
pub(super) fn check_tables(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    // request.dictionary (2) -> each table
    each(data, 2, &mut |dict| {
        for (field, what, _) in TABLES {
            let mut n = 0usize;
            each(dict, field, &mut |_| {
                n += 1;
                Ok(())
            })?;
            DecodeLimits::check(what, n, limits.max_table_entries)?;
        }
        Ok(())
    })
}

/// Fails with [`Error::Limit`](crate::Error::Limit) when a profile of the binary request
/// `data` has more samples than `limits.max_samples`.
pub(super) fn check_samples(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    // request.resource_profiles (1) -> scope_profiles (2) -> profiles (2) -> samples (2)
    each(data, 1, &mut |rp| {
        each(rp, 2, &mut |sp| {
            each(sp, 2, &mut |profile| {
                let mut n = 0usize;
                each(profile, 2, &mut |_| {
                    n += 1;
                    Ok(())
                })?;
                DecodeLimits::check("samples", n, limits.max_samples)
            })
        })
    })
}

/// Calls `f` with the body of every length-delimited field `field` of `msg`.
fn each(msg: &[u8], field: u64, f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut pos = 0;
    while pos < msg.len() {
        let Some(key) = varint(msg, &mut pos) else {
            return Ok(());
        };
        let skip = match key & 7 {
            0 => varint(msg, &mut pos).map(|_| 0),
            1 => Some(8),
            2 => varint(msg, &mut pos).and_then(|len| usize::try_from(len).ok()),
            5 => Some(4),
            // prost would skip a group and decode what follows it, unseen by this walk.
            3 | 4 => {
                return Err(super::dictionary::bad(format!(
                    "field {} is a protobuf group, which OTLP does not use",
                    key >> 3
                )));
            }
            _ => None,
        };
        let Some(len) = skip else {
            return Ok(());
        };
        let Some(body) = pos.checked_add(len).and_then(|end| msg.get(pos..end)) else {
            return Ok(());
        };
        if key & 7 == 2 && key >> 3 == field {
            f(body)?;
        }
        pos += len;
    }
    Ok(())
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// [`check_samples`] and [`check_tables`] for an OTLP/JSON request: a serde walk over
/// the document that counts the elements of `resourceProfiles[].scopeProfiles[]
/// .profiles[].samples` and of each `dictionary` table and keeps nothing else (an empty
/// `{}` is 3 bytes of JSON and about 100 bytes decoded). Malformed JSON ends the walk
/// quietly: the decoder then reports it.
pub(super) fn check_json(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(data);
    let mut found = None;
    let walk = Walk {
        at: Node::Request,
        limits,
        found: &mut found,
    };
    let _ = walk.deserialize(&mut de);
    match found {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Where a [`Walk`] is in the request.
#[derive(Clone, Copy)]
enum Node {
    Request,
    ResourceProfiles,
    ScopeProfiles,
    Profile,
    Dictionary,
    /// An array whose elements are counted against a limit.
    Counted(&'static str, usize),
    Other,
}

impl Node {
    /// The node under key `key` of an object at `self`.
    fn child(self, key: &str, limits: &DecodeLimits) -> Node {
        let table = |what| Node::Counted(what, limits.max_table_entries);
        match (self, key) {
            (Node::Request, "resourceProfiles") => Node::ResourceProfiles,
            (Node::Request, "dictionary") => Node::Dictionary,
            (Node::ResourceProfiles, "scopeProfiles") => Node::ScopeProfiles,
            (Node::ScopeProfiles, "profiles") => Node::Profile,
            (Node::Profile, "samples") => Node::Counted("samples", limits.max_samples),
            (Node::Dictionary, k) => match TABLES.iter().find(|(_, _, json)| *json == k) {
                Some((_, what, _)) => table(what),
                None => Node::Other,
            },
            _ => Node::Other,
        }
    }
}

struct Walk<'l, 'f> {
    at: Node,
    limits: &'l DecodeLimits,
    found: &'f mut Option<crate::Error>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let at = self.at.child(&key, self.limits);
            map.next_value_seed(Walk {
                at,
                limits: self.limits,
                found: &mut *self.found,
            })?;
            if self.found.is_some() {
                return Err(serde::de::Error::custom("over a limit"));
            }
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<(), A::Error> {
        let mut n = 0usize;
        loop {
            let more = match self.at {
                Node::Counted(..) | Node::Other => {
                    seq.next_element::<serde::de::IgnoredAny>()?.is_some()
                }
                at => seq
                    .next_element_seed(Walk {
                        at,
                        limits: self.limits,
                        found: &mut *self.found,
                    })?
                    .is_some(),
            };
            if !more {
                return Ok(());
            }
            if self.found.is_some() {
                return Err(serde::de::Error::custom("over a limit"));
            }
            n += 1;
            if let Node::Counted(what, limit) = self.at
                && let Err(e) = DecodeLimits::check(what, n, limit)
            {
                *self.found = Some(e);
                return Err(serde::de::Error::custom("over a limit"));
            }
        }
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
}
