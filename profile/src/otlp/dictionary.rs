//! The request's `ProfilesDictionary`, checked and prepared once for all its profiles.
//!
//! Every index in every table is checked here, once per request: strings of mappings and
//! functions, mappings and functions of locations, locations of stacks, attribute keys
//! and values. Every string a profile may need is interned here once, in one request-wide
//! [`StringTable`]: the string table (converted lossily for invalid UTF-8), the attribute
//! values rendered as strings, the trace links in hex, the label keys for links. The
//! build id of each mapping and the frame kind of each location are read from their
//! attributes once. The per-profile copy (`build.rs`) then only looks items up and
//! copies them: it hashes no string.

use super::json::render_value;
use super::proto;
use crate::{DecodeLimits, Error, FrameKind, Result, StrId, StringTable};

/// Attribute keys of a mapping that carry its build id, most preferred first.
const BUILD_ID_KEYS: [&str; 2] = [
    "process.executable.build_id.gnu",
    "process.executable.build_id.go",
];
/// Attribute key of a location that tells its frame type (`kernel`, `native`, `jvm`, ...).
const FRAME_TYPE_KEY: &str = "profile.frame.type";

/// Label keys of a sample's trace link, as Pyroscope names them.
const SPAN_ID: &str = "span_id";
const TRACE_ID: &str = "trace_id";

/// An attribute of the dictionary, ready to become a label.
#[derive(Clone, Copy)]
pub(super) struct Attribute {
    /// Its key.
    pub key: StrId,
    /// Its value rendered as a string.
    pub value: StrId,
}

/// The checked dictionary (see the module docs). Every `StrId` is in `texts`.
pub(super) struct Dictionary<'a> {
    pub tables: &'a proto::ProfilesDictionary,
    /// Every distinct string of the request, `""` at 0.
    pub texts: StringTable,
    /// Per entry of the string table: its text (entry 0 is always `""`).
    canon: Vec<StrId>,
    pub attributes: Vec<Attribute>,
    /// Per mapping: its build id (`""` when none).
    pub build_ids: Vec<StrId>,
    /// Per link: labels (key, value) of its span id and trace id, when set.
    pub links: Vec<[Option<(StrId, StrId)>; 2]>,
    /// Per location: its frame kind.
    pub kinds: Vec<FrameKind>,
}

pub(super) fn bad(message: String) -> Error {
    Error::Otlp { message }
}

/// `index` as a position in a table of `len` entries, or an error naming `field`.
pub(super) fn position(index: i32, len: usize, field: impl FnOnce() -> String) -> Result<usize> {
    usize::try_from(index)
        .ok()
        .filter(|&i| i < len)
        .ok_or_else(|| {
            bad(format!(
                "{} is {index}, out of range for a table of {len} entries",
                field()
            ))
        })
}

impl<'a> Dictionary<'a> {
    /// Checks `tables` and prepares them; the error names the first bad reference.
    pub(super) fn new(
        tables: &'a proto::ProfilesDictionary,
        limits: &DecodeLimits,
    ) -> Result<Self> {
        let mut texts = StringTable::new();
        let n = tables.string_table.len();
        texts.reserve(n, tables.string_table.iter().map(Vec::len).sum());
        let canon = (tables.string_table.iter().enumerate())
            .map(|(i, s)| match i {
                0 => StrId::EMPTY,
                _ => texts.intern_lossy(s),
            })
            .collect();
        let mut d = Dictionary {
            tables,
            texts,
            canon,
            attributes: Vec::with_capacity(tables.attribute_table.len()),
            build_ids: Vec::with_capacity(tables.mapping_table.len()),
            links: Vec::with_capacity(tables.link_table.len()),
            kinds: Vec::with_capacity(tables.location_table.len()),
        };
        d.check_attributes()?;
        d.prepare_links();
        d.check_mappings()?;
        d.check_functions()?;
        d.check_locations()?;
        d.check_stacks(limits)?;
        Ok(d)
    }

    /// The text of string index `index` of `field` (0 is always `""`, even in an empty
    /// table).
    pub(super) fn string(&self, index: i32, field: impl FnOnce() -> String) -> Result<StrId> {
        if index == 0 {
            return Ok(StrId::EMPTY);
        }
        let at = position(index, self.canon.len(), || {
            format!("{} (string index)", field())
        })?;
        Ok(self.canon[at])
    }

