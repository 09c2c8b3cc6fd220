//! The request's `ProfilesDictionary`, checked and prepared once for all its profiles.
//!
//! Every index in every table is checked here, once per request: strings of mappings and
//! functions, mappings and functions of locations, locations of stacks, attribute keys
//! and values. Strings are converted (lossily for invalid UTF-8) once, attribute values
//! are rendered as strings once, the build id of each mapping and the frame kind of each
//! location are read from their attributes once. The per-profile copy
//! (`build.rs`) then only looks items up.

use super::json::render_value;
use super::proto;
use crate::{DecodeLimits, Error, FrameKind, Result};
use std::borrow::Cow;

/// Attribute keys of a mapping that carry its build id, most preferred first.
const BUILD_ID_KEYS: [&str; 2] = [
    "process.executable.build_id.gnu",
    "process.executable.build_id.go",
];
/// Attribute key of a location that tells its frame type (`kernel`, `native`, `jvm`, ...).
const FRAME_TYPE_KEY: &str = "profile.frame.type";

/// An attribute of the dictionary, ready to become a label.
pub(super) struct Attribute<'a> {
    /// Index of its key in the string table.
    pub key: usize,
    /// Its value rendered as a string.
    pub value: Cow<'a, str>,
}

/// The checked dictionary (see the module docs).
pub(super) struct Dictionary<'a> {
    pub tables: &'a proto::ProfilesDictionary,
    pub strings: Vec<Cow<'a, str>>,
    pub attributes: Vec<Attribute<'a>>,
    /// Per mapping: the string of its build id (`""` when none).
    pub build_ids: Vec<Cow<'a, str>>,
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
        let strings: Vec<Cow<'a, str>> = tables
            .string_table
            .iter()
            .map(|s| String::from_utf8_lossy(s))
            .collect();
        let mut d = Dictionary {
            tables,
            strings,
            attributes: Vec::with_capacity(tables.attribute_table.len()),
            build_ids: Vec::with_capacity(tables.mapping_table.len()),
            kinds: Vec::with_capacity(tables.location_table.len()),
        };
        d.check_attributes()?;
        d.check_mappings()?;
        d.check_functions()?;
        d.check_locations()?;
        d.check_stacks(limits)?;
        Ok(d)
    }

    /// Position of string index `index` of `field` (0 is always `""`, even in an empty
    /// table).
    pub(super) fn string_index(&self, index: i32, field: impl FnOnce() -> String) -> Result<usize> {
        if index == 0 {
            return Ok(0);
        }
        position(index, self.strings.len(), || {
            format!("{} (string index)", field())
        })
    }

    /// The string at a checked position (`""` for position 0 of an empty table).
    pub(super) fn string(&self, position: usize) -> &str {
        self.strings.get(position).map_or("", |s| s)
    }

    fn check_attributes(&mut self) -> Result<()> {
        let table = &self.tables.attribute_table;
        for (i, a) in table.iter().enumerate() {
            let field = |f: &str| format!("dictionary.attribute_table[{i}].{f}");
            let key = self.string_index(a.key_strindex, || field("key_strindex"))?;
            self.string_index(a.unit_strindex, || field("unit_strindex"))?;
            let value = match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                None => Cow::Borrowed(""),
                Some(proto::any_value::Value::StringValue(s)) => Cow::Borrowed(s.as_str()),
                Some(proto::any_value::Value::StringValueStrindex(s)) => {
                    let at = self.string_index(*s, || field("value.string_value_strindex"))?;
                    self.strings.get(at).cloned().unwrap_or_default()
                }
                Some(v) => Cow::Owned(render_value(v, &|s| self.lookup(s))),
            };
            self.attributes.push(Attribute { key, value });
        }
        Ok(())
    }

    /// A string by index for rendering nested values (an index out of range renders as
    /// `""`: nested values are informational and never looked up by index again).
    fn lookup(&self, index: i32) -> Option<String> {
        let i = usize::try_from(index).ok()?;
        self.strings.get(i).map(|s| s.to_string())
    }

    /// Checks `attribute_indices` of `owner` and returns the value of the first attribute
    /// whose key is one of `keys` (in the order of `keys`).
    fn attribute_value(
        &self,
        indices: &[i32],
        keys: &[&str],
        owner: impl Fn() -> String,
    ) -> Result<Option<&Cow<'a, str>>> {
        let mut best: Option<(usize, &Cow<'a, str>)> = None;
        for (j, &a) in indices.iter().enumerate() {
            let at = position(a, self.attributes.len(), || {
                format!("{}.attribute_indices[{j}]", owner())
            })?;
            let attr = &self.attributes[at];
            let key = self.string(attr.key);
            if let Some(rank) = keys.iter().position(|k| *k == key)
                && best.is_none_or(|(r, _)| rank < r)
            {
                best = Some((rank, &attr.value));
            }
        }
        Ok(best.map(|(_, v)| v))
    }

    fn check_mappings(&mut self) -> Result<()> {
        for (i, m) in self.tables.mapping_table.iter().enumerate() {
            let owner = || format!("dictionary.mapping_table[{i}]");
            self.string_index(m.filename_strindex, || {
                format!("{}.filename_strindex", owner())
            })?;
            let build_id = self
                .attribute_value(&m.attribute_indices, &BUILD_ID_KEYS, owner)?
                .cloned()
                .unwrap_or_default();
            self.build_ids.push(build_id);
        }
        Ok(())
    }

    fn check_functions(&self) -> Result<()> {
        for (i, f) in self.tables.function_table.iter().enumerate() {
            let field = |f: &str| format!("dictionary.function_table[{i}].{f}");
            self.string_index(f.name_strindex, || field("name_strindex"))?;
            self.string_index(f.system_name_strindex, || field("system_name_strindex"))?;
            self.string_index(f.filename_strindex, || field("filename_strindex"))?;
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
            let kind = match frame_type.map(|t| t.as_ref()) {
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
