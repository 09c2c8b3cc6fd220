//! [`ImportSource`]: a Parquet table to import, from a file or bytes; its reader and the
//! hash of its content.

use super::ids::Hash128;
use crate::{Error, Result};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One Parquet table to import: a local file, or bytes received (an HTTP upload).
#[derive(Debug, Clone)]
pub enum ImportSource {
    /// A file on the local disk.
    File(PathBuf),
    /// Bytes in memory, named in errors by `name`.
    Bytes {
        /// What errors call it (for example the upload's part and file name).
        name: String,
        /// The Parquet file's bytes.
        data: bytes::Bytes,
    },
}

impl From<PathBuf> for ImportSource {
    fn from(p: PathBuf) -> Self {
        ImportSource::File(p)
    }
}

impl ImportSource {
    /// The name errors use.
    pub fn name(&self) -> String {
        match self {
            ImportSource::File(p) => p.display().to_string(),
            ImportSource::Bytes { name, .. } => name.clone(),
        }
    }

    /// A 128-bit hash of the content.
    pub(super) fn content_hash(&self) -> Result<u128> {
        match self {
            ImportSource::File(p) => content_hash(p),
            ImportSource::Bytes { data, .. } => {
                let mut h = Hash128::new();
                h.write(data);
                Ok(h.finish())
            }
        }
    }

    /// A reader of its record batches.
    pub(super) fn reader(&self, batch_rows: usize) -> Result<ParquetRecordBatchReader> {
        let name = self.name();
        let pq = |source| Error::Parquet {
            path: name.clone(),
            source,
        };
        fn build<R: parquet::file::reader::ChunkReader + 'static>(
            r: R,
            batch_rows: usize,
        ) -> parquet::errors::Result<ParquetRecordBatchReader> {
            ParquetRecordBatchReaderBuilder::try_new(r)?
                .with_batch_size(batch_rows.max(1))
                .build()
        }
        match self {
            ImportSource::File(p) => {
                let file = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
                build(file, batch_rows).map_err(pq)
            }
            ImportSource::Bytes { data, .. } => build(data.clone(), batch_rows).map_err(pq),
        }
    }
}

/// A 128-bit hash of a file's bytes.
fn content_hash(path: &Path) -> Result<u128> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Hash128::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.write(&buf[..n]);
    }
    Ok(h.finish())
}
