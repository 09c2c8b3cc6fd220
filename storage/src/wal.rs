//! The write-ahead log: every accepted profile is appended here and fsynced before it is
//! acknowledged, so a crash loses nothing that was acknowledged.
//!
//! ```text
//! wal/
//!   writer-id                      this writer's id (blocks record it with their WAL range)
//!   seq-floor                      first seq not handed out when segments were last deleted
//!   quarantine/{seq}.wal, .reason  records that can never be applied, with why
//!   00000000000000000001.wal       segment: header, then records; named by its first seq
//!   00000000000000004711.wal
//!
//! segment header: "FLMDBWAL" | version u32 (2; segments of version 1 hold only v1 payloads)
//! record:         payload length u32 | crc32c(payload) u32 | payload
//! payload v1:     1u8 | entry                                   one profile
//! payload v2:     2u8 | count u32 | count x (entry | duration i64)   a group, all or nothing
//! entry:          seq u64 | tenant | labels | format u8 | time i64 | event | data
//!                 (strings and data are u32 length + bytes; labels are a u32 count of pairs)
//! ```
//!
//! Records are written in batches (group commit): one `write` and one `fdatasync` for all
//! the records waiting, which keeps fsync-per-acknowledgement affordable under load.
//! A group ([`Wal::append_groups`]) is one record with one checksum, so after a crash
//! replay finds all of its profiles or none (a push request of many profiles is atomic).
//! A single profile without extras is still written as a v1 payload. Version 1 readers
//! refuse version 2 segments ([`Error::UnsupportedVersion`]) instead of misreading them.
//! Opening the log reads every segment. A record that is cut short or fails its checksum at
//! the end of the last segment is a torn write from a crash: it was never acknowledged, so
//! it is dropped and the file truncated there. Damage anywhere else is reported, and the
//! rest of that segment skipped. Segments are deleted once every record in them is in a
//! block on object storage ([`Wal::truncate_before`]).

use crate::{Error, Result};
use bytes::Bytes;
use flamedb_profile::Format;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"FLMDBWAL";
/// Newest segment format version this build writes and reads (1 is read too).
pub const VERSION: u32 = 2;
/// Payload version of a single profile.
const RECORD_V1: u8 = 1;
/// Payload version of a group of entries with their extras (segment version 2).
const RECORD_V2_GROUP: u8 = 2;
/// A record larger than this is refused (the ingest limits are far below it).
const MAX_RECORD: u32 = 1 << 30;

/// One ingested profile as received: enough to decode and apply it again.
#[derive(Debug, Clone, PartialEq)]
pub struct WalRecord {
    /// Tenant.
    pub tenant: String,
    /// Series labels given at ingest (app, version, dc, ...).
    pub labels: Vec<(String, String)>,
    /// Format, `None` for detection.
    pub format: Option<Format>,
    /// Profile start time given at ingest, ns since the epoch; 0 when not given.
    pub time_nanos: i64,
    /// perf script event to keep; empty for the default.
    pub perf_event: String,
    /// The profile bytes as received (possibly gzipped).
    pub data: Bytes,
}

/// A record with what the store applies besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct WalEntry {
    /// The profile as received.
    pub record: WalRecord,
    /// Duration of the profile in ns, used when the decoded profile carries none (folded
    /// text has no duration); 0 for none.
    pub duration_nanos: i64,
}

impl From<WalRecord> for WalEntry {
    fn from(record: WalRecord) -> Self {
        WalEntry {
            record,
            duration_nanos: 0,
        }
    }
}

/// A record read back, with its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    /// Sequence number.
    pub seq: u64,
    /// The record.
    pub record: WalRecord,
    /// Its [`WalEntry::duration_nanos`] (0 for v1 payloads).
    pub duration_nanos: i64,
}

/// What opening the log found besides the records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segments read.
    pub segments: usize,
    /// Bytes of a torn record dropped at the end of the last segment.
    pub torn_bytes: u64,
    /// Damaged places skipped (segment path and byte offset).
    pub damaged: Vec<(String, u64)>,
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    writer_id: String,
    /// (first seq, path) of every segment, oldest first; the last one is being written.
    segments: Vec<(u64, PathBuf)>,
    file: File,
    file_len: u64,
    next_seq: u64,
    segment_bytes: u64,
    /// The bytes of one `append_groups` call, reused across calls (a fresh buffer per
    /// batch costs a page fault per 4 KiB, or a zeroed 2 MiB huge page, every batch);
    /// trimmed back to `segment_bytes` after a larger batch.
    buf: Vec<u8>,
}

