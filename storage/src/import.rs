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

use crate::block::write_block_with;
use crate::rows::{BlockData, ProfileRows, SampleRows};
use crate::{
    BlockFile, BlockMeta, BlockPath, Error, LabelLimits, Labels, PartitionKey, Result, SampleType,
    Store, WriteOptions,
};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit, TimestampNanosecondType, UInt64Type};
use flamedb_profile::{FrameKind, LocationId, StackId, StrId, StringTable, Symbols};
use hashbrown::HashMap;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const DAY_NANOS: i64 = 86_400_000_000_000;

/// How tables are read and blocks cut.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The sample type of the value column (for example `cpu` / `nanoseconds`).
    pub sample_type: SampleType,
    /// Sampling period of the profiles (0 = unknown). Default 0.
    pub period: i64,
    /// Duration of each profile in ns (0 = unknown). Default 0.
    pub duration_nanos: i64,
    /// Time column. Default `ts`.
    pub time_column: String,
    /// Value column. Default `value`.
    pub value_column: String,
    /// Stack id column (refers to the stacks table). Default `stack_id`.
    pub stack_id_column: String,
    /// Folded stack column (instead of a stack id). Default `stack`.
    pub stack_column: String,
    /// Columns that are neither read nor labels.
    pub ignore_columns: Vec<String>,
    /// Most rows in one block; a partition with more gets several. Default 8 Mi.
    pub max_block_rows: usize,
    /// Most rows one file's open blocks hold together; past it the largest is cut.
    /// Default 16 Mi.
    pub max_buffered_rows: usize,
    /// Deepest stack accepted. Default 4096.
    pub max_stack_depth: usize,
    /// Limits on series labels.
    pub label_limits: LabelLimits,
    /// Files imported at once (0 = one per core). Default 0.
    pub threads: usize,
    /// Rows per batch read from Parquet. Default 65,536.
    pub batch_rows: usize,
    /// Most input rows of the whole import (0 = no limit). Default 0.
    pub max_input_rows: u64,
}

impl ImportOptions {
    /// A hash of what decides the blocks' contents and cuts (not of limits that only
    /// accept or refuse, nor of threads and batch size).
    fn shape_hash(&self) -> u128 {
        let mut h = Hash128::new();
        let mut text = |s: &str| {
            h.write(&(s.len() as u64).to_le_bytes());
            h.write(s.as_bytes());
        };
        for s in [
            &self.sample_type.kind,
            &self.sample_type.unit,
            &self.time_column,
            &self.value_column,
            &self.stack_id_column,
            &self.stack_column,
        ] {
            text(s);
        }
        let mut ignored = self.ignore_columns.clone();
        ignored.sort();
        for s in &ignored {
            text(s);
        }
        for n in [
            self.period,
            self.duration_nanos,
            self.max_block_rows as i64,
            self.max_buffered_rows as i64,
        ] {
            h.write(&n.to_le_bytes());
        }
        h.finish()
    }
}

impl ImportOptions {
    /// Options for values of `sample_type`, the rest defaults.
    pub fn new(sample_type: SampleType) -> Self {
        ImportOptions {
            sample_type,
            period: 0,
            duration_nanos: 0,
            time_column: "ts".into(),
            value_column: "value".into(),
            stack_id_column: "stack_id".into(),
            stack_column: "stack".into(),
            ignore_columns: Vec::new(),
            max_block_rows: 8 << 20,
            max_buffered_rows: 16 << 20,
            max_stack_depth: 4096,
            label_limits: LabelLimits::default(),
            threads: 0,
            batch_rows: 1 << 16,
            max_input_rows: 0,
        }
    }
}

/// One Parquet table to import: a local file, or bytes received (an HTTP upload).
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A file on the local disk.
    File(PathBuf),
    /// Bytes in memory, named in errors by `name`.
    Bytes {
        /// What errors call it (for example the upload's part and file name).
        name: String,
        /// The Parquet file's bytes.
        data: bytes::Bytes,
    },
}

impl From<PathBuf> for ImportSource {
    fn from(p: PathBuf) -> Self {
        ImportSource::File(p)
    }
}

impl ImportSource {
    /// The name errors use.
    pub fn name(&self) -> String {
        match self {
            ImportSource::File(p) => p.display().to_string(),
            ImportSource::Bytes { name, .. } => name.clone(),
        }
    }

