//! [`FlameContext`]: the live resources a query reads through (object store, block
//! catalog, dictionary cache). Plans and functions hold it but never serialize it: a
//! process that decodes a plan injects its own.

use crate::cache::{ByteCache, Weighed};
use crate::config::QueryConfig;
use crate::dicts::{BlockDict, DictCache, Resolved, dict_owner};
use datafusion::error::{DataFusionError, Result};
use flamedb_storage::{
    BlockFile, BlockInfo, BlockPath, DictOwner, EventLog, Labels, PartitionFilter, ProfileRows,
    block, catalog::Catalog,
};
use hashbrown::HashSet;
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::Arc;

/// Live resources shared by every query of a process.
#[derive(Debug)]
pub struct FlameContext {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    catalog: Catalog,
    dicts: DictCache,
    sides: ByteCache<(BlockPath, BlockFile), SideTable>,
    events: EventLog,
    config: QueryConfig,
}

/// A block's small side table, decoded: profile rows or series labels.
#[derive(Debug, Clone)]
enum SideTable {
    Profiles(Arc<ProfileRows>),
    Series(Arc<Vec<Labels>>),
}

impl Weighed for SideTable {
    fn bytes(&self) -> usize {
        match self {
            // Seven columns of 2 to 8 bytes.
            SideTable::Profiles(p) => 64 + p.len() * 42,
            SideTable::Series(s) => {
                64 + s
                    .iter()
                    .map(|l| {
                        24 + l
                            .pairs()
                            .iter()
                            .map(|(k, v)| 48 + k.len() + v.len())
                            .sum::<usize>()
                    })
                    .sum::<usize>()
            }
        }
    }
}

/// Turns a storage error into a DataFusion error, keeping the message.
pub fn storage_err(e: flamedb_storage::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl FlameContext {
    /// A context reading blocks under `root` of `objects`.
    pub fn new(objects: Arc<dyn ObjectStore>, root: Path, config: QueryConfig) -> Arc<Self> {
        Arc::new(FlameContext {
            events: EventLog::new(objects.clone(), root.clone()),
            objects,
            root,
            catalog: Catalog::default(),
            dicts: DictCache::new(config.dict_cache_bytes),
            sides: ByteCache::new(config.side_cache_bytes),
            config,
        })
    }

    /// The change events of the store.
    pub fn events(&self) -> &EventLog {
        &self.events
    }

    /// The engine settings.
    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// The object store and root.
    pub fn objects(&self) -> (&dyn ObjectStore, &Path) {
        (self.objects.as_ref(), &self.root)
    }

    /// The complete, current raw blocks of `tenant` in partitions matching `filter`.
    pub async fn blocks(&self, tenant: &str, filter: &PartitionFilter) -> Result<Vec<BlockInfo>> {
        self.catalog
            .blocks(self.objects.as_ref(), &self.root, tenant, filter)
            .await
            .map_err(storage_err)
    }

    /// The dictionary of a block, from the cache or object storage.
    pub async fn dict(
        &self,
        block: &BlockPath,
        meta: &flamedb_storage::BlockMeta,
    ) -> Result<Arc<BlockDict>> {
        let owner = dict_owner(block, meta);
        if let Some(d) = self.dicts.get(&owner) {
            return Ok(d);
        }
        let symbols = block::read_symbols(self.objects.as_ref(), &self.root, block, meta)
            .await
            .map_err(storage_err)?;
        let file_bytes = meta.dict_bytes() as usize;
        let d = Arc::new(BlockDict::new(owner.clone(), symbols, file_bytes));
        self.dicts.insert(owner, d.clone());
        Ok(d)
    }

    /// A block's profile rows (`profiles.parquet`), from the cache or object storage.
    pub async fn profiles(&self, block: &BlockPath) -> Result<Arc<ProfileRows>> {
        let read = block::read_profiles(self.objects.as_ref(), &self.root, block);
        self.side_table(
            block,
            BlockFile::Profiles,
            read,
            SideTable::Profiles,
            |t| match t {
                SideTable::Profiles(p) => Some(p),
                _ => None,
            },
        )
        .await
    }

    /// A block's series labels (`series.parquet`), from the cache or object storage.
    pub async fn series(&self, block: &BlockPath) -> Result<Arc<Vec<Labels>>> {
        let read = block::read_series(self.objects.as_ref(), &self.root, block);
        self.side_table(
            block,
            BlockFile::Series,
            read,
            SideTable::Series,
            |t| match t {
                SideTable::Series(s) => Some(s),
                _ => None,
            },
        )
        .await
    }

    /// A side table of `block` from the cache, or awaits `read` (not polled on a hit) and
    /// caches what it returns.
    async fn side_table<T>(
        &self,
        block: &BlockPath,
        file: BlockFile,
        read: impl std::future::Future<Output = flamedb_storage::Result<T>>,
        wrap: fn(Arc<T>) -> SideTable,
        unwrap: fn(SideTable) -> Option<Arc<T>>,
    ) -> Result<Arc<T>> {
        let key = (block.clone(), file);
        if let Some(t) = self.sides.get(&key).and_then(unwrap) {
            return Ok(t);
        }
        let t = Arc::new(read.await.map_err(storage_err)?);
        self.sides.insert(key, wrap(t.clone()));
        Ok(t)
    }

    /// Finds a node for each of `keys` in the dictionaries of `tenant`: the cached ones
    /// first, then (for keys still missing) every current block of the tenant. Keys found
    /// nowhere stay missing in the answer.
    pub async fn resolve(&self, tenant: &str, keys: &[u64]) -> Result<Resolved> {
        let (found, seen) = self.resolve_cached(tenant, keys);
        if found.missing() == 0 {
            return Ok(found);
        }
        self.resolve_uncached(tenant, keys, found, seen).await
    }

    /// `keys` looked up in the tenant's cached dictionaries, and the owners of those.
    fn resolve_cached(&self, tenant: &str, keys: &[u64]) -> (Resolved, HashSet<DictOwner>) {
        let mut found = Resolved::new(keys.len());
        let cached = self.dicts.values_where(|k| k.tenant() == tenant);
        found.find(&cached, keys);
        let seen = cached.iter().map(|d| d.owner.clone()).collect();
        (found, seen)
    }

    /// The keys `found` still misses looked up in the dictionaries of the tenant's current
    /// blocks whose owners are not in `seen`, loading them.
    async fn resolve_uncached(
        &self,
        tenant: &str,
        keys: &[u64],
        mut found: Resolved,
        mut seen: HashSet<DictOwner>,
    ) -> Result<Resolved> {
        for b in self.blocks(tenant, &PartitionFilter::default()).await? {
            if found.missing() == 0 {
                break;
            }
            if !seen.insert(dict_owner(&b.path, &b.meta)) {
                continue;
            }
            let d = self.dict(&b.path, &b.meta).await?;
            found.find(&[d], keys);
        }
        Ok(found)
    }

    /// [`FlameContext::resolve`] from synchronous code (scalar functions, accumulators).
    /// Answers from the cache without blocking; a miss loads the other dictionaries on a
    /// helper thread with its own runtime, so it works inside any runtime flavour.
    pub fn resolve_blocking(&self, tenant: &str, keys: &[u64]) -> Result<Resolved> {
        let (found, seen) = self.resolve_cached(tenant, keys);
        if found.missing() == 0 {
            return Ok(found);
        }
        std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| DataFusionError::External(Box::new(e)))?;
                rt.block_on(self.resolve_uncached(tenant, keys, found, seen))
            })
            .join()
            .map_err(|_| DataFusionError::Execution("stack resolver thread panicked".into()))?
        })
    }
}
