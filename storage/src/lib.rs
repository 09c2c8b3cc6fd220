//! The flamedb store: profiles in, deduplicated stacks and Parquet sample columns out.
//!
//! (Crate tour and data-flow diagram: see the end of this crate's development; the modules
//! below are documented individually.)

pub mod block;
pub mod container;
pub mod dict;
pub mod error;
pub mod index;
pub mod labels;
pub mod meta;
pub mod path;
pub mod rows;
pub mod schema;

pub use error::{Error, Result};
pub use index::FunctionIndex;
pub use labels::{LabelLimits, Labels};
pub use meta::{BlockMeta, SampleType};
pub use path::{BlockFile, BlockPath, PartitionKey};
pub use rows::{BlockData, ProfileRows, SampleRows};
