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

use crate::block::{self, write_block_with};
use crate::catalog::{BlockInfo, Catalog, PartitionFilter};
use crate::head::{AppendOptions, AppendStats, Head};
use crate::wal::{Wal, WalEntry, WalRecord};
use crate::{BlockData, BlockMeta, BlockPath, Error, Labels, PartitionKey, Result};
use flamedb_profile::{DecodeLimits, DecodeOptions, LocationCache, LocationHints, Profile};
use hashbrown::HashMap;
use object_store::ObjectStore;
use object_store::path::Path;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::oneshot;

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

/// A decoded entry, ready for the WAL and its head.
struct Prepared {
    entry: WalEntry,
    profile: Profile,
    labels: Labels,
    key: PartitionKey,
    /// The profile's locations its head already had when it was decoded.
    hints: Option<LocationHints>,
}

/// One append request for the ingest thread: its entries go into one WAL record.
struct Job {
    entries: Vec<Prepared>,
    ack: oneshot::Sender<Result<Vec<(u64, AppendStats)>>>,
}

/// A head taken for flushing: partition, data, WAL range.
///
/// A taken head stays here, shared, until its block is complete: if the flush is cancelled
/// (its task aborted at shutdown) or fails, the data is still in memory and its WAL
/// segments are kept, and the next flush writes it again to the same block path (a
/// `meta.json` that already exists means an earlier attempt completed).
#[derive(Clone)]
struct PendingBlock {
    path: BlockPath,
    data: Arc<BlockData>,
    range: (u64, u64),
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
    /// Opens the store on `objects` below `root`: replays the WAL into heads and starts
    /// the ingest thread. Call [`Store::flush_due`] periodically (or
    /// [`Store::spawn_background`]) and [`Store::close`] at shutdown.
    pub async fn open(
        objects: Arc<dyn ObjectStore>,
        root: Path,
        config: StoreConfig,
    ) -> Result<(Store, ReplayReport)> {
        let (wal, replayed, open_report) = Wal::open(&config.wal_dir, config.wal_segment_bytes)?;
        let writer_id = wal.writer_id().to_string();
        let inner = Arc::new(Inner {
            objects,
            root,
            config,
            heads: Mutex::new(HashMap::new()),
            location_caches: Mutex::new(HashMap::new()),
            pending: Mutex::new(Vec::new()),
            wal: Mutex::new(wal),
            writer_id,
            quarantined: std::sync::atomic::AtomicU64::new(0),
            catalog: Catalog::default(),
            flush_lock: tokio::sync::Mutex::new(()),
        });
        let mut report = ReplayReport {
            torn_bytes: open_report.torn_bytes,
            ..ReplayReport::default()
        };
        // Replay: skip what blocks already hold; quarantine what can never be applied.
        let mut flushed: HashMap<PartitionKey, Vec<(u64, u64)>> = HashMap::new();
        for r in replayed {
            let prepared = prepare(&inner.config, &r.record, r.duration_nanos);
            let (profile, labels, key) = match prepared {
                Ok(p) => p,
                Err(e) => {
                    inner.quarantine(&r, &e, &mut report);
                    continue;
                }
            };
            if !flushed.contains_key(&key) {
                let ranges = inner.flushed_ranges(&key).await?;
                flushed.insert(key.clone(), ranges);
            }
            let in_a_block = flushed
                .get(&key)
                .is_some_and(|ranges| ranges.iter().any(|&(a, b)| (a..=b).contains(&r.seq)));
            if in_a_block {
                report.skipped += 1;
                continue;
            }
            let mut heads = inner.heads.lock().map_err(poisoned)?;
            let head = inner.head(&mut heads, &key);
            match head.append(
                r.seq,
                &labels,
                &profile,
                r.record.time_nanos,
                &inner.config.append,
            ) {
                Ok(_) => report.applied += 1,
                Err(e) => {
                    drop(heads);
                    inner.quarantine(&r, &e, &mut report);
                }
            }
        }
        let (tx, rx) = mpsc::sync_channel::<Job>(inner.config.max_batch * 4);
        let thread_inner = inner.clone();
        std::thread::Builder::new()
            .name("flamedb-ingest".into())
            .spawn(move || ingest_loop(&thread_inner, &rx))
            .map_err(|e| Error::io("ingest thread", e))?;
        Ok((Store { inner, jobs: tx }, report))
    }

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