    /// The text of a string index already checked (`""` if it was not).
    pub(super) fn checked_string(&self, index: i32) -> StrId {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.canon.get(i).copied())
            .unwrap_or(StrId::EMPTY)
    }

    /// A string by index for rendering nested values and resource attributes (an index
    /// out of range renders as `""`: these are informational, never looked up again).
    pub(super) fn lookup(&self, index: i32) -> Option<String> {
        let i = usize::try_from(index).ok()?;
        let id = self.canon.get(i)?;
        Some(self.texts.get(*id).to_string())
    }

    fn check_attributes(&mut self) -> Result<()> {
        let tables = self.tables;
        for (i, a) in tables.attribute_table.iter().enumerate() {
            let field = |f: &str| format!("dictionary.attribute_table[{i}].{f}");
            let key = self.string(a.key_strindex, || field("key_strindex"))?;
            self.string(a.unit_strindex, || field("unit_strindex"))?;
            let value = match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                None => StrId::EMPTY,
                Some(proto::any_value::Value::StringValue(s)) => self.texts.intern(s),
                Some(proto::any_value::Value::StringValueStrindex(s)) => {
                    self.string(*s, || field("value.string_value_strindex"))?
                }
                Some(v) => {
                    let text = render_value(v, &|s| self.lookup(s));
                    self.texts.intern(&text)
                }
            };
            self.attributes.push(Attribute { key, value });
        }
        Ok(())
    }

    fn prepare_links(&mut self) {
        let (span, trace) = (self.texts.intern(SPAN_ID), self.texts.intern(TRACE_ID));
        let tables = self.tables;
        for link in &tables.link_table {
            let mut label =
                |key, id: &[u8]| (!id.is_empty()).then(|| (key, self.texts.intern(&hex(id))));
            let labels = [label(span, &link.span_id), label(trace, &link.trace_id)];
            self.links.push(labels);
        }
    }

    /// Checks `attribute_indices` of `owner` and returns the value of the first attribute
    /// whose key is one of `keys` (in the order of `keys`).
    fn attribute_value(
        &self,
        indices: &[i32],
        keys: &[&str],
        owner: impl Fn() -> String,
    ) -> Result<Option<StrId>> {
        let mut best: Option<(usize, StrId)> = None;
        for (j, &a) in indices.iter().enumerate() {
            let at = position(a, self.attributes.len(), || {
                format!("{}.attribute_indices[{j}]", owner())
            })?;
            let attr = self.attributes[at];
            let key = self.texts.get(attr.key);
            if let Some(rank) = keys.iter().position(|k| *k == key)
                && best.is_none_or(|(r, _)| rank < r)
            {
                best = Some((rank, attr.value));
            }
        }
        Ok(best.map(|(_, v)| v))
    }

    fn check_mappings(&mut self) -> Result<()> {
        for (i, m) in self.tables.mapping_table.iter().enumerate() {
            let owner = || format!("dictionary.mapping_table[{i}]");
            self.string(m.filename_strindex, || {
                format!("{}.filename_strindex", owner())
            })?;
            let build_id = self
                .attribute_value(&m.attribute_indices, &BUILD_ID_KEYS, owner)?
                .unwrap_or(StrId::EMPTY);
            self.build_ids.push(build_id);
        }
        Ok(())
    }

    fn check_functions(&self) -> Result<()> {
        for (i, f) in self.tables.function_table.iter().enumerate() {
            let field = |f: &str| format!("dictionary.function_table[{i}].{f}");
            self.string(f.name_strindex, || field("name_strindex"))?;
            self.string(f.system_name_strindex, || field("system_name_strindex"))?;
            self.string(f.filename_strindex, || field("filename_strindex"))?;
        }
        Ok(())
    }

    fn check_locations(&mut self) -> Result<()> {
        let (n_map, n_fn) = (
            self.tables.mapping_table.len(),
            self.tables.function_table.len(),
        );
        for (i, l) in self.tables.location_table.iter().enumerate() {
            let owner = || format!("dictionary.location_table[{i}]");
            if l.mapping_index != 0 {
                position(l.mapping_index, n_map, || {
                    format!("{}.mapping_index", owner())
                })?;
            }
            for (j, line) in l.lines.iter().enumerate() {
                if line.function_index != 0 {
                    position(line.function_index, n_fn, || {
                        format!("{}.lines[{j}].function_index", owner())
                    })?;
                }
            }
            let frame_type =
                self.attribute_value(&l.attribute_indices, &[FRAME_TYPE_KEY], owner)?;
            let kind = match frame_type.map(|t| self.texts.get(t)) {
                Some("kernel") => FrameKind::Kernel,
                _ => FrameKind::Unspecified,
            };
            self.kinds.push(kind);
        }
        Ok(())
    }

    fn check_stacks(&self, limits: &DecodeLimits) -> Result<()> {
        let n_loc = self.tables.location_table.len();
        for (i, s) in self.tables.stack_table.iter().enumerate() {
            DecodeLimits::check(
                "stack depth",
                s.location_indices.len(),
                limits.max_stack_depth,
            )?;
            for (j, &l) in s.location_indices.iter().enumerate() {
                position(l, n_loc, || {
                    format!("dictionary.stack_table[{i}].location_indices[{j}]")
                })?;
            }
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
