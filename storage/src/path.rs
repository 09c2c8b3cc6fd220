//! Object paths. [`PartitionKey`], [`BlockPath`] and [`DictPath`] are the only code that
//! knows the layout
//!
//! ```text
//! {root}/{tenant}/app={app}/version={version}/dc={dc}/date={YYYY-MM-DD}/{block id}/{file}
//! {root}/{tenant}/app={app}/date={YYYY-MM-DD}/dict/{dict id}/symbols.bin   (shared dictionary)
//! ```
//!
//! A shared dictionary (see the crate doc) lives beside the partitions of its app: its third
//! segment is `date=`, not `version=`, so block listings never mistake it for a block.
//!
//! Partition values are escaped so any label value is safe in an object key on every store:
//! bytes outside `[A-Za-z0-9._-]` become `+XX` (upper-case hex; `%` and `~` are avoided
//! because object stores treat them specially), and the empty value is written `+` alone.
//! Paths are hive style, so directory listings prune by app, version, dc and date before
//! any file is opened.

use crate::{Error, Result};
use chrono::{DateTime, NaiveDate};
use object_store::path::Path;

/// Version of the object layout; stored in every block's metadata.
pub const LAYOUT_VERSION: u32 = 1;

/// Identifies a partition: tenant, app, version, data center and UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionKey {
    /// Tenant (`X-Scope-OrgID`); every tenant has its own prefix.
    pub tenant: String,
    /// Application (service) name.
    pub app: String,
    /// Application version; empty when unknown.
    pub version: String,
    /// Data center (region, zone); empty when unknown.
    pub dc: String,
    /// UTC day of the samples.
    pub date: NaiveDate,
}

/// Most bytes a tenant, app, version or dc takes once escaped ([`escape`]): a path segment
/// with its `version=` prefix stays well under the 255-byte file name limit of local file
/// systems.
pub const MAX_VALUE_BYTES: usize = 200;

/// Most bytes app, version and dc take together once escaped: with a 128-byte tenant, the
/// date, block id and file name, a block's key stays under S3's 1024-byte limit for a root
/// prefix of up to about 250 bytes.
pub const MAX_VALUES_BYTES: usize = 512;

/// A block: a partition and a block id. Flushes, compaction and dictionary sharing name
/// their blocks with a UUIDv7 ([`BlockPath::new`], ordered by creation time); an import
/// names its blocks with a hash of their input (see [`crate::import`]), so that running it
/// again finds them. Ids therefore do not sort by creation time in general.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockPath {
    /// The partition holding the block.
    pub partition: PartitionKey,
    /// The block id, 32 lower-case hex digits.
    pub id: String,
}

impl PartitionKey {
    /// The UTC day of `time_nanos` (nanoseconds since the Unix epoch).
    pub fn date_of(time_nanos: i64) -> NaiveDate {
        DateTime::from_timestamp_nanos(time_nanos).date_naive()
    }

    /// Checks that this key makes object keys every supported store accepts: each of
    /// tenant, app, version and dc at most [`MAX_VALUE_BYTES`] bytes once escaped (local
    /// file systems limit a file name to 255 bytes), and app, version and dc together at
    /// most [`MAX_VALUES_BYTES`] (S3 limits a key to 1024 bytes). Checked before a profile
    /// is acknowledged: a partition that cannot be written would hold its data forever.
    pub fn check(&self) -> Result<()> {
        let mut total = 0;
        for (name, value) in [
            ("tenant", &self.tenant),
            ("app", &self.app),
            ("version", &self.version),
            ("dc", &self.dc),
        ] {
            let len = escape(value).len();
            if len > MAX_VALUE_BYTES {
                return Err(Error::Invalid(format!(
                    "`{name}` is {} bytes, {len} as a path segment (bytes other than A-Z a-z 0-9 . _ - take 3); the limit is {MAX_VALUE_BYTES}",
                    value.len()
                )));
            }
            if name != "tenant" {
                total += len;
            }
        }
        if total > MAX_VALUES_BYTES {
            return Err(Error::Invalid(format!(
                "`app`, `version` and `dc` take {total} bytes together as path segments; the limit is {MAX_VALUES_BYTES}"
            )));
        }
        Ok(())
    }