    /// A 128-bit hash of the content.
    fn content_hash(&self) -> Result<u128> {
        match self {
            ImportSource::File(p) => content_hash(p),
            ImportSource::Bytes { data, .. } => {
                let mut h = Hash128::new();
                h.write(data);
                Ok(h.finish())
            }
        }
    }

    /// A reader of its record batches.
    fn reader(&self, batch_rows: usize) -> Result<ParquetRecordBatchReader> {
        let name = self.name();
        let pq = |source| Error::Parquet {
            path: name.clone(),
            source,
        };
        fn build<R: parquet::file::reader::ChunkReader + 'static>(
            r: R,
            batch_rows: usize,
        ) -> parquet::errors::Result<ParquetRecordBatchReader> {
            ParquetRecordBatchReaderBuilder::try_new(r)?
                .with_batch_size(batch_rows.max(1))
                .build()
        }
        match self {
            ImportSource::File(p) => {
                let file = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
                build(file, batch_rows).map_err(pq)
            }
            ImportSource::Bytes { data, .. } => build(data.clone(), batch_rows).map_err(pq),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Files read.
    pub files: u64,
    /// Input rows read (zero and null values included).
    pub input_rows: u64,
    /// Sample rows stored (rows of one profile and stack summed, zeros dropped).
    pub rows: u64,
    /// Profile rows stored.
    pub profiles: u64,
    /// Blocks written.
    pub blocks: u64,
    /// Blocks already complete from an earlier run of the same import, not written again.
    pub blocks_skipped: u64,
}

impl ImportReport {
    fn add(&mut self, o: &ImportReport) {
        self.files += o.files;
        self.input_rows += o.input_rows;
        self.rows += o.rows;
        self.profiles += o.profiles;
        self.blocks += o.blocks;
        self.blocks_skipped += o.blocks_skipped;
    }
}

/// Stacks by id, each a list of frame names root first: the stacks table of the normalized
/// layout, or the folded stacks of one file.
#[derive(Debug, Default)]
pub struct StackTable {
    names: StringTable,
    frames: Vec<StrId>,
    /// Stack `i` is `frames[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    by_id: HashMap<u64, u32>,
    by_text: HashMap<Box<str>, u32>,
    /// Hash of every (id, frames) added, in order: part of the imported blocks' ids.
    digest: Hash128,
}

impl Default for Hash128 {
    fn default() -> Self {
        Hash128::new()
    }
}

impl std::fmt::Debug for Hash128 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.finish())
    }
}

