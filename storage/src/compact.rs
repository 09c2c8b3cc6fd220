//! Compaction, garbage collection and retention.
//!
//! Compaction merges the current blocks of one partition into one block: dictionaries are
//! merged with id remapping ([`BlockData::merge`]), rows re-sorted and summed, and the new
//! block lists what it replaces in `sources`. Readers skip a block listed as a source of a
//! complete block, so from the moment the new `meta.json` exists every sample is counted
//! exactly once. Sources are deleted only after a grace period, so a reader that listed the
//! old blocks just before can still read them.
//!
//! `sources` is transitive as long as the older blocks exist: a compaction of C (made from
//! A and B) keeps A and B in its own sources if they are not deleted yet, so no order of
//! deletions can make an old block current again.

use crate::block::{read_block, write_block_with};
use crate::catalog::{BlockInfo, PartitionFilter};
use crate::{BlockData, BlockFile, BlockMeta, BlockPath, PartitionKey, Result, Store, WalRange};
use futures::TryStreamExt;
use hashbrown::{HashMap, HashSet};
use object_store::{ObjectStore, ObjectStoreExt};
use std::time::Duration;

/// Compaction and retention settings.
#[derive(Debug, Clone)]
pub struct CompactionConfig {
    /// A partition is compacted when it has at least this many current blocks. Default 4.
    pub min_blocks: usize,
    /// Superseded blocks are deleted this long after the block replacing them was written.
    /// Default 10 minutes.
    pub grace: Duration,
    /// A block without `meta.json` (a crash while writing it) is deleted once its newest
    /// file is this old (or [`CompactionConfig::grace`], if longer). Blocks this process
    /// is writing are never deleted; this bound protects those of other processes (a
    /// `flamedb import` beside the server). Default one hour.
    pub incomplete_grace: Duration,
    /// Blocks whose newest sample is older than this are deleted; `None` keeps everything.
    pub retention: Option<Duration>,
    /// Resolution of the rollup block written beside every compacted block (per series,
    /// time bucket and stack sums); `None` writes none. Default one minute.
    pub rollup: Option<Duration>,
    /// The blocks of an app and day get one shared dictionary
    /// ([`Store::share_dictionaries`]) once its newest block is this old (the day has
    /// settled: each pass rewrites the app's blocks of the day); `None` never. Default one
    /// hour.
    pub share_after: Option<Duration>,
    /// zstd level of shared dictionaries' sections (written in the background, read by
    /// many blocks). Default 19.
    pub shared_dict_zstd_level: i32,
}