    /// `{root}/{tenant}/app=../version=../dc=../date=..`
    pub fn path(&self, root: &Path) -> Path {
        let mut p = root.clone();
        for part in [
            escape(&self.tenant),
            format!("app={}", escape(&self.app)),
            format!("version={}", escape(&self.version)),
            format!("dc={}", escape(&self.dc)),
            format!("date={}", self.date.format("%Y-%m-%d")),
        ] {
            p = p.join(part);
        }
        p
    }

    /// The prefix of all of a tenant's data.
    pub fn tenant_path(root: &Path, tenant: &str) -> Path {
        root.clone().join(escape(tenant))
    }

    /// Parses the partition parts of a path below `root`: the five segments after the root.
    pub fn parse(root: &Path, path: &Path) -> Result<(PartitionKey, Vec<String>)> {
        let seg = Segments::below(root, path)?;
        if seg.parts.len() < 5 {
            return Err(seg.bad("fewer than 5 partition segments"));
        }
        let key = PartitionKey {
            tenant: seg.tenant()?,
            app: seg.value(1, "app")?,
            version: seg.value(2, "version")?,
            dc: seg.value(3, "dc")?,
            date: seg.date(4)?,
        };
        Ok((key, seg.parts[5..].to_vec()))
    }
}

impl BlockPath {
    /// A new block in `partition` with a fresh, time-ordered id.
    pub fn new(partition: PartitionKey) -> Self {
        BlockPath {
            partition,
            id: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// The block's directory.
    pub fn dir(&self, root: &Path) -> Path {
        self.partition.path(root).join(self.id.as_str())
    }

    /// One file of the block.
    pub fn file(&self, root: &Path, file: BlockFile) -> Path {
        self.dir(root).join(file.name())
    }

    /// Parses the path of a block file (or directory) below `root`.
    pub fn parse(root: &Path, path: &Path) -> Result<(BlockPath, Option<BlockFile>)> {
        let (partition, rest) = PartitionKey::parse(root, path)?;
        let bad = |why: &str| Error::Path {
            path: path.to_string(),
            message: why.to_string(),
        };
        let id = rest.first().ok_or_else(|| bad("no block id"))?;
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("block id is not 32 hex digits"));
        }
        let file = rest.get(1).and_then(|f| BlockFile::from_name(f));
        Ok((
            BlockPath {
                partition,
                id: id.clone(),
            },
            file,
        ))
    }
}

/// The files of a block. `Meta` is written last: a block without it is incomplete and
/// invisible to readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockFile {
    /// Block metadata (JSON), written last.
    Meta,
    /// Sample rows (Parquet).
    Samples,
    /// One row per ingested profile with its pre-summed total (Parquet).
    Profiles,
    /// Series labels (Parquet).
    Series,
    /// The symbol and stack dictionary (flamedb binary format).
    Symbols,
}

impl BlockFile {
    /// Every file, `Meta` last.
    pub const ALL: [BlockFile; 5] = [
        BlockFile::Samples,
        BlockFile::Profiles,
        BlockFile::Series,
        BlockFile::Symbols,
        BlockFile::Meta,
    ];

