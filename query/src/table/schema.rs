//! The SQL schemas of the `samples` and `profiles` tables.
//!
//! Dimension columns constant per block or per profile (`app`, `version`, `dc`,
//! `sample_type`, `sample_unit`) are `Dictionary(UInt16, Utf8)`, two bytes per row, the
//! same representation DataFusion gives partition columns. `labels` is a map of label name
//! to value, built only when projected; `labels['pod']` reads one label. `stack` is the
//! [`crate::stack_key`] of the sample's call path.

use arrow::array::{MapBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, LazyLock};

/// `Dictionary(UInt16, Utf8)`.
pub fn dim_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8))
}

/// `Timestamp(ns, "UTC")`.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The labels map type, exactly as [`MapBuilder`] with string keys and values builds it.
pub fn labels_type() -> DataType {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    arrow::array::Array::data_type(&b.finish()).clone()
}

/// A column of a flamedb table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Col {
    /// Profile (or sample) time.
    Time,
    /// Profile duration in ns (`profiles` only).
    Duration,
    /// Application.
    App,
    /// Version.
    Version,
    /// Data center.
    Dc,
    /// Sample type (`cpu`, `alloc_space`, ...).
    SampleType,
    /// Unit of the sample type.
    SampleUnit,
    /// Series labels.
    Labels,
    /// Stack key (`samples` only).
    Stack,
    /// Sample value (`samples` only).
    Value,
    /// Sampling period (`profiles` only).
    Period,
    /// Profile total (`profiles` only).
    Total,
    /// Distinct stacks of the profile (`profiles` only).
    Stacks,
}

impl Col {
    /// The column's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Col::Time => "time",
            Col::Duration => "duration_nanos",
            Col::App => "app",
            Col::Version => "version",
            Col::Dc => "dc",
            Col::SampleType => "sample_type",
            Col::SampleUnit => "sample_unit",
            Col::Labels => "labels",
            Col::Stack => "stack",
            Col::Value => "value",
            Col::Period => "period",
            Col::Total => "total",
            Col::Stacks => "stacks",
        }
    }

    fn field(self) -> Field {
        let t = match self {
            Col::Time => time_type(),
            Col::App | Col::Version | Col::Dc | Col::SampleType | Col::SampleUnit => dim_type(),
            Col::Labels => labels_type(),
            Col::Stack => DataType::UInt64,
            Col::Stacks => DataType::UInt32,
            Col::Duration | Col::Value | Col::Period | Col::Total => DataType::Int64,
        };
        Field::new(self.name(), t, false)
    }
}

/// The two tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TableKind {
    /// One row per (profile, stack, sample type).
    Samples,
    /// One row per ingested profile and sample type.
    Profiles,
}

impl TableKind {
    /// The table's columns in schema order.
    pub fn columns(self) -> &'static [Col] {
        use Col::*;
        match self {
            TableKind::Samples => &[
                Time, App, Version, Dc, SampleType, SampleUnit, Labels, Stack, Value,
            ],
            TableKind::Profiles => &[
                Time, Duration, App, Version, Dc, SampleType, SampleUnit, Labels, Period, Total,
                Stacks,
            ],
        }
    }

    /// The table's Arrow schema.
    pub fn schema(self) -> SchemaRef {
        static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| build(TableKind::Samples));
        static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| build(TableKind::Profiles));
        match self {
            TableKind::Samples => SAMPLES.clone(),
            TableKind::Profiles => PROFILES.clone(),
        }
    }

    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Samples => "samples",
            TableKind::Profiles => "profiles",
        }
    }
}

fn build(kind: TableKind) -> SchemaRef {
    Arc::new(Schema::new(
        kind.columns().iter().map(|c| c.field()).collect::<Vec<_>>(),
    ))
}