    /// Decodes and validates a profile, writes it to the WAL (durably) and adds it to its
    /// partition's head. Returns once the profile is durable; bad input is rejected before
    /// anything is written.
    pub async fn append(&self, record: WalRecord) -> Result<AppendReceipt> {
        let mut receipts = self.append_batch(vec![record.into()]).await?;
        receipts
            .pop()
            .ok_or_else(|| Error::Closed("ingest thread returned no receipt".into()))
    }

    /// Appends several profiles all or nothing: every entry is decoded and validated
    /// first (the first bad one fails the call and nothing is written), then all go into
    /// one WAL record, so a crash keeps all of them or none. Returns once they are durable,
    /// one receipt per entry in order.
    ///
    /// Sample labels are checked against the label limits before the write too
    /// ([`crate::head::check_series`]), so adding the rows to heads afterwards does not
    /// fail on input; only a failed WAL write (nothing acknowledged) fails the call then.
    pub async fn append_batch(&self, entries: Vec<WalEntry>) -> Result<Vec<AppendReceipt>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        // Decoding is CPU work; keep it off the async workers.
        let inner = self.inner.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            entries
                .into_iter()
                .map(|mut entry| {
                    let (profile, labels, key) = prepare_new(&inner.config, &mut entry)?;
                    let cache = inner.location_cache(&key);
                    let hints = cache.map(|c| c.lookup(&profile.symbols));
                    Ok(Prepared {
                        entry,
                        profile,
                        labels,
                        key,
                        hints,
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map_err(|e| Error::Closed(format!("decode task: {e}")))??;
        let samples: Vec<u64> = prepared
            .iter()
            .map(|p| p.profile.samples.len() as u64)
            .collect();
        let (ack, done) = oneshot::channel();
        let job = Job {
            entries: prepared,
            ack,
        };
        // Queue without a thread hop when there is room (the usual case); only a full
        // queue waits, on a blocking thread.
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job).map_err(|_| ()))
                    .await
                    .map_err(|e| Error::Closed(format!("ingest queue: {e}")))?
                    .map_err(|_| Error::Closed("ingest thread stopped".into()))?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                return Err(Error::Closed("ingest thread stopped".into()));
            }
        }
        let applied = done
            .await
            .map_err(|_| Error::Closed("ingest thread stopped".into()))??;
        Ok(applied
            .into_iter()
            .zip(samples)
            .map(|((seq, stats), samples)| AppendReceipt {
                seq,
                samples,
                stats,
            })
            .collect())
    }

    /// Flushes heads that are over size or age (all non-empty heads when `force`), then
    /// deletes WAL segments whose records are all in blocks. Returns the blocks written.
    pub async fn flush_due(&self, force: bool) -> Result<Vec<BlockPath>> {
        let _one_at_a_time = self.inner.flush_lock.lock().await;
        let config = &self.inner.config;
        {
            let mut heads = self.inner.heads.lock().map_err(poisoned)?;
            let mut pending = self.inner.pending.lock().map_err(poisoned)?;
            for head in heads.values_mut() {
                let due = !head.is_empty()
                    && (force
                        || head.approx_bytes() >= config.flush_bytes
                        || head.since.elapsed() >= config.flush_age);
                if due {
                    let path = BlockPath::new(head.key.clone());
                    let (data, range) = head.take();
                    if let Some(range) = range {
                        pending.push(PendingBlock {
                            path,
                            data: Arc::new(data),
                            range,
                        });
                    }
                }
            }
            heads.retain(|_, h| !h.is_empty());
            // Taken heads were replaced (new caches) or dropped: so are their caches.
            let mut caches = self.inner.location_caches.lock().map_err(poisoned)?;
            caches.retain(|k, c| {
                heads
                    .get(k)
                    .is_some_and(|h| Arc::ptr_eq(h.location_cache(), c))
            });
        }
        // Work on copies of the entries; an entry leaves `pending` only once its block is
        // complete, so cancelling this future at any await point loses nothing.
        let work: Vec<PendingBlock> = self.inner.pending.lock().map_err(poisoned)?.clone();
        let mut written = Vec::new();
        let mut first_error = None;
        let mut n_failed = 0;
        // A partition's blocks are written in the order their heads were taken: once one
        // fails, later ones of that partition wait. Replay skips a partition's records at
        // or below the highest seq its blocks hold, which is right only if every earlier
        // record of the partition is in a block too.
        let mut failed: Vec<PartitionKey> = Vec::new();
        for p in work {
            if failed.contains(&p.path.partition) {
                n_failed += 1;
                continue;
            }
            match self.inner.write_head_block(&p).await {
                Ok(()) => {
                    self.inner
                        .pending
                        .lock()
                        .map_err(poisoned)?
                        .retain(|q| q.path != p.path);
                    written.push(p.path);
                }
                Err(e) => {
                    let key = &p.path.partition;
                    tracing::error!(partition = ?key, error = %e, "flush failed; will retry");
                    failed.push(key.clone());
                    first_error.get_or_insert_with(|| format!("{}/{}: {e}", key.app, key.version));
                    n_failed += 1;
                }
            }
        }
        self.inner.truncate_wal()?;
        if let Some(first) = first_error {
            return Err(Error::Closed(format!(
                "{n_failed} head(s) could not be flushed and stay in memory and in the WAL; first: {first}"
            )));
        }
        Ok(written)
    }

    /// Flushes everything (for shutdown and tests).
    pub async fn close(&self) -> Result<()> {
        self.flush_due(true).await.map(|_| ())
    }

    /// Spawns the periodic flusher on the current tokio runtime; it stops when the
    /// returned handle is aborted or dropped with the runtime.
    pub fn spawn_background(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = store.flush_due(false).await {
                    tracing::warn!(error = %e, "background flush");
                }
            }
        })
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

