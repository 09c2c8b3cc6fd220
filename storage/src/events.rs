//! Change events (commits, feature flags, config pushes, deploys) stored beside a tenant's
//! profiles, so a regression can name the change that caused it.
//!
//! One object per event: `{root}/{tenant}/events/{id}.json` ([`EventPath`], the id
//! escaped like a partition value), holding `{"format_version": 1, "event": {...}}`.
//! Choices:
//! - Re-posting an id replaces the event: one `put` of the same object, atomic on every
//!   object store, with no read-modify-write and no coordination between servers sharing
//!   a bucket (the listing is the truth).
//! - Events are written with a plain `put` and the request is answered after every put
//!   returned: on the local store that is after the file and its directory were synced
//!   ([`crate::durable_local`]), on S3 after the store acknowledged it.
//! - Reading lists the tenant's `events/` prefix and fetches only objects not already
//!   cached with the same size and modification time: a tenant with thousands of events
//!   costs one listing per read once warm. The block catalog skips these paths (they are
//!   not partitions).

use crate::path::escape;
use crate::{Error, Result};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The newest event format this build writes and reads.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// Objects written or read at once.
const CONCURRENT_REQUESTS: usize = 16;

/// What kind of change an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A code change.
    Commit,
    /// A feature flag flipped.
    Flag,
    /// A configuration change.
    Config,
    /// A version rolled out.
    Deploy,
}

impl EventKind {
    /// Every kind, in the order of the documentation.
    pub const ALL: [EventKind; 4] = [
        EventKind::Commit,
        EventKind::Flag,
        EventKind::Config,
        EventKind::Deploy,
    ];

    /// The name used in JSON and SQL.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Commit => "commit",
            EventKind::Flag => "flag",
            EventKind::Config => "config",
            EventKind::Deploy => "deploy",
        }
    }

    /// The kind named `name`.
    pub fn from_name(name: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One change event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Unique per tenant; posting it again replaces the event.
    pub id: String,
    /// What changed.
    pub kind: EventKind,
    /// When, nanoseconds since the Unix epoch.
    pub time_nanos: i64,
    /// The app it changed.
    pub app: String,
    /// The version it went into, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Its description (a commit message, a flag's name and value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Source files it touched.
    #[serde(default)]
    pub files: Vec<String>,
    /// Functions it touched.
    #[serde(default)]
    pub functions: Vec<String>,
    /// Every other field it was posted with, kept as given.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The stored form of an event.
#[derive(Serialize, Deserialize)]
struct Stored {
    format_version: u32,
    event: ChangeEvent,
}

/// Where events live: the only code that knows the layout of `events/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventPath;

impl EventPath {
    /// `{root}/{tenant}/events`: the prefix of a tenant's events.
    pub fn prefix(root: &Path, tenant: &str) -> Path {
        root.clone().join(escape(tenant)).join("events")
    }

    /// `{root}/{tenant}/events/{id}.json`.
    pub fn file(root: &Path, tenant: &str, id: &str) -> Path {
        EventPath::prefix(root, tenant).join(format!("{}.json", escape(id)))
    }
}

/// A cached event and what identified its object when it was read.
struct Cached {
    size: u64,
    modified: i64,
    event: Arc<ChangeEvent>,
}

/// Reads and writes a store's change events.
pub struct EventLog {
    objects: Arc<dyn ObjectStore>,
    root: Path,
    cache: Mutex<HashMap<Path, Cached>>,
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLog")
            .field("root", &self.root)
            .finish()
    }
}

