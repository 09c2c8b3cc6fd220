//! Reading a block: its metadata, dictionary, profile and series tables, and the whole
//! block with every reference checked; the table opener that checks format markers.

use super::samples::read_samples;
use crate::rows::{BlockData, ProfileRows};
use crate::schema::{self, FORMAT_KEY};
use crate::{BlockFile, BlockMeta, BlockPath, Error, Labels, Result, dict};
use arrow::array::{
    Array, Int64Array, MapArray, RecordBatch, StringArray, TimestampNanosecondArray, UInt16Array,
    UInt32Array,
};
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};

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
pub(super) async fn open_table(
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

pub(super) fn column<'a, T: Array + 'static>(
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