impl StackTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stacks.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Reads a stacks table from a Parquet file.
    pub fn read_parquet(path: &Path, opts: &ImportOptions) -> Result<Self> {
        Self::read(&ImportSource::File(path.to_path_buf()), opts)
    }

    /// [`StackTable::read`] on a blocking thread, shared for an import.
    pub async fn load(source: ImportSource, opts: &ImportOptions) -> Result<Arc<Self>> {
        let opts = opts.clone();
        tokio::task::spawn_blocking(move || Self::read(&source, &opts))
            .await
            .map_err(|e| Error::Closed(format!("reading a stacks table: {e}")))?
            .map(Arc::new)
    }

    /// Reads a stacks table from a Parquet source.
    pub fn read(source: &ImportSource, opts: &ImportOptions) -> Result<Self> {
        let name = source.name();
        let reader = source.reader(opts.batch_rows)?;
        let mut table = StackTable::new();
        for batch in reader {
            let batch = batch.map_err(|e| Error::Invalid(format!("{name}: {e}")))?;
            table.add_batch(&batch, opts, &name)?;
        }
        Ok(table)
    }

    /// Adds the stacks of `batch` (columns `stack_id` and `frames` or `stack`); `source`
    /// names it in errors. A stack id given twice must have the same frames.
    pub fn add_batch(
        &mut self,
        batch: &RecordBatch,
        opts: &ImportOptions,
        source: &str,
    ) -> Result<()> {
        let bad = |m: String| Error::Invalid(format!("stacks table {source}: {m}"));
        let ids = batch
            .column_by_name(&opts.stack_id_column)
            .ok_or_else(|| bad(format!("no column `{}`", opts.stack_id_column)))?;
        let ids = stack_ids(ids).map_err(|m| bad(format!("`{}`: {m}", opts.stack_id_column)))?;
        if let Some(frames) = batch.column_by_name("frames") {
            let list_type = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
            let frames = cast_with_options(frames, &list_type, &strict())
                .map_err(|e| bad(format!("`frames` is not a list of strings: {e}")))?;
            let frames = frames.as_list::<i32>();
            let names = frames.values().as_string::<i32>();
            for (row, id) in ids.iter().enumerate() {
                let id = id.ok_or_else(|| bad(format!("row {row}: stack_id is null")))?;
                if frames.is_null(row) {
                    return Err(bad(format!("stack_id {id}: frames are null")));
                }
                let range =
                    frames.value_offsets()[row] as usize..frames.value_offsets()[row + 1] as usize;
                let list = range.map(|i| (!names.is_null(i)).then(|| names.value(i)));
                self.add_with_id(id, list, opts.max_stack_depth, &bad)?;
            }
        } else if let Some(text) = batch.column_by_name(&opts.stack_column) {
            let text = cast_with_options(text, &DataType::Utf8, &strict())
                .map_err(|e| bad(format!("`{}` is not text: {e}", opts.stack_column)))?;
            let text = text.as_string::<i32>();
            for (row, id) in ids.iter().enumerate() {
                let id = id.ok_or_else(|| bad(format!("row {row}: stack_id is null")))?;
                if text.is_null(row) {
                    return Err(bad(format!("stack_id {id}: stack is null")));
                }
                let list = text.value(row).split(';').map(Some);
                self.add_with_id(id, list, opts.max_stack_depth, &bad)?;
            }
        } else {
            return Err(bad(format!(
                "no column `frames` (frame names, root first) or `{}` (folded text)",
                opts.stack_column
            )));
        }
        Ok(())
    }

    fn add_with_id<'a>(
        &mut self,
        id: u64,
        frames: impl Iterator<Item = Option<&'a str>>,
        max_depth: usize,
        bad: &dyn Fn(String) -> Error,
    ) -> Result<()> {
        self.digest.write(&id.to_le_bytes());
        let at = self
            .push(frames, max_depth)
            .map_err(|m| bad(format!("stack_id {id}: {m}")))?;
        let (names, digest) = (&self.names, &mut self.digest);
        let i = at as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        for &f in &self.frames[start..self.ends[i] as usize] {
            let name = names.get(f);
            digest.write(&(name.len() as u64).to_le_bytes());
            digest.write(name.as_bytes());
        }
        match self.by_id.get(&id) {
            None => {
                self.by_id.insert(id, at);
            }
            Some(&old) => {
                let same = self.frames_of(old).len() == self.frames_of(at).len()
                    && self
                        .frames_of(old)
                        .iter()
                        .zip(self.frames_of(at))
                        .all(|(a, b)| self.names.get(*a) == self.names.get(*b));
                self.pop();
                if !same {
                    return Err(bad(format!(
                        "stack_id {id} is defined twice, with different frames"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The index of folded stack `text`, added if new.
    fn folded(&mut self, text: &str, max_depth: usize) -> std::result::Result<u32, String> {
        if let Some(&i) = self.by_text.get(text) {
            return Ok(i);
        }
        let i = self.push(text.split(';').map(Some), max_depth)?;
        self.by_text.insert(text.into(), i);
        Ok(i)
    }

    fn push<'a>(
        &mut self,
        frames: impl Iterator<Item = Option<&'a str>>,
        max_depth: usize,
    ) -> std::result::Result<u32, String> {
        let start = self.frames.len();
        for f in frames {
            match f {
                Some(name) if !name.is_empty() => {
                    let id = self.names.intern(name);
                    self.frames.push(id);
                }
                _ => {
                    self.frames.truncate(start);
                    return Err("a frame name is null or empty".into());
                }
            }
            if self.frames.len() - start > max_depth {
                self.frames.truncate(start);
                return Err(format!("stack depth exceeds the limit of {max_depth}"));
            }
        }
        if self.frames.len() == start {
            return Err("the stack has no frames".into());
        }
        self.ends.push(self.frames.len() as u32);
        Ok((self.ends.len() - 1) as u32)
    }

    fn pop(&mut self) {
        self.ends.pop();
        let end = self.ends.last().map_or(0, |&e| e as usize);
        self.frames.truncate(end);
    }

    fn frames_of(&self, i: u32) -> &[StrId] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.frames[start..self.ends[i] as usize]
    }
}

/// A column of stack ids as u64 (signed types reinterpreted, so both tables agree).
fn stack_ids(a: &ArrayRef) -> std::result::Result<Vec<Option<u64>>, String> {
    let strict = strict();
    match a.data_type() {
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            let c = cast_with_options(a, &DataType::UInt64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<UInt64Type>().iter().collect())
        }
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let c = cast_with_options(a, &DataType::Int64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| v as u64))
                .collect())
        }
        t => Err(format!("expected an integer type, found {t}")),
    }
}

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

