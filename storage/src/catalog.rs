//! The block catalog: which complete, current blocks exist, found by listing object storage.
//!
//! A block is complete when its `meta.json` exists (written last). A block is superseded
//! when a complete block lists it among its `sources` (compaction); readers skip superseded
//! blocks, so a sample is never counted twice nor missed while compaction runs. Metadata is
//! immutable, so it is cached by path.

use crate::block::read_meta;
use crate::{BlockFile, BlockMeta, BlockPath, PartitionKey, Result, path};
use chrono::NaiveDate;
use futures::TryStreamExt;
use hashbrown::{HashMap, HashSet};
use object_store::ObjectStore;
use object_store::path::Path;
use std::sync::{Arc, Mutex};

/// Which partitions to look at; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionFilter {
    /// Apps to include.
    pub apps: Option<Vec<String>>,
    /// Versions to include.
    pub versions: Option<Vec<String>>,
    /// Data centers to include.
    pub dcs: Option<Vec<String>>,
    /// First and last UTC day to include.
    pub dates: Option<(NaiveDate, NaiveDate)>,
}

impl PartitionFilter {
    /// Whether partition `k` passes.
    pub fn matches(&self, k: &PartitionKey) -> bool {
        let has = |set: &Option<Vec<String>>, v: &str| {
            set.as_ref().is_none_or(|s| s.iter().any(|x| x == v))
        };
        has(&self.apps, &k.app)
            && has(&self.versions, &k.version)
            && has(&self.dcs, &k.dc)
            && self.dates.is_none_or(|(a, b)| a <= k.date && k.date <= b)
    }

    /// The deepest listing prefix the filter pins down (one app, and then one version...).
    fn prefix(&self, root: &Path, tenant: &str) -> Path {
        let mut p = PartitionKey::tenant_path(root, tenant);
        let single =
            |s: &Option<Vec<String>>| s.as_ref().filter(|v| v.len() == 1).map(|v| v[0].clone());
        for (key, value) in [
            ("app", single(&self.apps)),
            ("version", single(&self.versions)),
            ("dc", single(&self.dcs)),
        ] {
            match value {
                Some(v) => p = p.join(format!("{key}={}", path::escape(&v))),
                None => break,
            }
        }
        p
    }
}

/// A complete, current block.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Where it is.
    pub path: BlockPath,
    /// Its metadata.
    pub meta: Arc<BlockMeta>,
}

/// Lists blocks, caching metadata.
#[derive(Debug, Default)]
pub struct Catalog {
    metas: Mutex<HashMap<BlockPath, Arc<BlockMeta>>>,
}

impl Catalog {
    /// The complete, current (non-superseded) blocks of raw profiles of `tenant` matching
    /// `filter`, sorted by path.
    pub async fn blocks(
        &self,
        store: &dyn ObjectStore,
        root: &Path,
        tenant: &str,
        filter: &PartitionFilter,
    ) -> Result<Vec<BlockInfo>> {
        let current = self.current(store, root, tenant, filter).await?;
        Ok(current
            .into_iter()
            .filter(|b| b.meta.rollup_nanos == 0)
            .collect())
    }

    /// The blocks to read for a query that can use time buckets of `resolution_nanos`
    /// (for example a week at one point per hour can use minute rollups): per partition,
    /// the rollup blocks of the coarsest resolution not above it when every current raw
    /// block of the partition has one, else the raw blocks. Sorted by path.
    pub async fn blocks_at_resolution(
        &self,
        store: &dyn ObjectStore,
        root: &Path,
        tenant: &str,
        filter: &PartitionFilter,
        resolution_nanos: u64,
    ) -> Result<Vec<BlockInfo>> {
        let current = self.current(store, root, tenant, filter).await?;
        let mut by_partition: HashMap<&crate::PartitionKey, Vec<&BlockInfo>> = HashMap::new();
        for b in &current {
            by_partition.entry(&b.path.partition).or_default().push(b);
        }
        let mut out = Vec::new();
        for blocks in by_partition.values() {
            let raw: Vec<&&BlockInfo> =
                blocks.iter().filter(|b| b.meta.rollup_nanos == 0).collect();
            let mut resolutions: Vec<u64> = blocks
                .iter()
                .map(|b| b.meta.rollup_nanos)
                .filter(|&r| r > 0 && r <= resolution_nanos)
                .collect();
            resolutions.sort_unstable();
            resolutions.dedup();
            let chosen = resolutions.iter().rev().find_map(|&r| {
                let rollups: Vec<&BlockInfo> = blocks
                    .iter()
                    .copied()
                    .filter(|b| b.meta.rollup_nanos == r)
                    .collect();
                let covers = raw.iter().all(|b| {
                    rollups
                        .iter()
                        .any(|r| r.meta.rollup_of.as_deref() == Some(b.path.id.as_str()))
                });
                covers.then_some(rollups)
            });
            match chosen {
                Some(rollups) => out.extend(rollups.into_iter().cloned()),
                None => out.extend(raw.into_iter().map(|b| (*b).clone())),
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Current blocks of every kind (raw and rollup).
    async fn current(
        &self,
        store: &dyn ObjectStore,
        root: &Path,
        tenant: &str,
        filter: &PartitionFilter,
    ) -> Result<Vec<BlockInfo>> {
        let all = self.all_blocks(store, root, tenant, filter).await?;
        let superseded: HashSet<&str> = all
            .iter()
            .flat_map(|b| b.meta.sources.iter().map(String::as_str))
            .collect();
        let mut out: Vec<BlockInfo> = all
            .iter()
            .filter(|b| !superseded.contains(b.path.id.as_str()))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Every complete block (superseded ones included) matching `filter`.
    pub async fn all_blocks(
        &self,
        store: &dyn ObjectStore,
        root: &Path,
        tenant: &str,
        filter: &PartitionFilter,
    ) -> Result<Vec<BlockInfo>> {
        let prefix = filter.prefix(root, tenant);
        let objects: Vec<_> = store.list(Some(&prefix)).try_collect().await?;
        let mut complete = Vec::new();
        for o in objects {
            let Ok((block, Some(BlockFile::Meta))) = BlockPath::parse(root, &o.location) else {
                continue; // not ours, or not a meta file
            };
            if block.partition.tenant == tenant && filter.matches(&block.partition) {
                complete.push(block);
            }
        }
        let mut out = Vec::with_capacity(complete.len());
        for block in complete {
            let cached = self.metas.lock().map_err(poisoned)?.get(&block).cloned();
            let meta = match cached {
                Some(m) => m,
                None => {
                    let m = Arc::new(read_meta(store, root, &block).await?);
                    self.metas
                        .lock()
                        .map_err(poisoned)?
                        .insert(block.clone(), m.clone());
                    m
                }
            };
            out.push(BlockInfo { path: block, meta });
        }
        Ok(out)
    }

    /// Forgets a deleted block.
    pub fn forget(&self, block: &BlockPath) {
        if let Ok(mut m) = self.metas.lock() {
            m.remove(block);
        }
    }
}

fn poisoned<T>(_: T) -> crate::Error {
    crate::Error::Closed("catalog lock poisoned".into())
}
