//! Writing and reading a block: its Parquet tables, dictionary, index and metadata.
//!
//! A block is written file by file, `meta.json` last and with a create-only put, so a reader
//! either sees a complete block or none. Reading verifies versions, lengths and every
//! reference (a sample's stack, series and sample type), so a damaged block gives an error
//! that names its file instead of a wrong answer.

use crate::rows::{BlockData, ProfileRows, SampleRows};
use crate::schema::{self, FORMAT_KEY};
use crate::{BlockFile, BlockMeta, BlockPath, Error, Labels, Result, StackIndex, dict};
use arrow::array::{
    Array, ArrayRef, Int64Array, MapArray, MapBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampNanosecondArray, UInt16Array, UInt32Array,
};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

/// Block writes of this process hold this gate shared while they write a block's files
/// (the first data file to `meta.json`); the garbage collector's deletion of incomplete
/// blocks holds it exclusively from its listing to its last delete. So within a process
/// a block without `meta.json` that the collector lists is abandoned, never one being
/// written: the collector cannot list a block's data files, see its writer finish, and
/// then delete a complete block (which, with a grace of zero, lost acknowledged profiles:
/// a later block of the partition then made replay skip them).
static WRITE_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// A block write in progress (see [`WRITE_GATE`]); dropped when the write ends or is
/// abandoned (also when its future is cancelled).
pub(crate) struct Writing {
    _gate: tokio::sync::RwLockReadGuard<'static, ()>,
}

impl Writing {
    /// Waits while the collector deletes incomplete blocks, then holds it off.
    pub(crate) async fn start() -> Writing {
        Writing {
            _gate: WRITE_GATE.read().await,
        }
    }
}

/// Holds off every block write of this process (see [`WRITE_GATE`]).
pub(crate) async fn exclusive_of_writers() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    WRITE_GATE.write().await
}

/// Rows per Parquet row group of the samples table.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// How a block's Parquet tables are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// zstd level of the Parquet tables' pages, 1 to 22. Default 15.
    ///
    /// Measured on the medium bench fleet (36 blocks, 20.4 M rows; `cargo run --release
    /// --example bytes_study -- STORE`), `samples.parquet` in bytes per row and the
    /// seconds to encode all of it on one core: level 3 1.495 (0.7 s), 9 1.460 (1.6 s),
    /// 15 1.425 (3.1 s), 19 1.413 (5.8 s). The whole ingest of that fleet takes ~105 s of
    /// CPU, so level 15 costs ~2% of it for 5% fewer bytes.
    pub zstd_level: i32,
    /// Write the samples' `profile` column BYTE_STREAM_SPLIT instead of delta encoded:
    /// 0.90 instead of 0.98 bytes per row on the medium fleet, but ~1.8x the CPU to encode
    /// the samples table, so only the background writers (compaction, dictionary sharing)
    /// use it and a head's flush does not. Default false.
    pub profile_byte_stream_split: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            zstd_level: 15,
            profile_byte_stream_split: false,
        }
    }
}

impl WriteOptions {
    /// These options as the background writers (compaction, dictionary sharing) use them:
    /// smaller files for more CPU.
    pub fn for_compaction(self) -> Self {
        WriteOptions {
            profile_byte_stream_split: true,
            ..self
        }
    }
}