impl Wal {
    /// Opens (creating) the log in `dir`, returning it and the records to replay.
    /// Segments rotate at `segment_bytes`.
    pub fn open(dir: &Path, segment_bytes: u64) -> Result<(Wal, Vec<Replayed>, OpenReport)> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            let first = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".wal"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(first) = first {
                found.push((first, path));
            }
        }
        found.sort();
        let mut report = OpenReport {
            segments: found.len(),
            ..OpenReport::default()
        };
        let mut records = Vec::new();
        let mut next_seq = 1;
        for (i, (_, path)) in found.iter().enumerate() {
            let last = i + 1 == found.len();
            let (recs, valid_len, damage) = read_segment(path)?;
            if let Some(at) = damage {
                if last {
                    let len = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
                    report.torn_bytes = len - valid_len;
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| Error::io(path, e))?;
                    f.set_len(valid_len).map_err(|e| Error::io(path, e))?;
                    f.sync_all().map_err(|e| Error::io(path, e))?;
                } else {
                    tracing::error!(segment = %path.display(), offset = at, "damaged WAL segment; rest of it skipped");
                    report.damaged.push((path.display().to_string(), at));
                }
            }
            for r in recs {
                next_seq = next_seq.max(r.seq + 1);
                records.push(r);
            }
        }
        // Segments that are all header (no record) name a seq that may be ahead, and the
        // floor names the first seq not yet handed out when segments were last deleted:
        // a sequence number is never given twice, even when every segment is gone
        // (replay skips records at or below the seqs blocks hold, so a reused seq would
        // be skipped as already flushed).
        if let Some((first, _)) = found.last() {
            next_seq = next_seq.max(*first);
        }
        let floor = read_floor(dir)?;
        if found.is_empty() && floor.is_none() && fs::metadata(dir.join(WRITER_ID)).is_ok() {
            // Segments and floor are gone (deleted by hand, or a log from before floors
            // existed lost its last segment): the sequence cannot be continued with
            // certainty, so this log becomes a new writer whose blocks cannot be confused
            // with the old one's.
            tracing::warn!(dir = %dir.display(), "WAL has no segments and no seq floor; starting a new writer id");
            fs::remove_file(dir.join(WRITER_ID)).map_err(|e| Error::io(dir, e))?;
        }
        let writer_id = writer_id(dir)?;
        next_seq = next_seq.max(floor.unwrap_or(0));
        // The newest segment is reused when it holds no record and has the name a new
        // segment would get: listing it twice would let truncation delete the file being
        // appended to.
        if found.last().is_some_and(|(first, _)| *first == next_seq) {
            found.pop();
        }
        let (file, path) = new_segment(dir, next_seq)?;
        found.push((next_seq, path));
        let wal = Wal {
            dir: dir.to_path_buf(),
            writer_id,
            segments: found,
            file,
            file_len: header_len(),
            next_seq,
            segment_bytes,
            buf: Vec::new(),
        };
        Ok((wal, records, report))
    }

    /// This writer's id.
    pub fn writer_id(&self) -> &str {
        &self.writer_id
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Appends records durably (one write, one fdatasync), each its own WAL record, and
    /// returns their sequence numbers. On error nothing is acknowledged; the partial write
    /// is a torn tail that the next open drops.
    pub fn append(&mut self, records: &[WalRecord]) -> Result<Vec<u64>> {
        let groups: Vec<Vec<WalEntry>> = records
            .iter()
            .map(|r| vec![WalEntry::from(r.clone())])
            .collect();
        self.append_groups(&groups)
    }

    /// Appends groups durably (one write, one fdatasync for all); each group is one WAL
    /// record, so replay sees all of a group or none of it. Returns the sequence numbers of
    /// every entry, in order (consecutive within a group). Errors as [`Wal::append`].
    pub fn append_groups(&mut self, groups: &[Vec<WalEntry>]) -> Result<Vec<u64>> {
        if self.file_len >= self.segment_bytes {
            self.rotate()?;
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let result = self.write_groups(groups, &mut buf);
        if buf.capacity() as u64 > self.segment_bytes {
            buf = Vec::new();
        }
        self.buf = buf;
        result
    }

    fn write_groups(&mut self, groups: &[Vec<WalEntry>], buf: &mut Vec<u8>) -> Result<Vec<u64>> {
        let mut seqs = Vec::with_capacity(groups.iter().map(Vec::len).sum());
        for group in groups.iter().filter(|g| !g.is_empty()) {
            let first = self.next_seq + seqs.len() as u64;
            // Frame: payload length and crc32c, filled in once the payload is written.
            let frame = buf.len();
            buf.extend_from_slice(&[0; 8]);
            encode_group(buf, first, group)?;
            let payload = &buf[frame + 8..];
            // `encode_group` bounds the payload by `MAX_RECORD`, a `u32`.
            let len = (payload.len() as u32).to_le_bytes();
            let crc = crc32c::crc32c(payload).to_le_bytes();
            buf[frame..frame + 4].copy_from_slice(&len);
            buf[frame + 4..frame + 8].copy_from_slice(&crc);
            seqs.extend((0..group.len() as u64).map(|i| first + i));
        }
        let path = self.current_path();
        let written = self
            .file
            .write_all(buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // The segment may now end in a partial record. Later records go to a new
            // segment, so a reader never finds good records after the damage.
            let _ = self.rotate();
            return Err(Error::io(&path, e));
        }
        self.file_len += buf.len() as u64;
        self.next_seq += seqs.len() as u64;
        Ok(seqs)
    }

    fn current_path(&self) -> PathBuf {
        self.segments
            .last()
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }

    fn rotate(&mut self) -> Result<()> {
        let (file, path) = new_segment(&self.dir, self.next_seq)?;
        self.file = file;
        self.file_len = header_len();
        // A segment that got no record (a failed first write) is replaced by the new one,
        // which has its name.
        if self
            .segments
            .last()
            .is_some_and(|(first, _)| *first == self.next_seq)
        {
            self.segments.pop();
        }
        self.segments.push((self.next_seq, path));
        Ok(())
    }

    /// Deletes every segment whose records all have sequence numbers below `seq` (they are
    /// in blocks on object storage). The segment being written is kept.
    pub fn truncate_before(&mut self, seq: u64) -> Result<usize> {
        let doomed = self
            .segments
            .iter()
            .skip(1)
            .take_while(|(first, _)| *first <= seq)
            .count();
        if doomed == 0 {
            return Ok(0);
        }
        // The floor is durable before any segment goes, so the sequence survives even
        // the loss of every remaining segment.
        write_floor(&self.dir, self.next_seq)?;
        let mut removed = 0;
        while self.segments.len() > 1 && self.segments[1].0 <= seq {
            let (_, path) = self.segments.remove(0);
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Keeps a record that can never be applied (a poisoned record: its partition cannot
    /// be written, or it no longer decodes) out of the way of the rest of the log: it is
    /// written durably, alone, as a segment file `quarantine/{seq}.wal` (read back with
    /// [`read_quarantined`]) with the reason in `quarantine/{seq}.reason`. Replay then
    /// goes on without it, and truncation may delete the segment it came from.
    pub fn quarantine(&self, r: &Replayed, reason: &str) -> Result<PathBuf> {
        let dir = self.dir.join(QUARANTINE);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut buf = MAGIC.to_vec();
        buf.extend_from_slice(&VERSION.to_le_bytes());
        let frame = buf.len();
        buf.extend_from_slice(&[0; 8]);
        let entry = WalEntry {
            record: r.record.clone(),
            duration_nanos: r.duration_nanos,
        };
        encode_group(&mut buf, r.seq, std::slice::from_ref(&entry))?;
        let payload = &buf[frame + 8..];
        let len = (payload.len() as u32).to_le_bytes();
        let crc = crc32c::crc32c(payload).to_le_bytes();
        buf[frame..frame + 4].copy_from_slice(&len);
        buf[frame + 4..frame + 8].copy_from_slice(&crc);
        let path = dir.join(format!("{:020}.wal", r.seq));
        write_durably(&dir, &path, &buf)?;
        write_durably(
            &dir,
            &dir.join(format!("{:020}.reason", r.seq)),
            reason.as_bytes(),
        )?;
        Ok(path)
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

fn header_len() -> u64 {
    MAGIC.len() as u64 + 4
}

fn new_segment(dir: &Path, first_seq: u64) -> Result<(File, PathBuf)> {
    let path = dir.join(format!("{first_seq:020}.wal"));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    f.write_all(MAGIC).map_err(|e| Error::io(&path, e))?;
    f.write_all(&VERSION.to_le_bytes())
        .map_err(|e| Error::io(&path, e))?;
    f.sync_all().map_err(|e| Error::io(&path, e))?;
    sync_dir(dir)?;
    Ok((f, path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// File holding the writer id.
const WRITER_ID: &str = "writer-id";
/// File holding the seq floor: every seq below it was handed out (decimal text).
const FLOOR: &str = "seq-floor";
/// Directory of quarantined records.
const QUARANTINE: &str = "quarantine";

fn read_floor(dir: &Path) -> Result<Option<u64>> {
    let path = dir.join(FLOOR);
    match fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::Corrupt {
                path: path.display().to_string(),
                message: format!("seq floor {:?} is not a number", text.trim()),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Writes the floor durably.
fn write_floor(dir: &Path, next_seq: u64) -> Result<()> {
    write_durably(dir, &dir.join(FLOOR), next_seq.to_string().as_bytes())
}

/// Writes `path` in `dir` all or nothing: a temporary file, fsynced, renamed into place,
/// the directory synced.
fn write_durably(dir: &Path, path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, data).map_err(|e| Error::io(&tmp, e))?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    sync_dir(dir)
}

/// The records of the quarantine directory of the log in `dir` (see [`Wal::quarantine`]),
/// each with its reason, in sequence order.
pub fn read_quarantined(dir: &Path) -> Result<Vec<(Replayed, String)>> {
    let q = dir.join(QUARANTINE);
    let mut out = Vec::new();
    let entries = match fs::read_dir(&q) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(&q, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&q, e))?.path();
        if path.extension().is_some_and(|x| x == "wal") {
            let reason = fs::read_to_string(path.with_extension("reason")).unwrap_or_default();
            let (recs, _, damage) = read_segment(&path)?;
            if let Some(at) = damage {
                return Err(Error::corrupt(
                    path.display(),
                    format!("damaged at byte {at}"),
                ));
            }
            out.extend(recs.into_iter().map(|r| (r, reason.clone())));
        }
    }
    out.sort_by_key(|(r, _)| r.seq);
    Ok(out)
}

fn writer_id(dir: &Path) -> Result<String> {
    let path = dir.join(WRITER_ID);
    match fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_string()),
        _ => {
            let id = uuid::Uuid::now_v7().simple().to_string();
            let tmp = dir.join("writer-id.tmp");
            fs::write(&tmp, &id).map_err(|e| Error::io(&tmp, e))?;
            File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&tmp, e))?;
            fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            sync_dir(dir)?;
            Ok(id)
        }
    }
}

/// Reads a segment: its valid records, the length of its valid prefix, and the offset of
/// the first damage if any.
fn read_segment(path: &Path) -> Result<(Vec<Replayed>, u64, Option<u64>)> {
    let mut data = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| Error::io(path, e))?;
    let hl = header_len() as usize;
    if data.len() < hl || &data[..8] != MAGIC {
        // A crash while creating the segment leaves a short header.
        return Ok((Vec::new(), 0, Some(0)));
    }
    let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    if version > VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.display().to_string(),
            found: version,
            supported: VERSION,
        });
    }
    let mut at = hl;
    let mut out = Vec::new();
    while at < data.len() {
        let Some(head) = data.get(at..at + 8) else {
            return Ok((out, at as u64, Some(at as u64)));
        };
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let payload = (len <= MAX_RECORD)
            .then(|| data.get(at + 8..at + 8 + len as usize))
            .flatten();
        let Some(payload) = payload.filter(|p| crc32c::crc32c(p) == crc) else {
            return Ok((out, at as u64, Some(at as u64)));
        };
        match decode_payload(payload) {
            Some(rs) => out.extend(rs),
            None => return Ok((out, at as u64, Some(at as u64))),
        }
        at += 8 + len as usize;
    }
    Ok((out, at as u64, None))
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) -> Result<()> {
    let len =
        u32::try_from(b.len()).map_err(|_| Error::Invalid("WAL field exceeds 4 GiB".into()))?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(b);
    Ok(())
}

