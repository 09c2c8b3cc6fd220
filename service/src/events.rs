//! Change events: commits, flags, configs and deploys posted by CI and deploy tools,
//! stored per tenant beside the profiles ([`flamedb_storage::events`]) and ranked as the
//! causes of regressions ([`flamedb_query::regress::events`]).
//!
//! ```text
//!  JSON object or array ─► check size and count (EventLimits) ─► per event: id, kind,
//!  time (RFC 3339 or unix seconds), app required; version, author, message, files,
//!  functions typed; other fields kept in `extra` ─► last of an id wins ─► EventLog::put
//!  (durable) ─► {"stored": n}
//! ```

use crate::query::Engine;
use crate::{Error, ErrorKind, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use flamedb_storage::{ChangeEvent, EventKind};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Bounds on posted events, checked before parsing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventLimits {
    /// Most events in one request.
    pub max_per_request: usize,
    /// Largest event, as JSON bytes.
    pub max_event_bytes: usize,
    /// Longest id, bytes.
    pub max_id_bytes: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_per_request: 1000,
            max_event_bytes: 64 << 10,
            max_id_bytes: 256,
        }
    }
}

/// The answer to a post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored {
    /// Events stored (an id given twice counts once).
    pub stored: usize,
}

/// A stored event as answered: `time` in RFC 3339.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventOut {
    /// Its id.
    pub id: String,
    /// `commit`, `flag`, `config` or `deploy`.
    pub kind: &'static str,
    /// When, RFC 3339 (UTC, nanoseconds when not whole seconds).
    pub time: String,
    /// The app.
    pub app: String,
    /// The version it went into.
    pub version: Option<String>,
    /// Who made it.
    pub author: Option<String>,
    /// Its description.
    pub message: Option<String>,
    /// Files it touched.
    pub files: Vec<String>,
    /// Functions it touched.
    pub functions: Vec<String>,
    /// The other fields it was posted with.
    pub extra: Map<String, Value>,
}

impl From<&ChangeEvent> for EventOut {
    fn from(e: &ChangeEvent) -> Self {
        EventOut {
            id: e.id.clone(),
            kind: e.kind.name(),
            time: DateTime::<Utc>::from_timestamp_nanos(e.time_nanos)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
            app: e.app.clone(),
            version: e.version.clone(),
            author: e.author.clone(),
            message: e.message.clone(),
            files: e.files.clone(),
            functions: e.functions.clone(),
            extra: e.extra.clone(),
        }
    }
}

/// `GET /api/v1/events`: a tenant's events, optionally of one app and a time range.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventsRequest {
    /// Only this app's.
    pub app: Option<String>,
    /// From this time (ns, inclusive).
    pub from: Option<i64>,
    /// Until this time (ns, inclusive).
    pub until: Option<i64>,
}

/// The events of an [`EventsRequest`], by time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventsAnswer {
    /// The events.
    pub events: Vec<EventOut>,
}

fn field_err(i: usize, id: Option<&str>, message: String) -> Error {
    match id {
        Some(id) => Error::invalid(format!("event {i} (id {id:?}): {message}")),
        None => Error::invalid(format!("event {i}: {message}")),
    }
}

/// Unix seconds written in decimal (`1700000000`, `1700000000.25`) as ns, exactly.
fn decimal_secs(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(frac.is_empty() || digits(frac)) || frac.len() > 9 {
        return None;
    }
    let nanos: i64 = format!("{frac:0<9}").parse().ok()?;
    let v = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)?;
    Some(if neg { -v } else { v })
}

/// An RFC 3339 time or unix seconds (a number, or a string of one) as ns.
fn event_time(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => decimal_secs(&n.to_string()),
        Value::String(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => t.timestamp_nanos_opt(),
            Err(_) => decimal_secs(s.trim()),
        },
        _ => None,
    }
}

