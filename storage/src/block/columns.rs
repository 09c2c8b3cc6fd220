//! How a block's Parquet tables are encoded: [`WriteOptions`], the writer properties, and
//! each table's rows as Arrow columns turned into Parquet bytes.

use crate::rows::{ProfileRows, SampleRows};
use crate::schema::FORMAT_KEY;
use crate::{Error, Labels, Result};
use arrow::array::{
    ArrayRef, Int64Array, MapBuilder, RecordBatch, StringBuilder, TimestampNanosecondArray,
    UInt16Array, UInt32Array,
};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

/// Rows per Parquet row group of the samples table.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// How a block's Parquet tables are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// zstd level of the Parquet tables' pages, 1 to 22. Default 15.
    ///
    /// Measured on the medium bench fleet (36 blocks, 20.4 M rows; `cargo run --release
    /// --example bytes_study -- STORE`), `samples.parquet` in bytes per row and the
    /// seconds to encode all of it on one core: level 3 1.495 (0.7 s), 9 1.460 (1.6 s),
    /// 15 1.425 (3.1 s), 19 1.413 (5.8 s). The whole ingest of that fleet takes ~105 s of
    /// CPU, so level 15 costs ~2% of it for 5% fewer bytes.
    pub zstd_level: i32,
    /// Write the samples' `profile` column BYTE_STREAM_SPLIT instead of delta encoded:
    /// 0.90 instead of 0.98 bytes per row on the medium fleet, but ~1.8x the CPU to encode
    /// the samples table, so only the background writers (compaction, dictionary sharing)
    /// use it and a head's flush does not. Default false.
    pub profile_byte_stream_split: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            zstd_level: 15,
            profile_byte_stream_split: false,
        }
    }
}

impl WriteOptions {
    /// These options as the background writers (compaction, dictionary sharing) use them:
    /// smaller files for more CPU.
    pub fn for_compaction(self) -> Self {
        WriteOptions {
            profile_byte_stream_split: true,
            ..self
        }
    }
}

fn writer_props(format: String, level: ZstdLevel, split_profile: bool) -> WriterProperties {
    // Within a series, `stack_id` ascends (runs of one stack): delta encoding stores it in
    // a few bits per row, where a dictionary spends a whole index (measured on the medium
    // fleet: stack_id 1.9 -> 0.27 bytes per row). `profile` rises in small steps within a
    // run of a stack but jumps back at every run's start, which costs delta encoding wide
    // bit widths; split into byte streams, zstd finds the repetition of its bytes instead:
    // 0.98 -> 0.90 bytes per row on the medium fleet (`cargo run --release --example
    // bytes_study -- STORE`; PLAIN 1.17, dictionary 1.14, and storing a run's steps with
    // its start as a code column 0.85, not worth a schema change), for more CPU
    // ([`WriteOptions::profile_byte_stream_split`]).
    let profile_encoding = if split_profile {
        Encoding::BYTE_STREAM_SPLIT
    } else {
        Encoding::DELTA_BINARY_PACKED
    };
    WriterProperties::builder()
        .set_column_encoding(ColumnPath::from("profile"), profile_encoding)
        .set_column_dictionary_enabled(ColumnPath::from("profile"), false)
        .set_column_encoding(ColumnPath::from("stack_id"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("stack_id"), false)
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(20_000)
        .set_key_value_metadata(Some(vec![KeyValue::new(FORMAT_KEY.to_string(), format)]))
        .set_created_by(format!("flamedb {}", env!("CARGO_PKG_VERSION")))
        .build()
}

pub(super) fn parquet_bytes(
    path: &str,
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    format: String,
    opts: &WriteOptions,
) -> Result<Vec<u8>> {
    let level = ZstdLevel::try_new(opts.zstd_level).map_err(|e| {
        Error::Invalid(format!(
            "zstd level {} for block tables: {e}",
            opts.zstd_level
        ))
    })?;
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let pq = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        schema.clone(),
        Some(writer_props(format, level, opts.profile_byte_stream_split)),
    )
    .map_err(pq)?;
    w.write(&batch).map_err(pq)?;
    w.into_inner().map_err(pq)
}

pub(super) fn samples_columns(s: &SampleRows) -> Vec<ArrayRef> {
    vec![
        Arc::new(UInt32Array::from(s.profile.clone())),
        Arc::new(UInt32Array::from(s.stack.clone())),
        Arc::new(Int64Array::from(s.value.clone())),
    ]
}

pub(super) fn profiles_columns(p: &ProfileRows) -> Vec<ArrayRef> {
    vec![
        Arc::new(UInt16Array::from(p.sample_type.clone())),
        Arc::new(UInt32Array::from(p.series.clone())),
        Arc::new(TimestampNanosecondArray::from(p.time.clone()).with_timezone("UTC")),
        Arc::new(Int64Array::from(p.duration.clone())),
        Arc::new(Int64Array::from(p.period.clone())),
        Arc::new(Int64Array::from(p.total.clone())),
        Arc::new(UInt32Array::from(p.stacks.clone())),
    ]
}

pub(super) fn series_columns(series: &[Labels]) -> Result<Vec<ArrayRef>> {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for labels in series {
        for (k, v) in labels.pairs() {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        b.append(true)?;
    }
    let ids: Vec<u32> = (0..series.len() as u32).collect();
    Ok(vec![Arc::new(UInt32Array::from(ids)), Arc::new(b.finish())])
}
