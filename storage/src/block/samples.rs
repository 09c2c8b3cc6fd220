//! Reading `samples.parquet`: all of it, or the row ranges and columns a [`SampleRead`]
//! selects; [`group_rows`] locates the rows of each (sample type, series) group.

use super::read::{column, open_table};
use crate::rows::{ProfileRows, SampleRows};
use crate::schema;
use crate::{BlockFile, BlockPath, Error, Result};
use arrow::array::{Int64Array, UInt32Array};
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, RowSelection};
use parquet::file::metadata::PageIndexPolicy;

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
