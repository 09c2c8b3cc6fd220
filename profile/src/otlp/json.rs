//! The proto3 JSON mapping of the OTLP messages, as OTLP/JSON writes it: lowerCamelCase
//! field names, 64-bit integers as strings or numbers (32-bit ones accepted either way
//! too), `null` for the default value, `bytes` in base64, trace and span ids in hex
//! (the OTLP/JSON exception to proto3 JSON), doubles as numbers or `"NaN"`/`"Infinity"`.
//! Unknown fields are ignored. The original snake_case field names, which proto3 JSON
//! parsers also accept, are not.

use super::proto::{AnyValue, ArrayValue, KeyValueList, any_value::Value};
use base64::Engine as _;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// The field's value, or its default for `null`.
pub(super) fn or_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An integer given as a JSON number or string; `null` is 0.
pub(super) fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Default,
{
    Ok(Option::<Int<T>>::deserialize(d)?.map_or_else(T::default, |i| i.0))
}

/// A repeated integer field; `null` is empty.
pub(super) fn ints<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Default,
{
    let v = Option::<Vec<Int<T>>>::deserialize(d)?.unwrap_or_default();
    Ok(v.into_iter().map(|i| i.0).collect())
}

/// A repeated `string` field read into bytes (see `ProfilesDictionary.string_table`).
pub(super) fn strings_as_bytes<'de, D>(d: D) -> Result<Vec<Vec<u8>>, D::Error>
where
    D: Deserializer<'de>,
{
    let v = Option::<Vec<Option<String>>>::deserialize(d)?.unwrap_or_default();
    Ok(v.into_iter()
        .map(|s| s.unwrap_or_default().into_bytes())
        .collect())
}

/// A trace or span id: hex as OTLP/JSON writes it, else base64 as proto3 JSON would.
pub(super) fn id_bytes<'de, D>(d: D) -> Result<Vec<u8>, D::Error>
where
    D: Deserializer<'de>,
{
    let s = Option::<String>::deserialize(d)?.unwrap_or_default();
    if let Some(bytes) = from_hex(&s) {
        return Ok(bytes);
    }
    decode_base64(&s).map_err(de::Error::custom)
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

/// Standard or URL-safe base64, padded or not, as proto3 JSON parsers accept.
fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let config = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let url = s.contains(['-', '_']);
    let alphabet = if url {
        &base64::alphabet::URL_SAFE
    } else {
        &base64::alphabet::STANDARD
    };
    base64::engine::GeneralPurpose::new(alphabet, config)
        .decode(s)
        .map_err(|e| format!("invalid base64 bytes: {e}"))
}

/// An integer of type `T` from a JSON number or string.
struct Int<T>(T);

impl<'de, T: TryFrom<i128>> Deserialize<'de> for Int<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntVisitor(std::marker::PhantomData))
    }
}

struct IntVisitor<T>(std::marker::PhantomData<T>);

impl<T: TryFrom<i128>> IntVisitor<T> {
    fn fit<E: de::Error>(v: i128) -> Result<Int<T>, E> {
        T::try_from(v)
            .map(Int)
            .map_err(|_| E::custom(format!("integer {v} is out of range for its field")))
    }
}

impl<T: TryFrom<i128>> Visitor<'_> for IntVisitor<T> {
    type Value = Int<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer (number or string)")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::fit(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // proto3 JSON allows an integral float (`1.0`, `1e3`).
        if v.fract() == 0.0 && v.abs() < 1.8e19 {
            return Self::fit(v as i128);
        }
        Err(E::custom(format!("{v} is not an integer")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v.parse::<i128>() {
            Ok(i) => Self::fit(i),
            Err(_) => match v.parse::<f64>() {
                Ok(f) => self.visit_f64(f),
                Err(_) => Err(E::custom(format!("{v:?} is not an integer"))),
            },
        }
    }
}

/// A double from a JSON number or string (`"NaN"`, `"Infinity"`, `"-Infinity"`, `"1.5"`).
struct Double(f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(f) => Ok(Double(f)),
            Raw::Str(s) => s
                .parse::<f64>()
                .map(Double)
                .map_err(|_| de::Error::custom(format!("{s:?} is not a number"))),
        }
    }
}

/// Base64 bytes.
struct Base64(Vec<u8>);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        decode_base64(&s).map(Base64).map_err(de::Error::custom)
    }
}

/// `AnyValue` in JSON: an object with (at most) one of the oneof's fields.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct AnyValueJson {
    string_value: Option<String>,
    bool_value: Option<bool>,
    int_value: Option<Int<i64>>,
    double_value: Option<Double>,
    array_value: Option<ArrayValue>,
    kvlist_value: Option<KeyValueList>,
    bytes_value: Option<Base64>,
    string_value_strindex: Option<Int<i32>>,
}

impl From<AnyValueJson> for AnyValue {
    fn from(j: AnyValueJson) -> Self {
        let value = if let Some(s) = j.string_value {
            Some(Value::StringValue(s))
        } else if let Some(b) = j.bool_value {
            Some(Value::BoolValue(b))
        } else if let Some(i) = j.int_value {
            Some(Value::IntValue(i.0))
        } else if let Some(d) = j.double_value {
            Some(Value::DoubleValue(d.0))
        } else if let Some(a) = j.array_value {
            Some(Value::ArrayValue(a))
        } else if let Some(kv) = j.kvlist_value {
            Some(Value::KvlistValue(kv))
        } else if let Some(b) = j.bytes_value {
            Some(Value::BytesValue(b.0))
        } else {
            j.string_value_strindex
                .map(|i| Value::StringValueStrindex(i.0))
        };
        AnyValue { value }
    }
}

/// Renders `value` as a string: strings as they are (`strindex` resolves string indexes),
/// numbers and booleans as Rust prints them, bytes in base64, arrays and key-value lists as
/// JSON. The nesting is bounded by the parsers (prost: 100 levels, serde_json: 128).
pub(super) fn render_value(value: &Value, strindex: &dyn Fn(i32) -> Option<String>) -> String {
    match value {
        Value::StringValue(s) => s.clone(),
        Value::StringValueStrindex(i) => strindex(*i).unwrap_or_default(),
        Value::BoolValue(b) => b.to_string(),
        Value::IntValue(i) => i.to_string(),
        Value::DoubleValue(d) => d.to_string(),
        Value::BytesValue(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Value::ArrayValue(_) | Value::KvlistValue(_) => {
            serde_json::to_string(&to_json(value, strindex)).unwrap_or_default()
        }
    }
}

fn to_json(value: &Value, strindex: &dyn Fn(i32) -> Option<String>) -> serde_json::Value {
    use serde_json::Value as J;
    let any = |v: Option<&AnyValue>| {
        v.and_then(|a| a.value.as_ref())
            .map_or(J::Null, |v| to_json(v, strindex))
    };
    match value {
        Value::StringValue(s) => J::String(s.clone()),
        Value::StringValueStrindex(i) => J::String(strindex(*i).unwrap_or_default()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(d) => J::from(*d),
        Value::BytesValue(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::ArrayValue(a) => J::Array(a.values.iter().map(|v| any(Some(v))).collect()),
        Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|pair| (pair.key.clone(), any(pair.value.as_ref())))
                .collect(),
        ),
    }
}