impl Inner {
    /// A replayed record that cannot be applied: logged, counted and kept in the log's
    /// quarantine, so it neither blocks start-up nor the flushes of other data.
    fn quarantine(&self, r: &crate::wal::Replayed, cause: &Error, report: &mut ReplayReport) {
        report.failed += 1;
        let kept = self
            .wal
            .lock()
            .map_err(poisoned)
            .and_then(|w| w.quarantine(r, &cause.to_string()));
        match kept {
            Ok(path) => {
                report.quarantined += 1;
                self.quarantined
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(seq = r.seq, error = %cause, quarantine = %path.display(), "WAL record cannot be applied; quarantined");
            }
            Err(e) => {
                tracing::error!(seq = r.seq, error = %cause, quarantine_error = %e, "WAL record cannot be applied, nor quarantined; skipped");
            }
        }
    }

    /// The WAL ranges of this writer that blocks of `key` hold (superseded blocks
    /// included). A record is skipped at replay only when a block's range holds its
    /// seq: a partition's blocks hold every record of the partition in their ranges, and
    /// a record in no range was never flushed, whatever later blocks hold.
    async fn flushed_ranges(&self, key: &PartitionKey) -> Result<Vec<(u64, u64)>> {
        let filter = PartitionFilter {
            apps: Some(vec![key.app.clone()]),
            versions: Some(vec![key.version.clone()]),
            dcs: Some(vec![key.dc.clone()]),
            dates: Some((key.date, key.date)),
        };
        let blocks = self
            .catalog
            .all_blocks(self.objects.as_ref(), &self.root, &key.tenant, &filter)
            .await?;
        Ok(blocks
            .iter()
            .filter(|b| b.path.partition == *key)
            .flat_map(|b| b.meta.wal.iter())
            .filter(|w| w.writer == self.writer_id)
            .map(|w| (w.first, w.last))
            .collect())
    }

