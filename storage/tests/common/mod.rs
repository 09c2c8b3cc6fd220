//! Helpers shared by the storage integration tests.

#![allow(dead_code, clippy::unwrap_used)]

pub mod faulty;
pub mod read;
pub mod s3;

use flamedb_storage::{Store, StoreConfig};
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::Arc;

/// A store on `objects` below root `r`, its WAL in `wal`, other settings default.
pub async fn open(objects: Arc<dyn ObjectStore>, wal: &std::path::Path) -> Store {
    let config = StoreConfig {
        wal_dir: wal.to_path_buf(),
        ..StoreConfig::default()
    };
    Store::open(objects, Path::from("r"), config)
        .await
        .unwrap()
        .0
}
