//! One file's run ([`FileJob`]): the file is read and its blocks built on the calling
//! thread while a pool of writer threads normalizes and writes them; the first error
//! stops the file and, through the cancel flag, the rest of the import.

use super::file::{FileImport, ReadyBlock};
use super::ids::Hash128;
use super::{ImportOptions, ImportReport, ImportSource, StackTable, Target};
use crate::block::write_block_with;
use crate::{BlockFile, BlockMeta, Error, Result};
use object_store::ObjectStoreExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Sets the flag when dropped.
pub(super) struct StopOnDrop(pub(super) Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a file reports when it stopped because another one failed.
const CANCELLED: &str = "stopped: another file of the import failed";

/// Of two errors, the one that is not a mere cancellation.
pub(super) fn prefer_cause(a: Error, b: Error) -> Error {
    let cancelled = |e: &Error| matches!(e, Error::Closed(m) if m.ends_with(CANCELLED));
    if cancelled(&a) && !cancelled(&b) {
        b
    } else {
        a
    }
}

/// What the import of one file needs besides the file.
pub(super) struct FileJob<'a> {
    pub(super) target: &'a Target,
    /// Runs the writes (the job is on a blocking thread).
    pub(super) handle: &'a tokio::runtime::Handle,
    pub(super) tenant: &'a str,
    /// Hash of the options and the stacks table.
    pub(super) shape: u128,
    pub(super) cancel: &'a AtomicBool,
    /// Input rows the import may still read ([`ImportOptions::max_input_rows`]).
    pub(super) rows_left: &'a AtomicU64,
}

impl FileJob<'_> {
    /// Imports the file at `path` on this (blocking) thread.
    pub(super) fn run(
        &self,
        source: &ImportSource,
        stacks: Option<&StackTable>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        let name = source.name();
        let content = {
            let mut h = Hash128::new();
            h.write(&source.content_hash()?.to_le_bytes());
            h.write(&self.shape.to_le_bytes());
            h.finish()
        };
        let reader = source.reader(opts.batch_rows)?;
        let mut imp = FileImport::new(self.tenant, &name, content, stacks, opts);
        // Reading and building on this thread; normalizing, encoding and writing blocks on
        // writer threads (a file's blocks are independent; a file's last blocks are all cut
        // at its end), so one file uses every core.
        let writers = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = std::sync::mpsc::sync_channel::<ReadyBlock>(1);
        let rx = std::sync::Mutex::new(rx);
        std::thread::scope(|scope| {
            let (name, rx) = (&name, &rx);
            let threads: Vec<_> = (0..writers)
                .map(|_| {
                    scope.spawn(move || {
                        let mut report = ImportReport::default();
                        let mut failed = None;
                        // Until the reader hangs up: a writer that failed keeps taking
                        // (and dropping) blocks, so the reader never waits on a full
                        // channel nobody empties; the cancel flag stops it at its next
                        // batch.
                        loop {
                            let next = match rx.lock() {
                                Ok(r) => r.recv(),
                                Err(_) => break,
                            };
                            let Ok(b) = next else { break };
                            if failed.is_some() {
                                continue;
                            }
                            // A panic is this writer's error too: it keeps draining.
                            let wrote =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    self.write(b, &mut report, name)
                                }))
                                .unwrap_or_else(|_| {
                                    Err(Error::Closed(format!("{name}: a block writer panicked")))
                                });
                            if let Err(e) = wrote {
                                self.cancel.store(true, Ordering::Relaxed);
                                failed = Some(e);
                            }
                        }
                        match failed {
                            Some(e) => Err(e),
                            None => Ok::<_, Error>(report),
                        }
                    })
                })
                .collect();
            let read = (|| {
                let mut row = 0u64;
                for batch in reader {
                    self.check_cancelled(name)?;
                    let batch_rows = batch.as_ref().map_or(0, |b| b.num_rows() as u64);
                    if self
                        .rows_left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                            left.checked_sub(batch_rows)
                        })
                        .is_err()
                    {
                        return Err(Error::Invalid(format!(
                            "{name}: the import holds more than {} input rows, its limit",
                            opts.max_input_rows
                        )));
                    }
                    let batch = batch.map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
                    let ready = imp.push(&batch, row)?;
                    row += batch.num_rows() as u64;
                    for b in ready {
                        if tx.send(b).is_err() {
                            return Ok(row); // no writer left: their error is returned
                        }
                    }
                }
                for b in imp.finish() {
                    if tx.send(b).is_err() {
                        break;
                    }
                }
                Ok::<_, Error>(row)
            })();
            drop(tx);
            let mut report = ImportReport::default();
            let mut failed = None;
            for t in threads {
                match t.join() {
                    Ok(Ok(r)) => report.add(&r),
                    Ok(Err(e)) => {
                        failed = Some(match failed {
                            None => e,
                            Some(f) => prefer_cause(f, e),
                        });
                    }
                    Err(_) => {
                        failed.get_or_insert(Error::Closed(format!(
                            "{name}: a block writer panicked"
                        )));
                    }
                }
            }
            let rows = match (read, failed) {
                (Ok(rows), None) => rows,
                (Err(e), None) | (Ok(_), Some(e)) => return Err(e),
                (Err(r), Some(w)) => return Err(prefer_cause(r, w)),
            };
            report.files = 1;
            report.input_rows = rows;
            Ok(report)
        })
    }

    fn check_cancelled(&self, name: &str) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Closed(format!("{name}: {CANCELLED}")));
        }
        Ok(())
    }

    /// Normalizes and writes one block unless an earlier run completed it.
    fn write(&self, b: ReadyBlock, report: &mut ImportReport, name: &str) -> Result<()> {
        self.check_cancelled(name)?;
        let (objects, root) = (&self.target.objects, &self.target.root);
        let meta_path = b.path.file(root, BlockFile::Meta);
        match self.handle.block_on(objects.head(&meta_path)) {
            Ok(_) => {
                report.blocks_skipped += 1;
                return Ok(());
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut data = b.data.normalize();
        data.count_profile_stacks();
        let meta = BlockMeta {
            created_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            ..BlockMeta::empty()
        };
        let written = self.handle.block_on(write_block_with(
            objects.as_ref(),
            root,
            &b.path,
            &data,
            meta,
            &self.target.write,
        ));
        match written {
            Ok(_) => {
                report.blocks += 1;
                report.rows += data.samples.len() as u64;
                report.profiles += data.profiles.len() as u64;
                Ok(())
            }
            Err(Error::ObjectStore(object_store::Error::AlreadyExists { .. })) => {
                report.blocks_skipped += 1;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
