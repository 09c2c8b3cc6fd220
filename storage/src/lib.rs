//! The flamedb store: profiles in, deduplicated stacks and Parquet sample columns out.
//!
//! ```text
//!  append(tenant, labels, bytes) ─► decode (profile crate) ─► WAL (fsync, group commit)
//!        │                                                      │ in sequence order
//!        ▼                                                      ▼
//!   400 on bad input                         Head per partition (app, version, dc, day):
//!                                            Symbols (dictionary) + series + rows
//!                                                      │ flush: size / age / shutdown
//!                                                      ▼
//!  {root}/{tenant}/app=/version=/dc=/date=/{block}/  samples.parquet  profiles.parquet
//!                                                    series.parquet   symbols.bin
//!                                                    meta.json (written last)
//!        ▲                                                      │
//!   Catalog (list + meta cache, skips superseded) ◄── compaction merges a partition's
//!                                                     blocks; GC and retention delete
//! ```
//!
//! # Design
//!
//! **Dictionary.** Strings, mappings, functions, locations and stacks are interned in
//! [`flamedb_profile::Symbols`]; stacks form a parent-pointer tree (node = parent +
//! location; a stack id is a node index), so a stack shared by a million samples is stored
//! once and prefixes are shared. Dictionaries are scoped **per block**: every head has its
//! own, so concurrent writers (heads, processes, machines) never coordinate, and a block
//! is self-contained (readable, movable and deletable alone). The cost is repetition across
//! blocks, which compaction removes within a partition: [`rows::BlockData::merge`] imports
//! each block's symbols into a fresh dictionary with id remapping
//! ([`flamedb_profile::Remap`], one lookup per distinct item), and
//! [`rows::BlockData::normalize`] rewrites the tree in depth-first pre-order with only the
//! stacks in use. Pre-order gives two things: every subtree is a contiguous id range (so
//! "stacks containing F" is a few id ranges, which [`index`] can build as roaring runs;
//! the query engine's stack predicates use a per-dictionary node mask instead) and the rows
//! of one subtree sort together. Within a partition of a day the dictionary is stored once.
//!
//! Across partitions (an app's versions and data centers) it repeated: on the medium
//! bench fleet the per-block dictionaries were a quarter of the bytes. So the compactor
//! gives the blocks of one **(tenant, app, day)** a **shared dictionary** ([`share`]):
//! once the day has settled ([`CompactionConfig::share_after`]) it merges the
//! dictionaries of the app's current blocks of that day (only the stacks in use, then
//! depth-first, so containment stays runs), writes it once as its own object
//! ([`DictPath`]: `{tenant}/app=/date=/dict/{id}/symbols.bin`, at a higher zstd level:
//! written in the background, read by many blocks), and rewrites every block of the app
//! and day with stack ids into it; the new blocks name the dictionary in `meta.json`
//! (`shared_symbols`, format version 2) and replace the old ones through `sources`, as a
//! compaction does, so readers count every sample once throughout. Choices and costs:
//! - Writers keep per-block dictionaries: heads on different machines never coordinate,
//!   and the shared dictionary is immutable (a new one per pass, garbage collected when
//!   no block refers to it), so no reader ever sees a dictionary change under it.
//! - Scope app x day: one app's versions and data centers share code, other apps mostly
//!   do not (a tenant-wide dictionary would be loaded whole for one app's query), and a
//!   day bounds the dictionary's size and the rewrite of one pass.
//! - Cost: a pass rewrites the app's blocks of the day (samples re-sorted by their new
//!   stack ids; profiles and series copied), so it runs once the day is quiet rather
//!   than after every flush; a block flushed later has its own dictionary until the
//!   next pass. A block is no longer self-contained: it needs its shared dictionary
//!   (a missing one is [`Error::MissingDictionary`], naming the block).
//! - Readers cache dictionaries by where they live ([`DictOwner`]), so the blocks of an
//!   app and day load and hold one dictionary instead of one each.
//!
//! **Samples.** `profiles.parquet` holds one row per ingested profile, sample type and
//! series (sorted by those and time) with its pre-summed total, so totals over time never
//! read samples. `samples.parquet` holds `(profile, stack, value)`, `profile` being the
//! profile row's index, sorted by (sample type, series, stack, time): see [`rows`] for why
//! this order is ~3x smaller than time order. Series labels live in `series.parquet` (one
//! row per series, labels as a map), so 30 labels per series cost nothing per row; the
//! series of a label filter are contiguous ids because series are sorted by labels.
//!
//! **Durability.** [`wal`]: appended and fdatasynced before acknowledging, batched so one
//! fsync covers many concurrent appends; torn tails are dropped on open. The profiles of
//! one [`Store::append_batch`] are checked first and then form one WAL record, so they are
//! stored all or none, also across a crash. Heads are applied
//! in sequence order by one thread, and each block records the WAL range it holds, which
//! makes replay after a crash exactly-once ([`store`]). A block's `meta.json` is written
//! last with a create-only put: readers see whole blocks or nothing. HTTP object stores
//! retry transient failures (5xx, timeouts) with backoff inside `object_store`.
//!
//! **Formats carry versions**: `meta.json` (`format_version`: 1, or 2 for a block using a
//! shared dictionary), Parquet files
//! (`flamedb.format` key-value metadata), `symbols.bin` (container header),
//! WAL segments (header), change events (`events/{id}.json`, `format_version` 1) and the
//! object layout ([`path::LAYOUT_VERSION`]); readers reject
//! newer versions with [`Error::UnsupportedVersion`] and skip unknown sections.
//!
//! # Tour
//! - [`path`]: the only code that knows object paths (and [`docs::DocPath`] those of
//!   per-tenant JSON documents: events, findings). [`meta`]: `meta.json`.
//! - [`container`], [`dict`]: flamedb's own binary format. [`index`]: stack containment.
//! - [`schema`], [`block`]: Parquet tables; writing and reading (verified) blocks.
//! - [`rows`]: in-memory block data, normalisation and merging.
//! - [`head`], [`wal`], [`store`]: the write path and replay. [`catalog`]: listing blocks.
//! - [`compact`]: compaction, garbage collection, retention. [`share`]: shared
//!   dictionaries of an app and day.
//! - [`labels`]: series labels and their limits.
//! - [`docs`]: small JSON documents per tenant; [`events`]: change events (commits,
//!   flags, configs, deploys) beside the profiles.