fn writer_props(format: String, level: ZstdLevel, split_profile: bool) -> WriterProperties {
    // Within a series, `stack_id` ascends (runs of one stack): delta encoding stores it in
    // a few bits per row, where a dictionary spends a whole index (measured on the medium
    // fleet: stack_id 1.9 -> 0.27 bytes per row). `profile` rises in small steps within a
    // run of a stack but jumps back at every run's start, which costs delta encoding wide
    // bit widths; split into byte streams, zstd finds the repetition of its bytes instead:
    // 0.98 -> 0.90 bytes per row on the medium fleet (`cargo run --release --example
    // bytes_study -- STORE`; PLAIN 1.17, dictionary 1.14, and storing a run's steps with
    // its start as a code column 0.85, not worth a schema change), for more CPU
    // ([`WriteOptions::profile_byte_stream_split`]).
    let profile_encoding = if split_profile {
        Encoding::BYTE_STREAM_SPLIT
    } else {
        Encoding::DELTA_BINARY_PACKED
    };
    WriterProperties::builder()
        .set_column_encoding(ColumnPath::from("profile"), profile_encoding)
        .set_column_dictionary_enabled(ColumnPath::from("profile"), false)
        .set_column_encoding(ColumnPath::from("stack_id"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("stack_id"), false)
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(20_000)
        .set_key_value_metadata(Some(vec![KeyValue::new(FORMAT_KEY.to_string(), format)]))
        .set_created_by(format!("flamedb {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn parquet_bytes(
    path: &str,
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    format: String,
    opts: &WriteOptions,
) -> Result<Vec<u8>> {
    let level = ZstdLevel::try_new(opts.zstd_level).map_err(|e| {
        Error::Invalid(format!(
            "zstd level {} for block tables: {e}",
            opts.zstd_level
        ))
    })?;
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let pq = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let mut w = ArrowWriter::try_new(
        Vec::new(),
        schema.clone(),
        Some(writer_props(format, level, opts.profile_byte_stream_split)),
    )
    .map_err(pq)?;
    w.write(&batch).map_err(pq)?;
    w.into_inner().map_err(pq)
}

fn samples_columns(s: &SampleRows) -> Vec<ArrayRef> {
    vec![
        Arc::new(UInt32Array::from(s.profile.clone())),
        Arc::new(UInt32Array::from(s.stack.clone())),
        Arc::new(Int64Array::from(s.value.clone())),
    ]
}

fn profiles_columns(p: &ProfileRows) -> Vec<ArrayRef> {
    vec![
        Arc::new(UInt16Array::from(p.sample_type.clone())),
        Arc::new(UInt32Array::from(p.series.clone())),
        Arc::new(TimestampNanosecondArray::from(p.time.clone()).with_timezone("UTC")),
        Arc::new(Int64Array::from(p.duration.clone())),
        Arc::new(Int64Array::from(p.period.clone())),
        Arc::new(Int64Array::from(p.total.clone())),
        Arc::new(UInt32Array::from(p.stacks.clone())),
    ]
}

fn series_columns(series: &[Labels]) -> Result<Vec<ArrayRef>> {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for labels in series {
        for (k, v) in labels.pairs() {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        b.append(true)?;
    }
    let ids: Vec<u32> = (0..series.len() as u32).collect();
    Ok(vec![Arc::new(UInt32Array::from(ids)), Arc::new(b.finish())])
}

/// Writes `data` (normalized: see [`BlockData::normalize`]) as block `block` below `root`
/// and returns its metadata. `meta` supplies the fields the data does not determine
/// (compaction level, sources, WAL range); the rest are computed here.
pub async fn write_block(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
    data: &BlockData,
    meta: BlockMeta,
) -> Result<BlockMeta> {
    write_block_with(store, root, block, data, meta, &WriteOptions::default()).await
}

/// [`write_block`] with the given [`WriteOptions`].
pub async fn write_block_with(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
    data: &BlockData,
    meta: BlockMeta,
    opts: &WriteOptions,
) -> Result<BlockMeta> {
    write_block_parts(store, root, block, data, &data.symbols, meta, opts).await
}

/// [`write_block_with`] with the dictionary given apart from the rest of the data (a
/// shared dictionary is not copied into every block's [`BlockData`]): `data.symbols` is
/// ignored. When `meta` names a dictionary elsewhere (`symbols_from`, `shared_symbols`),
/// `symbols` must be that dictionary and no `symbols.bin` is written.
pub async fn write_block_parts(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
    data: &BlockData,
    symbols: &flamedb_profile::Symbols,
    mut meta: BlockMeta,
    opts: &WriteOptions,
) -> Result<BlockMeta> {
    let file = |f: BlockFile| block.file(root, f);
    let name = |f: BlockFile| file(f).to_string();
    // Garbage collection leaves this block alone until `meta.json` is written or the write
    // is abandoned (the guard is dropped, also when this future is cancelled).
    let _writing = Writing::start().await;
    let samples = parquet_bytes(
        &name(BlockFile::Samples),
        &schema::SAMPLES,
        samples_columns(&data.samples),
        format!("samples/{}", schema::SAMPLES_VERSION),
        opts,
    )?;
    let profiles = parquet_bytes(
        &name(BlockFile::Profiles),
        &schema::PROFILES,
        profiles_columns(&data.profiles),
        format!("profiles/{}", schema::PROFILES_VERSION),
        opts,
    )?;
    let series = parquet_bytes(
        &name(BlockFile::Series),
        &schema::SERIES,
        series_columns(&data.series)?,
        format!("series/{}", schema::SERIES_VERSION),
        opts,
    )?;
    // Checks the depth-first order the readers' containment index relies on (a shared
    // dictionary was checked once when it was written).
    if meta.shared_symbols.is_none() {
        StackIndex::build(symbols)?;
    }
    let mut files = vec![
        (BlockFile::Samples, samples),
        (BlockFile::Profiles, profiles),
        (BlockFile::Series, series),
    ];
    // A block that uses another block's dictionary (`symbols_from`) or a shared one
    // writes none.
    if meta.symbols_from.is_none() && meta.shared_symbols.is_none() {
        files.push((BlockFile::Symbols, dict::encode(symbols)?));
    }
    meta.file_sizes = files
        .iter()
        .map(|(f, b)| (f.name().to_string(), b.len() as u64))
        .collect();
    let puts = files
        .into_iter()
        .map(|(f, bytes)| async move { store.put(&file(f), PutPayload::from(bytes)).await });
    futures::future::try_join_all(puts).await?;

    let (min, max) = data.time_range().unwrap_or((0, 0));
    meta.format_version = meta.needed_version();
    meta.layout_version = crate::path::LAYOUT_VERSION;
    meta.id = block.id.clone();
    meta.min_time_nanos = min;
    meta.max_time_nanos = max;
    meta.rows = data.samples.len() as u64;
    meta.profiles = data.profiles.len() as u64;
    meta.stacks = symbols.stacks.len() as u64;
    meta.series = data.series.len() as u64;
    meta.sample_types = data.sample_types.clone();
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    let meta_path = file(BlockFile::Meta);
    match store
        .put_opts(&meta_path, PutPayload::from(meta.to_json()), opts)
        .await
    {
        Ok(_) => {}
        // Stores without conditional puts: a plain put is still atomic per object.
        Err(object_store::Error::NotImplemented { .. }) => {
            store
                .put(&meta_path, PutPayload::from(meta.to_json()))
                .await?;
        }
        Err(e) => return Err(e.into()),
    }
    Ok(meta)
}

/// Reads a block's metadata.
pub async fn read_meta(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
) -> Result<BlockMeta> {
    let path = block.file(root, BlockFile::Meta);
    let bytes = store.get(&path).await?.bytes().await?;
    BlockMeta::from_json(block, path.as_ref(), &bytes)
}

/// Reads a block's dictionary: its own, the one named by `meta.symbols_from`, or the shared
/// dictionary of `meta.shared_symbols` ([`BlockMeta::dict_owner`]). A missing dictionary
/// file is [`Error::MissingDictionary`], naming the block.
pub async fn read_symbols(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
    meta: &BlockMeta,
) -> Result<flamedb_profile::Symbols> {
    let owner = meta.dict_owner(block);
    let path = owner.file(root);
    let bytes = match store.get(&path).await {
        Ok(r) => r.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Error::MissingDictionary {
                block: block.dir(root).to_string(),
                dict: path.to_string(),
            });
        }
        Err(e) => return Err(e.into()),
    };
    dict::decode(path.as_ref(), &bytes)
}

async fn get_bytes(store: &dyn ObjectStore, path: &Path) -> Result<Bytes> {
    match store.get(path).await {
        Ok(r) => Ok(r.bytes().await?),
        Err(object_store::Error::NotFound { .. }) => Err(Error::corrupt(path, "file missing")),
        Err(e) => Err(e.into()),
    }
}

/// Opens a Parquet table of a block, checking its format marker.
async fn open_table(
    store: &dyn ObjectStore,
    path: &Path,
    table: &str,
    version: u32,
    options: ArrowReaderOptions,
) -> Result<ParquetRecordBatchReaderBuilder<Bytes>> {
    let bytes = get_bytes(store, path).await?;
    let pq = |source| Error::Parquet {
        path: path.to_string(),
        source,
    };
    let builder =
        ParquetRecordBatchReaderBuilder::try_new_with_options(bytes, options).map_err(pq)?;
    let marker = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == FORMAT_KEY))
        .and_then(|k| k.value.clone())
        .unwrap_or_default();
    let found = marker
        .strip_prefix(table)
        .and_then(|v| v.strip_prefix('/'))
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| {
            Error::corrupt(
                path,
                format!("not a flamedb {table} table (marker {marker:?})"),
            )
        })?;
    if found > version {
        return Err(Error::UnsupportedVersion {
            path: path.to_string(),
            found,
            supported: version,
        });
    }
    Ok(builder)
}

