//! Writing and reading a block: its Parquet tables, dictionary and metadata.
//!
//! A block is written file by file, `meta.json` last and with a create-only put, so a reader
//! either sees a complete block or none. Reading verifies versions, lengths and every
//! reference (a sample's stack, series and sample type), so a damaged block gives an error
//! that names its file instead of a wrong answer.
//!
//! - `columns.rs`: [`WriteOptions`], the Parquet writer settings and each table's columns.
//! - `write.rs`: [`write_block`] and its variants.
//! - `read.rs`: metadata, dictionary, profile and series tables, whole verified blocks.
//! - `samples.rs`: `samples.parquet`, whole or the rows and columns of a [`SampleRead`].
//! - `writing.rs`: the gate block writes hold shared and the garbage collector's deletion
//!   of incomplete blocks holds exclusively, so no block is deleted under its writer.

mod columns;
mod read;
mod samples;
mod write;
mod writing;

pub use columns::{ROW_GROUP_ROWS, WriteOptions};
pub use read::{read_block, read_meta, read_profiles, read_series, read_symbols};
pub use samples::{SampleRead, group_rows, read_samples, read_samples_with};
pub use write::{write_block, write_block_parts, write_block_with};
pub(crate) use writing::{Writing, exclusive_of_writers};
