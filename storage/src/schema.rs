//! Arrow schemas of the block Parquet files, and their format versions.
//!
//! Every file carries `flamedb.format = <table>/<version>` in its Parquet key-value
//! metadata; readers reject a version they do not know. Columns are only ever added.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, LazyLock};

/// Key of the format marker in Parquet key-value metadata.
pub const FORMAT_KEY: &str = "flamedb.format";
/// Version of the samples table.
pub const SAMPLES_VERSION: u32 = 1;
/// Version of the profiles table.
pub const PROFILES_VERSION: u32 = 1;
/// Version of the series table.
pub const SERIES_VERSION: u32 = 1;

/// Timestamps: nanoseconds, UTC.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// `samples.parquet`: `profile` is the row index in `profiles.parquet` (which gives the
/// sample type, series and time); rows are sorted by (sample type, series, stack, time).
pub static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("profile", DataType::UInt32, false),
        Field::new("stack_id", DataType::UInt32, false),
        Field::new("value", DataType::Int64, false),
    ]))
});

/// `profiles.parquet`: one row per ingested profile and sample type.
pub static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("sample_type", DataType::UInt16, false),
        Field::new("series_id", DataType::UInt32, false),
        Field::new("time", time_type(), false),
        Field::new("duration_nanos", DataType::Int64, false),
        Field::new("period", DataType::Int64, false),
        Field::new("total", DataType::Int64, false),
        Field::new("stacks", DataType::UInt32, false),
    ]))
});

/// The labels column type: `map<utf8, utf8>` (keys are written in sorted order, but the
/// type does not claim it, as Arrow's map builder does not).
pub fn labels_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(
                vec![
                    Field::new("keys", DataType::Utf8, false),
                    Field::new("values", DataType::Utf8, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    )
}

/// `series.parquet`: series id and its labels.
pub static SERIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt32, false),
        Field::new("labels", labels_type(), false),
    ]))
});
