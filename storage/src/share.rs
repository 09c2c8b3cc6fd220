//! Shared dictionaries: one `symbols.bin` for the blocks of an app and day.
//!
//! Heads write a dictionary per block, so writers never coordinate; the versions and data
//! centers of one app and day repeat most of their symbols and stacks. A sharing pass
//! ([`Store::share_dictionaries`]) merges the dictionaries of the current blocks of an app
//! and day into one (only the stacks in use, depth-first, so every subtree stays one id
//! range), writes it once as its own object ([`DictPath`]), and rewrites every block with
//! stack ids of it: same profiles and series, stack column remapped and re-sorted, no
//! `symbols.bin`, `meta.json` naming the dictionary ([`BlockMeta::shared_symbols`]) and the
//! block replaced (`sources`). Readers switch from old to new blocks exactly as after a
//! compaction; the dictionary is written before any block refers to it.
//!
//! Garbage collection deletes a shared dictionary when no complete block (superseded ones
//! included) refers to it and it is older than the grace period, so a block deleted in one
//! pass frees its dictionary in a later one.

use crate::block::{
    SampleRead, read_profiles, read_samples, read_samples_with, read_series, read_symbols,
    write_block_parts,
};
use crate::catalog::{BlockInfo, PartitionFilter};
use crate::rows::SampleRows;
use crate::{
    BlockData, BlockMeta, BlockPath, CompactionConfig, DictOwner, DictPath, Error, Result,
    SharedSymbols, StackIndex, Store, dict,
};
use chrono::NaiveDate;
use flamedb_profile::{Remap, StackId, Symbols};
use futures::TryStreamExt;
use hashbrown::{HashMap, HashSet};
use object_store::{ObjectStoreExt, PutPayload};
use std::collections::BTreeMap;

impl Store {
    /// Gives the current blocks (raw and their rollups) of `tenant`'s `app` on `date` one
    /// shared dictionary, if there are at least two raw blocks and they do not already
    /// share one. Returns the new dictionary.
    ///
    /// Run by one compactor per tenant (as [`Store::compact_partition`]): two passes over
    /// the same blocks at once would each replace them.
    pub async fn share_dictionaries(
        &self,
        tenant: &str,
        app: &str,
        date: NaiveDate,
        config: &CompactionConfig,
    ) -> Result<Option<DictPath>> {
        let filter = PartitionFilter {
            apps: Some(vec![app.to_string()]),
            dates: Some((date, date)),
            ..PartitionFilter::default()
        };
        let (objects, root) = self.objects();
        let all = self
            .catalog()
            .all_blocks(objects.as_ref(), root, tenant, &filter)
            .await?;
        let raw = self.blocks(tenant, &filter).await?;
        if raw.len() < 2 || already_shared(&raw) {
            return Ok(None);
        }
        let blocks = with_rollups(&all, &raw);

        // Pass 1: per dictionary, the stacks its blocks use, imported into one table.
        let mut by_owner: BTreeMap<DictOwner, Vec<&BlockInfo>> = BTreeMap::new();
        for b in &blocks {
            by_owner
                .entry(b.meta.dict_owner(&b.path))
                .or_default()
                .push(b);
        }
        let mut merged = Symbols::new();
        let mut maps: HashMap<DictOwner, Vec<u32>> = HashMap::new();
        for (owner, users) in &by_owner {
            let symbols =
                read_symbols(objects.as_ref(), root, &users[0].path, &users[0].meta).await?;
            let mut used = vec![false; symbols.stacks.len()];
            for b in users {
                let read = SampleRead {
                    rows: None,
                    skip_profile: true,
                };
                let s = read_samples_with(objects.as_ref(), root, &b.path, &read).await?;
                for &id in &s.stack {
                    if let Some(u) = used.get_mut(id as usize) {
                        *u = true;
                    }
                }
            }
            let (m, map) = blocking(move || {
                let mut merged = merged;
                let mut remap = Remap::for_source(&symbols);
                for (i, _) in used.iter().enumerate().filter(|(_, u)| **u) {
                    merged.import_stack(&symbols, &mut remap, StackId(i as u32));
                }
                (merged, remap.stacks)
            })
            .await?;
            merged = m;
            maps.insert(owner.clone(), map);
        }
        // Depth-first, so every subtree is an id range in every block.
        let level = config.shared_dict_zstd_level;
        let (shared, bytes, maps) = blocking(move || -> Result<_> {
            let all_stacks = (1..merged.stacks.len() as u32).map(StackId);
            let (shared, dfs) = merged.compact(all_stacks);
            StackIndex::build(&shared)?;
            let bytes = dict::encode_with(&shared, level)?;
            let maps: HashMap<DictOwner, Vec<u32>> = maps
                .into_iter()
                .map(|(owner, map)| {
                    let map = map
                        .into_iter()
                        .map(|m| dfs.stack(StackId(m)).map_or(u32::MAX, |s| s.0))
                        .collect();
                    (owner, map)
                })
                .collect();
            Ok((shared, bytes, maps))
        })
        .await??;
        let dict_path = DictPath::new(tenant, app, date);
        let reference = SharedSymbols {
            id: dict_path.id.clone(),
            bytes: bytes.len() as u64,
        };
        objects
            .put(&dict_path.file(root), PutPayload::from(bytes))
            .await?;

        // Pass 2: every block rewritten with ids of the shared dictionary, raw blocks first
        // (a rollup names its raw block).
        let existing: HashSet<&str> = all.iter().map(|b| b.path.id.as_str()).collect();
        let mut new_ids: HashMap<String, String> = HashMap::new();
        for b in &blocks {
            let map = &maps[&b.meta.dict_owner(&b.path)];
            let data = remapped(objects.as_ref(), root, b, map).await?;
            let path = BlockPath::new(b.path.partition.clone());
            let mut sources = vec![b.path.id.clone()];
            sources.extend(
                b.meta
                    .sources
                    .iter()
                    .filter(|s| existing.contains(s.as_str()))
                    .cloned(),
            );
            let meta = BlockMeta {
                compaction_level: b.meta.compaction_level,
                sources,
                wal: b.meta.wal.clone(),
                created_nanos: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
                rollup_nanos: b.meta.rollup_nanos,
                rollup_of: b
                    .meta
                    .rollup_of
                    .as_ref()
                    .map(|of| new_ids.get(of).cloned().unwrap_or_else(|| of.clone())),
                symbols_from: None,
                shared_symbols: Some(reference.clone()),
                ..BlockMeta::empty()
            };
            let write = self.config().write.for_compaction();
            write_block_parts(objects.as_ref(), root, &path, &data, &shared, meta, &write).await?;
            new_ids.insert(b.path.id.clone(), path.id);
        }
        Ok(Some(dict_path))
    }

