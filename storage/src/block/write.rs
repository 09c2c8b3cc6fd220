//! Writing a block: its tables and dictionary file by file, then `meta.json` last with a
//! create-only put.

use super::Writing;
use super::columns::{
    WriteOptions, parquet_bytes, profiles_columns, samples_columns, series_columns,
};
use crate::rows::BlockData;
use crate::schema;
use crate::{BlockFile, BlockMeta, BlockPath, Result, StackIndex, dict};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

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
    // Checks that the stack tree is in depth-first pre-order, as normalization leaves it
    // (a shared dictionary was checked once when it was written). The index built for the
    // check is dropped: no reader uses one (the query engine's stack predicates mark the
    // matching nodes of each dictionary instead).
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
