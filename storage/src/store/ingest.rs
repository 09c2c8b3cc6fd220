//! The write path: [`Store::append_batch`] decodes on a blocking thread, and the ingest
//! thread appends batches to the WAL with one fsync, applies them to heads in sequence
//! order, then acknowledges.

use super::decode::prepare_new;
use super::{AppendReceipt, Inner, Store, poisoned};
use crate::head::{AppendStats, Head};
use crate::wal::{WalEntry, WalRecord};
use crate::{Error, Labels, PartitionKey, Result};
use flamedb_profile::{LocationCache, LocationHints, Profile};
use hashbrown::HashMap;
use std::sync::{Arc, mpsc};
use tokio::sync::oneshot;

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
pub(super) struct Job {
    entries: Vec<Prepared>,
    ack: oneshot::Sender<Result<Vec<(u64, AppendStats)>>>,
}

impl Store {
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
}

impl Inner {
    /// The head of `key` in `heads` (locked by the caller), created (and its location
    /// cache published to the decoding threads) if there is none.
    pub(super) fn head<'a>(
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
}

/// The ingest thread: batches jobs, appends them to the WAL with one fsync, applies them
/// to heads in sequence order, then acknowledges.
pub(super) fn ingest_loop(inner: &Inner, rx: &mpsc::Receiver<Job>) {
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
