//! Input columns cast to what an import needs: times in ns, stack ids as u64, label values
//! as interned ids ([`ValueIds`]); casts are strict, so a value that does not fit is an
//! error instead of a null.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampNanosecondType, UInt64Type};
use hashbrown::HashMap;

/// One label column's values, interned (id 0: absent).
#[derive(Default)]
pub(super) struct ValueIds {
    ids: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl ValueIds {
    fn id(&mut self, v: &str) -> u32 {
        if v.is_empty() {
            return 0;
        }
        if let Some(&i) = self.ids.get(v) {
            return i;
        }
        self.values.push(v.into());
        let i = self.values.len() as u32;
        self.ids.insert(v.into(), i);
        i
    }

    pub(super) fn value(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| &*self.values[id as usize - 1])
    }
}

/// Casts that fail on a value they cannot represent instead of making it null.
pub(super) fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..CastOptions::default()
    }
}

/// A time column as ns since the epoch: timestamps of any unit, or integers taken as ns.
pub(super) fn times_ns(a: &ArrayRef) -> std::result::Result<Vec<Option<i64>>, String> {
    let strict = strict();
    match a.data_type() {
        DataType::Timestamp(_, _) => {
            let c = cast_with_options(a, &DataType::Timestamp(TimeUnit::Nanosecond, None), &strict)
                .map_err(|e| format!("out of the range of ns timestamps: {e}"))?;
            Ok(c.as_primitive::<TimestampNanosecondType>().iter().collect())
        }
        t if t.is_integer() => {
            let c = cast_with_options(a, &DataType::Int64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<Int64Type>().iter().collect())
        }
        t => Err(format!(
            "expected a timestamp or an integer (ns), found {t}"
        )),
    }
}

/// A label column's values as interned ids (0 = null or empty).
pub(super) fn column_ids(
    col: &ArrayRef,
    ids: &mut ValueIds,
) -> std::result::Result<Vec<u32>, String> {
    let mut out = Vec::with_capacity(col.len());
    if let DataType::Dictionary(_, _) = col.data_type() {
        let dict = col.as_any_dictionary();
        let words = cast_with_options(dict.values(), &DataType::Utf8, &strict())
            .map_err(|e| format!("does not cast to text: {e}"))?;
        let words = words.as_string::<i32>();
        let of_word: Vec<u32> = (0..words.len())
            .map(|k| {
                if words.is_null(k) {
                    0
                } else {
                    ids.id(words.value(k))
                }
            })
            .collect();
        for (row, k) in dict.normalized_keys().into_iter().enumerate() {
            out.push(if col.is_null(row) { 0 } else { of_word[k] });
        }
        return Ok(out);
    }
    let text = cast_with_options(col, &DataType::Utf8, &strict())
        .map_err(|e| format!("does not cast to text: {e}"))?;
    let text = text.as_string::<i32>();
    // Sorted input repeats values: look up only when the value changes.
    let mut last: Option<(&str, u32)> = None;
    for row in 0..text.len() {
        if text.is_null(row) {
            out.push(0);
            continue;
        }
        let v = text.value(row);
        let id = match last {
            Some((l, id)) if l == v => id,
            _ => ids.id(v),
        };
        last = Some((v, id));
        out.push(id);
    }
    Ok(out)
}

/// A column of stack ids as u64 (signed types reinterpreted, so both tables agree).
pub(super) fn stack_ids(a: &ArrayRef) -> std::result::Result<Vec<Option<u64>>, String> {
    let strict = strict();
    match a.data_type() {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let c = cast_with_options(a, &DataType::UInt64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<UInt64Type>().iter().collect())
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let c = cast_with_options(a, &DataType::Int64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| v as u64))
                .collect())
        }
        t => Err(format!("expected an integer type, found {t}")),
    }
}