/// Reads a whole Parquet table of a block into one batch, checking its format marker.
async fn read_table(
    store: &dyn ObjectStore,
    path: &Path,
    table: &str,
    version: u32,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let builder = open_table(store, path, table, version, ArrowReaderOptions::new()).await?;
    let reader = builder.build().map_err(|source| Error::Parquet {
        path: path.to_string(),
        source,
    })?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    let batch = arrow::compute::concat_batches(schema, &batches)?;
    Ok(batch)
}

fn column<'a, T: Array + 'static>(
    batch: &'a RecordBatch,
    path: &Path,
    name: &str,
) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| Error::corrupt(path, format!("column {name} missing or of the wrong type")))
}

/// Reads a whole block into memory and checks its internal references.
pub async fn read_block(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
) -> Result<(BlockMeta, BlockData)> {
    let meta = read_meta(store, root, block).await?;
    let symbols = read_symbols(store, root, block, &meta).await?;
    let samples = read_samples(store, root, block).await?;
    let profiles = read_profiles(store, root, block).await?;
    let series = read_series(store, root, block).await?;
    let data = BlockData {
        symbols,
        sample_types: meta.sample_types.clone(),
        series,
        samples,
        profiles,
    };
    check_references(&meta, &data, block, root)?;
    Ok((meta, data))
}