    /// Writes a pending head's block; an existing `meta.json` at its path means an earlier,
    /// cancelled attempt completed it.
    async fn write_head_block(&self, p: &PendingBlock) -> Result<()> {
        let data = p.data.clone();
        let normalized = tokio::task::spawn_blocking(move || data.normalize())
            .await
            .map_err(|e| Error::Closed(format!("normalize task: {e}")))?;
        let meta = BlockMeta {
            wal: vec![crate::meta::WalRange {
                writer: self.writer_id.clone(),
                first: p.range.0,
                last: p.range.1,
            }],
            created_nanos: now_nanos(),
            ..BlockMeta::empty()
        };
        match write_block_with(
            self.objects.as_ref(),
            &self.root,
            &p.path,
            &normalized,
            meta,
            &self.config.write,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(Error::ObjectStore(object_store::Error::AlreadyExists { .. })) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes WAL segments below the oldest record still only in memory.
    /// The head of `key` in `heads` (locked by the caller), created (and its location
    /// cache published to the decoding threads) if there is none.
    fn head<'a>(
        &self,
        heads: &'a mut HashMap<PartitionKey, Head>,
        key: &PartitionKey,
    ) -> &'a mut Head {
        heads.entry(key.clone()).or_insert_with(|| {
            let head = Head::new(key.clone());
            if let Ok(mut caches) = self.location_caches.lock() {
                caches.insert(key.clone(), head.location_cache().clone());
            }
            head
        })
    }

    /// The location cache of the head of `key`, if there is one.
    fn location_cache(&self, key: &PartitionKey) -> Option<Arc<LocationCache>> {
        self.location_caches.lock().ok()?.get(key).cloned()
    }

    fn truncate_wal(&self) -> Result<()> {
        let heads = self.heads.lock().map_err(poisoned)?;
        let pending = self.pending.lock().map_err(poisoned)?;
        let mut wal = self.wal.lock().map_err(poisoned)?;
        let oldest = heads
            .values()
            .filter_map(|h| h.wal_range.map(|r| r.0))
            .chain(pending.iter().map(|p| p.range.0))
            .min()
            .unwrap_or_else(|| wal.next_seq());
        wal.truncate_before(oldest)?;
        Ok(())
    }
}

