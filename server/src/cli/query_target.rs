//! Where `flamedb query`, `flamedb flamegraph` and `flamedb diff` run: on a server
//! (`--server URL`) or in this process on a data directory (`--data DIR`, read only: the
//! blocks are read, the write-ahead log is not replayed).

use super::query_args::QueryArgs;
use super::remote::Remote;
use super::storage_args::StorageArgs;
use anyhow::{Result, bail};
use clap::Args;
use flamedb_service::query::Engine;
use flamedb_storage::DataDir;
use std::sync::Arc;

/// Target flags.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Query a flamedb server (`http://HOST:PORT`) instead of a data directory.
    #[arg(long, env = "FLAMEDB_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for --server.
    #[arg(long, env = "FLAMEDB_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Tenant whose data is queried.
    #[arg(long, env = "FLAMEDB_TENANT", default_value = "default")]
    pub tenant: String,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub query: QueryArgs,
}

/// A connected target.
pub enum Target {
    /// A server.
    Remote(Box<Remote>),
    /// The engine over a data directory's blocks.
    Local(Arc<Engine>),
}

impl TargetArgs {
    /// Connects: a client for `--server`, else an engine over the store's blocks.
    pub fn connect(&self) -> Result<Target> {
        if let Some(url) = &self.server {
            return Ok(Target::Remote(Box::new(Remote::new(
                url,
                self.token.clone(),
                self.tenant.clone(),
            )?)));
        }
        if self.storage.store == "local" && !DataDir(&self.storage.data).blocks().is_dir() {
            bail!(
                "no blocks in {}: ingest first (flamedb ingest), or pass --data DIR or --server URL",
                self.storage.data.display()
            );
        }
        let (objects, root) = flamedb_storage::object::build(&self.storage.object_store_config()?)?;
        Ok(Target::Local(self.query.engine(objects, root)?))
    }
}
