//! The store: the write path (decode, WAL, head), flushing heads to blocks, the catalog,
//! and start-up replay.
//!
//! ```text
//!  append(request) ─► decode + validate ─► ingest thread: WAL append + fdatasync (batched)
//!                                               │ then, in sequence order
//!                                               ▼
//!                                        heads[partition].append ─► ack
//!  flusher (every second): head over size or age ─► normalize ─► block files ─► meta.json
//!                          then delete WAL segments whose records are all in blocks
//! ```
//!
//! Exactly once: a flushed block records `(writer id, first seq, last seq)` of the WAL
//! records it holds, and heads are applied in sequence order, so a partition's block holds
//! every record of that partition in its range. On start-up the log is replayed, skipping
//! for each partition the records whose seq a range of its blocks holds.
//!
//! - `replay.rs`: [`Store::open`], which replays the WAL into heads.
//! - `ingest.rs`: [`Store::append_batch`] and the ingest thread: WAL append, then heads.
//! - `flush.rs`: [`Store::flush_due`]: heads taken as pending blocks, written, then the
//!   WAL truncated.
//! - `decode.rs`: decoding a record, its series labels and partition.
//! - `data_dir.rs`: [`DataDir`], the layout of a local data directory.
//! - this file: the settings and reports, the state all clones of a [`Store`] share, and
//!   its read side (blocks, catalog).

mod data_dir;
mod decode;
mod flush;
mod ingest;
mod replay;

pub use data_dir::DataDir;

use crate::block;
use crate::catalog::{BlockInfo, Catalog, PartitionFilter};
use crate::head::{AppendOptions, AppendStats, Head};
use crate::wal::Wal;
use crate::{BlockData, BlockMeta, BlockPath, Error, PartitionKey, Result};
use flamedb_profile::{DecodeLimits, LocationCache};
use flush::PendingBlock;
use hashbrown::HashMap;
use ingest::Job;
use object_store::ObjectStore;
use object_store::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Store settings (the server maps its flags and environment onto this).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Directory of the write-ahead log (local disk). Default `./data/wal`.
    pub wal_dir: PathBuf,
    /// WAL segment size before rotation. Default 64 MiB.
    pub wal_segment_bytes: u64,
    /// A head is flushed when it holds about this many bytes. Default 64 MiB.
    pub flush_bytes: usize,
    /// A head is flushed when its first profile is this old. Default 60 s.
    pub flush_age: Duration,
    /// How profiles become rows.
    pub append: AppendOptions,
    /// Bounds on decoding ingested profiles.
    pub decode: DecodeLimits,
    /// Most profiles waiting in one WAL batch. Default 512.
    pub max_batch: usize,
    /// How blocks are written (flush and compaction).
    pub write: crate::block::WriteOptions,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            wal_dir: PathBuf::from("data/wal"),
            wal_segment_bytes: 64 << 20,
            flush_bytes: 64 << 20,
            flush_age: Duration::from_secs(60),
            append: AppendOptions::default(),
            decode: DecodeLimits::default(),
            max_batch: 512,
            write: crate::block::WriteOptions::default(),
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReceipt {
    /// WAL sequence number of the profile.
    pub seq: u64,
    /// Samples in the decoded profile.
    pub samples: u64,
    /// Rows and profile rows added.
    pub stats: AppendStats,
}

/// What start-up replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records applied to heads.
    pub applied: u64,
    /// Records skipped because blocks already hold them.
    pub skipped: u64,
    /// Records that failed to decode or apply (logged).
    pub failed: u64,
    /// Of those, records moved to the log's quarantine directory (see
    /// [`crate::wal::Wal::quarantine`]).
    pub quarantined: u64,
    /// Bytes of a torn last record dropped.
    pub torn_bytes: u64,
}

struct Inner {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    config: StoreConfig,
    heads: Mutex<HashMap<PartitionKey, Head>>,
    /// The [`Head::location_cache`] of each head, for the decoding threads (who must not
    /// wait for `heads`, which the ingest thread holds while it applies a batch).
    location_caches: Mutex<HashMap<PartitionKey, Arc<LocationCache>>>,
    /// Blocks taken from heads but not yet written: (key, data, first seq, last seq).
    pending: Mutex<Vec<PendingBlock>>,
    wal: Mutex<Wal>,
    writer_id: String,
    /// Records quarantined at start-up.
    quarantined: std::sync::atomic::AtomicU64,
    catalog: Catalog,
    flush_lock: tokio::sync::Mutex<()>,
}

/// The store. Cheap to clone; all clones share one WAL and one set of heads.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    jobs: mpsc::SyncSender<Job>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("root", &self.inner.root)
            .finish()
    }
}

impl Store {
    /// The object store and root prefix the blocks live under.
    pub fn objects(&self) -> (&Arc<dyn ObjectStore>, &Path) {
        (&self.inner.objects, &self.inner.root)
    }

    /// Write-ahead log records quarantined when this store was opened.
    pub fn quarantined_records(&self) -> u64 {
        self.inner
            .quarantined
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The settings.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// The complete, current blocks of `tenant` matching `filter`.
    pub async fn blocks(&self, tenant: &str, filter: &PartitionFilter) -> Result<Vec<BlockInfo>> {
        self.inner
            .catalog
            .blocks(
                self.inner.objects.as_ref(),
                &self.inner.root,
                tenant,
                filter,
            )
            .await
    }

    /// The blocks to read for a query that can use time buckets of `resolution_nanos`:
    /// rollups where they cover a partition, raw blocks elsewhere (see
    /// [`Catalog::blocks_at_resolution`]).
    pub async fn blocks_at_resolution(
        &self,
        tenant: &str,
        filter: &PartitionFilter,
        resolution_nanos: u64,
    ) -> Result<Vec<BlockInfo>> {
        self.inner
            .catalog
            .blocks_at_resolution(
                self.inner.objects.as_ref(),
                &self.inner.root,
                tenant,
                filter,
                resolution_nanos,
            )
            .await
    }

    /// Reads a whole block.
    pub async fn read_block(&self, block: &BlockPath) -> Result<(BlockMeta, BlockData)> {
        block::read_block(self.inner.objects.as_ref(), &self.inner.root, block).await
    }

    /// The catalog (shared metadata cache).
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn poisoned<T>(_: T) -> Error {
    Error::Closed("a store lock was poisoned by a panic".into())
}