/// Reads a block's sample rows (`samples.parquet`), checking its format marker.
pub async fn read_samples(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
) -> Result<SampleRows> {
    read_samples_with(store, root, block, &SampleRead::default()).await
}

/// Which part of `samples.parquet` [`read_samples_with`] reads.
#[derive(Debug, Clone, Default)]
pub struct SampleRead {
    /// Row ranges to read, ascending and disjoint (`None`: every row). Pages outside them
    /// are skipped through the Parquet page index, not decoded.
    pub rows: Option<Vec<std::ops::Range<usize>>>,
    /// Leave the `profile` column out (the returned rows then have an empty `profile`):
    /// for readers that know each row's profile group from [`group_rows`].
    pub skip_profile: bool,
}

/// Reads the rows and columns `read` selects of a block's sample rows, in file order.
pub async fn read_samples_with(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
    read: &SampleRead,
) -> Result<SampleRows> {
    let sp = block.file(root, BlockFile::Samples);
    // The offset index locates the pages of the selected rows; min/max are not needed.
    let options = if read.rows.is_some() {
        ArrowReaderOptions::new().with_offset_index_policy(PageIndexPolicy::Optional)
    } else {
        ArrowReaderOptions::new()
    };
    let mut builder = open_table(store, &sp, "samples", schema::SAMPLES_VERSION, options).await?;
    let pq = |source| Error::Parquet {
        path: sp.to_string(),
        source,
    };
    let total = builder.metadata().file_metadata().num_rows().max(0) as usize;
    let mut expected = total;
    if let Some(ranges) = &read.rows {
        if ranges.iter().any(|r| r.end > total || r.start > r.end)
            || ranges.windows(2).any(|w| w[0].end > w[1].start)
        {
            return Err(Error::corrupt(
                &sp,
                format!("row ranges outside the {total} rows of the file or out of order"),
            ));
        }
        expected = ranges.iter().map(|r| r.len()).sum();
        builder = builder.with_row_selection(RowSelection::from_consecutive_ranges(
            ranges.iter().cloned(),
            total,
        ));
    }
    let wanted: &[&str] = if read.skip_profile {
        &["stack_id", "value"]
    } else {
        &["profile", "stack_id", "value"]
    };
    let schema_descr = builder.parquet_schema();
    let indices: Vec<usize> = wanted
        .iter()
        .map(|name| {
            schema_descr
                .columns()
                .iter()
                .position(|c| c.name() == *name)
                .ok_or_else(|| Error::corrupt(&sp, format!("column {name} missing")))
        })
        .collect::<Result<_>>()?;
    let mask = ProjectionMask::leaves(schema_descr, indices);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(pq)?;
    let mut out = SampleRows {
        profile: Vec::with_capacity(if read.skip_profile { 0 } else { expected }),
        stack: Vec::with_capacity(expected),
        value: Vec::with_capacity(expected),
    };
    for batch in reader {
        let b = batch?;
        if !read.skip_profile {
            out.profile
                .extend_from_slice(column::<UInt32Array>(&b, &sp, "profile")?.values());
        }
        out.stack
            .extend_from_slice(column::<UInt32Array>(&b, &sp, "stack_id")?.values());
        out.value
            .extend_from_slice(column::<Int64Array>(&b, &sp, "value")?.values());
    }
    if out.value.len() != expected {
        return Err(Error::corrupt(
            &sp,
            format!(
                "read {} rows where {expected} were selected",
                out.value.len()
            ),
        ));
    }
    Ok(out)
}