/// Sets the flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a file reports when it stopped because another one failed.
const CANCELLED: &str = "stopped: another file of the import failed";

/// Of two errors, the one that is not a mere cancellation.
fn prefer_cause(a: Error, b: Error) -> Error {
    let cancelled = |e: &Error| matches!(e, Error::Closed(m) if m.ends_with(CANCELLED));
    if cancelled(&a) && !cancelled(&b) {
        b
    } else {
        a
    }
}

/// What the import of one file needs besides the file.
struct FileJob<'a> {
    target: &'a Target,
    /// Runs the writes (the job is on a blocking thread).
    handle: &'a tokio::runtime::Handle,
    tenant: &'a str,
    /// Hash of the options and the stacks table.
    shape: u128,
    cancel: &'a AtomicBool,
    /// Input rows the import may still read ([`ImportOptions::max_input_rows`]).
    rows_left: &'a AtomicU64,
}

impl FileJob<'_> {
    /// Imports the file at `path` on this (blocking) thread.
    fn run(
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

/// 128 bits of hash over byte strings: xxh3-64 with two seeds.
struct Hash128(twox_hash::XxHash3_64, twox_hash::XxHash3_64);

impl Hash128 {
    fn new() -> Self {
        Hash128(
            twox_hash::XxHash3_64::with_seed(0x666c_616d_6564_6231),
            twox_hash::XxHash3_64::with_seed(0x666c_616d_6564_6232),
        )
    }

    fn write(&mut self, b: &[u8]) {
        use std::hash::Hasher;
        self.0.write(b);
        self.1.write(b);
    }

    fn finish(&self) -> u128 {
        use std::hash::Hasher;
        (u128::from(self.0.finish()) << 64) | u128::from(self.1.finish())
    }
}

/// A 128-bit hash of a file's bytes.
fn content_hash(path: &Path) -> Result<u128> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Hash128::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    Ok(h.finish())
}

/// A block ready to write: its path and data (not yet normalized).
struct ReadyBlock {
    path: BlockPath,
    data: BlockData,
}

/// A series of the file: its labels and partition.
struct SeriesInfo {
    labels: Labels,
    part: u32,
}

/// One label column's values, interned (id 0: absent).
#[derive(Default)]
struct ValueIds {
    ids: HashMap<Box<str>, u32>,
    values: Vec<Box<str>>,
}

impl ValueIds {
    fn id(&mut self, v: &str) -> u32 {
        if v.is_empty() {
            return 0;
        }
        if let Some(&i) = self.ids.get(v) {
            return i;
        }
        self.values.push(v.into());
        let i = self.values.len() as u32;
        self.ids.insert(v.into(), i);
        i
    }

    fn value(&self, id: u32) -> Option<&str> {
        (id != 0).then(|| &*self.values[id as usize - 1])
    }
}

/// The import of one file: series and open blocks.
struct FileImport<'a> {
    tenant: &'a str,
    source: &'a str,
    content: u128,
    shared: Option<&'a StackTable>,
    /// Folded stacks of this file (`stack` column).
    inline: StackTable,
    opts: &'a ImportOptions,
    /// Label columns (name, interned values); fixed by the first batch.
    labels: Option<Vec<(String, ValueIds)>>,
    series: Vec<SeriesInfo>,
    series_by_key: HashMap<Box<[u32]>, u32>,
    parts: Vec<(String, String, String)>,
    part_by_key: HashMap<(String, String, String), u32>,
    builders: Vec<Builder>,
    builder_of: HashMap<(u32, i64), usize>,
    /// Blocks cut so far per (partition, day): the next block's chunk number.
    chunks: HashMap<(u32, i64), u32>,
    /// Rows in the open blocks.
    buffered: usize,
}

impl<'a> FileImport<'a> {
    fn new(
        tenant: &'a str,
        source: &'a str,
        content: u128,
        shared: Option<&'a StackTable>,
        opts: &'a ImportOptions,
    ) -> Self {
        FileImport {
            tenant,
            source,
            content,
            shared,
            inline: StackTable::new(),
            opts,
            labels: None,
            series: Vec::new(),
            series_by_key: HashMap::new(),
            parts: Vec::new(),
            part_by_key: HashMap::new(),
            builders: Vec::new(),
            builder_of: HashMap::new(),
            chunks: HashMap::new(),
            buffered: 0,
        }
    }