    /// Deletes the shared dictionaries of `tenant` that no complete block refers to and
    /// that are older than `before_nanos`; returns how many.
    pub(crate) async fn delete_unused_dictionaries(
        &self,
        tenant: &str,
        before_nanos: i64,
    ) -> Result<usize> {
        let (objects, root) = self.objects();
        let all = self
            .catalog()
            .all_blocks(objects.as_ref(), root, tenant, &PartitionFilter::default())
            .await?;
        let referenced: HashSet<DictOwner> =
            all.iter().map(|b| b.meta.dict_owner(&b.path)).collect();
        let prefix = crate::PartitionKey::tenant_path(root, tenant);
        let listed: Vec<_> = objects.list(Some(&prefix)).try_collect().await?;
        let mut n = 0;
        for o in listed {
            let Ok(d) = DictPath::parse(root, &o.location) else {
                continue;
            };
            let at = o.last_modified.timestamp_nanos_opt().unwrap_or(0);
            if at < before_nanos && !referenced.contains(&DictOwner::Shared(d)) {
                match objects.delete(&o.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(n)
    }
}

/// Whether every block refers to one shared dictionary.
fn already_shared(raw: &[BlockInfo]) -> bool {
    let id = |b: &BlockInfo| b.meta.shared_symbols.as_ref().map(|s| s.id.clone());
    let first = id(&raw[0]);
    first.is_some() && raw.iter().all(|b| id(b) == first)
}

/// The raw blocks and the current rollups of them.
fn with_rollups<'a>(all: &'a [BlockInfo], raw: &'a [BlockInfo]) -> Vec<&'a BlockInfo> {
    let superseded: HashSet<&str> = all
        .iter()
        .flat_map(|b| b.meta.sources.iter().map(String::as_str))
        .collect();
    let raw_ids: HashSet<&str> = raw.iter().map(|b| b.path.id.as_str()).collect();
    let rollups = all.iter().filter(|b| {
        b.meta.rollup_nanos > 0
            && !superseded.contains(b.path.id.as_str())
            && b.meta
                .rollup_of
                .as_deref()
                .is_some_and(|of| raw_ids.contains(of))
    });
    raw.iter().chain(rollups).collect()
}

/// Block `b` with its stack ids mapped by `map` and its samples re-sorted by (sample type,
/// series, stack, profile); `symbols` left empty (the caller holds the shared one).
async fn remapped(
    objects: &dyn object_store::ObjectStore,
    root: &object_store::path::Path,
    b: &BlockInfo,
    map: &[u32],
) -> Result<BlockData> {
    let samples = read_samples(objects, root, &b.path).await?;
    let profiles = read_profiles(objects, root, &b.path).await?;
    let series = read_series(objects, root, &b.path).await?;
    let dir = b.path.dir(root).to_string();
    let mut data = BlockData {
        symbols: Symbols::default(),
        sample_types: b.meta.sample_types.clone(),
        series,
        profiles,
        samples: SampleRows::default(),
    };
    let map = map.to_vec();
    blocking(move || -> Result<BlockData> {
        let mut rows: Vec<(u32, u32, i64)> = Vec::with_capacity(samples.len());
        for i in 0..samples.len() {
            let (p, s, v) = (samples.profile[i], samples.stack[i], samples.value[i]);
            let new = map.get(s as usize).copied().unwrap_or(u32::MAX);
            if new == u32::MAX || p as usize >= data.profiles.len() {
                return Err(Error::corrupt(
                    &dir,
                    format!("row {i} refers to stack {s} or profile {p} that is not in use"),
                ));
            }
            rows.push((p, new, v));
        }
        let pr = &data.profiles;
        rows.sort_unstable_by_key(|&(p, s, _)| {
            (pr.sample_type[p as usize], pr.series[p as usize], s, p)
        });
        // A dictionary holds each path once, so no two rows of a profile meet on one id.
        if rows
            .windows(2)
            .any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1))
        {
            return Err(Error::corrupt(&dir, "two rows of a profile share a stack"));
        }
        for (p, s, v) in rows {
            data.samples.push(p, s, v);
        }
        Ok(data)
    })
    .await?
}

/// Runs CPU-heavy work off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Closed(format!("dictionary sharing task: {e}")))
}
