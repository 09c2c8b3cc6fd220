//! Query results as bytes, one batch at a time: JSON (an array of row objects), CSV, or
//! an Arrow IPC stream. Each [`Encoder`] call returns the bytes to send next, so a
//! response can stream without holding the whole result.

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use std::sync::Arc;

/// An output format of SQL results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// `[{"col": value, ...}, ...]`.
    Json,
    /// Comma-separated values with a header line.
    Csv,
    /// Arrow IPC stream format.
    Arrow,
}

impl ResultFormat {
    /// The format named by `?format=`.
    pub fn from_name(name: &str) -> Option<ResultFormat> {
        match name {
            "json" => Some(ResultFormat::Json),
            "csv" => Some(ResultFormat::Csv),
            "arrow" => Some(ResultFormat::Arrow),
            _ => None,
        }
    }

    /// The format an `Accept` header asks for (`None`: nothing we produce is named, or
    /// any is fine; the caller picks JSON).
    pub fn from_accept(accept: &str) -> Option<ResultFormat> {
        accept
            .split(',')
            .map(|m| m.split(';').next().unwrap_or("").trim())
            .find_map(|m| match m {
                "application/json" => Some(ResultFormat::Json),
                "text/csv" => Some(ResultFormat::Csv),
                "application/vnd.apache.arrow.stream" => Some(ResultFormat::Arrow),
                _ => None,
            })
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Json => "application/json",
            ResultFormat::Csv => "text/csv; charset=utf-8",
            ResultFormat::Arrow => "application/vnd.apache.arrow.stream",
        }
    }

    /// Why this format cannot hold `schema` (CSV holds flat values only).
    pub fn check(self, schema: &Schema) -> Result<(), String> {
        if self != ResultFormat::Csv {
            return Ok(());
        }
        match schema.fields().iter().find(|f| f.data_type().is_nested()) {
            Some(f) => Err(format!(
                "column {:?} is of type {}, which CSV cannot hold: select flat values \
                 (labels['name'] instead of labels) or ask for format=json or arrow",
                f.name(),
                f.data_type()
            )),
            None => Ok(()),
        }
    }
}

/// Turns batches into the bytes of one format.
pub struct Encoder {
    rows: usize,
    csv_started: bool,
    ipc: Option<arrow::ipc::writer::StreamWriter<Vec<u8>>>,
    json: Option<arrow::json::Writer<Vec<u8>, arrow::json::writer::JsonArray>>,
}

impl Encoder {
    /// An encoder of results with `schema`.
    pub fn new(format: ResultFormat, schema: &SchemaRef) -> Result<Self, ArrowError> {
        let ipc = match format {
            ResultFormat::Arrow => Some(arrow::ipc::writer::StreamWriter::try_new(
                Vec::new(),
                schema,
            )?),
            _ => None,
        };
        let json = (format == ResultFormat::Json).then(|| {
            arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build(Vec::new())
        });
        Ok(Encoder {
            rows: 0,
            csv_started: false,
            ipc,
            json,
        })
    }

    /// Rows encoded so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The bytes for `batch` (for the first call, with whatever precedes the rows).
    pub fn batch(&mut self, batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
        self.rows += batch.num_rows();
        if let Some(w) = &mut self.ipc {
            w.write(batch)?;
            return Ok(std::mem::take(w.get_mut()));
        }
        let flat = plain_batch(batch)?;
        if let Some(w) = &mut self.json {
            w.write(&flat)?;
            return Ok(std::mem::take(w.get_mut()));
        }
        let mut out = Vec::new();
        arrow::csv::WriterBuilder::new()
            .with_header(!self.csv_started)
            .build(&mut out)
            .write(&flat)?;
        self.csv_started = true;
        Ok(out)
    }

    /// The bytes that end the output (`]`, the IPC end marker, or the CSV header when no
    /// batch came).
    pub fn finish(&mut self, schema: &SchemaRef) -> Result<Vec<u8>, ArrowError> {
        if let Some(w) = &mut self.ipc {
            w.finish()?;
            return Ok(std::mem::take(w.get_mut()));
        }
        if let Some(w) = &mut self.json {
            w.finish()?;
            return Ok(std::mem::take(w.get_mut()));
        }
        if !self.csv_started {
            // A header line even without rows.
            return self.batch(&RecordBatch::new_empty(schema.clone()));
        }
        Ok(Vec::new())
    }
}

/// `batch` with dictionary columns decoded to their values (JSON and CSV writers print
/// values, not keys).
fn plain_batch(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    if !batch
        .schema_ref()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Dictionary(..)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema_ref().fields().iter().zip(batch.columns()) {
        match f.data_type() {
            DataType::Dictionary(_, value) => {
                columns.push(arrow::compute::cast(c, value)?);
                fields.push(Field::new(f.name(), value.as_ref().clone(), true));
            }
            _ => {
                columns.push(c.clone());
                fields.push(f.as_ref().clone());
            }
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow::array::{DictionaryArray, Int64Array, StringArray};
    use arrow::datatypes::UInt16Type;

    fn batch() -> RecordBatch {
        let app: DictionaryArray<UInt16Type> = vec!["a", "b", "a"].into_iter().collect();
        RecordBatch::try_from_iter([
            ("app", Arc::new(app) as ArrayRef),
            ("v", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("x,y"), None, Some("z")])) as ArrayRef,
            ),
        ])
        .unwrap()
    }

    fn encode(format: ResultFormat, batches: &[RecordBatch]) -> Vec<u8> {
        let schema = batch().schema();
        let mut e = Encoder::new(format, &schema).unwrap();
        let mut out = Vec::new();
        for b in batches {
            out.extend(e.batch(b).unwrap());
        }
        out.extend(e.finish(&schema).unwrap());
        out
    }

    #[test]
    fn json_is_one_array_over_batches() {
        let out = encode(ResultFormat::Json, &[batch(), batch()]);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 6);
        assert_eq!(v[1], serde_json::json!({"app": "b", "v": 2, "s": null}));
        assert_eq!(encode(ResultFormat::Json, &[]), b"[]");
    }

    #[test]
    fn csv_has_one_header() {
        let out = String::from_utf8(encode(ResultFormat::Csv, &[batch(), batch()])).unwrap();
        assert_eq!(out.lines().count(), 7, "{out}");
        assert!(out.starts_with("app,v,s\na,1,\"x,y\"\n"), "{out}");
        assert_eq!(
            String::from_utf8(encode(ResultFormat::Csv, &[])).unwrap(),
            "app,v,s\n"
        );
    }

    #[test]
    fn arrow_stream_reads_back() {
        let out = encode(ResultFormat::Arrow, &[batch(), batch()]);
        let r = arrow::ipc::reader::StreamReader::try_new(out.as_slice(), None).unwrap();
        let rows: usize = r.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 6);
    }

    #[test]
    fn formats_from_accept_and_name() {
        assert_eq!(
            ResultFormat::from_accept("text/csv;q=0.9, */*"),
            Some(ResultFormat::Csv)
        );
        assert_eq!(ResultFormat::from_accept("*/*"), None);
        assert_eq!(ResultFormat::from_name("arrow"), Some(ResultFormat::Arrow));
        assert_eq!(ResultFormat::from_name("xml"), None);
    }
}
