//! The import of one file: each batch's rows mapped to series and partitions and pushed
//! into the open block of their partition and day; blocks cut at the row limits.

use super::DAY_NANOS;
use super::builder::Builder;
use super::columns::{ValueIds, column_ids, stack_ids, strict, times_ns};
use super::ids::block_id;
use super::{ImportOptions, StackTable};
use crate::{BlockData, BlockPath, Error, Labels, PartitionKey, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast_with_options;
use arrow::datatypes::{DataType, Int64Type};
use hashbrown::HashMap;

/// A block ready to write: its path and data (not yet normalized).
pub(super) struct ReadyBlock {
    pub(super) path: BlockPath,
    pub(super) data: BlockData,
}

/// A series of the file: its labels and partition.
pub(super) struct SeriesInfo {
    pub(super) labels: Labels,
    part: u32,
}

/// The import of one file: series and open blocks.
pub(super) struct FileImport<'a> {
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
    pub(super) fn new(
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
    pub(super) fn push(&mut self, batch: &RecordBatch, first_row: u64) -> Result<Vec<ReadyBlock>> {
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
    pub(super) fn finish(mut self) -> Vec<ReadyBlock> {
        (0..self.builders.len())
            .filter(|&b| !self.builders[b].samples.is_empty())
            .collect::<Vec<_>>()
            .into_iter()
            .map(|b| self.cut(b))
            .collect()
    }
}
