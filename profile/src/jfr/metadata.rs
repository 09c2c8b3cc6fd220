//! The metadata event of a chunk: the classes (event types, constant pool types and
//! primitives) with their fields, from which every value in the chunk is read.

use super::reader::{JStr, Reader};
use crate::Result;
use hashbrown::HashMap;

/// Deepest element nesting accepted in the metadata tree (real files nest 5 deep).
const MAX_ELEMENT_DEPTH: usize = 32;
/// Deepest nesting of struct values (a field whose type has fields) when skipping a value.
pub(super) const MAX_VALUE_DEPTH: usize = 32;

/// How a field's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `boolean` or `byte`: one byte.
    Byte,
    /// `short` or `char`: a compressed integer or 2 bytes.
    Short,
    /// `int`: a compressed integer or 4 bytes.
    Int,
    /// `long`: a compressed integer or 8 bytes.
    Long,
    /// `float`: 4 bytes.
    Float,
    /// `double`: 8 bytes.
    Double,
    /// `java.lang.String`: one of the string encodings.
    Str,
    /// A class with fields, written field after field (index into [`Metadata::classes`]).
    Struct(u32),
    /// A class id the metadata does not define.
    Unknown,
}

/// A field of a class.
#[derive(Debug, Clone)]
pub(super) struct Field {
    pub(super) name: String,
    /// The field's class id.
    pub(super) type_id: u64,
    pub(super) kind: Kind,
    /// Written as a constant pool reference (a `long`) instead of the value.
    pub(super) cp: bool,
    /// An array: a count, then the values.
    pub(super) array: bool,
}

/// A class of the metadata.
#[derive(Debug, Clone)]
pub(super) struct Class {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) fields: Vec<Field>,
    /// A struct value of this class takes no bytes (it has only such fields, or none).
    pub(super) zero_size: bool,
}

/// The classes of one chunk.
#[derive(Debug, Default)]
pub(super) struct Metadata {
    pub(super) classes: Vec<Class>,
    pub(super) by_id: HashMap<u64, u32>,
}

struct Element {
    name: u32,
    attrs: Vec<(u32, u32)>,
    children: Vec<Element>,
}

