//! Where the bytes of a store written by `flamedb-bench ingest --store DIR` go, and what
//! other encodings would cost: `cargo run --release --example bytes_study -- DIR`.
//!
//! Prints, per variant, bytes per sample row over all current raw blocks:
//! - `symbols.bin` as written (one dictionary per block) and as one dictionary per app
//!   (the blocks of an app merged, only stacks in use, depth-first);
//! - `samples.parquet` as written, with stack ids of the shared app dictionary (they are
//!   sparser within a block), and with other value encodings and zstd levels.

use anyhow::Result;
use arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use flamedb_profile::{Remap, StackId};
use flamedb_storage::{BlockData, DataDir, PartitionFilter, StoreConfig, dict, schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::BTreeMap;
use std::sync::Arc;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn props(level: i32, value: Option<Encoding>) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_column_encoding(ColumnPath::from("profile"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("profile"), false)
        .set_column_encoding(ColumnPath::from("stack_id"), Encoding::DELTA_BINARY_PACKED)
        .set_column_dictionary_enabled(ColumnPath::from("stack_id"), false)
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(level).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_data_page_row_count_limit(20_000);
    if let Some(e) = value {
        b = b
            .set_column_encoding(ColumnPath::from("value"), e)
            .set_column_dictionary_enabled(ColumnPath::from("value"), false);
    }
    b.build()
}

fn samples_bytes(profile: &[u32], stack: &[u32], value: &[i64], p: WriterProperties) -> usize {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(profile.to_vec())),
        Arc::new(UInt32Array::from(stack.to_vec())),
        Arc::new(Int64Array::from(value.to_vec())),
    ];
    let batch = RecordBatch::try_new(schema::SAMPLES.clone(), columns).expect("batch");
    let mut w = ArrowWriter::try_new(Vec::new(), schema::SAMPLES.clone(), Some(p)).expect("w");
    w.write(&batch).expect("write");
    w.into_inner().expect("close").len()
}

/// The samples of `b` with stack ids of `shared`, sorted as a block sorts them.
fn remapped(
    b: &BlockData,
    shared: &mut flamedb_profile::Symbols,
) -> (Vec<u32>, Vec<u32>, Vec<i64>) {
    let mut remap = Remap::for_source(&b.symbols);
    let mut rows: Vec<(u16, u32, u32, u32, i64)> = (0..b.samples.len())
        .map(|i| {
            let p = b.samples.profile[i];
            let s = shared.import_stack(&b.symbols, &mut remap, StackId(b.samples.stack[i]));
            let pr = b.profiles.row(p as usize);
            (pr.0, pr.1, s.0, p, b.samples.value[i])
        })
        .collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1, r.2, r.3));
    (
        rows.iter().map(|r| r.3).collect(),
        rows.iter().map(|r| r.2).collect(),
        rows.iter().map(|r| r.4).collect(),
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    let dir = std::env::args()
        .nth(1)
        .expect("usage: bytes_study STORE_DIR");
    let (store, _) = DataDir(std::path::Path::new(&dir))
        .open_local(StoreConfig::default())
        .await?;
    let blocks = store.blocks("bench", &PartitionFilter::default()).await?;
    let mut by_app: BTreeMap<String, Vec<BlockData>> = BTreeMap::new();
    let mut rows = 0u64;
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    for b in blocks.iter().filter(|b| b.meta.rollup_nanos == 0) {
        let (_, data) = store.read_block(&b.path).await?;
        rows += data.samples.len() as u64;
        for (f, n) in &b.meta.file_sizes {
            *sizes.entry(f.clone()).or_default() += n;
        }
        by_app
            .entry(b.path.partition.app.clone())
            .or_default()
            .push(data);
    }
    let per_row = |n: usize| n as f64 / rows as f64;
    println!("rows {rows}; as written (B/row):");
    for (f, n) in &sizes {
        println!("  {f}: {:.4}", *n as f64 / rows as f64);
    }
    let variants: Vec<(&str, i32, Option<Encoding>)> = vec![
        ("zstd3 value=dict (as written)", 3, None),
        ("zstd3 value=delta", 3, Some(Encoding::DELTA_BINARY_PACKED)),
        ("zstd3 value=plain", 3, Some(Encoding::PLAIN)),
        ("zstd9 value=dict", 9, None),
        ("zstd9 value=delta", 9, Some(Encoding::DELTA_BINARY_PACKED)),
        ("zstd15 value=dict", 15, None),
        ("zstd19 value=dict", 19, None),
    ];
    let mut own = vec![0usize; variants.len()];
    let mut encode_s = vec![0f64; variants.len()];
    let mut shared_samples = vec![0usize; variants.len()];
    let (mut dict_own, mut dict_shared) = (0usize, 0usize);
    for (app, datas) in by_app {
        for d in &datas {
            dict_own += dict::encode(&d.symbols)?.len();
            for (i, (_, level, enc)) in variants.iter().enumerate() {
                let s = &d.samples;
                let t = std::time::Instant::now();
                own[i] += samples_bytes(&s.profile, &s.stack, &s.value, props(*level, *enc));
                encode_s[i] += t.elapsed().as_secs_f64();
            }
        }
        // One dictionary for the app: all its blocks merged, only stacks in use, depth-first.
        let merged = BlockData::merge(datas.iter().cloned()).normalize();
        let mut shared = merged.symbols.clone();
        let n = dict::encode(&shared)?.len();
        dict_shared += n;
        println!(
            "{app}: shared dictionary {n} bytes, {} stack nodes",
            shared.stacks.len()
        );
        for d in &datas {
            let before = shared.stacks.len();
            let (p, s, v) = remapped(d, &mut shared);
            assert_eq!(
                before,
                shared.stacks.len(),
                "the shared dictionary has every stack"
            );
            for (i, (_, level, enc)) in variants.iter().enumerate() {
                shared_samples[i] += samples_bytes(&p, &s, &v, props(*level, *enc));
            }
        }
    }
    println!("symbols.bin per block: {:.4}", per_row(dict_own));
    println!("symbols.bin per app:   {:.4}", per_row(dict_shared));
    for (i, (name, _, _)) in variants.iter().enumerate() {
        println!(
            "samples.parquet {name}: own ids {:.4}, shared ids {:.4}; encoding {:.2} s",
            per_row(own[i]),
            per_row(shared_samples[i]),
            encode_s[i]
        );
    }
    Ok(())
}
