//! Block metadata (`meta.json`): what a block holds, written last so that a block without
//! it is incomplete and invisible.

use crate::{BlockPath, DictOwner, DictPath, Error, Result};
use serde::{Deserialize, Serialize};

/// Newest `meta.json` format version this build writes and reads. Version 2 added
/// [`BlockMeta::shared_symbols`]; a block written without it stays version 1, so builds
/// that only know version 1 keep reading it and reject (by version) only the blocks
/// whose dictionary they could not find.
pub const META_VERSION: u32 = 2;

/// A reference to the shared dictionary of a block's app and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedSymbols {
    /// The dictionary id ([`DictPath::id`]).
    pub id: String,
    /// Size in bytes of its `symbols.bin`.
    pub bytes: u64,
}

/// A value type of the block's samples (`cpu`/`nanoseconds`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SampleType {
    /// What is measured.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its unit.
    pub unit: String,
}

impl SampleType {
    /// `type/unit`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.kind, self.unit)
    }

    /// Parses `TYPE:UNIT` (as `flamedb import --sample-type` and `/api/v1/import` take it).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            Some((kind, unit)) if !kind.is_empty() && !unit.is_empty() => Ok(SampleType {
                kind: kind.to_string(),
                unit: unit.to_string(),
            }),
            _ => Err(format!(
                "sample type {s:?}: expected TYPE:UNIT, like cpu:nanoseconds"
            )),
        }
    }
}

/// A range of WAL sequence numbers of one writer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalRange {
    /// The writer's id (`wal/writer-id`).
    pub writer: String,
    /// First sequence number.
    pub first: u64,
    /// Last sequence number.
    pub last: u64,
}

/// The contents of `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Format version of this file (and of the block's files).
    pub format_version: u32,
    /// Version of the object layout ([`crate::path::LAYOUT_VERSION`]).
    pub layout_version: u32,
    /// The block id (its directory name).
    pub id: String,
    /// Earliest sample time, ns since the Unix epoch.
    pub min_time_nanos: i64,
    /// Latest sample time, ns since the Unix epoch.
    pub max_time_nanos: i64,
    /// Sample rows (one per profile, stack and sample type).
    pub rows: u64,
    /// Profile rows (one per ingested profile and sample type).
    pub profiles: u64,
    /// Nodes of the stack tree (the empty stack included).
    pub stacks: u64,
    /// Series in the block.
    pub series: u64,
    /// Sample types; a sample row's `sample_type` indexes this list.
    pub sample_types: Vec<SampleType>,
    /// 0 for a block flushed from ingest, n + 1 for a compaction of level-n blocks.
    pub compaction_level: u32,
    /// Ids of the blocks this one replaces (compaction); empty for a flushed block.
    pub sources: Vec<String>,
    /// Sizes in bytes of the block's files.
    pub file_sizes: Vec<(String, u64)>,
    /// Write-ahead log records this block holds, per writer, for exactly-once replay
    /// (compaction unions its sources' ranges).
    pub wal: Vec<WalRange>,
    /// When the block was written, ns since the Unix epoch.
    pub created_nanos: i64,
    /// 0 for a block of raw profiles; for a rollup block, the time resolution its profile
    /// rows were summed to (for example 60 s), see [`crate::rows::BlockData::rollup`].
    #[serde(default)]
    pub rollup_nanos: u64,
    /// For a rollup block: the raw block it summarises.
    #[serde(default)]
    pub rollup_of: Option<String>,
    /// The id of a block of the same partition whose `symbols.bin` this block uses (a rollup
    /// shares its raw block's dictionary); `None`: the block has its own.
    #[serde(default)]
    pub symbols_from: Option<String>,
    /// The shared dictionary of the block's app and day that its stack ids refer to
    /// (format version 2); `None`: the block's own or `symbols_from`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_symbols: Option<SharedSymbols>,
}

impl BlockMeta {
    /// Metadata with every field empty; [`crate::block::write_block`] fills in what the
    /// data determines.
    pub fn empty() -> Self {
        BlockMeta {
            format_version: META_VERSION,
            layout_version: crate::path::LAYOUT_VERSION,
            id: String::new(),
            min_time_nanos: 0,
            max_time_nanos: 0,
            rows: 0,
            profiles: 0,
            stacks: 0,
            series: 0,
            sample_types: Vec::new(),
            compaction_level: 0,
            sources: Vec::new(),
            file_sizes: Vec::new(),
            wal: Vec::new(),
            created_nanos: 0,
            rollup_nanos: 0,
            rollup_of: None,
            symbols_from: None,
            shared_symbols: None,
        }
    }

    /// The lowest format version that can describe this block: 2 when it refers to a
    /// shared dictionary, else 1.
    pub fn needed_version(&self) -> u32 {
        if self.shared_symbols.is_some() { 2 } else { 1 }
    }

    /// Where the dictionary of `block` (whose metadata this is) lives.
    pub fn dict_owner(&self, block: &BlockPath) -> DictOwner {
        match (&self.shared_symbols, &self.symbols_from) {
            (Some(s), _) => DictOwner::Shared(DictPath::of(&block.partition, &s.id)),
            (None, Some(id)) => DictOwner::Block(BlockPath {
                partition: block.partition.clone(),
                id: id.clone(),
            }),
            (None, None) => DictOwner::Block(block.clone()),
        }
    }

    /// Size in bytes of the block's dictionary file, when known (0 otherwise).
    pub fn dict_bytes(&self) -> u64 {
        match &self.shared_symbols {
            Some(s) => s.bytes,
            None => self
                .file_sizes
                .iter()
                .find(|(n, _)| n == crate::BlockFile::Symbols.name())
                .map_or(0, |(_, s)| *s),
        }
    }

    /// Serializes to JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Parses `meta.json` of `block`, rejecting unknown versions and a wrong id.
    pub fn from_json(block: &BlockPath, path: &str, data: &[u8]) -> Result<Self> {
        #[derive(Deserialize)]
        struct VersionOnly {
            format_version: u32,
        }
        let v: VersionOnly = serde_json::from_slice(data)
            .map_err(|e| Error::corrupt(path, format!("not block metadata: {e}")))?;
        if v.format_version > META_VERSION || v.format_version == 0 {
            return Err(Error::UnsupportedVersion {
                path: path.to_string(),
                found: v.format_version,
                supported: META_VERSION,
            });
        }
        let meta: BlockMeta = serde_json::from_slice(data)
            .map_err(|e| Error::corrupt(path, format!("bad block metadata: {e}")))?;
        if meta.id != block.id {
            return Err(Error::corrupt(
                path,
                format!("names block {} but lives in {}", meta.id, block.id),
            ));
        }
        Ok(meta)
    }
}
