//! Query settings: the `flame.*` session options (`SET flame.max_nodes = 2048`) and the
//! process-level limits of the query engine.

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// flamedb session settings, set with `SET flame.<name> = <value>` or per HTTP request.
    pub struct FlameConfig {
        /// Most nodes a flame graph keeps before cut siblings are summed into an "other"
        /// node. Default 1024.
        pub max_nodes: usize, default = 1024
    }
}

impl ConfigExtension for FlameConfig {
    const PREFIX: &'static str = "flame";
}

/// Process-level settings of the query engine.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Bytes of block dictionaries kept in memory between queries.
    pub dict_cache_bytes: usize,
    /// Bytes of decoded block side tables (profile rows, series labels) kept in memory
    /// between queries.
    pub side_cache_bytes: usize,
    /// Memory one query may use (DataFusion's memory pool), in bytes.
    pub memory_limit: usize,
    /// Partitions (threads) a query runs on; 0 = the number of cores.
    pub target_partitions: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            dict_cache_bytes: 1 << 30,
            side_cache_bytes: 256 << 20,
            memory_limit: 4 << 30,
            target_partitions: 0,
        }
    }
}
