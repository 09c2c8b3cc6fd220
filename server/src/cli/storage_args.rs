//! Where the store lives: flags (and `FLAMEDB_*` variables) shared by every command that
//! opens it.

use anyhow::{Context, Result};
use clap::Args;
use flamedb_storage::object::{ObjectStoreConfig, StoreKind};
use flamedb_storage::{DataDir, Store, StoreConfig};
use std::path::PathBuf;

/// Storage settings.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Data directory: the write-ahead log goes to DIR/wal and, with the local store, the
    /// blocks to DIR/blocks.
    #[arg(
        long = "data",
        env = "FLAMEDB_DATA",
        default_value = "./data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// Where blocks are stored: `local` (DIR/blocks), `memory`, or `s3://BUCKET[/PREFIX]`.
    #[arg(long, env = "FLAMEDB_STORE", default_value = "local")]
    pub store: String,
    /// S3 endpoint URL for S3-compatible stores (default: AWS).
    #[arg(long, env = "FLAMEDB_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "FLAMEDB_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// S3 access key id (default: the environment's AWS credentials).
    #[arg(long, env = "FLAMEDB_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "FLAMEDB_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Allow plain-HTTP S3 endpoints (local test servers).
    #[arg(long, env = "FLAMEDB_S3_ALLOW_HTTP")]
    pub s3_allow_http: bool,
}

impl StorageArgs {
    /// The object store settings these flags describe.
    pub fn object_store_config(&self) -> Result<ObjectStoreConfig> {
        let mut c = match self.store.as_str() {
            "local" => ObjectStoreConfig {
                local_dir: DataDir(&self.data).blocks(),
                ..ObjectStoreConfig::default()
            },
            other => ObjectStoreConfig::from_url(other)?,
        };
        if c.kind == StoreKind::S3 {
            c.s3.endpoint = self.s3_endpoint.clone();
            c.s3.region = self.s3_region.clone();
            c.s3.access_key_id = self.s3_access_key_id.clone();
            c.s3.secret_access_key = self.s3_secret_access_key.clone();
            c.s3.allow_http = self.s3_allow_http;
        }
        c.validate()?;
        Ok(c)
    }

    /// Opens the store (replaying its write-ahead log).
    pub async fn open(&self, config: StoreConfig) -> Result<Store> {
        let (objects, root) = flamedb_storage::object::build(&self.object_store_config()?)?;
        let config = StoreConfig {
            wal_dir: DataDir(&self.data).wal(),
            ..config
        };
        let (store, report) = Store::open(objects, root, config)
            .await
            .with_context(|| format!("opening the store in {}", self.data.display()))?;
        if report.failed > 0 || report.torn_bytes > 0 {
            eprintln!(
                "flamedb: write-ahead log replay: {} applied, {} already stored, {} unreadable ({} quarantined in {}), {} torn bytes dropped",
                report.applied,
                report.skipped,
                report.failed,
                report.quarantined,
                DataDir(&self.data).wal().join("quarantine").display(),
                report.torn_bytes
            );
        }
        Ok(store)
    }
}
