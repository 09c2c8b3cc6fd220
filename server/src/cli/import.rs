//! `flamedb import SAMPLES.parquet... [--stacks STACKS.parquet] --sample-type TYPE:UNIT
//! (--data DIR | --store s3://...)`
//!
//! Bulk import of Parquet tables of (profile x stack) rows straight into blocks (see
//! [`flamedb_storage::import`] for the columns it reads): the normalized layout (`stack_id`
//! plus a stacks table) or folded text in a `stack` column. Every other column is a series
//! label. Running the same import again skips the blocks it already completed.

use super::storage_args::StorageArgs;
use anyhow::{Context, Result, bail};
use clap::Args;
use flamedb_storage::{ImportOptions, ImportSource, SampleType, StackTable, StoreConfig, Target};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `flamedb import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Parquet files of samples: a time column, `stack_id` (with --stacks) or `stack`
    /// (folded text), a value column, and series labels (`app` required) in every other
    /// column.
    #[arg(required = true, value_name = "SAMPLES.parquet")]
    files: Vec<PathBuf>,
    /// The stacks table `stack_id` refers to: Parquet with `stack_id` and `frames` (a list
    /// of frame names, root first) or `stack` (folded text).
    #[arg(long, value_name = "STACKS.parquet")]
    stacks: Option<PathBuf>,
    /// What the value column measures, `TYPE:UNIT` (for example `cpu:nanoseconds`,
    /// `alloc_space:bytes`, `samples:count`).
    #[arg(long, value_name = "TYPE:UNIT")]
    sample_type: String,
    /// Sampling period of the profiles in the value's unit (0 = unknown).
    #[arg(long, default_value_t = 0)]
    period: i64,
    /// Duration of each profile in seconds (0 = unknown).
    #[arg(long, default_value_t = 0.0)]
    duration_secs: f64,
    /// Time column: a timestamp (any unit) or an integer in ns.
    #[arg(long, default_value = "ts")]
    time_column: String,
    /// Value column (integer).
    #[arg(long, default_value = "value")]
    value_column: String,
    /// Columns that are neither read nor labels; repeat for several.
    #[arg(long = "ignore-column", value_name = "NAME")]
    ignore_columns: Vec<String>,
    /// Most rows per block.
    #[arg(long, default_value_t = 8 << 20)]
    max_block_rows: usize,
    /// Most rows one file's open blocks hold together (memory bound); past it the largest
    /// is written.
    #[arg(long, default_value_t = 16 << 20)]
    max_buffered_rows: usize,
    /// Deepest stack accepted.
    #[arg(long, default_value_t = 4096)]
    max_stack_depth: usize,
    /// Files imported at once (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Tenant to import into.
    #[arg(long, env = "FLAMEDB_TENANT", default_value = "default")]
    tenant: String,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Imports the files; prints what was stored, or the first error (exit status 1).
pub async fn run(args: ImportArgs) -> Result<ExitCode> {
    let opts = options(&args)?;
    let started = Instant::now();
    let stacks = match &args.stacks {
        Some(path) => Some(StackTable::load(path.clone().into(), &opts).await?),
        None => None,
    };
    // Blocks go straight to the object store; the write-ahead log is not opened, so an
    // import can run beside a server on the same store.
    let (objects, root) = flamedb_storage::object::build(&args.storage.object_store_config()?)?;
    let target = Target {
        objects,
        root,
        write: StoreConfig::default().write,
    };
    let sources = args.files.iter().cloned().map(ImportSource::from).collect();
    let report = flamedb_storage::import::import(target, &args.tenant, sources, stacks, opts)
        .await
        .context("import")?;
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let skipped = if report.blocks_skipped > 0 {
        format!(
            "; {} blocks were already complete from an earlier run",
            report.blocks_skipped
        )
    } else {
        String::new()
    };
    let rss =
        super::ingest::peak_rss_mib().map_or(String::new(), |m| format!("; peak RSS {m:.0} MiB"));
    eprintln!(
        "imported {} files: {} input rows -> {} rows in {} profiles, {} blocks, in {secs:.2} s ({:.0} input rows/s){skipped}{rss}",
        report.files,
        report.input_rows,
        report.rows,
        report.profiles,
        report.blocks,
        report.input_rows as f64 / secs,
    );
    Ok(ExitCode::SUCCESS)
}

fn options(args: &ImportArgs) -> Result<ImportOptions> {
    let sample_type =
        SampleType::parse(&args.sample_type).map_err(|e| anyhow::anyhow!("--sample-type: {e}"))?;
    if !(args.duration_secs.is_finite() && args.duration_secs >= 0.0) {
        bail!("--duration-secs must be a non-negative number of seconds");
    }
    if args.max_block_rows == 0 || args.max_stack_depth == 0 {
        bail!("--max-block-rows and --max-stack-depth must be at least 1");
    }
    let mut opts = ImportOptions::new(sample_type);
    opts.period = args.period;
    opts.duration_nanos = (args.duration_secs * 1e9) as i64;
    opts.time_column = args.time_column.clone();
    opts.value_column = args.value_column.clone();
    opts.ignore_columns = args.ignore_columns.clone();
    opts.max_block_rows = args.max_block_rows;
    opts.max_buffered_rows = args.max_buffered_rows;
    opts.max_stack_depth = args.max_stack_depth;
    opts.threads = args.threads;
    Ok(opts)
}