impl Default for CompactionConfig {
    fn default() -> Self {
        CompactionConfig {
            min_blocks: 4,
            grace: Duration::from_secs(600),
            incomplete_grace: Duration::from_secs(3600),
            retention: None,
            rollup: Some(Duration::from_secs(60)),
            share_after: Some(Duration::from_secs(3600)),
            shared_dict_zstd_level: 19,
        }
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Blocks written by compaction.
    pub compacted: Vec<BlockPath>,
    /// Blocks deleted (superseded, incomplete or expired) and unused shared dictionaries.
    pub deleted: usize,
    /// Shared dictionaries written.
    pub shared: Vec<crate::DictPath>,
}

impl Store {
    /// Merges the current blocks of partition `key` into one, if there are at least
    /// `config.min_blocks` of them, and writes its rollup (replacing the sources'
    /// rollups). Returns the new block.
    pub async fn compact_partition(
        &self,
        key: &PartitionKey,
        config: &CompactionConfig,
    ) -> Result<Option<BlockPath>> {
        let min_blocks = config.min_blocks;
        let filter = exact(key);
        let (objects, root) = self.objects();
        let all = self
            .catalog()
            .all_blocks(objects.as_ref(), root, &key.tenant, &filter)
            .await?;
        let current = self.blocks(&key.tenant, &filter).await?;
        let current: Vec<&BlockInfo> = current
            .iter()
            .filter(|b| b.path.partition == *key)
            .collect();
        if current.len() < min_blocks.max(2) {
            return Ok(None);
        }
        let existing: HashSet<&str> = all.iter().map(|b| b.path.id.as_str()).collect();
        let mut sources: Vec<String> = Vec::new();
        let mut wal: HashMap<String, (u64, u64)> = HashMap::new();
        let mut datas = Vec::with_capacity(current.len());
        let mut level = 0;
        for b in &current {
            let (meta, data) = read_block(objects.as_ref(), root, &b.path).await?;
            sources.push(b.path.id.clone());
            sources.extend(
                meta.sources
                    .iter()
                    .filter(|s| existing.contains(s.as_str()))
                    .cloned(),
            );
            for w in &meta.wal {
                let e = wal.entry(w.writer.clone()).or_insert((w.first, w.last));
                *e = (e.0.min(w.first), e.1.max(w.last));
            }
            level = level.max(meta.compaction_level + 1);
            datas.push(data);
        }
        sources.sort();
        sources.dedup();
        let merged = tokio::task::spawn_blocking(move || BlockData::merge(datas).normalize())
            .await
            .map_err(|e| crate::Error::Closed(format!("compaction task: {e}")))?;
        let path = BlockPath::new(key.clone());
        let mut wal: Vec<WalRange> = wal
            .into_iter()
            .map(|(writer, (first, last))| WalRange {
                writer,
                first,
                last,
            })
            .collect();
        wal.sort_by(|a, b| a.writer.cmp(&b.writer));
        let meta = BlockMeta {
            compaction_level: level,
            sources,
            wal,
            created_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
            ..BlockMeta::empty()
        };
        let write = self.config().write.for_compaction();
        write_block_with(objects.as_ref(), root, &path, &merged, meta, &write).await?;
        if let Some(resolution) = config.rollup {
            // The new rollup replaces the rollups of the merged blocks.
            let merged_ids: HashSet<&str> = current.iter().map(|b| b.path.id.as_str()).collect();
            let mut rollup_sources: Vec<String> = all
                .iter()
                .filter(|b| {
                    b.meta
                        .rollup_of
                        .as_deref()
                        .is_some_and(|of| merged_ids.contains(of))
                })
                .flat_map(|b| {
                    std::iter::once(b.path.id.clone()).chain(
                        b.meta
                            .sources
                            .iter()
                            .filter(|s| existing.contains(s.as_str()))
                            .cloned(),
                    )
                })
                .collect();
            rollup_sources.sort();
            rollup_sources.dedup();
            let res = resolution.as_nanos() as i64;
            let (rollup, merged) =
                tokio::task::spawn_blocking(move || (merged.rollup(res), merged))
                    .await
                    .map_err(|e| crate::Error::Closed(format!("rollup task: {e}")))?;
            let merged_symbols = &merged.symbols;
            // Summing profiles keeps every stack, so the rollup's dictionary is the raw
            // block's: share its file instead of writing a copy.
            let same_symbols = rollup.symbols.stacks.nodes() == merged_symbols.stacks.nodes()
                && rollup.symbols.locations == merged_symbols.locations
                && rollup.symbols.lines == merged_symbols.lines
                && rollup.symbols.functions == merged_symbols.functions
                && rollup.symbols.mappings == merged_symbols.mappings
                && rollup.symbols.strings.parts() == merged_symbols.strings.parts();
            let meta = BlockMeta {
                compaction_level: level,
                sources: rollup_sources,
                rollup_nanos: res as u64,
                rollup_of: Some(path.id.clone()),
                symbols_from: same_symbols.then(|| path.id.clone()),
                created_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
                ..BlockMeta::empty()
            };
            write_block_with(
                objects.as_ref(),
                root,
                &BlockPath::new(key.clone()),
                &rollup,
                meta,
                &write,
            )
            .await?;
        }
        Ok(Some(path))
    }