impl Metadata {
    /// Reads the metadata event at `r.pos`.
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Metadata> {
        let start = r.pos;
        let size = r.int()?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .filter(|&e| e <= r.end && size > 0)
            .ok_or_else(|| r.err(format!("metadata event size {size} out of the chunk")))?;
        r.end = end;
        let typ = r.long()?;
        if typ != 0 {
            return Err(r.err(format!("metadata event has type {typ}, not 0")));
        }
        for _ in 0..3 {
            r.long()?; // start time, duration, metadata id
        }
        let n = r.count("metadata string")?;
        // Capacity by what the input can hold, not by the count alone: a string takes at
        // least one byte, a `String` 24.
        let mut strings = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let s = r.string()?;
            strings.push(match s {
                JStr::Pool(_) => return Err(r.err("metadata string refers to a pool")),
                s => r.text(s).unwrap_or_default(),
            });
        }
        let root = element(r, &strings, 0)?;
        let name = |i: u32| strings.get(i as usize).map_or("", String::as_str);
        if name(root.name) != "root" {
            return Err(r.err(format!("metadata root element is {:?}", name(root.name))));
        }
        let mut m = Metadata::default();
        let attr = |e: &Element, key: &str| {
            e.attrs
                .iter()
                .find(|&&(k, _)| name(k) == key)
                .map_or("", |&(_, v)| name(v))
        };
        let classes = root.children.iter().filter(|e| name(e.name) == "metadata");
        for class in classes.flat_map(|e| &e.children) {
            if name(class.name) != "class" {
                continue;
            }
            let id = parse_id(attr(class, "id")).ok_or_else(|| r.err("class without an id"))?;
            let mut fields = Vec::new();
            for f in class.children.iter().filter(|e| name(e.name) == "field") {
                let type_id =
                    parse_id(attr(f, "class")).ok_or_else(|| r.err("field without a class"))?;
                let array = match attr(f, "dimension") {
                    "" | "0" => false,
                    "1" => true,
                    d => return Err(r.err(format!("unsupported field dimension {d}"))),
                };
                fields.push(Field {
                    name: attr(f, "name").to_string(),
                    type_id,
                    kind: Kind::Unknown,
                    cp: attr(f, "constantPool") == "true",
                    array,
                });
            }
            let index = m.classes.len() as u32;
            m.by_id.insert(id, index);
            m.classes.push(Class {
                id,
                name: attr(class, "name").to_string(),
                fields,
                zero_size: false,
            });
        }
        m.resolve();
        r.pos = end;
        Ok(m)
    }

    /// Gives every field its [`Kind`] and every class its `zero_size`.
    fn resolve(&mut self) {
        let kinds: Vec<Option<Kind>> = self.classes.iter().map(|c| primitive(&c.name)).collect();
        for c in 0..self.classes.len() {
            for f in 0..self.classes[c].fields.len() {
                let type_id = self.classes[c].fields[f].type_id;
                let kind = match self.by_id.get(&type_id) {
                    Some(&i) => kinds[i as usize].unwrap_or(Kind::Struct(i)),
                    None => Kind::Unknown,
                };
                self.classes[c].fields[f].kind = kind;
            }
        }
        // Greatest fixed point: a struct is zero-size when all its fields are plain
        // (not arrays, not references) zero-size structs.
        for (c, kind) in self.classes.iter_mut().zip(&kinds) {
            c.zero_size = kind.is_none();
        }
        loop {
            let mut changed = false;
            for c in 0..self.classes.len() {
                if !self.classes[c].zero_size {
                    continue;
                }
                let still = self.classes[c].fields.iter().all(|f| {
                    !f.cp
                        && !f.array
                        && matches!(f.kind, Kind::Struct(i) if self.classes[i as usize].zero_size)
                });
                if !still {
                    self.classes[c].zero_size = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The kind of a value of class `index` (a primitive's, else a struct).
    pub(super) fn value_kind(&self, index: u32) -> Kind {
        let name = self
            .classes
            .get(index as usize)
            .map_or("", |c| c.name.as_str());
        primitive(name).unwrap_or(Kind::Struct(index))
    }

    /// The class called `name`, if any (the first one).
    pub(super) fn class_named(&self, name: &str) -> Option<u32> {
        self.classes
            .iter()
            .position(|c| c.name == name)
            .map(|i| i as u32)
    }

    /// The class of id `id`.
    pub(super) fn class(&self, id: u64) -> Option<&Class> {
        self.by_id.get(&id).map(|&i| &self.classes[i as usize])
    }

    /// The name of class `id` ("" when unknown).
    pub(super) fn type_name(&self, id: u64) -> &str {
        self.class(id).map_or("", |c| c.name.as_str())
    }

    /// Reads past one value of field `f` (an array's whole content included).
    pub(super) fn skip_field(&self, r: &mut Reader<'_>, f: &Field, depth: usize) -> Result<()> {
        let n = if f.array {
            r.count("array element")?
        } else {
            1
        };
        if let Kind::Struct(i) = f.kind
            && !f.cp
            && self.classes[i as usize].zero_size
        {
            return Ok(());
        }
        for _ in 0..n {
            if f.cp {
                r.long()?;
            } else {
                self.skip_value(r, f.kind, depth)?;
            }
        }
        Ok(())
    }

    /// Reads past one (non-reference, non-array) value of kind `kind`.
    pub(super) fn skip_value(&self, r: &mut Reader<'_>, kind: Kind, depth: usize) -> Result<()> {
        match kind {
            Kind::Byte => r.skip(1),
            Kind::Short => r.short().map(|_| ()),
            Kind::Int => r.int().map(|_| ()),
            Kind::Long => r.long().map(|_| ()),
            Kind::Float => r.skip(4),
            Kind::Double => r.skip(8),
            Kind::Str => r.string().map(|_| ()),
            Kind::Struct(i) => {
                if depth >= MAX_VALUE_DEPTH {
                    return Err(r.err(format!(
                        "values nested deeper than {MAX_VALUE_DEPTH} (recursive types?)"
                    )));
                }
                let class = &self.classes[i as usize];
                for f in &class.fields {
                    self.skip_field(r, f, depth + 1)?;
                }
                Ok(())
            }
            Kind::Unknown => Err(r.err("value of a class the metadata does not define")),
        }
    }
}

/// The kind of a primitive class name; `None` for others.
fn primitive(name: &str) -> Option<Kind> {
    Some(match name {
        "boolean" | "byte" => Kind::Byte,
        "short" | "char" => Kind::Short,
        "int" => Kind::Int,
        "long" => Kind::Long,
        "float" => Kind::Float,
        "double" => Kind::Double,
        "java.lang.String" => Kind::Str,
        _ => return None,
    })
}

fn parse_id(s: &str) -> Option<u64> {
    s.parse::<u64>()
        .ok()
        .or_else(|| s.parse::<i64>().ok().map(|v| v as u64))
}

fn element(r: &mut Reader<'_>, strings: &[String], depth: usize) -> Result<Element> {
    if depth > MAX_ELEMENT_DEPTH {
        return Err(r.err(format!(
            "metadata elements nested deeper than {MAX_ELEMENT_DEPTH}"
        )));
    }
    let index = |r: &mut Reader<'_>| -> Result<u32> {
        let i = r.int()?;
        match u32::try_from(i) {
            Ok(i) if (i as usize) < strings.len() => Ok(i),
            _ => Err(r.err(format!(
                "metadata string index {i} out of range ({} strings)",
                strings.len()
            ))),
        }
    };
    let name = index(r)?;
    let n = r.count("metadata attribute")?;
    let mut attrs = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        attrs.push((index(r)?, index(r)?));
    }
    let n = r.count("metadata element")?;
    let mut children = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        children.push(element(r, strings, depth + 1)?);
    }
    Ok(Element {
        name,
        attrs,
        children,
    })
}
