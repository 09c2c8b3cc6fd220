//! Bulk import of columnar profile data: Parquet tables of (profile x stack) rows, as
//! DuckDB, ClickHouse or a Parquet export keep them, written straight into blocks.
//!
//! # Input
//! - **Samples**: one row per profile and stack. A time column (`ts`: a timestamp of any
//!   unit, or an integer in ns since the Unix epoch), the stack, a value column (`value`,
//!   any integer type), and every other column a series label (any type that casts to
//!   text; `app` is required, `version` and `dc` partition the data as ingest does; a null
//!   or empty value means the label is absent). The stack is either `stack_id`, an integer
//!   the stacks table defines (the "normalized" layout), or `stack`, the folded text
//!   `root;...;leaf` itself. The rows of one series and time form one profile.
//! - **Stacks** (with `stack_id`): `stack_id` and either `frames`, a list of frame names
//!   root first, or `stack`, folded text. Frame names may carry the `_[k]`-style suffixes
//!   of folded text.
//!
//! # Output
//! Each file's rows are grouped by partition (app, version, dc, day) into blocks of at most
//! [`ImportOptions::max_block_rows`] rows, each normalized and written as a head's flush
//! writes one; compaction and dictionary sharing later treat them like any other block.
//! There is no write-ahead log: the input files stay the durable copy until the blocks are
//! complete, and a block becomes visible at once and whole (its `meta.json` last).
//!
//! Block ids are derived from the file's content, the stacks table's, the options that shape
//! the blocks, the partition and the chunk number, so an import that stopped half-way can be
//! run again with the same files and options: blocks already complete are found and skipped,
//! and each row is stored once. Other options (another value column, sample type or block
//! size) make it another import, whose blocks never collide with the first's. (Run again
//! after its blocks were compacted and the compacted blocks were compacted again, the rows
//! would be stored twice: the ids of the originals are then forgotten.)
//!
//! Files are imported in parallel ([`ImportOptions::threads`]), each by one thread that
//! reads it batch by batch. Memory is bounded per file by
//! [`ImportOptions::max_buffered_rows`]: past it the largest open block is cut. Input
//! grouped by profile (the rows of one series and time together, as an export sorted by
//! time or series gives) keeps each profile in one block; otherwise a profile may be split
//! over blocks, which sums the same but counts as several profile rows.
//!
//! After the first error no file starts a new batch or block; blocks complete before it stay
//! (run the same import again to finish).
//!
//! # Tour
//! - `options.rs`: [`ImportOptions`] and [`ImportReport`].
//! - `source.rs`: [`ImportSource`] (a Parquet file or bytes) and content hashes.
//! - `columns.rs`: input columns cast to times, values, stack ids and label value ids.
//! - `stacks.rs`: [`StackTable`], the stacks of the normalized layout or of one file.
//! - `file.rs`: the import of one file: rows to series, partitions and open blocks, cut at
//!   the row limits.
//! - `builder.rs`: the rows, symbols and profiles of one open block.
//! - `pool.rs`: one file's run: reading on its thread, normalizing and writing blocks on a
//!   pool of writer threads; stopping at the first error.
//! - `ids.rs`: the 128-bit hash and the content-derived block ids.
//! - this file: [`import`], the entry point that runs the files in parallel.

mod builder;
mod columns;
mod file;
mod ids;
mod options;
mod pool;
mod source;
mod stacks;

pub use options::{ImportOptions, ImportReport};
pub use source::ImportSource;
pub use stacks::StackTable;

use crate::{Error, Result, Store, WriteOptions};
use ids::Hash128;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use pool::{FileJob, StopOnDrop, prefer_cause};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const DAY_NANOS: i64 = 86_400_000_000_000;

impl Store {
    /// Imports Parquet `files` of `tenant` into this store's objects; see [`import`].
    pub async fn import(
        &self,
        tenant: &str,
        files: Vec<PathBuf>,
        stacks: Option<Arc<StackTable>>,
        opts: ImportOptions,
    ) -> Result<ImportReport> {
        let sources = files.into_iter().map(ImportSource::from).collect();
        import(self.import_target(), tenant, sources, stacks, opts).await
    }