    fn bad(&self, m: String) -> Error {
        Error::Invalid(format!("{}: {m}", self.source))
    }

    /// Adds a batch whose first row is row `first_row` of the file; returns the blocks that
    /// reached the row limit.
    fn push(&mut self, batch: &RecordBatch, first_row: u64) -> Result<Vec<ReadyBlock>> {
        let opts = self.opts;
        let n = batch.num_rows();
        let column = |name: &str| batch.column_by_name(name);
        // Time, ns.
        let time = column(&opts.time_column)
            .ok_or_else(|| self.bad(format!("no time column `{}`", opts.time_column)))?;
        let times = times_ns(time).map_err(|m| self.bad(format!("`{}`: {m}", opts.time_column)))?;
        // Value.
        let value = column(&opts.value_column)
            .ok_or_else(|| self.bad(format!("no value column `{}`", opts.value_column)))?;
        if !value.data_type().is_integer() {
            return Err(self.bad(format!(
                "value column `{}` is {}, expected an integer type",
                opts.value_column,
                value.data_type()
            )));
        }
        let value = cast_with_options(value, &DataType::Int64, &strict())
            .map_err(|e| self.bad(format!("value column `{}`: {e}", opts.value_column)))?;
        let values = value.as_primitive::<Int64Type>();
        // Stacks, as indices into `shared` or `inline`.
        let (stack_idx, use_inline) = self.stack_indices(batch, first_row)?;
        // Labels.
        if self.labels.is_none() {
            let skip = [
                &opts.time_column,
                &opts.value_column,
                &opts.stack_id_column,
                &opts.stack_column,
            ];
            let names = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|f| !skip.contains(&f) && !opts.ignore_columns.contains(f))
                .map(|f| (f, ValueIds::default()))
                .collect::<Vec<_>>();
            if !names.iter().any(|(n, _)| n == "app") {
                return Err(self.bad(
                    "no column `app`: the application name is required (every column but \
                     time, stack and value is a series label)"
                        .into(),
                ));
            }
            self.labels = Some(names);
        }
        let mut label_ids: Vec<Vec<u32>> = Vec::new();
        if let Some(labels) = self.labels.as_mut() {
            for (name, ids) in labels.iter_mut() {
                let col = batch.column_by_name(name).ok_or_else(|| {
                    Error::Invalid(format!(
                        "{}: label column `{name}` missing from a batch",
                        self.source
                    ))
                })?;
                label_ids.push(column_ids(col, ids).map_err(|m| {
                    Error::Invalid(format!("{}: label column `{name}`: {m}", self.source))
                })?);
            }
        }