impl EventLog {
    /// Events of the store at `root` of `objects`.
    pub fn new(objects: Arc<dyn ObjectStore>, root: Path) -> Self {
        EventLog {
            objects,
            root,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Stores `events` for `tenant`, each replacing an event of the same id; returns once
    /// every one is durable. Events are stored one by one: on an error, some may be
    /// stored (posting them again is harmless).
    pub async fn put(&self, tenant: &str, events: &[ChangeEvent]) -> Result<()> {
        let mut writes = Vec::with_capacity(events.len());
        for e in events {
            let body = serde_json::to_vec(&Stored {
                format_version: EVENT_FORMAT_VERSION,
                event: e.clone(),
            })
            .map_err(|err| Error::Invalid(format!("event {:?}: {err}", e.id)))?;
            writes.push((EventPath::file(&self.root, tenant, &e.id), body));
        }
        futures::stream::iter(writes)
            .map(|(path, body)| {
                let objects = self.objects.clone();
                async move {
                    objects
                        .put(&path, PutPayload::from(Bytes::from(body)))
                        .await
                        .map(|_| ())
                        .map_err(Error::from)
                }
            })
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Every event of `tenant`, by time then id.
    pub async fn list(&self, tenant: &str) -> Result<Vec<Arc<ChangeEvent>>> {
        let prefix = EventPath::prefix(&self.root, tenant);
        let listed: Vec<_> = self.objects.list(Some(&prefix)).try_collect().await?;
        let mut out = Vec::with_capacity(listed.len());
        let mut fetch = vec![];
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for o in listed {
                if !o.location.as_ref().ends_with(".json") {
                    continue;
                }
                let modified = o.last_modified.timestamp_nanos_opt().unwrap_or(0);
                match cache.get(&o.location) {
                    Some(c) if c.size == o.size && c.modified == modified => {
                        out.push(c.event.clone())
                    }
                    _ => fetch.push((o.location, o.size, modified)),
                }
            }
        }
        let fetched: Vec<(Path, Cached)> = futures::stream::iter(fetch)
            .map(|(path, size, modified)| {
                let objects = self.objects.clone();
                async move {
                    let bytes = objects.get(&path).await?.bytes().await?;
                    let event = Arc::new(decode(&path, &bytes)?);
                    Ok::<_, Error>((
                        path,
                        Cached {
                            size,
                            modified,
                            event,
                        },
                    ))
                }
            })
            .buffer_unordered(CONCURRENT_REQUESTS)
            .try_collect()
            .await?;
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for (path, c) in fetched {
                out.push(c.event.clone());
                cache.insert(path, c);
            }
        }
        out.sort_by(|a, b| a.time_nanos.cmp(&b.time_nanos).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}

fn decode(path: &Path, bytes: &[u8]) -> Result<ChangeEvent> {
    #[derive(Deserialize)]
    struct Head {
        format_version: u32,
    }
    let corrupt = |message: String| Error::Corrupt {
        path: path.to_string(),
        message,
    };
    let head: Head = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    if head.format_version > EVENT_FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_string(),
            found: head.format_version,
            supported: EVENT_FORMAT_VERSION,
        });
    }
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    Ok(stored.event)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    fn event(id: &str, time: i64, message: &str) -> ChangeEvent {
        ChangeEvent {
            id: id.into(),
            kind: EventKind::Commit,
            time_nanos: time,
            app: "web".into(),
            version: None,
            author: Some("ana".into()),
            message: Some(message.into()),
            files: vec!["src/a.c".into()],
            functions: vec!["parse".into()],
            extra: serde_json::Map::new(),
        }
    }

    #[tokio::test]
    async fn events_are_listed_by_time_and_a_repost_replaces() {
        let log = EventLog::new(Arc::new(InMemory::new()), Path::from("root"));
        log.put("t1", &[event("b", 20, "two"), event("a/1", 10, "one")])
            .await
            .unwrap();
        log.put("t2", &[event("c", 5, "other tenant")])
            .await
            .unwrap();
        let got = log.list("t1").await.unwrap();
        let ids: Vec<&str> = got.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a/1", "b"]);
        // Cached, then replaced: the listing sees the new object.
        log.put("t1", &[event("a/1", 30, "one, again")])
            .await
            .unwrap();
        let got = log.list("t1").await.unwrap();
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.id.as_str(), e.message.as_deref().unwrap()))
            .collect();
        assert_eq!(pairs, [("b", "two"), ("a/1", "one, again")]);
        assert_eq!(log.list("t2").await.unwrap().len(), 1);
        assert!(log.list("t3").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_newer_format_is_refused_by_name() {
        let objects = Arc::new(InMemory::new());
        let root = Path::from("root");
        let path = EventPath::file(&root, "t", "x");
        objects
            .put(
                &path,
                PutPayload::from(r#"{"format_version": 9, "event": {}}"#),
            )
            .await
            .unwrap();
        let err = EventLog::new(objects, root).list("t").await.unwrap_err();
        assert!(
            matches!(err, Error::UnsupportedVersion { found: 9, .. }),
            "{err}"
        );
    }

    /// The committed fixture of format version 1 stays readable.
    #[test]
    fn format_1_fixture_reads() {
        let text = include_str!("../tests/fixtures/event-v1.json");
        let e = decode(&Path::from("fixture"), text.as_bytes()).unwrap();
        assert_eq!(e.id, "c0ffee");
        assert_eq!(e.kind, EventKind::Flag);
        assert_eq!(e.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(e.functions, ["checkout::price"]);
        assert_eq!(e.extra["ticket"], "PERF-1");
    }
}