/// The ingest thread: batches jobs, appends them to the WAL with one fsync, applies them
/// to heads in sequence order, then acknowledges.
fn ingest_loop(inner: &Inner, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < inner.config.max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let groups: Vec<Vec<WalEntry>> = jobs
            .iter()
            .map(|j| j.entries.iter().map(|p| p.entry.clone()).collect())
            .collect();
        let seqs = inner
            .wal
            .lock()
            .map_err(poisoned)
            .and_then(|mut w| w.append_groups(&groups));
        let seqs = match seqs {
            Ok(s) => s,
            Err(e) => {
                let msg = e.to_string();
                for j in jobs {
                    let _ = j
                        .ack
                        .send(Err(Error::Closed(format!("write-ahead log: {msg}"))));
                }
                continue;
            }
        };
        let Ok(mut heads) = inner.heads.lock() else {
            return;
        };
        let mut seqs = seqs.into_iter();
        for job in jobs {
            let mut results = Vec::with_capacity(job.entries.len());
            let mut first_error = None;
            for (p, seq) in job.entries.into_iter().zip(seqs.by_ref()) {
                let head = inner.head(&mut heads, &p.key);
                match head.append_hinted(
                    seq,
                    &p.labels,
                    &p.profile,
                    p.entry.record.time_nanos,
                    &inner.config.append,
                    p.hints.as_ref(),
                ) {
                    Ok(stats) => results.push((seq, stats)),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            let _ = job.ack.send(match first_error {
                Some(e) => Err(e),
                None => Ok(results),
            });
        }
    }
}

/// Decodes a new request, filling in its time when not given (profile time, else now).
fn prepare_new(
    config: &StoreConfig,
    entry: &mut WalEntry,
) -> Result<(Profile, Labels, PartitionKey)> {
    let profile = decode(config, &entry.record, entry.duration_nanos)?;
    let record = &mut entry.record;
    if record.time_nanos == 0 {
        record.time_nanos = if profile.time_nanos != 0 {
            profile.time_nanos
        } else {
            now_nanos()
        };
    }
    let (labels, key) = partition_of(config, record)?;
    crate::head::check_series(&labels, &profile, &config.append)?;
    Ok((profile, labels, key))
}

/// Decodes a replayed record.
fn prepare(
    config: &StoreConfig,
    record: &WalRecord,
    duration_nanos: i64,
) -> Result<(Profile, Labels, PartitionKey)> {
    let profile = decode(config, record, duration_nanos)?;
    let (labels, key) = partition_of(config, record)?;
    Ok((profile, labels, key))
}

/// Decodes a record; `duration_nanos` (when not 0) is the profile's duration when the
/// profile carries none.
fn decode(config: &StoreConfig, record: &WalRecord, duration_nanos: i64) -> Result<Profile> {
    let options = DecodeOptions {
        limits: config.decode,
        perf_event: (!record.perf_event.is_empty()).then(|| record.perf_event.clone()),
    };
    let (_, mut profile) = flamedb_profile::decode(&record.data, record.format, &options)?;
    if profile.duration_nanos == 0 {
        profile.duration_nanos = duration_nanos;
    }
    Ok(profile)
}

/// Series labels and partition of a record: `app` is required; `version` and `dc` are
/// optional (empty when absent).
fn partition_of(config: &StoreConfig, record: &WalRecord) -> Result<(Labels, PartitionKey)> {
    let labels = Labels::new(record.labels.iter().cloned(), &config.append.label_limits)?;
    let app = labels
        .get("app")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Invalid("the label `app` (the application name) is required".into()))?
        .to_string();
    if record.tenant.is_empty() {
        return Err(Error::Invalid("tenant must not be empty".into()));
    }
    let key = PartitionKey {
        tenant: record.tenant.clone(),
        app,
        version: labels.get("version").unwrap_or("").to_string(),
        dc: labels.get("dc").unwrap_or("").to_string(),
        date: PartitionKey::date_of(record.time_nanos),
    };
    key.check()?;
    Ok((labels, key))
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

fn poisoned<T>(_: T) -> Error {
    Error::Closed("a store lock was poisoned by a panic".into())
}

/// The layout of a local data directory, as `flamedb --data DIR` uses it: the write-ahead
/// log in `DIR/wal` and, with the local object store, the blocks in `DIR/blocks`.
#[derive(Debug, Clone, Copy)]
pub struct DataDir<'a>(pub &'a std::path::Path);

impl DataDir<'_> {
    /// The write-ahead log directory.
    pub fn wal(&self) -> PathBuf {
        self.0.join("wal")
    }

    /// The local object store's directory.
    pub fn blocks(&self) -> PathBuf {
        self.0.join("blocks")
    }

    /// Opens the store of this directory with blocks on the local disk (created if
    /// missing); `config.wal_dir` is replaced by [`DataDir::wal`].
    pub async fn open_local(&self, config: StoreConfig) -> Result<(Store, ReplayReport)> {
        let blocks = self.blocks();
        std::fs::create_dir_all(&blocks).map_err(|e| Error::io(&blocks, e))?;
        let objects = crate::durable_local::DurableLocal::new(&blocks)?;
        let config = StoreConfig {
            wal_dir: self.wal(),
            ..config
        };
        Store::open(Arc::new(objects), Path::default(), config).await
    }
}