fn format_code(f: Option<Format>) -> u8 {
    match f {
        None => 0,
        Some(Format::Pprof) => 1,
        Some(Format::Folded) => 2,
        Some(Format::PerfScript) => 3,
        Some(Format::Jfr) => 4,
        Some(Format::Speedscope) => 5,
        Some(Format::Otlp) => 6,
    }
}

/// The payload of one WAL record: v1 for a single entry without extras, else a v2 group.
/// Appends the payload of one WAL record holding `group` to `buf`.
fn encode_group(buf: &mut Vec<u8>, first_seq: u64, group: &[WalEntry]) -> Result<()> {
    let start = buf.len();
    let size: usize = group.iter().map(|e| e.record.data.len() + 128).sum();
    buf.reserve(size);
    match group {
        [single] if single.duration_nanos == 0 => {
            buf.push(RECORD_V1);
            put_entry(buf, first_seq, &single.record)?;
        }
        _ => {
            buf.push(RECORD_V2_GROUP);
            buf.extend_from_slice(&(group.len() as u32).to_le_bytes());
            for (i, e) in group.iter().enumerate() {
                put_entry(buf, first_seq + i as u64, &e.record)?;
                buf.extend_from_slice(&e.duration_nanos.to_le_bytes());
            }
        }
    }
    if buf.len() - start > MAX_RECORD as usize {
        buf.truncate(start);
        return Err(Error::Invalid(
            "profiles too large for one WAL record".into(),
        ));
    }
    Ok(())
}

