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

/// One way of writing `samples.parquet`: zstd level, encoding per column (`None`: the
/// dictionary encoding) and rows per data page.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    level: i32,
    profile: Option<Encoding>,
    stack: Option<Encoding>,
    value: Option<Encoding>,
    page_rows: usize,
}

fn props(v: &Variant) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(v.level).unwrap_or_default(),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .set_data_page_row_count_limit(v.page_rows);
    for (col, enc) in [
        ("profile", v.profile),
        ("stack_id", v.stack),
        ("value", v.value),
    ] {
        if let Some(e) = enc {
            b = b
                .set_column_encoding(ColumnPath::from(col), e)
                .set_column_dictionary_enabled(ColumnPath::from(col), false);
        }
    }
    b.build()
}

/// Bytes per column (compressed) and of the whole file.
fn samples_bytes(profile: &[u32], stack: &[u32], value: &[i64], p: WriterProperties) -> [usize; 4] {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(profile.to_vec())),
        Arc::new(UInt32Array::from(stack.to_vec())),
        Arc::new(Int64Array::from(value.to_vec())),
    ];
    let batch = RecordBatch::try_new(schema::SAMPLES.clone(), columns).expect("batch");
    let mut w = ArrowWriter::try_new(Vec::new(), schema::SAMPLES.clone(), Some(p)).expect("w");
    w.write(&batch).expect("write");
    let bytes = w.into_inner().expect("close");
    let meta = parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(
        bytes.clone(),
    ))
    .expect("read back");
    use parquet::file::reader::FileReader;
    let mut out = [0, 0, 0, bytes.len()];
    for rg in meta.metadata().row_groups() {
        for (i, c) in rg.columns().iter().enumerate() {
            out[i] += c.compressed_size() as usize;
        }
    }
    out
}

/// Bytes of one INT32 column written with `enc` at zstd 15.
fn column_bytes(values: &[i32], enc: Encoding) -> usize {
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![Field::new(
        "code",
        DataType::Int32,
        false,
    )]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(arrow::array::Int32Array::from(values.to_vec())) as ArrayRef],
    )
    .expect("batch");
    let p = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(15).unwrap_or_default(),
        ))
        .set_dictionary_enabled(false)
        .set_encoding(enc)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_data_page_row_count_limit(20_000)
        .build();
    let mut w = ArrowWriter::try_new(Vec::new(), schema, Some(p)).expect("w");
    w.write(&batch).expect("write");
    w.into_inner().expect("close").len()
}