/// Parses one event object (number `i` of the request, from 0).
fn parse_event(i: usize, v: Value, limits: &EventLimits) -> Result<ChangeEvent> {
    let Value::Object(mut obj) = v else {
        return Err(field_err(i, None, "is not a JSON object".into()));
    };
    let id = match obj.remove("id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(field_err(
                i,
                None,
                "\"id\" must be a non-empty string".into(),
            ));
        }
        None => return Err(field_err(i, None, "missing \"id\"".into())),
    };
    if id.len() > limits.max_id_bytes {
        return Err(field_err(
            i,
            None,
            format!(
                "\"id\" is {} bytes, more than {}",
                id.len(),
                limits.max_id_bytes
            ),
        ));
    }
    let err = |m: String| field_err(i, Some(&id), m);
    let kind = match obj.remove("kind") {
        Some(Value::String(s)) => EventKind::from_name(&s).ok_or_else(|| {
            err(format!(
                "\"kind\" {s:?}: use commit, flag, config or deploy"
            ))
        })?,
        Some(_) => return Err(err("\"kind\" must be a string".into())),
        None => return Err(err("missing \"kind\"".into())),
    };
    let time_nanos = match obj.remove("time") {
        Some(v) => event_time(&v).ok_or_else(|| {
            err(format!(
                "\"time\" {v}: use RFC 3339 (2026-12-07T10:00:00Z) or unix seconds"
            ))
        })?,
        None => return Err(err("missing \"time\"".into())),
    };
    let app = match obj.remove("app") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(_) => return Err(err("\"app\" must be a non-empty string".into())),
        None => return Err(err("missing \"app\"".into())),
    };
    let mut text = |name: &str| -> Result<Option<String>> {
        match obj.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(err(format!("\"{name}\" must be a string"))),
        }
    };
    let version = text("version")?;
    let author = text("author")?;
    let message = text("message")?;
    let mut list = |name: &str| -> Result<Vec<String>> {
        match obj.remove(name) {
            None | Some(Value::Null) => Ok(vec![]),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(err(format!("\"{name}\" must be a list of strings"))),
                })
                .collect(),
            Some(_) => Err(err(format!("\"{name}\" must be a list of strings"))),
        }
    };
    let files = list("files")?;
    let functions = list("functions")?;
    // A client resending what GET answered: keep its extra fields, not an extra "extra".
    let mut extra = match obj.remove("extra") {
        Some(Value::Object(m)) => m,
        Some(other) => Map::from_iter([("extra".to_string(), other)]),
        None => Map::new(),
    };
    extra.extend(obj);
    Ok(ChangeEvent {
        id,
        kind,
        time_nanos,
        app,
        version,
        author,
        message,
        files,
        functions,
        extra,
    })
}