/// The sample rows of each (sample type, series) group of a block's profile rows: `(first
/// profile, end profile, rows)` with the group's profiles `first..end` and its sample rows
/// `rows`, in file order.
///
/// Sample rows are sorted by (sample type, series, stack, time) and profile rows by
/// (sample type, series, time), and a profile row's `stacks` is the number of sample rows
/// it has (one per distinct stack, duplicates summed when the head appends), so a group's
/// rows are contiguous and their count is the sum of its profiles' `stacks`. `None` when
/// the counts do not add up to `rows` (the block's row count): readers then fall back to
/// the `profile` column.
pub fn group_rows(
    profiles: &ProfileRows,
    rows: usize,
) -> Option<Vec<(usize, usize, std::ops::Range<usize>)>> {
    let mut out = Vec::new();
    let (mut p, mut row) = (0usize, 0usize);
    while p < profiles.len() {
        let key = (profiles.sample_type[p], profiles.series[p]);
        let first = p;
        let start = row;
        while p < profiles.len() && (profiles.sample_type[p], profiles.series[p]) == key {
            row += profiles.stacks[p] as usize;
            p += 1;
        }
        out.push((first, p, start..row));
    }
    (row == rows).then_some(out)
}

/// Reads a block's profile rows (`profiles.parquet`: one row per profile, small).
pub async fn read_profiles(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
) -> Result<ProfileRows> {
    let pp = block.file(root, BlockFile::Profiles);
    let b = read_table(
        store,
        &pp,
        "profiles",
        schema::PROFILES_VERSION,
        &schema::PROFILES,
    )
    .await?;
    Ok(ProfileRows {
        sample_type: column::<UInt16Array>(&b, &pp, "sample_type")?
            .values()
            .to_vec(),
        series: column::<UInt32Array>(&b, &pp, "series_id")?
            .values()
            .to_vec(),
        time: column::<TimestampNanosecondArray>(&b, &pp, "time")?
            .values()
            .to_vec(),
        duration: column::<Int64Array>(&b, &pp, "duration_nanos")?
            .values()
            .to_vec(),
        period: column::<Int64Array>(&b, &pp, "period")?.values().to_vec(),
        total: column::<Int64Array>(&b, &pp, "total")?.values().to_vec(),
        stacks: column::<UInt32Array>(&b, &pp, "stacks")?.values().to_vec(),
    })
}

/// Reads a block's series labels (`series.parquet`: one row per series, small).
pub async fn read_series(
    store: &dyn ObjectStore,
    root: &Path,
    block: &BlockPath,
) -> Result<Vec<Labels>> {
    let lp = block.file(root, BlockFile::Series);
    let b = read_table(
        store,
        &lp,
        "series",
        schema::SERIES_VERSION,
        &schema::SERIES,
    )
    .await?;
    series_of(&b, &lp)
}

fn series_of(b: &RecordBatch, path: &Path) -> Result<Vec<Labels>> {
    let ids = column::<UInt32Array>(b, path, "series_id")?;
    let map = column::<MapArray>(b, path, "labels")?;
    let keys = map
        .keys()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::corrupt(path, "label names are not strings"))?;
    let values = map
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::corrupt(path, "label values are not strings"))?;
    let offsets = map.value_offsets();
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.values().iter().enumerate() {
        if *id as usize != i {
            return Err(Error::corrupt(path, format!("series id {id} at row {i}")));
        }
        let (a, z) = (offsets[i] as usize, offsets[i + 1] as usize);
        let pairs = (a..z)
            .map(|j| (keys.value(j).to_string(), values.value(j).to_string()))
            .collect();
        out.push(Labels::from_stored(pairs));
    }
    Ok(out)
}

fn check_references(meta: &BlockMeta, d: &BlockData, block: &BlockPath, root: &Path) -> Result<()> {
    let sp = block.file(root, BlockFile::Samples);
    let bad = |what: &str| Err(Error::corrupt(&sp, what));
    if d.samples.len() as u64 != meta.rows {
        return bad("row count differs from meta.json");
    }
    let (types, series, stacks) = (d.sample_types.len(), d.series.len(), d.symbols.stacks.len());
    if d.profiles.sample_type.iter().any(|&t| t as usize >= types) {
        return bad("a profile refers to a missing sample type");
    }
    if d.profiles.series.iter().any(|&s| s as usize >= series) {
        return bad("a profile refers to a missing series");
    }
    if d.samples
        .profile
        .iter()
        .any(|&p| p as usize >= d.profiles.len())
    {
        return bad("a row refers to a missing profile");
    }
    if d.samples.stack.iter().any(|&s| s as usize >= stacks) {
        return bad("a row refers to a missing stack");
    }
    Ok(())
}