pub mod block;
pub mod catalog;
pub mod compact;
pub mod container;
pub mod dict;
pub mod docs;
pub mod durable_local;
pub mod error;
pub mod events;
pub mod head;
pub mod import;
pub mod index;
pub mod labels;
pub mod meta;
pub mod object;
pub mod path;
pub mod rows;
pub mod schema;
pub mod share;
pub mod store;
pub mod wal;

pub use block::WriteOptions;
pub use catalog::{BlockInfo, PartitionFilter};
pub use compact::{CompactionConfig, MaintenanceReport};
pub use docs::{Document, Documents};
pub use error::{Error, Result};
pub use events::{ChangeEvent, EventKind, EventLog};
pub use head::AppendOptions;
pub use import::{ImportOptions, ImportReport, ImportSource, StackTable, Target};
pub use index::StackIndex;
pub use labels::{LabelLimits, Labels};
pub use meta::{BlockMeta, SampleType, SharedSymbols, WalRange};
pub use object::ObjectStoreConfig;
pub use path::{BlockFile, BlockPath, DictOwner, DictPath, PartitionKey};
pub use rows::{BlockData, ProfileRows, SampleRows};
pub use store::{AppendReceipt, DataDir, ReplayReport, Store, StoreConfig};
pub use wal::{WalEntry, WalRecord};
