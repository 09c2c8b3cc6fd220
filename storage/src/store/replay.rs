//! Opening a store: replaying the write-ahead log into heads, skipping what blocks already
//! hold and quarantining what can never be applied.

use super::decode::prepare;
use super::ingest::{Job, ingest_loop};
use super::{Inner, ReplayReport, Store, StoreConfig, poisoned};
use crate::catalog::{Catalog, PartitionFilter};
use crate::wal::Wal;
use crate::{Error, PartitionKey, Result};
use hashbrown::HashMap;
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::{Arc, Mutex, mpsc};

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
}
