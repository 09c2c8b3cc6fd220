//! Flushing: heads over size or age are taken as pending blocks, written in order per
//! partition, and the WAL segments whose records are all in blocks are deleted.

use super::{Inner, Store, now_nanos, poisoned};
use crate::block::write_block_with;
use crate::{BlockData, BlockMeta, BlockPath, Error, PartitionKey, Result};
use std::sync::Arc;
use std::time::Duration;

/// A head taken for flushing: partition, data, WAL range.
///
/// A taken head stays here, shared, until its block is complete: if the flush is cancelled
/// (its task aborted at shutdown) or fails, the data is still in memory and its WAL
/// segments are kept, and the next flush writes it again to the same block path (a
/// `meta.json` that already exists means an earlier attempt completed).
#[derive(Clone)]
pub(super) struct PendingBlock {
    path: BlockPath,
    data: Arc<BlockData>,
    range: (u64, u64),
}

impl Store {
    /// Flushes heads that are over size or age (all non-empty heads when `force`), then
    /// deletes WAL segments whose records are all in blocks. Returns the blocks written.
    pub async fn flush_due(&self, force: bool) -> Result<Vec<BlockPath>> {
        self.flush_where(|_| force).await
    }

    /// Whether `tenant` has acknowledged profiles not yet in blocks (in heads, or taken
    /// for a flush that has not completed).
    pub fn has_unflushed(&self, tenant: &str) -> bool {
        let in_heads = self.inner.heads.lock().is_ok_and(|heads| {
            heads
                .values()
                .any(|h| h.key.tenant == tenant && !h.is_empty())
        });
        in_heads
            || self
                .inner
                .pending
                .lock()
                .is_ok_and(|p| p.iter().any(|b| b.path.partition.tenant == tenant))
    }

    /// Flushes every non-empty head of `tenant` (and heads of others that are due), so
    /// that queries read all it acknowledged: the freshness of a query that cannot wait
    /// for `flush_age`. Concurrent callers wait for one flush at a time.
    pub async fn flush_tenant(&self, tenant: &str) -> Result<Vec<BlockPath>> {
        self.flush_where(|key| key.tenant == tenant).await
    }

    /// Flushes heads over size or age, and the non-empty heads `force` picks.
    async fn flush_where(&self, force: impl Fn(&PartitionKey) -> bool) -> Result<Vec<BlockPath>> {
        let _one_at_a_time = self.inner.flush_lock.lock().await;
        let config = &self.inner.config;
        {
            let mut heads = self.inner.heads.lock().map_err(poisoned)?;
            let mut pending = self.inner.pending.lock().map_err(poisoned)?;
            for head in heads.values_mut() {
                let due = !head.is_empty()
                    && (force(&head.key)
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
}

impl Inner {
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
