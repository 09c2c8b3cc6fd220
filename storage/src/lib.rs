//! The flamedb store: profiles in, deduplicated stacks and Parquet sample columns out.
//!
//! (Crate tour and data-flow diagram: see the end of this crate's development; the modules
//! below are documented individually.)

pub mod block;
pub mod catalog;
pub mod compact;
pub mod container;
pub mod dict;
pub mod error;
pub mod head;
pub mod index;
pub mod labels;
pub mod meta;
pub mod object;
pub mod path;
pub mod rows;
pub mod schema;
pub mod store;
pub mod wal;

pub use catalog::{BlockInfo, PartitionFilter};
pub use compact::{CompactionConfig, MaintenanceReport};
pub use error::{Error, Result};
pub use head::AppendOptions;
pub use index::FunctionIndex;
pub use labels::{LabelLimits, Labels};
pub use meta::{BlockMeta, SampleType, WalRange};
pub use object::ObjectStoreConfig;
pub use path::{BlockFile, BlockPath, PartitionKey};
pub use rows::{BlockData, ProfileRows, SampleRows};
pub use store::{AppendReceipt, ReplayReport, Store, StoreConfig};
pub use wal::WalRecord;
