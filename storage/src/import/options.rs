//! [`ImportOptions`], how tables are read and blocks cut, and [`ImportReport`], what an
//! import did.

use super::ids::Hash128;
use crate::{LabelLimits, SampleType};

/// How tables are read and blocks cut.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The sample type of the value column (for example `cpu` / `nanoseconds`).
    pub sample_type: SampleType,
    /// Sampling period of the profiles (0 = unknown). Default 0.
    pub period: i64,
    /// Duration of each profile in ns (0 = unknown). Default 0.
    pub duration_nanos: i64,
    /// Time column. Default `ts`.
    pub time_column: String,
    /// Value column. Default `value`.
    pub value_column: String,
    /// Stack id column (refers to the stacks table). Default `stack_id`.
    pub stack_id_column: String,
    /// Folded stack column (instead of a stack id). Default `stack`.
    pub stack_column: String,
    /// Columns that are neither read nor labels.
    pub ignore_columns: Vec<String>,
    /// Most rows in one block; a partition with more gets several. Default 8 Mi.
    pub max_block_rows: usize,
    /// Most rows one file's open blocks hold together; past it the largest is cut.
    /// Default 16 Mi.
    pub max_buffered_rows: usize,
    /// Deepest stack accepted. Default 4096.
    pub max_stack_depth: usize,
    /// Limits on series labels.
    pub label_limits: LabelLimits,
    /// Files imported at once (0 = one per core). Default 0.
    pub threads: usize,
    /// Rows per batch read from Parquet. Default 65,536.
    pub batch_rows: usize,
    /// Most input rows of the whole import (0 = no limit). Default 0.
    pub max_input_rows: u64,
}

impl ImportOptions {
    /// A hash of what decides the blocks' contents and cuts (not of limits that only
    /// accept or refuse, nor of threads and batch size).
    pub(super) fn shape_hash(&self) -> u128 {
        let mut h = Hash128::new();
        let mut text = |s: &str| {
            h.write(&(s.len() as u64).to_le_bytes());
            h.write(s.as_bytes());
        };
        for s in [
            &self.sample_type.kind,
            &self.sample_type.unit,
            &self.time_column,
            &self.value_column,
            &self.stack_id_column,
            &self.stack_column,
        ] {
            text(s);
        }
        let mut ignored = self.ignore_columns.clone();
        ignored.sort();
        for s in &ignored {
            text(s);
        }
        for n in [
            self.period,
            self.duration_nanos,
            self.max_block_rows as i64,
            self.max_buffered_rows as i64,
        ] {
            h.write(&n.to_le_bytes());
        }
        h.finish()
    }
}

impl ImportOptions {
    /// Options for values of `sample_type`, the rest defaults.
    pub fn new(sample_type: SampleType) -> Self {
        ImportOptions {
            sample_type,
            period: 0,
            duration_nanos: 0,
            time_column: "ts".into(),
            value_column: "value".into(),
            stack_id_column: "stack_id".into(),
            stack_column: "stack".into(),
            ignore_columns: Vec::new(),
            max_block_rows: 8 << 20,
            max_buffered_rows: 16 << 20,
            max_stack_depth: 4096,
            label_limits: LabelLimits::default(),
            threads: 0,
            batch_rows: 1 << 16,
            max_input_rows: 0,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Files read.
    pub files: u64,
    /// Input rows read (zero and null values included).
    pub input_rows: u64,
    /// Sample rows stored (rows of one profile and stack summed, zeros dropped).
    pub rows: u64,
    /// Profile rows stored.
    pub profiles: u64,
    /// Blocks written.
    pub blocks: u64,
    /// Blocks already complete from an earlier run of the same import, not written again.
    pub blocks_skipped: u64,
}

impl ImportReport {
    pub(super) fn add(&mut self, o: &ImportReport) {
        self.files += o.files;
        self.input_rows += o.input_rows;
        self.rows += o.rows;
        self.profiles += o.profiles;
        self.blocks += o.blocks;
        self.blocks_skipped += o.blocks_skipped;
    }
}
