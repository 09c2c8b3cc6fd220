//! flamedb's query engine: DataFusion tables over the store and SQL that knows what a
//! stack and a flame graph are.
//!
//! ```text
//!  SQL ─► DataFusion planner ─► filters classified (table::pushdown) ─► FlameScanExec
//!                                                                         │ per block:
//!     catalog listing pruned by app/version/dc/date ◄─────────────────────┤ profiles + series
//!     block metadata pruned by time and sample type                       │ profile-row mask
//!     dictionary (DictCache) ─► stack keys, stack_contains masks ◄────────┤ samples.parquet
//!                                                                         ▼
//!  aggregates (GROUP BY stack: u64 keys) ─► folded()/frames()/flamegraph() resolve distinct
//!  keys to frames through the dictionaries once, after aggregation
//! ```
//!
//! # Tour
//! - [`stack_key`]: the `stack` column, a content key of the call path valid across blocks.
//! - [`table`]: `samples` and `profiles` ([`table::FlameTable`]), pushdown, the scan.
//! - [`functions`]: the flame-graph functions, one per file.
//! - [`dicts`], [`context`]: dictionaries, the cache, key resolution; live resources.
//! - [`folded_text`]: the folded text of many stacks at once (`folded(stack)`).
//! - [`config`]: `flame.*` session settings and engine limits.
//! - [`session`]: a ready session for one tenant, and the read-only SQL options.
//! - [`sql_guard`]: the bound on expression depth, checked on SQL text before parsing.
//! - [`regress`]: regression analysis between two versions (where a change originates,
//!   normalised by unchanged work, Welch's test across replicates).

pub mod alloc;
pub mod api;
pub mod cache;
pub mod config;
pub mod context;
pub mod dicts;
pub mod folded_text;
pub mod functions;
pub mod regress;
pub mod session;
pub mod sql_guard;
pub mod stack_key;
pub mod sums;
pub mod table;

pub use api::{Selector, flame_tree};
pub use config::{FlameConfig, QueryConfig};
pub use context::FlameContext;
pub use session::{read_only, tenant_session};
