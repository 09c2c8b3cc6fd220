//! Change events (commits, feature flags, config pushes, deploys) stored beside a tenant's
//! profiles, so a regression can name the change that caused it.
//!
//! One object per event: `{root}/{tenant}/events/{id}.json` ([`crate::docs`], the id
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

use crate::docs::{Document, Documents};
use serde::{Deserialize, Serialize};

/// The newest event format this build writes and reads.
pub const EVENT_FORMAT_VERSION: u32 = 1;

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

impl Document for ChangeEvent {
    const DIR: &'static str = "events";
    const FIELD: &'static str = "event";
    const FORMAT_VERSION: u32 = EVENT_FORMAT_VERSION;

    fn id(&self) -> &str {
        &self.id
    }
}

/// Orders `events` by time, then id (how they are listed to users).
pub fn sort_by_time(events: &mut [std::sync::Arc<ChangeEvent>]) {
    events.sort_by(|a, b| a.time_nanos.cmp(&b.time_nanos).then(a.id.cmp(&b.id)));
}

/// A store's change events: `{root}/{tenant}/events/{id}.json`. [`Documents::list`]
/// answers them by id; callers order them by time.
pub type EventLog = Documents<ChangeEvent>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::docs::DocPath;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStoreExt, PutPayload};
    use std::sync::Arc;

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
        assert_eq!(
            log.get("t1", "b")
                .await
                .unwrap()
                .unwrap()
                .message
                .as_deref(),
            Some("two")
        );
        assert!(log.get("t1", "nope").await.unwrap().is_none());
        // Cached, then replaced: the listing sees the new object.
        log.put("t1", &[event("a/1", 30, "one, again")])
            .await
            .unwrap();
        let got = log.list("t1").await.unwrap();
        let pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|e| (e.id.as_str(), e.message.as_deref().unwrap()))
            .collect();
        assert_eq!(pairs, [("a/1", "one, again"), ("b", "two")]);
        assert_eq!(log.list("t2").await.unwrap().len(), 1);
        assert!(log.list("t3").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_newer_format_is_refused_by_name() {
        let objects = Arc::new(InMemory::new());
        let root = Path::from("root");
        let path = DocPath::file(&root, "t", "events", "x");
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
        let e: ChangeEvent = crate::docs::decode(&Path::from("fixture"), text.as_bytes()).unwrap();
        assert_eq!(e.id, "c0ffee");
        assert_eq!(e.kind, EventKind::Flag);
        assert_eq!(e.time_nanos, 1_700_000_000_000_000_000);
        assert_eq!(e.functions, ["checkout::price"]);
        assert_eq!(e.extra["ticket"], "PERF-1");
    }
}