        let mut ready = Vec::new();
        let mut prev: Option<usize> = None;
        let (mut series, mut day, mut builder) = (u32::MAX, i64::MIN, usize::MAX);
        for row in 0..n {
            if values.is_null(row) {
                continue;
            }
            let v = values.value(row);
            if v == 0 {
                continue;
            }
            let t = times[row].ok_or_else(|| {
                self.bad(format!("row {}: the time is null", first_row + row as u64))
            })?;
            let changed = match prev {
                None => true,
                Some(p) => label_ids.iter().any(|c| c[row] != c[p]),
            };
            prev = Some(row);
            if changed {
                let key: Box<[u32]> = label_ids.iter().map(|c| c[row]).collect();
                series = self.series_id(key, first_row + row as u64)?;
                day = i64::MIN;
            }
            let d = t.div_euclid(DAY_NANOS);
            if d != day {
                day = d;
                builder = self.builder(series, t);
            }
            // A full block is cut where a profile starts (input grouped by profile never
            // has one split over two blocks); the slot then holds an empty builder.
            let b = &self.builders[builder];
            if b.samples.len() >= opts.max_block_rows && !b.is_last(series, t) {
                ready.push(self.cut(builder));
            }
            let table = if use_inline {
                &self.inline
            } else {
                self.shared.unwrap_or(&self.inline)
            };
            self.builders[builder].push(table, series, t, stack_idx[row], v);
            self.buffered += 1;
            if self.buffered >= opts.max_buffered_rows {
                // The file's open blocks hold too much: the largest goes out now.
                let largest = (0..self.builders.len())
                    .max_by_key(|&i| (self.builders[i].samples.len(), std::cmp::Reverse(i)))
                    .unwrap_or(builder);
                ready.push(self.cut(largest));
            }
        }
        Ok(ready)
    }

    /// The stack of each row as an index into the shared table (`stack_id`) or the file's
    /// own (`stack`, folded text); true for the latter.
    fn stack_indices(&mut self, batch: &RecordBatch, first_row: u64) -> Result<(Vec<u32>, bool)> {
        let opts = self.opts;
        if let Some(ids) = batch.column_by_name(&opts.stack_id_column) {
            let table = self.shared.ok_or_else(|| {
                self.bad(format!(
                    "column `{}` refers to a stacks table, and none was given",
                    opts.stack_id_column
                ))
            })?;
            let ids =
                stack_ids(ids).map_err(|m| self.bad(format!("`{}`: {m}", opts.stack_id_column)))?;
            let mut out = Vec::with_capacity(ids.len());
            let mut last: Option<(u64, u32)> = None;
            for (row, id) in ids.into_iter().enumerate() {
                let id = id.ok_or_else(|| {
                    self.bad(format!("row {}: stack_id is null", first_row + row as u64))
                })?;
                let i = match last {
                    Some((l, i)) if l == id => i,
                    _ => *table.by_id.get(&id).ok_or_else(|| {
                        self.bad(format!(
                            "row {}: stack_id {id} is not in the stacks table",
                            first_row + row as u64
                        ))
                    })?,
                };
                last = Some((id, i));
                out.push(i);
            }
            return Ok((out, false));
        }
        let Some(text) = batch.column_by_name(&opts.stack_column) else {
            return Err(self.bad(format!(
                "no stack column: `{}` (with a stacks table) or `{}` (folded text)",
                opts.stack_id_column, opts.stack_column
            )));
        };
        let max_depth = opts.max_stack_depth;
        let source = self.source;
        let err = |row: usize, m: String| {
            Error::Invalid(format!("{source}: row {}: {m}", first_row + row as u64))
        };
        let mut out = Vec::with_capacity(text.len());
        if let DataType::Dictionary(_, _) = text.data_type() {
            // One parse per distinct stack of the batch.
            let dict = text.as_any_dictionary();
            let keys = dict.normalized_keys();
            let words = cast_with_options(dict.values(), &DataType::Utf8, &strict())?;
            let words = words.as_string::<i32>();
            let mut of_word = vec![u32::MAX; words.len()];
            for (row, &k) in keys.iter().enumerate() {
                if text.is_null(row) || words.is_null(k) {
                    return Err(err(row, "the stack is null".into()));
                }
                if of_word[k] == u32::MAX {
                    of_word[k] = self
                        .inline
                        .folded(words.value(k), max_depth)
                        .map_err(|m| err(row, m))?;
                }
                out.push(of_word[k]);
            }
        } else {
            let text = cast_with_options(text, &DataType::Utf8, &strict())
                .map_err(|e| self.bad(format!("`{}` is not text: {e}", opts.stack_column)))?;
            let text = text.as_string::<i32>();
            for row in 0..text.len() {
                if text.is_null(row) {
                    return Err(err(row, "the stack is null".into()));
                }
                out.push(
                    self.inline
                        .folded(text.value(row), max_depth)
                        .map_err(|m| err(row, m))?,
                );
            }
        }
        Ok((out, true))
    }

    /// The id of the series whose label value ids are `key` (in label column order).
    fn series_id(&mut self, key: Box<[u32]>, row: u64) -> Result<u32> {
        if let Some(&s) = self.series_by_key.get(&key) {
            return Ok(s);
        }
        let columns = self.labels.as_ref().map_or(&[][..], |l| &l[..]);
        let pairs: Vec<(String, String)> = columns
            .iter()
            .zip(key.iter())
            .filter_map(|((name, ids), &id)| ids.value(id).map(|v| (name.clone(), v.to_string())))
            .collect();
        let labels = Labels::new(pairs, &self.opts.label_limits)
            .map_err(|e| self.bad(format!("row {row}: {e}")))?;
        let app = labels
            .get("app")
            .ok_or_else(|| self.bad(format!("row {row}: `app` is null or empty")))?;
        let part_key = (
            app.to_string(),
            labels.get("version").unwrap_or("").to_string(),
            labels.get("dc").unwrap_or("").to_string(),
        );
        let part = match self.part_by_key.get(&part_key) {
            Some(&p) => p,
            None => {
                PartitionKey {
                    tenant: self.tenant.to_string(),
                    app: part_key.0.clone(),
                    version: part_key.1.clone(),
                    dc: part_key.2.clone(),
                    date: PartitionKey::date_of(0),
                }
                .check()
                .map_err(|e| self.bad(format!("row {row}: {e}")))?;
                let p = self.parts.len() as u32;
                self.parts.push(part_key.clone());
                self.part_by_key.insert(part_key, p);
                p
            }
        };
        let id = self.series.len() as u32;
        self.series.push(SeriesInfo { labels, part });
        self.series_by_key.insert(key, id);
        Ok(id)
    }

    /// The open block of `series`'s partition on the day of `time`.
    fn builder(&mut self, series: u32, time: i64) -> usize {
        let part = self.series[series as usize].part;
        let day = time.div_euclid(DAY_NANOS);
        if let Some(&b) = self.builder_of.get(&(part, day)) {
            return b;
        }
        let (app, version, dc) = self.parts[part as usize].clone();
        let key = PartitionKey {
            tenant: self.tenant.to_string(),
            app,
            version,
            dc,
            date: PartitionKey::date_of(time),
        };
        let b = self.builders.len();
        self.builders.push(Builder::new(key, part, day));
        self.builder_of.insert((part, day), b);
        b
    }

    /// Takes builder `b`'s rows as a block, leaving it empty.
    fn cut(&mut self, b: usize) -> ReadyBlock {
        let old = &mut self.builders[b];
        let fresh = Builder::new(old.key.clone(), old.part, old.day);
        let full = std::mem::replace(old, fresh);
        self.buffered -= full.samples.len();
        let chunk = self.chunks.entry((full.part, full.day)).or_insert(0);
        let n = *chunk;
        *chunk += 1;
        let path = BlockPath {
            id: block_id(self.content, &full.key, n),
            partition: full.key.clone(),
        };
        ReadyBlock {
            path,
            data: full.into_data(self.opts, &self.series),
        }
    }

    /// The remaining open blocks.
    fn finish(mut self) -> Vec<ReadyBlock> {
        (0..self.builders.len())
            .filter(|&b| !self.builders[b].samples.is_empty())
            .collect::<Vec<_>>()
            .into_iter()
            .map(|b| self.cut(b))
            .collect()
    }
}