/// Parses a request body: one event object or an array of them. An id given twice keeps
/// its last event.
pub fn parse_events(body: &[u8], limits: &EventLimits) -> Result<Vec<ChangeEvent>> {
    let max_body = limits
        .max_per_request
        .saturating_mul(limits.max_event_bytes);
    if body.len() > max_body {
        return Err(Error::too_large(format!(
            "the events body is {} bytes, more than {} events of {} bytes",
            body.len(),
            limits.max_per_request,
            limits.max_event_bytes
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("the body is not JSON: {e}")))?;
    let items = match value {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => {
            return Err(Error::invalid(
                "the body must be an event object or an array of them",
            ));
        }
    };
    if items.len() > limits.max_per_request {
        return Err(Error::too_large(format!(
            "{} events in one request, more than {} (--events-max-per-request)",
            items.len(),
            limits.max_per_request
        )));
    }
    let mut out: Vec<ChangeEvent> = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        let size = serde_json::to_vec(&v).map_or(0, |b| b.len());
        if size > limits.max_event_bytes {
            return Err(Error::too_large(format!(
                "event {i} is {size} bytes, more than {} (--event-max-bytes)",
                limits.max_event_bytes
            )));
        }
        let e = parse_event(i, v, limits)?;
        match out.iter_mut().find(|o| o.id == e.id) {
            Some(o) => *o = e,
            None => out.push(e),
        }
    }
    if out.is_empty() {
        return Err(Error::invalid("no events in the body"));
    }
    Ok(out)
}

/// Stores the events of `body` for `tenant`; answers once they are durable.
pub async fn post(
    engine: &Engine,
    tenant: &str,
    body: &[u8],
    limits: &EventLimits,
) -> Result<Stored> {
    let events = parse_events(body, limits)?;
    engine.events().put(tenant, &events).await?;
    Ok(Stored {
        stored: events.len(),
    })
}

/// The events of `tenant` matching `req`.
pub async fn list(engine: &Engine, tenant: &str, req: &EventsRequest) -> Result<EventsAnswer> {
    if let (Some(f), Some(u)) = (req.from, req.until)
        && f > u
    {
        return Err(Error::new(
            ErrorKind::Invalid,
            "from is after until: swap them",
        ));
    }
    let mut all: Vec<Arc<ChangeEvent>> = engine.events().list(tenant).await?;
    flamedb_storage::events::sort_by_time(&mut all);
    Ok(EventsAnswer {
        events: all
            .iter()
            .filter(|e| req.app.as_ref().is_none_or(|a| *a == e.app))
            .filter(|e| req.from.is_none_or(|f| e.time_nanos >= f))
            .filter(|e| req.until.is_none_or(|u| e.time_nanos <= u))
            .map(|e| EventOut::from(e.as_ref()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(json: &str) -> Result<ChangeEvent> {
        parse_events(json.as_bytes(), &EventLimits::default()).map(|mut v| v.remove(0))
    }

    #[test]
    fn an_event_parses_with_its_unknown_fields_kept() {
        let e = one(
            r#"{"id": "a1", "kind": "commit", "time": "2026-12-07T10:00:00.5Z", "app": "web",
                "author": "ana", "files": ["src/a.c"], "functions": ["parse"], "pr": 42}"#,
        )
        .unwrap();
        assert_eq!(e.time_nanos, 1_796_637_600_500_000_000);
        assert_eq!(e.kind, EventKind::Commit);
        assert_eq!(e.files, ["src/a.c"]);
        assert_eq!(e.extra["pr"], 42);
        assert_eq!(e.version, None);
        let out = EventOut::from(&e);
        assert_eq!(out.time, "2026-12-07T10:00:00.500Z");
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        let t = |v: &str| event_time(&serde_json::from_str(v).unwrap());
        assert_eq!(t("1700000000"), Some(1_700_000_000_000_000_000));
        assert_eq!(t("\"1700000000\""), Some(1_700_000_000_000_000_000));
        assert_eq!(t("1700000000.25"), Some(1_700_000_000_250_000_000));
        assert_eq!(
            t("\"2023-11-14T22:13:20+00:00\""),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(t("\"yesterday\""), None);
        assert_eq!(t("1e300"), None);
        assert_eq!(t("true"), None);
    }

    #[test]
    fn a_missing_field_is_named() {
        let cases = [
            (
                r#"{"kind": "commit", "time": 1, "app": "a"}"#,
                "missing \"id\"",
            ),
            (r#"{"id": "x", "time": 1, "app": "a"}"#, "missing \"kind\""),
            (
                r#"{"id": "x", "kind": "commit", "app": "a"}"#,
                "missing \"time\"",
            ),
            (
                r#"{"id": "x", "kind": "commit", "time": 1}"#,
                "missing \"app\"",
            ),
            (
                r#"{"id": "x", "kind": "push", "time": 1, "app": "a"}"#,
                "\"kind\" \"push\"",
            ),
            (
                r#"[{"id": "x", "kind": "flag", "time": 1, "app": "a"}, 3]"#,
                "event 1: is not",
            ),
            (
                r#"{"id": "x", "kind": "flag", "time": 1, "app": "a", "files": "a.c"}"#,
                "\"files\" must be a list",
            ),
            ("[]", "no events"),
            ("\"x\"", "must be an event object"),
            ("{", "not JSON"),
        ];
        for (body, want) in cases {
            let e = one(body).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Invalid, "{body}");
            assert!(e.message.contains(want), "{body}: {}", e.message);
        }
    }

    #[test]
    fn limits_are_checked_before_parsing_and_the_last_of_an_id_wins() {
        let limits = EventLimits {
            max_per_request: 2,
            max_event_bytes: 100,
            max_id_bytes: 4,
        };
        let ev = |id: &str, m: &str| {
            format!(r#"{{"id": "{id}", "kind": "flag", "time": 1, "app": "a", "message": "{m}"}}"#)
        };
        let three = format!("[{}, {}, {}]", ev("a", "1"), ev("b", "2"), ev("c", "3"));
        let e = parse_events(three.as_bytes(), &limits).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooLarge, "{}", e.message);
        let long = format!("[{}]", ev("a", &"x".repeat(100)));
        assert_eq!(
            parse_events(long.as_bytes(), &limits).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        let big = vec![b' '; 201];
        assert_eq!(
            parse_events(&big, &limits).unwrap_err().kind,
            ErrorKind::TooLarge
        );
        let e = parse_events(ev("abcde", "").as_bytes(), &limits).unwrap_err();
        assert!(e.message.contains("more than 4"), "{}", e.message);
        let twice = format!("[{}, {}]", ev("a", "first"), ev("a", "second"));
        let got = parse_events(twice.as_bytes(), &limits).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message.as_deref(), Some("second"));
    }
}