    /// The tenants that have data: the escaped first path segments below the root that
    /// hold at least one object, unescaped (a segment that does not unescape is skipped).
    pub async fn tenants(&self) -> Result<Vec<String>> {
        let (objects, root) = self.objects();
        let listed = objects.list_with_delimiter(Some(root)).await?;
        let mut out: Vec<String> = listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().and_then(crate::path::unescape))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// One maintenance pass over `tenant`: compacts partitions with enough blocks, deletes
    /// superseded blocks past the grace period, incomplete blocks (a crash while writing)
    /// older than the grace period, and blocks past retention.
    pub async fn maintain(
        &self,
        tenant: &str,
        config: &CompactionConfig,
    ) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport::default();
        let current = self.blocks(tenant, &PartitionFilter::default()).await?;
        let mut partitions: Vec<PartitionKey> =
            current.iter().map(|b| b.path.partition.clone()).collect();
        partitions.sort();
        partitions.dedup();
        for key in &partitions {
            if let Some(p) = self.compact_partition(key, config).await? {
                report.compacted.push(p);
            }
        }
        if let Some(after) = config.share_after {
            let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
            let current = self.blocks(tenant, &PartitionFilter::default()).await?;
            let mut newest: std::collections::BTreeMap<(&str, chrono::NaiveDate), i64> =
                Default::default();
            for b in &current {
                let k = (b.path.partition.app.as_str(), b.path.partition.date);
                let t = newest.entry(k).or_insert(i64::MIN);
                *t = (*t).max(b.meta.created_nanos);
            }
            for ((app, date), t) in newest {
                if t <= now - after.as_nanos() as i64
                    && let Some(d) = self.share_dictionaries(tenant, app, date, config).await?
                {
                    report.shared.push(d);
                }
            }
        }
        report.deleted += self.collect_garbage(tenant, config).await?;
        Ok(report)
    }

    /// Deletes superseded, incomplete and expired blocks of `tenant`, and its shared
    /// dictionaries no complete block refers to; returns how many.
    pub async fn collect_garbage(&self, tenant: &str, config: &CompactionConfig) -> Result<usize> {
        let (objects, root) = self.objects();
        let now = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        let grace = config.grace.as_nanos() as i64;
        let all = self
            .catalog()
            .all_blocks(objects.as_ref(), root, tenant, &PartitionFilter::default())
            .await?;
        // When was each block superseded (the earliest replacing block's creation)?
        let mut superseded_at: HashMap<&str, i64> = HashMap::new();
        for b in &all {
            for s in &b.meta.sources {
                let t = superseded_at.entry(s.as_str()).or_insert(i64::MAX);
                *t = (*t).min(b.meta.created_nanos);
            }
        }
        let mut doomed: Vec<&BlockPath> = Vec::new();
        for b in &all {
            let expired = config
                .retention
                .is_some_and(|r| b.meta.max_time_nanos < now - r.as_nanos() as i64);
            let replaced = superseded_at
                .get(b.path.id.as_str())
                .is_some_and(|&t| t < now - grace);
            if expired || replaced {
                doomed.push(&b.path);
            }
        }
        let mut deleted = 0;
        for block in doomed {
            delete_block(objects.as_ref(), root, block).await?;
            self.catalog().forget(block);
            deleted += 1;
        }
        let incomplete_grace = config.incomplete_grace.as_nanos() as i64;
        deleted += self
            .delete_incomplete(tenant, now - grace.max(incomplete_grace))
            .await?;
        deleted += self.delete_unused_dictionaries(tenant, now - grace).await?;
        Ok(deleted)
    }

