//! Query engine flags (and `FLAMEDB_QUERY_*` variables), shared by `flamedb serve` and
//! the query commands on a local data directory. The defaults protect a server.

use anyhow::{Context, Result, bail};
use clap::Args;
use flamedb_query::QueryConfig;
use flamedb_service::query::{Engine, QueryLimits};
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Query engine settings.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Memory one query may use for sorts and aggregations (`512MiB`, `2GiB`, or bytes);
    /// a query over it fails with a message to narrow it (HTTP 422). A function call whose
    /// output a number sizes (`range`, `repeat`, `lpad`, ...) may build a quarter of it.
    #[arg(long, env = "FLAMEDB_QUERY_MEMORY_LIMIT", default_value = "1GiB", value_parser = parse_size)]
    pub query_memory_limit: u64,
    /// Deadline of one query in seconds, waiting for a slot included (HTTP 503 after).
    #[arg(long, env = "FLAMEDB_QUERY_TIMEOUT", default_value_t = 30.0)]
    pub query_timeout: f64,
    /// Queries running at once (each may use the whole memory limit); more wait.
    #[arg(long, env = "FLAMEDB_QUERY_CONCURRENCY", default_value_t = 4)]
    pub query_concurrency: usize,
    /// Most rows one SQL result holds; more are cut.
    #[arg(long, env = "FLAMEDB_QUERY_MAX_ROWS", default_value_t = 1_000_000)]
    pub query_max_rows: usize,
    /// Largest flame graph a request may ask for (`max_nodes`, `flame.max_nodes`).
    #[arg(long, env = "FLAMEDB_QUERY_MAX_NODES", default_value_t = 65_536)]
    pub query_max_nodes: usize,
    /// Deepest SQL expression accepted (operators chained in one expression and
    /// parentheses each count a level); deeper SQL is refused before it is parsed (HTTP
    /// 400), as it would exhaust a thread's stack.
    #[arg(long, env = "FLAMEDB_QUERY_MAX_EXPRESSION_DEPTH", default_value_t = flamedb_query::sql_guard::DEFAULT_MAX_EXPRESSION_DEPTH)]
    pub query_max_expression_depth: usize,
    /// Block dictionaries kept in memory between queries (`256MiB`, or bytes).
    #[arg(long, env = "FLAMEDB_QUERY_DICT_CACHE", default_value = "512MiB", value_parser = parse_size)]
    pub query_dict_cache: u64,
    /// Decoded block side tables (profile rows, series labels) kept in memory between
    /// queries (`256MiB`, or bytes).
    #[arg(long, env = "FLAMEDB_QUERY_SIDE_CACHE", default_value = "256MiB", value_parser = parse_size)]
    pub query_side_cache: u64,
    /// Threads one query runs on; 0 = the number of cores.
    #[arg(long, env = "FLAMEDB_QUERY_THREADS", default_value_t = 0)]
    pub query_threads: usize,
}

impl QueryArgs {
    /// An engine reading the blocks under `root` of `objects`.
    pub fn engine(&self, objects: Arc<dyn ObjectStore>, root: Path) -> Result<Arc<Engine>> {
        let timeout = Duration::try_from_secs_f64(self.query_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .context("--query-timeout must be a positive number of seconds")?;
        if self.query_max_rows == 0 || self.query_max_nodes == 0 || self.query_concurrency == 0 {
            bail!("--query-max-rows, --query-max-nodes and --query-concurrency must be positive");
        }
        let config = QueryConfig {
            dict_cache_bytes: usize::try_from(self.query_dict_cache)?,
            side_cache_bytes: usize::try_from(self.query_side_cache)?,
            memory_limit: usize::try_from(self.query_memory_limit)?,
            target_partitions: self.query_threads,
        };
        let limits = QueryLimits {
            timeout,
            max_rows: self.query_max_rows,
            max_concurrent: self.query_concurrency,
            max_nodes: self.query_max_nodes,
            max_expression_depth: self.query_max_expression_depth,
        };
        Ok(Engine::new(objects, root, config, limits))
    }
}

pub use flamedb_service::parse::parse_size;