    /// The file name.
    pub fn name(self) -> &'static str {
        match self {
            BlockFile::Meta => "meta.json",
            BlockFile::Samples => "samples.parquet",
            BlockFile::Profiles => "profiles.parquet",
            BlockFile::Series => "series.parquet",
            BlockFile::Symbols => "symbols.bin",
        }
    }

    /// The file of a name.
    pub fn from_name(name: &str) -> Option<BlockFile> {
        BlockFile::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A dictionary shared by the blocks of one app and day (written by
/// [`crate::Store::share_dictionaries`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DictPath {
    /// Tenant.
    pub tenant: String,
    /// Application.
    pub app: String,
    /// UTC day.
    pub date: NaiveDate,
    /// The dictionary id, 32 lower-case hex digits (a UUIDv7).
    pub id: String,
}

impl DictPath {
    /// A new shared dictionary of `tenant`'s `app` on `date`, with a fresh id.
    pub fn new(tenant: &str, app: &str, date: NaiveDate) -> Self {
        DictPath {
            tenant: tenant.to_string(),
            app: app.to_string(),
            date,
            id: uuid::Uuid::now_v7().simple().to_string(),
        }
    }

    /// The shared dictionary `id` of the app and day of `partition`.
    pub fn of(partition: &PartitionKey, id: &str) -> Self {
        DictPath {
            tenant: partition.tenant.clone(),
            app: partition.app.clone(),
            date: partition.date,
            id: id.to_string(),
        }
    }

    /// `{root}/{tenant}/app=../date=../dict/{id}/symbols.bin`
    pub fn file(&self, root: &Path) -> Path {
        PartitionKey::tenant_path(root, &self.tenant)
            .join(format!("app={}", escape(&self.app)))
            .join(format!("date={}", self.date.format("%Y-%m-%d")))
            .join("dict")
            .join(self.id.as_str())
            .join(BlockFile::Symbols.name())
    }

    /// Parses the path of a shared dictionary file below `root`.
    pub fn parse(root: &Path, path: &Path) -> Result<DictPath> {
        let seg = Segments::below(root, path)?;
        let parts = &seg.parts;
        if parts.len() != 6 || parts[3] != "dict" || parts[5] != BlockFile::Symbols.name() {
            return Err(seg.bad("not a shared dictionary"));
        }
        let id = &parts[4];
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(seg.bad("dictionary id is not 32 hex digits"));
        }
        Ok(DictPath {
            tenant: seg.tenant()?,
            app: seg.value(1, "app")?,
            date: seg.date(2)?,
            id: id.clone(),
        })
    }
}

/// The segments of a path below the store root, with the parsing partition and dictionary
/// paths share: `key=value` segments, the escaped tenant, dates.
struct Segments<'a> {
    path: &'a Path,
    parts: Vec<String>,
}

impl<'a> Segments<'a> {
    fn below(root: &Path, path: &'a Path) -> Result<Self> {
        let mut seg = Segments {
            path,
            parts: Vec::new(),
        };
        match path.prefix_match(root) {
            Some(parts) => {
                seg.parts = parts.map(|p| p.as_ref().to_string()).collect();
                Ok(seg)
            }
            None => Err(seg.bad("not below the store root")),
        }
    }

    fn bad(&self, why: &str) -> Error {
        Error::Path {
            path: self.path.to_string(),
            message: why.to_string(),
        }
    }

    /// The unescaped value of segment `i`, which must be `key=value`.
    fn value(&self, i: usize, key: &str) -> Result<String> {
        let v = self.parts[i]
            .strip_prefix(key)
            .and_then(|v| v.strip_prefix('='))
            .ok_or_else(|| self.bad(&format!("segment {} is not {key}=...", i + 1)))?;
        unescape(v).ok_or_else(|| self.bad(&format!("bad escape in {key}")))
    }

    /// The first segment, unescaped.
    fn tenant(&self) -> Result<String> {
        unescape(&self.parts[0]).ok_or_else(|| self.bad("bad escape in tenant"))
    }

    /// Segment `i` as `date=YYYY-MM-DD`.
    fn date(&self, i: usize) -> Result<NaiveDate> {
        NaiveDate::parse_from_str(&self.value(i, "date")?, "%Y-%m-%d")
            .map_err(|e| self.bad(&format!("bad date: {e}")))
    }
}

/// Where a block's dictionary (`symbols.bin`) lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DictOwner {
    /// In a block's directory: the block's own, or (a rollup) its raw block's.
    Block(BlockPath),
    /// A dictionary shared by the blocks of an app and day.
    Shared(DictPath),
}

impl DictOwner {
    /// The tenant whose data it is.
    pub fn tenant(&self) -> &str {
        match self {
            DictOwner::Block(b) => &b.partition.tenant,
            DictOwner::Shared(d) => &d.tenant,
        }
    }

    /// The dictionary file.
    pub fn file(&self, root: &Path) -> Path {
        match self {
            DictOwner::Block(b) => b.file(root, BlockFile::Symbols),
            DictOwner::Shared(d) => d.file(root),
        }
    }
}

/// Escapes a partition value (see the module doc).
pub fn escape(value: &str) -> String {
    if value.is_empty() {
        return "+".to_string();
    }
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("+{b:02X}"));
        }
    }
    // "." and ".." are not valid path segments.
    if out == "." || out == ".." {
        return out.replace('.', "+2E");
    }
    out
}