/// A block's id: a hash of the file's content, the partition and the chunk number.
fn block_id(content: u128, key: &PartitionKey, chunk: u32) -> String {
    let mut h = Hash128::new();
    h.write(&content.to_le_bytes());
    for s in [&key.tenant, &key.app, &key.version, &key.dc] {
        h.write(&(s.len() as u64).to_le_bytes());
        h.write(s.as_bytes());
    }
    h.write(key.date.to_string().as_bytes());
    h.write(&chunk.to_le_bytes());
    format!("{:032x}", h.finish())
}

/// The rows of one partition and day, as they arrive.
struct Builder {
    key: PartitionKey,
    part: u32,
    day: i64,
    symbols: Symbols,
    /// Location of each frame name of the stack table (+1; 0 = not yet).
    location_of: Vec<u32>,
    /// Stack of each stack of the stack table (0 = not yet; the empty stack is never one).
    stack_of: Vec<u32>,
    /// Series of the file -> series of this block.
    series_of: HashMap<u32, u32>,
    series: Vec<u32>,
    profile_of: HashMap<(u32, i64), u32>,
    last: Option<(u32, i64, u32)>,
    profiles: ProfileRows,
    samples: SampleRows,
}

impl Builder {
    fn new(key: PartitionKey, part: u32, day: i64) -> Self {
        Builder {
            key,
            part,
            day,
            symbols: Symbols::new(),
            location_of: Vec::new(),
            stack_of: Vec::new(),
            series_of: HashMap::new(),
            series: Vec::new(),
            profile_of: HashMap::new(),
            last: None,
            profiles: ProfileRows::default(),
            samples: SampleRows::default(),
        }
    }

    /// Whether the last row pushed was of `series` at `time`.
    fn is_last(&self, series: u32, time: i64) -> bool {
        matches!(self.last, Some((s, t, _)) if s == series && t == time)
    }

    #[inline]
    fn push(&mut self, table: &StackTable, series: u32, time: i64, stack: u32, value: i64) {
        let profile = match self.last {
            Some((s, t, p)) if s == series && t == time => p,
            _ => self.profile(series, time),
        };
        let p = profile as usize;
        self.profiles.total[p] = self.profiles.total[p].saturating_add(value);
        let s = match self.stack_of.get(stack as usize) {
            Some(&s) if s != 0 => s,
            _ => self.import_stack(table, stack),
        };
        self.samples.push(profile, s, value);
    }