    /// Where [`import`] writes to this store's objects.
    pub fn import_target(&self) -> Target {
        let (objects, root) = self.objects();
        Target {
            objects: objects.clone(),
            root: root.clone(),
            write: self.config().write,
        }
    }
}

/// Where imported blocks go: an object store, the root below it, how blocks are written.
/// No write-ahead log is involved, so an import can run beside a server on the same store.
#[derive(Debug, Clone)]
pub struct Target {
    /// The object store.
    pub objects: Arc<dyn ObjectStore>,
    /// The root of flamedb's objects in it.
    pub root: ObjectPath,
    /// How blocks are written.
    pub write: WriteOptions,
}

/// Imports Parquet `files` of `tenant` (see the [module doc](crate::import)); `stacks` is
/// the stacks table the files' `stack_id` column refers to (files with a folded `stack`
/// column need none). Stops at the first error, naming the file and row; blocks completed
/// before it stay (run the same import again to finish).
pub async fn import(
    target: Target,
    tenant: &str,
    files: Vec<ImportSource>,
    stacks: Option<Arc<StackTable>>,
    opts: ImportOptions,
) -> Result<ImportReport> {
    if tenant.is_empty() {
        return Err(Error::Invalid("tenant must not be empty".into()));
    }
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let mut opts = opts;
    opts.max_block_rows = opts.max_block_rows.max(1);
    opts.max_buffered_rows = opts.max_buffered_rows.max(opts.max_block_rows);
    // Files' blocks are named after this and their own content.
    let shape = {
        let mut h = Hash128::new();
        h.write(&opts.shape_hash().to_le_bytes());
        h.write(
            &stacks
                .as_ref()
                .map_or(0, |s| s.digest.finish())
                .to_le_bytes(),
        );
        h.finish()
    };
    let opts = Arc::new(opts);
    let target = Arc::new(target);
    let tenant: Arc<str> = tenant.into();
    // Set at the first error: running files stop before their next batch or block
    // (a blocking task cannot be aborted).
    let cancel = Arc::new(AtomicBool::new(false));
    // Dropped with this future (a client that disconnected): the files still running stop.
    let _stop_on_drop = StopOnDrop(cancel.clone());
    let rows_left = Arc::new(AtomicU64::new(match opts.max_input_rows {
        0 => u64::MAX,
        n => n,
    }));
    let mut report = ImportReport::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut files = files.into_iter();
    loop {
        while tasks.len() < threads {
            let Some(file) = files.next() else { break };
            let (target, stacks, opts, tenant, cancel, rows_left) = (
                target.clone(),
                stacks.clone(),
                opts.clone(),
                tenant.clone(),
                cancel.clone(),
                rows_left.clone(),
            );
            let handle = tokio::runtime::Handle::current();
            tasks.spawn_blocking(move || {
                let job = FileJob {
                    target: &target,
                    handle: &handle,
                    tenant: &tenant,
                    shape,
                    cancel: &cancel,
                    rows_left: &rows_left,
                };
                let r = job.run(&file, stacks.as_deref(), &opts);
                if r.is_err() {
                    cancel.store(true, Ordering::Relaxed);
                }
                r
            });
        }
        let failed = match tasks.join_next().await {
            None => break,
            Some(Ok(Ok(r))) => {
                report.add(&r);
                continue;
            }
            Some(Ok(Err(e))) => e,
            Some(Err(e)) => Error::Closed(format!("import task: {e}")),
        };
        // Stop: files not started stay so; running ones stop at their next batch or
        // block (a blocking task cannot be aborted). Wait for them, so nothing writes
        // after this returns, and report the error that caused the others.
        cancel.store(true, Ordering::Relaxed);
        let mut first = failed;
        while let Some(r) = tasks.join_next().await {
            if let Ok(Err(e)) = r {
                first = prefer_cause(first, e);
            }
        }
        return Err(first);
    }
    Ok(report)
}
