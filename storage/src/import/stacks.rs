//! [`StackTable`]: stacks by id as lists of frame names, loaded from the stacks table of
//! the normalized layout or built from one file's folded `stack` column.

use super::columns::{stack_ids, strict};
use super::ids::Hash128;
use super::{ImportOptions, ImportSource};
use crate::{Error, Result};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast_with_options;
use arrow::datatypes::{DataType, Field};
use flamedb_profile::{StrId, StringTable};
use hashbrown::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Stacks by id, each a list of frame names root first: the stacks table of the normalized
/// layout, or the folded stacks of one file.
#[derive(Debug, Default)]
pub struct StackTable {
    pub(super) names: StringTable,
    frames: Vec<StrId>,
    /// Stack `i` is `frames[ends[i - 1]..ends[i]]`.
    ends: Vec<u32>,
    pub(super) by_id: HashMap<u64, u32>,
    by_text: HashMap<Box<str>, u32>,
    /// Hash of every (id, frames) added, in order: part of the imported blocks' ids.
    pub(super) digest: Hash128,
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
    pub(super) fn folded(
        &mut self,
        text: &str,
        max_depth: usize,
    ) -> std::result::Result<u32, String> {
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

    pub(super) fn frames_of(&self, i: u32) -> &[StrId] {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.frames[start..self.ends[i] as usize]
    }
}