    fn profile(&mut self, series: u32, time: i64) -> u32 {
        let local = match self.series_of.get(&series) {
            Some(&l) => l,
            None => {
                let l = self.series.len() as u32;
                self.series.push(series);
                self.series_of.insert(series, l);
                l
            }
        };
        let profiles = &mut self.profiles;
        let p = *self.profile_of.entry((local, time)).or_insert_with(|| {
            profiles.push((0, local, time, 0, 0, 0, 0));
            (profiles.len() - 1) as u32
        });
        self.last = Some((series, time, p));
        p
    }

    #[cold]
    fn import_stack(&mut self, table: &StackTable, stack: u32) -> u32 {
        if self.stack_of.len() < table.len() {
            self.stack_of.resize(table.len(), 0);
        }
        if self.location_of.len() < table.names.len() {
            self.location_of.resize(table.names.len(), 0);
        }
        let mut node = StackId::EMPTY;
        for &name in table.frames_of(stack) {
            let slot = &mut self.location_of[name.index()];
            let location = if *slot != 0 {
                LocationId(*slot - 1)
            } else {
                let (base, kind) = FrameKind::split_suffix(table.names.get(name));
                let l = self.symbols.intern_named_location(base, None, 0, kind);
                self.location_of[name.index()] = l.0 + 1;
                l
            };
            node = self.symbols.stacks.child(node, location);
        }
        self.stack_of[stack as usize] = node.0;
        node.0
    }

    fn into_data(self, opts: &ImportOptions, series: &[SeriesInfo]) -> BlockData {
        let mut profiles = self.profiles;
        let n = profiles.len();
        profiles.duration = vec![opts.duration_nanos; n];
        profiles.period = vec![opts.period; n];
        BlockData {
            symbols: self.symbols,
            sample_types: vec![opts.sample_type.clone()],
            series: self
                .series
                .iter()
                .map(|&s| series[s as usize].labels.clone())
                .collect(),
            profiles,
            samples: self.samples,
        }
    }
}

/// Casts that fail on a value they cannot represent instead of making it null.
fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..CastOptions::default()
    }
}

/// A time column as ns since the epoch: timestamps of any unit, or integers taken as ns.
fn times_ns(a: &ArrayRef) -> std::result::Result<Vec<Option<i64>>, String> {
    let strict = strict();
    match a.data_type() {
        DataType::Timestamp(_, _) => {
            let c = cast_with_options(a, &DataType::Timestamp(TimeUnit::Nanosecond, None), &strict)
                .map_err(|e| format!("out of the range of ns timestamps: {e}"))?;
            Ok(c.as_primitive::<TimestampNanosecondType>().iter().collect())
        }
        t if t.is_integer() => {
            let c = cast_with_options(a, &DataType::Int64, &strict).map_err(|e| e.to_string())?;
            Ok(c.as_primitive::<Int64Type>().iter().collect())
        }
        t => Err(format!(
            "expected a timestamp or an integer (ns), found {t}"
        )),
    }
}

/// A label column's values as interned ids (0 = null or empty).
fn column_ids(col: &ArrayRef, ids: &mut ValueIds) -> std::result::Result<Vec<u32>, String> {
    let mut out = Vec::with_capacity(col.len());
    if let DataType::Dictionary(_, _) = col.data_type() {
        let dict = col.as_any_dictionary();
        let words = cast_with_options(dict.values(), &DataType::Utf8, &strict())
            .map_err(|e| format!("does not cast to text: {e}"))?;
        let words = words.as_string::<i32>();
        let of_word: Vec<u32> = (0..words.len())
            .map(|k| {
                if words.is_null(k) {
                    0
                } else {
                    ids.id(words.value(k))
                }
            })
            .collect();
        for (row, k) in dict.normalized_keys().into_iter().enumerate() {
            out.push(if col.is_null(row) { 0 } else { of_word[k] });
        }
        return Ok(out);
    }
    let text = cast_with_options(col, &DataType::Utf8, &strict())
        .map_err(|e| format!("does not cast to text: {e}"))?;
    let text = text.as_string::<i32>();
    // Sorted input repeats values: look up only when the value changes.
    let mut last: Option<(&str, u32)> = None;
    for row in 0..text.len() {
        if text.is_null(row) {
            out.push(0);
            continue;
        }
        let v = text.value(row);
        let id = match last {
            Some((l, id)) if l == v => id,
            _ => ids.id(v),
        };
        last = Some((v, id));
        out.push(id);
    }
    Ok(out)
}