    /// Deletes block directories without `meta.json` whose files are older than `before`.
    /// No block write of this process runs meanwhile ([`crate::block`]'s write gate), so
    /// what lacks `meta.json` here is abandoned, not in progress.
    async fn delete_incomplete(&self, tenant: &str, before_nanos: i64) -> Result<usize> {
        let _no_writers = crate::block::exclusive_of_writers().await;
        let (objects, root) = self.objects();
        let prefix = PartitionKey::tenant_path(root, tenant);
        let listed: Vec<_> = objects.list(Some(&prefix)).try_collect().await?;
        let mut files: HashMap<BlockPath, (bool, i64)> = HashMap::new();
        for o in &listed {
            if let Ok((block, file)) = BlockPath::parse(root, &o.location) {
                let e = files.entry(block).or_insert((false, i64::MIN));
                e.0 |= file == Some(BlockFile::Meta);
                e.1 = e.1.max(o.last_modified.timestamp_nanos_opt().unwrap_or(0));
            }
        }
        let mut n = 0;
        for (block, (has_meta, newest)) in files {
            if !has_meta && newest < before_nanos {
                delete_block(objects.as_ref(), root, &block).await?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Deletes a block, `meta.json` first so it stops being visible before its files go.
pub async fn delete_block(
    objects: &dyn ObjectStore,
    root: &object_store::path::Path,
    block: &BlockPath,
) -> Result<()> {
    for f in [
        BlockFile::Meta,
        BlockFile::Samples,
        BlockFile::Profiles,
        BlockFile::Series,
        BlockFile::Symbols,
    ] {
        match objects.delete(&block.file(root, f)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn exact(key: &PartitionKey) -> PartitionFilter {
    PartitionFilter {
        apps: Some(vec![key.app.clone()]),
        versions: Some(vec![key.version.clone()]),
        dcs: Some(vec![key.dc.clone()]),
        dates: Some((key.date, key.date)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{StoreConfig, block::Writing};
    use object_store::PutPayload;
    use object_store::memory::InMemory;
    use std::sync::Arc;

    /// A block directory with a data file and no `meta.json`: a writer's block in progress
    /// (kept, even with no grace at all, also when its writer finishes while the
    /// collector runs) or a crashed writer's leftover (deleted).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn garbage_collection_never_deletes_a_block_being_written() {
        let wal = tempfile::tempdir().unwrap();
        let objects = Arc::new(InMemory::new());
        let root = object_store::path::Path::from("r");
        let config = StoreConfig {
            wal_dir: wal.path().to_path_buf(),
            ..StoreConfig::default()
        };
        let (store, _) = Store::open(objects.clone(), root.clone(), config)
            .await
            .unwrap();
        let key = PartitionKey {
            tenant: "t".into(),
            app: "a".into(),
            version: String::new(),
            dc: String::new(),
            date: PartitionKey::date_of(0),
        };
        let block = BlockPath::new(key.clone());
        let samples = block.file(&root, BlockFile::Samples);
        let meta = block.file(&root, BlockFile::Meta);
        let no_grace = CompactionConfig {
            grace: Duration::ZERO,
            incomplete_grace: Duration::ZERO,
            ..CompactionConfig::default()
        };
        // A writer has written a data file; the collector starts; the writer finishes.
        let writing = Writing::start().await;
        objects.put(&samples, PutPayload::from("x")).await.unwrap();
        let gc = {
            let (store, no_grace) = (store.clone(), no_grace.clone());
            tokio::spawn(async move { store.collect_garbage("t", &no_grace).await })
        };
        let complete = crate::BlockMeta {
            id: block.id.clone(),
            ..crate::BlockMeta::empty()
        };
        objects
            .put(&meta, PutPayload::from(complete.to_json()))
            .await
            .unwrap();
        drop(writing);
        gc.await.unwrap().unwrap();
        assert!(
            objects.head(&samples).await.is_ok(),
            "deleted under its writer"
        );
        assert!(
            objects.head(&meta).await.is_ok(),
            "deleted under its writer"
        );
        // Abandoned: past the incomplete grace it goes; within it, it stays.
        let abandoned = BlockPath::new(key);
        let leftover = abandoned.file(&root, BlockFile::Samples);
        objects.put(&leftover, PutPayload::from("x")).await.unwrap();
        let patient = CompactionConfig {
            incomplete_grace: Duration::from_secs(3600),
            ..no_grace.clone()
        };
        store.collect_garbage("t", &patient).await.unwrap();
        assert!(objects.head(&leftover).await.is_ok());
        store.collect_garbage("t", &no_grace).await.unwrap();
        assert!(objects.head(&leftover).await.is_err());
        assert!(objects.head(&meta).await.is_ok());
    }
}
