//! [`DataDir`]: the layout of a local data directory.

use super::{ReplayReport, Store, StoreConfig};
use crate::{Error, Result};
use object_store::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

/// The layout of a local data directory, as `flamedb --data DIR` uses it: the write-ahead
/// log in `DIR/wal` and, with the local object store, the blocks in `DIR/blocks`.
#[derive(Debug, Clone, Copy)]
pub struct DataDir<'a>(pub &'a std::path::Path);

impl DataDir<'_> {
    /// The write-ahead log directory.
    pub fn wal(&self) -> PathBuf {
        self.0.join("wal")
    }

    /// The local object store's directory.
    pub fn blocks(&self) -> PathBuf {
        self.0.join("blocks")
    }

    /// Opens the store of this directory with blocks on the local disk (created if
    /// missing); `config.wal_dir` is replaced by [`DataDir::wal`].
    pub async fn open_local(&self, config: StoreConfig) -> Result<(Store, ReplayReport)> {
        let blocks = self.blocks();
        std::fs::create_dir_all(&blocks).map_err(|e| Error::io(&blocks, e))?;
        let objects = crate::durable_local::DurableLocal::new(&blocks)?;
        let config = StoreConfig {
            wal_dir: self.wal(),
            ..config
        };
        Store::open(Arc::new(objects), Path::default(), config).await
    }
}
