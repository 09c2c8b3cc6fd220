//! The output columns of [`FlameScanExec`](super::scan::FlameScanExec): [`Side`] turns the
//! kept rows of a block into record batches of the scan's projection, gathering the
//! per-profile columns from the block's profile rows and series and the `stack` column
//! from its dictionary's node keys.

use super::scan::ScanSpec;
use crate::table::schema::Col;
use arrow::array::{
    ArrayRef, DictionaryArray, Int64Array, MapBuilder, StringArray, StringBuilder,
    TimestampNanosecondArray, UInt16Array, UInt32Array, UInt64Array,
};
use arrow::datatypes::{SchemaRef, UInt16Type};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::error::Result;
use flamedb_storage::{BlockInfo, Labels};
use std::sync::Arc;

/// A block's side data, for building output columns.
pub(super) struct Side<'a> {
    pub(super) b: &'a BlockInfo,
    pub(super) profiles: &'a flamedb_storage::ProfileRows,
    pub(super) series: &'a [Labels],
}

impl Side<'_> {
    /// Output batches for `rows` (sample row indexes, or profile row indexes when
    /// `samples` is `None`).
    pub(super) fn batches(
        &self,
        spec: &ScanSpec,
        schema: &SchemaRef,
        rows: &[u32],
        samples: Option<&flamedb_storage::SampleRows>,
        keys: Option<&[u64]>,
        batch_size: usize,
    ) -> Result<Vec<RecordBatch>> {
        let labels_all = spec
            .projection
            .contains(&Col::Labels)
            .then(|| labels_array(self.series));
        let mut out = Vec::with_capacity(rows.len() / batch_size + 1);
        for chunk in rows.chunks(batch_size) {
            let profile_of: Vec<u32> = match samples {
                Some(s) => chunk.iter().map(|&r| s.profile[r as usize]).collect(),
                None => chunk.to_vec(),
            };
            let mut cols: Vec<ArrayRef> = Vec::with_capacity(spec.projection.len());
            for c in &spec.projection {
                cols.push(self.column(*c, chunk, &profile_of, samples, keys, &labels_all)?);
            }
            let opts = RecordBatchOptions::new().with_row_count(Some(chunk.len()));
            out.push(RecordBatch::try_new_with_options(
                schema.clone(),
                cols,
                &opts,
            )?);
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn column(
        &self,
        c: Col,
        rows: &[u32],
        profile_of: &[u32],
        samples: Option<&flamedb_storage::SampleRows>,
        keys: Option<&[u64]>,
        labels_all: &Option<ArrayRef>,
    ) -> Result<ArrayRef> {
        let p = self.profiles;
        let gather =
            |v: &[i64]| -> Vec<i64> { profile_of.iter().map(|&i| v[i as usize]).collect() };
        let part = &self.b.path.partition;
        Ok(match c {
            Col::Time => {
                Arc::new(TimestampNanosecondArray::from(gather(&p.time)).with_timezone("UTC"))
            }
            Col::Duration => Arc::new(Int64Array::from(gather(&p.duration))),
            Col::Period => Arc::new(Int64Array::from(gather(&p.period))),
            Col::Total => Arc::new(Int64Array::from(gather(&p.total))),
            Col::Stacks => Arc::new(UInt32Array::from(
                profile_of
                    .iter()
                    .map(|&i| p.stacks[i as usize])
                    .collect::<Vec<_>>(),
            )),
            Col::App => constant(&part.app, rows.len()),
            Col::Version => constant(&part.version, rows.len()),
            Col::Dc => constant(&part.dc, rows.len()),
            Col::SampleType | Col::SampleUnit => {
                let values: Vec<&str> = self
                    .b
                    .meta
                    .sample_types
                    .iter()
                    .map(|t| {
                        if c == Col::SampleType {
                            t.kind.as_str()
                        } else {
                            t.unit.as_str()
                        }
                    })
                    .collect();
                let k: UInt16Array = profile_of
                    .iter()
                    .map(|&i| p.sample_type[i as usize])
                    .collect();
                Arc::new(DictionaryArray::<UInt16Type>::try_new(
                    k,
                    Arc::new(StringArray::from(values)),
                )?)
            }
            Col::Labels => {
                let all = labels_all.as_ref().ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("labels not built".into())
                })?;
                let idx: UInt32Array = profile_of.iter().map(|&i| p.series[i as usize]).collect();
                arrow::compute::take(all.as_ref(), &idx, None)?
            }
            Col::Stack => {
                let (s, keys) = samples.zip(keys).ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("stack keys not loaded".into())
                })?;
                Arc::new(UInt64Array::from(
                    rows.iter()
                        .map(|&r| keys.get(s.stack[r as usize] as usize).copied().unwrap_or(0))
                        .collect::<Vec<_>>(),
                ))
            }
            Col::Value => {
                let s = samples.ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal("no samples".into())
                })?;
                Arc::new(Int64Array::from(
                    rows.iter()
                        .map(|&r| s.value[r as usize])
                        .collect::<Vec<_>>(),
                ))
            }
        })
    }
}

/// A dictionary column with one value repeated.
fn constant(v: &str, n: usize) -> ArrayRef {
    let keys = UInt16Array::from(vec![0u16; n]);
    Arc::new(DictionaryArray::<UInt16Type>::new(
        keys,
        Arc::new(StringArray::from(vec![v])),
    ))
}

/// One map entry per series.
fn labels_array(series: &[Labels]) -> ArrayRef {
    let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for l in series {
        for (k, v) in l.pairs() {
            b.keys().append_value(k);
            b.values().append_value(v);
        }
        // Appending a map entry only fails when keys and values differ in length.
        let _ = b.append(true);
    }
    Arc::new(b.finish())
}