/// Reverses [`escape`]; `None` for a malformed escape or invalid UTF-8.
pub fn unescape(s: &str) -> Option<String> {
    if s == "+" {
        return Some(String::new());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PartitionKey {
        PartitionKey {
            tenant: "acme".into(),
            app: "search-api".into(),
            version: "v1.2/3 beta".into(),
            dc: String::new(),
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap(),
        }
    }

    #[test]
    fn paths_are_hive_style_and_escaped() {
        let root = Path::from("data");
        let b = BlockPath {
            partition: key(),
            id: "0192f5a0c3d47e8a9b1c2d3e4f506172".into(),
        };
        assert_eq!(
            b.file(&root, BlockFile::Samples).to_string(),
            "data/acme/app=search-api/version=v1.2+2F3+20beta/dc=+/date=2026-11-28/0192f5a0c3d47e8a9b1c2d3e4f506172/samples.parquet"
        );
        let (parsed, file) = BlockPath::parse(&root, &b.file(&root, BlockFile::Meta)).unwrap();
        assert_eq!(parsed, b);
        assert_eq!(file, Some(BlockFile::Meta));
    }

    #[test]
    fn shared_dictionary_paths_round_trip_and_are_not_blocks() {
        let root = Path::from("data");
        let d = DictPath::of(&key(), "0192f5a0c3d47e8a9b1c2d3e4f506172");
        let p = d.file(&root);
        assert_eq!(
            p.to_string(),
            "data/acme/app=search-api/date=2026-11-28/dict/0192f5a0c3d47e8a9b1c2d3e4f506172/symbols.bin"
        );
        assert_eq!(DictPath::parse(&root, &p).unwrap(), d);
        assert!(BlockPath::parse(&root, &p).is_err());
        let b = BlockPath {
            partition: key(),
            id: d.id.clone(),
        };
        assert!(DictPath::parse(&root, &b.file(&root, BlockFile::Symbols)).is_err());
    }

    #[test]
    fn partition_values_are_bounded_by_their_escaped_length() {
        let with = |app: &str| PartitionKey {
            app: app.to_string(),
            ..key()
        };
        // 200 plain bytes fit; 201 do not; 67 two-byte characters are 402 escaped bytes.
        assert!(with(&"a".repeat(200)).check().is_ok());
        let e = with(&"a".repeat(201)).check().unwrap_err().to_string();
        assert!(e.contains("`app` is 201 bytes") && e.contains("200"), "{e}");
        let e = with(&"é".repeat(34)).check().unwrap_err().to_string();
        assert!(e.contains("68 bytes, 204 as a path segment"), "{e}");
        assert!(with(&"é".repeat(33)).check().is_ok());
        // Three values of 190 bytes each are over the total.
        let big = PartitionKey {
            app: "a".repeat(190),
            version: "v".repeat(190),
            dc: "d".repeat(190),
            ..key()
        };
        assert!(
            big.check()
                .unwrap_err()
                .to_string()
                .contains("570 bytes together")
        );
    }

    #[test]
    fn escape_round_trips() {
        for v in [
            "",
            "+",
            "~",
            "a=b",
            "x/y",
            "ünï",
            ".",
            "..",
            "%41",
            "+41",
            "plain-1.2_3",
        ] {
            assert_eq!(unescape(&escape(v)).as_deref(), Some(v), "{v:?}");
            assert!(!escape(v).contains('/'));
        }
        assert_eq!(unescape("+4"), None);
        assert_eq!(unescape("+zz"), None);
    }

    #[test]
    fn malformed_paths_are_errors() {
        let root = Path::from("data");
        for p in [
            "data/acme/app=a",
            "other/acme/app=a/version=b/dc=c/date=2026-01-01/x",
            "data/acme/app=a/version=b/dc=c/date=2026-13-01/0192f5a0c3d47e8a9b1c2d3e4f506172",
        ] {
            assert!(BlockPath::parse(&root, &Path::from(p)).is_err(), "{p}");
        }
    }

    #[test]
    fn date_of_is_utc() {
        assert_eq!(
            PartitionKey::date_of(1_764_287_999_000_000_000),
            NaiveDate::from_ymd_opt(2025, 11, 27).unwrap()
        );
    }
}
