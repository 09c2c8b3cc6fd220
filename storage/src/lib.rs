//! The flamedb store: profiles in, deduplicated stacks and Parquet sample columns out.
//!
//! (Crate tour and data-flow diagram: see the end of this crate's development; the modules
//! below are documented individually.)

pub mod container;
pub mod dict;
pub mod error;
pub mod path;

pub use error::{Error, Result};
pub use path::{BlockFile, BlockPath, PartitionKey};