fn put_entry(buf: &mut Vec<u8>, seq: u64, r: &WalRecord) -> Result<()> {
    buf.extend_from_slice(&seq.to_le_bytes());
    put_bytes(buf, r.tenant.as_bytes())?;
    buf.extend_from_slice(&(r.labels.len() as u32).to_le_bytes());
    for (k, v) in &r.labels {
        put_bytes(buf, k.as_bytes())?;
        put_bytes(buf, v.as_bytes())?;
    }
    buf.push(format_code(r.format));
    buf.extend_from_slice(&r.time_nanos.to_le_bytes());
    put_bytes(buf, r.perf_event.as_bytes())?;
    put_bytes(buf, &r.data)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

/// The entries of one WAL record (v1: one; v2: a group), or `None` when it is malformed.
fn decode_payload(payload: &[u8]) -> Option<Vec<Replayed>> {
    let mut c = Cursor(payload);
    let out = match c.u8()? {
        RECORD_V1 => vec![read_entry(&mut c, false)?],
        RECORD_V2_GROUP => {
            let n = c.u32()? as usize;
            let mut out = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                out.push(read_entry(&mut c, true)?);
            }
            out
        }
        _ => return None,
    };
    c.0.is_empty().then_some(out)
}

fn read_entry(c: &mut Cursor<'_>, with_duration: bool) -> Option<Replayed> {
    let seq = c.u64()?;
    let tenant = c.string()?;
    let n = c.u32()? as usize;
    let mut labels = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        labels.push((c.string()?, c.string()?));
    }
    let format = match c.u8()? {
        0 => None,
        1 => Some(Format::Pprof),
        2 => Some(Format::Folded),
        3 => Some(Format::PerfScript),
        4 => Some(Format::Jfr),
        5 => Some(Format::Speedscope),
        6 => Some(Format::Otlp),
        _ => return None,
    };
    let time_nanos = c.u64()? as i64;
    let perf_event = c.string()?;
    let data = Bytes::copy_from_slice(c.bytes()?);
    let duration_nanos = if with_duration { c.u64()? as i64 } else { 0 };
    Some(Replayed {
        seq,
        record: WalRecord {
            tenant,
            labels,
            format,
            time_nanos,
            perf_event,
            data,
        },
        duration_nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u8) -> WalRecord {
        WalRecord {
            tenant: "t".into(),
            labels: vec![("app".into(), format!("a{i}"))],
            format: Some(Format::Folded),
            time_nanos: 1_700_000_000_000_000_000 + i64::from(i),
            perf_event: String::new(),
            data: Bytes::from(format!("main;f{i} {i}\n")),
        }
    }

    #[test]
    fn records_survive_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert!(replay.is_empty());
        assert_eq!(wal.append(&[rec(1), rec(2)]).unwrap(), vec![1, 2]);
        assert_eq!(wal.append(&[rec(3)]).unwrap(), vec![3]);
        let id = wal.writer_id().to_string();
        drop(wal);
        let (wal, replay, report) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(wal.writer_id(), id);
        assert_eq!(report.torn_bytes, 0);
        let got: Vec<(u64, WalRecord)> = replay.into_iter().map(|r| (r.seq, r.record)).collect();
        assert_eq!(got, vec![(1, rec(1)), (2, rec(2)), (3, rec(3))]);
        assert_eq!(wal.next_seq(), 4);
    }

    #[test]
    fn a_torn_tail_is_dropped_at_every_cut() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        wal.append(&[rec(1)]).unwrap();
        wal.append(&[rec(2)]).unwrap();
        let path = wal.current_path();
        drop(wal);
        let full = fs::read(&path).unwrap();
        let first_end = {
            let len = u32::from_le_bytes(full[12..16].try_into().unwrap()) as usize;
            12 + 8 + len
        };
        for cut in first_end..full.len() {
            let d = tempfile::tempdir().unwrap();
            fs::write(d.path().join("00000000000000000001.wal"), &full[..cut]).unwrap();
            let (_, replay, report) = Wal::open(d.path(), 1 << 20).unwrap();
            assert_eq!(replay.len(), 1, "cut at {cut}");
            assert_eq!(replay[0].record, rec(1));
            assert_eq!(report.torn_bytes as usize, cut - first_end);
        }
        // A flipped byte in the last record also reads as a torn tail.
        let d = tempfile::tempdir().unwrap();
        let mut bad = full.clone();
        let last = bad.len() - 3;
        bad[last] ^= 1;
        fs::write(d.path().join("00000000000000000001.wal"), &bad).unwrap();
        let (mut wal, replay, _) = Wal::open(d.path(), 1 << 20).unwrap();
        assert_eq!(replay.len(), 1);
        // New records continue after the surviving ones.
        assert_eq!(wal.append(&[rec(9)]).unwrap(), vec![2]);
    }

    #[test]
    fn rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 64).unwrap();
        for i in 1..=5 {
            wal.append(&[rec(i)]).unwrap();
        }
        assert_eq!(wal.segment_count(), 5);
        // Records 1..=3 are flushed: segments holding only those go.
        assert_eq!(wal.truncate_before(4).unwrap(), 3);
        drop(wal);
        let (_, replay, _) = Wal::open(dir.path(), 64).unwrap();
        let seqs: Vec<u64> = replay.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![4, 5]);
    }

    /// Issue 15's first reproduction at the log's level: an empty newest segment (a
    /// restart after a flush) used to be listed twice, so truncation deleted the file
    /// being appended to, and the next open restarted the sequence at 1.
    #[test]
    fn an_empty_newest_segment_is_reused_not_listed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        wal.append(&[rec(1)]).unwrap();
        drop(wal);
        // Restart; everything flushed: the first segment goes, an empty one is newest.
        let (mut wal, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(wal.truncate_before(2).unwrap(), 1);
        drop(wal);
        // Restart again with the empty segment newest, then append and truncate.
        let (mut wal, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert!(replay.is_empty());
        assert_eq!(wal.segment_count(), 1);
        assert_eq!(wal.append(&[rec(2)]).unwrap(), vec![2]);
        assert_eq!(wal.truncate_before(2).unwrap(), 0);
        assert_eq!(wal.append(&[rec(3)]).unwrap(), vec![3]);
        drop(wal);
        let (wal, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        let got: Vec<(u64, WalRecord)> = replay.into_iter().map(|r| (r.seq, r.record)).collect();
        assert_eq!(got, vec![(2, rec(2)), (3, rec(3))]);
        assert_eq!(wal.next_seq(), 4);
    }

    #[test]
    fn the_sequence_survives_the_loss_of_every_segment() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 64).unwrap();
        for i in 1..=4 {
            wal.append(&[rec(i)]).unwrap();
        }
        assert!(wal.truncate_before(5).unwrap() > 0);
        let id = wal.writer_id().to_string();
        drop(wal);
        for e in fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "wal") {
                fs::remove_file(p).unwrap();
            }
        }
        // The floor written before truncation carries the sequence on.
        let (wal, replay, _) = Wal::open(dir.path(), 64).unwrap();
        assert!(replay.is_empty());
        assert_eq!(wal.next_seq(), 5);
        assert_eq!(wal.writer_id(), id);
        drop(wal);
        // Without segments and floor the sequence is unknown: a new writer id.
        for e in fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n != "writer-id") {
                fs::remove_file(p).unwrap();
            }
        }
        let (wal, _, _) = Wal::open(dir.path(), 64).unwrap();
        assert_eq!(wal.next_seq(), 1);
        assert_ne!(wal.writer_id(), id);
    }

    #[test]
    fn quarantined_records_read_back_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        wal.append(&[rec(1), rec(2)]).unwrap();
        drop(wal);
        let (wal, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        wal.quarantine(&replay[1], "app too long").unwrap();
        let q = read_quarantined(dir.path()).unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!((q[0].0.seq, &q[0].0.record), (2, &rec(2)));
        assert_eq!(q[0].1, "app too long");
        // The quarantine is not a segment of the log.
        drop(wal);
        let (_, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(replay.len(), 2);
    }

    #[test]
    fn a_group_is_replayed_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        wal.append(&[rec(1)]).unwrap();
        let group = vec![
            WalEntry {
                record: rec(2),
                duration_nanos: 10_000_000_000,
            },
            WalEntry::from(rec(3)),
        ];
        assert_eq!(wal.append_groups(&[group]).unwrap(), vec![2, 3]);
        let path = wal.current_path();
        drop(wal);
        let (_, replay, _) = Wal::open(dir.path(), 1 << 20).unwrap();
        let got: Vec<(u64, i64)> = replay.iter().map(|r| (r.seq, r.duration_nanos)).collect();
        assert_eq!(got, vec![(1, 0), (2, 10_000_000_000), (3, 0)]);
        assert_eq!(replay[2].record, rec(3));
        // Cut anywhere inside the group's record: neither of its entries comes back.
        let full = fs::read(&path).unwrap();
        let first_end = 12 + 8 + u32::from_le_bytes(full[12..16].try_into().unwrap()) as usize;
        for cut in first_end..full.len() {
            let d = tempfile::tempdir().unwrap();
            fs::write(d.path().join("00000000000000000001.wal"), &full[..cut]).unwrap();
            let (_, replay, _) = Wal::open(d.path(), 1 << 20).unwrap();
            let seqs: Vec<u64> = replay.iter().map(|r| r.seq).collect();
            assert_eq!(seqs, vec![1], "cut at {cut}");
        }
    }

    #[test]
    fn version_1_segments_are_read_and_newer_ones_refused() {
        let mut payload = Vec::new();
        encode_group(&mut payload, 7, &[WalEntry::from(rec(7))]).unwrap();
        assert_eq!(
            payload[0], 1,
            "a single entry without extras stays a v1 payload"
        );
        let mut v1 = b"FLMDBWAL".to_vec();
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v1.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
        v1.extend_from_slice(&payload);
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("00000000000000000007.wal"), &v1).unwrap();
        let (wal, replay, _) = Wal::open(d.path(), 1 << 20).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!((replay[0].seq, &replay[0].record), (7, &rec(7)));
        assert_eq!(wal.next_seq(), 8);
        drop(wal);
        let mut v3 = v1.clone();
        v3[8..12].copy_from_slice(&3u32.to_le_bytes());
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("00000000000000000007.wal"), &v3).unwrap();
        let e = Wal::open(d.path(), 1 << 20).unwrap_err();
        assert!(
            matches!(e, Error::UnsupportedVersion { found: 3, .. }),
            "{e}"
        );
    }
}