/// The `profile` column as run codes: a row continuing its (group, stack) run stores the
/// step from the previous row's profile (>= 1); a run's first row stores -(profile + 1)
/// (variant `relative`: -(profile - the group's first profile + 1)).
fn run_codes(d: &BlockData, p: &[u32], s: &[u32], relative: bool) -> Vec<i32> {
    let group = |i: usize| {
        let r = d.profiles.row(p[i] as usize);
        (r.0, r.1)
    };
    let mut first_of_group = 0u32;
    let mut out = Vec::with_capacity(p.len());
    for i in 0..p.len() {
        let new_group = i == 0 || group(i) != group(i - 1);
        if new_group {
            first_of_group = p[i];
            // The group's first profile: the smallest profile index of its rows.
            let g = group(i);
            let mut j = i;
            while j < p.len() && group(j) == g {
                first_of_group = first_of_group.min(p[j]);
                j += 1;
            }
        }
        if !new_group && s[i] == s[i - 1] && p[i] > p[i - 1] {
            out.push((p[i] - p[i - 1]) as i32);
        } else {
            let base = if relative { first_of_group } else { 0 };
            out.push(-((p[i] - base) as i32 + 1));
        }
    }
    out
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
    use Encoding::{BYTE_STREAM_SPLIT as BSS, DELTA_BINARY_PACKED as DELTA, PLAIN};
    let base = Variant {
        name: "zstd15 delta/delta/dict p20k (as written)",
        level: 15,
        profile: Some(DELTA),
        stack: Some(DELTA),
        value: None,
        page_rows: 20_000,
    };
    let mut variants = vec![base];
    let only = std::env::args().nth(2).unwrap_or_default();
    let more = [
        Variant {
            name: "profile=plain",
            profile: Some(PLAIN),
            ..base
        },
        Variant {
            name: "profile=bss",
            profile: Some(BSS),
            ..base
        },
        Variant {
            name: "profile=dict",
            profile: None,
            ..base
        },
        Variant {
            name: "stack=plain",
            stack: Some(PLAIN),
            ..base
        },
        Variant {
            name: "stack=bss",
            stack: Some(BSS),
            ..base
        },
        Variant {
            name: "value=delta",
            value: Some(DELTA),
            ..base
        },
        Variant {
            name: "value=plain",
            value: Some(PLAIN),
            ..base
        },
        Variant {
            name: "value=bss",
            value: Some(BSS),
            ..base
        },
        Variant {
            name: "pages 100k",
            page_rows: 100_000,
            ..base
        },
        Variant {
            name: "pages 1M",
            page_rows: 1 << 20,
            ..base
        },
        Variant {
            name: "zstd19",
            level: 19,
            ..base
        },
        Variant {
            name: "zstd22",
            level: 22,
            ..base
        },
        Variant {
            name: "combo profile=bss pages 50k",
            profile: Some(BSS),
            page_rows: 50_000,
            ..base
        },
        Variant {
            name: "combo profile=bss pages 100k",
            profile: Some(BSS),
            page_rows: 100_000,
            ..base
        },
        Variant {
            name: "combo profile=bss zstd19",
            profile: Some(BSS),
            level: 19,
            ..base
        },
        Variant {
            name: "combo profile=bss stack=bss",
            profile: Some(BSS),
            stack: Some(BSS),
            ..base
        },
    ];
    variants.extend(
        more.into_iter()
            .filter(|v| only.is_empty() || v.name.contains(&only)),
    );
    let mut own = vec![[0usize; 4]; variants.len()];
    let mut encode_s = vec![0f64; variants.len()];
    let mut shared_samples = vec![[0usize; 4]; variants.len()];
    let (mut dict_own, mut dict_shared) = (0usize, 0usize);
    let mut code_bytes = [0usize; 6];
    let mut run_starts = 0usize;
    let add = |acc: &mut [usize; 4], x: [usize; 4]| {
        for i in 0..4 {
            acc[i] += x[i];
        }
    };
    for (app, datas) in by_app {
        for d in &datas {
            dict_own += dict::encode(&d.symbols)?.len();
            for (i, v) in variants.iter().enumerate() {
                let s = &d.samples;
                let t = std::time::Instant::now();
                add(
                    &mut own[i],
                    samples_bytes(&s.profile, &s.stack, &s.value, props(v)),
                );
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
            for (k, relative) in [false, true].into_iter().enumerate() {
                let codes = run_codes(d, &p, &s, relative);
                for (j, enc) in [
                    Encoding::PLAIN,
                    Encoding::BYTE_STREAM_SPLIT,
                    Encoding::DELTA_BINARY_PACKED,
                ]
                .into_iter()
                .enumerate()
                {
                    code_bytes[k * 3 + j] += column_bytes(&codes, enc);
                }
                run_starts += codes.iter().filter(|&&c| c < 0).count();
            }
            for (i, var) in variants.iter().enumerate() {
                add(
                    &mut shared_samples[i],
                    samples_bytes(&p, &s, &v, props(var)),
                );
            }
        }
    }
    println!("run starts: {:.4} of rows", per_row(run_starts) / 2.0);
    for (k, name) in ["absolute", "relative"].iter().enumerate() {
        println!(
            "profile as run codes ({name} starts): plain {:.4}, bss {:.4}, delta {:.4}",
            per_row(code_bytes[k * 3]),
            per_row(code_bytes[k * 3 + 1]),
            per_row(code_bytes[k * 3 + 2])
        );
    }
    println!("symbols.bin per block: {:.4}", per_row(dict_own));
    println!("symbols.bin per app:   {:.4}", per_row(dict_shared));
    for (i, v) in variants.iter().enumerate() {
        let f = |x: [usize; 4]| {
            format!(
                "{:.4} (profile {:.4} stack {:.4} value {:.4})",
                per_row(x[3]),
                per_row(x[0]),
                per_row(x[1]),
                per_row(x[2])
            )
        };
        println!(
            "samples {}: own ids {}, shared ids {}; encoding {:.2} s",
            v.name,
            f(own[i]),
            f(shared_samples[i]),
            encode_s[i]
        );
    }
    Ok(())
}
