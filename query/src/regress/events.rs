//! Which change caused a finding: the app's change events between the two versions,
//! ranked by evidence.
//!
//! ```text
//!  events of the app ─► window: (before's start, after's start], deploy events of a
//!                        version moving its start; events naming the later version kept
//!  per finding, per event:
//!    flow  = share of the finding's change flowing through stacks that hold a function
//!            the event touched (on the way to the change, the function itself, or below it)
//!    file  = a touched file is the function's source file (same path, or one ends with
//!            the other at a '/')
//!    text  = share of the function name's words found in the message
//!  score = 0.9 flow + 0.07 file + 0.03 text; top 3 with score > 0 listed; the cause is the
//!  first one when it has flow or file evidence, or text evidence above 0.5; else none
//! ```
//!
//! The weights make the flow dominate: a file match outranks only an event with at most
//! 0.08 less flow, text only ties. A change that touched only another caller of the
//! culprit has no flow (the change does not pass through it) and ranks below one that
//! touched the caller it flows through.

use super::VersionInfo;
use super::attribution::{Origin, TreeDiff};
use flamedb_storage::{ChangeEvent, EventKind};
use serde::Serialize;
use std::sync::Arc;

/// Events listed per finding.
pub const TOP_EVENTS: usize = 3;

/// An event's evidence for a finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedEvent {
    /// The event.
    pub id: String,
    /// 0 to 1: 0.9 x flow share + 0.07 x file match + 0.03 x text similarity.
    pub score: f64,
    /// The evidence, in words.
    pub reason: String,
}

/// When each of the two versions started, nanoseconds: its first profile, or its
/// earliest deploy event when one names it.
pub fn version_starts(events: &[Arc<ChangeEvent>], versions: [(&str, i64); 2]) -> [i64; 2] {
    versions.map(|(v, first)| {
        events
            .iter()
            .filter(|e| e.kind == EventKind::Deploy && e.version.as_deref() == Some(v))
            .map(|e| e.time_nanos)
            .min()
            .unwrap_or(first)
    })
}

/// The events that may have caused a change between `before` and `after` (their starts
/// from [`version_starts`]): after the earlier version started, up to the later one's
/// start, or naming the later version; deploys of the two versions themselves left out.
pub fn candidates(
    events: &[Arc<ChangeEvent>],
    app: &str,
    before: &VersionInfo,
    after: &VersionInfo,
) -> Vec<Arc<ChangeEvent>> {
    let [from, to] = version_starts(
        events,
        [
            (&before.version, before.first_nanos),
            (&after.version, after.first_nanos),
        ],
    );
    let (before, after) = (before.version.as_str(), after.version.as_str());
    events
        .iter()
        .filter(|e| e.app == app)
        .filter(|e| {
            let names = |v: &str| e.version.as_deref() == Some(v);
            if e.kind == EventKind::Deploy && (names(before) || names(after)) {
                return false;
            }
            (e.time_nanos > from && e.time_nanos <= to) || names(after)
        })
        .cloned()
        .collect()
}

/// Whether frame `frame` is function `touched`: the same name, or `touched` is the
/// frame's name without its qualification (`pkg.Type.f`, `ns::f`, `a/b.f`) or arguments.
pub fn same_function(frame: &str, touched: &str) -> bool {
    if touched.is_empty() {
        return false;
    }
    if frame == touched {
        return true;
    }
    let bare = without_arguments(frame);
    if bare == touched {
        return true;
    }
    bare.strip_suffix(touched).is_some_and(|head| {
        head.ends_with("::") || head.ends_with('.') || head.ends_with('/') || head.ends_with(' ')
    })
}

/// `name` without a trailing argument list (`f(int) const` -> `f`); a Go receiver
/// (`(*T).Run`) is not one.
fn without_arguments(name: &str) -> &str {
    let n = name.trim_end();
    let n = n.strip_suffix(" const").unwrap_or(n);
    if !n.ends_with(')') {
        return n;
    }
    let mut depth = 0i32;
    for (i, c) in n.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth -= 1;
                if depth == 0 {
                    return n[..i].trim_end();
                }
            }
            _ => {}
        }
    }
    n
}

/// What is known of a finding for ranking.
pub struct Evidence<'a> {
    /// The finding's function.
    pub function: &'a str,
    /// Its source file, when the profiles carried one.
    pub file: Option<&'a str>,
    /// Its origins in the diff tree.
    pub origins: &'a [Origin],
}

/// The share of the finding's change that flows through stacks holding a frame for which
/// `touched` holds: all of an origin's change when a frame on the way to it (or it) is
/// touched, else the change of the touched nodes below it (topmost, at most its own).
pub fn flow_share(diff: &TreeDiff<'_>, origins: &[Origin], touched: impl Fn(&str) -> bool) -> f64 {
    let t = diff.tree;
    let mut total = 0.0;
    let mut covered = 0.0;
    for o in origins {
        let d = o.delta.abs();
        total += d;
        let mut at = o.node;
        let mut on_path = false;
        while at != 0 {
            if touched(t.name(at)) {
                on_path = true;
                break;
            }
            at = diff.parent[at];
        }
        if on_path {
            covered += d;
            continue;
        }
        let level = t.level(o.node);
        let mut below = 0.0;
        let mut i = o.node + 1;
        while i < t.len() && t.level(i) > level {
            if touched(t.name(i)) {
                below += diff.delta(i).abs();
                // Skip the subtree: topmost touched nodes only.
                let l = t.level(i);
                i += 1;
                while i < t.len() && t.level(i) > l {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        covered += below.min(d);
    }
    if total > 0.0 { covered / total } else { 0.0 }
}

/// Whether source paths `a` and `b` name the same file: equal, or one ends with the other
/// after a '/'.
fn same_file(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_start_matches("./"), b.trim_start_matches("./"));
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long == short || long.strip_suffix(short).is_some_and(|h| h.ends_with('/'))
}

/// Lower-case words of an identifier or text: split at non-alphanumerics and at
/// lower-to-upper case changes (`parseHTTPRequest` -> parse, httprequest).
fn words(s: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The share of the function's words (its last segment: without qualification and
/// arguments, words of 3+ letters) that occur in `message`.
fn text_similarity(function: &str, message: &str) -> f64 {
    let bare = without_arguments(function);
    let last = bare
        .rsplit([':', '.', '/', ' '])
        .find(|s| !s.is_empty())
        .unwrap_or(bare);
    let fw: Vec<String> = words(last).into_iter().filter(|w| w.len() >= 3).collect();
    if fw.is_empty() {
        return 0.0;
    }
    let mw = words(message);
    let hits = fw.iter().filter(|w| mw.contains(w)).count();
    hits as f64 / fw.len() as f64
}

/// Ranks `events` for a finding; returns the top [`TOP_EVENTS`] with evidence and the
/// cause (the first, when its evidence is more than text alone).
pub fn rank(
    diff: &TreeDiff<'_>,
    finding: &Evidence<'_>,
    events: &[Arc<ChangeEvent>],
) -> (Vec<RankedEvent>, Option<String>) {
    let mut scored: Vec<(f64, bool, RankedEvent)> = vec![];
    for e in events {
        let flow = if e.functions.is_empty() {
            0.0
        } else {
            flow_share(diff, finding.origins, |frame| {
                e.functions.iter().any(|f| same_function(frame, f))
            })
        };
        let file = finding
            .file
            .and_then(|file| e.files.iter().find(|f| same_file(f, file)));
        let text = e
            .message
            .as_deref()
            .map_or(0.0, |m| text_similarity(finding.function, m));
        let score = 0.9 * flow + 0.07 * f64::from(u8::from(file.is_some())) + 0.03 * text;
        if score <= 0.0 {
            continue;
        }
        let mut why = vec![];
        if flow > 0.0 {
            why.push(format!(
                "{:.0}% of the change flows through functions it touched",
                flow * 100.0
            ));
        }
        if let Some(f) = file {
            why.push(format!("it touched {f}, the function's file"));
        }
        if text > 0.0 {
            why.push(format!(
                "its message names {:.0}% of the function's words",
                text * 100.0
            ));
        }
        let strong = flow > 0.0 || file.is_some() || text > 0.5;
        scored.push((
            score,
            strong,
            RankedEvent {
                id: e.id.clone(),
                score: (score * 1000.0).round() / 1000.0,
                reason: why.join("; "),
            },
        ));
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.id.cmp(&b.2.id)));
    let cause = scored
        .first()
        .filter(|(_, strong, _)| *strong)
        .map(|(_, _, r)| r.id.clone());
    let top = scored
        .into_iter()
        .take(TOP_EVENTS)
        .map(|(_, _, r)| r)
        .collect();
    (top, cause)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_match_without_qualification() {
        assert!(same_function("hash_block", "hash_block"));
        assert!(same_function("ns::Cache::get(int)", "Cache::get"));
        assert!(same_function("ns::Cache::get(int)", "get"));
        assert!(same_function("github.com/a/b.(*T).Run", "(*T).Run"));
        assert!(same_function("com.acme.Parser.parse", "Parser.parse"));
        assert!(same_function(
            "ns::Cache::get(std::pair<int, int>) const",
            "Cache::get"
        ));
        assert!(!same_function("hash_block2", "hash_block"));
        assert!(!same_function("rehash_block", "hash_block"));
        assert!(!same_function("x", ""));
    }

    #[test]
    fn files_match_at_a_directory_boundary() {
        assert!(same_file("src/net/parse.c", "parse.c"));
        assert!(same_file("/build/src/net/parse.c", "src/net/parse.c"));
        assert!(!same_file("src/net/myparse.c", "parse.c"));
        assert!(!same_file("", "parse.c"));
    }

    #[test]
    fn words_split_identifiers_and_text() {
        assert_eq!(words("parseHTTPRequest"), ["parse", "httprequest"]);
        assert_eq!(words("hash_block v2"), ["hash", "block", "v2"]);
        assert!(
            (text_similarity("ns::hash_block(int)", "Speed up block hashing") - 0.5).abs() < 1e-9
        );
        assert!((text_similarity("hash_block", "rewrite hash block loop") - 1.0).abs() < 1e-9);
        assert_eq!(text_similarity("f", "f"), 0.0);
    }

    fn ev(id: &str, kind: EventKind, t: i64, version: Option<&str>) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            id: id.into(),
            kind,
            time_nanos: t,
            app: "web".into(),
            version: version.map(String::from),
            author: None,
            message: None,
            files: vec![],
            functions: vec![],
            extra: Default::default(),
        })
    }

    #[test]
    fn the_window_runs_from_start_to_start_and_deploys_move_starts() {
        let events = vec![
            ev("early", EventKind::Commit, 5, None),
            ev("in", EventKind::Commit, 15, None),
            ev("late", EventKind::Commit, 40, None),
            ev("tagged", EventKind::Commit, 100, Some("v2")),
            ev("deploy-v2", EventKind::Deploy, 25, Some("v2")),
        ];
        let starts = version_starts(&events, [("v1", 10), ("v2", 30)]);
        assert_eq!(starts, [10, 25]);
        let v = |version: &str, first_nanos| VersionInfo {
            version: version.into(),
            first_nanos,
            end_nanos: first_nanos + 1,
        };
        let ids: Vec<String> = candidates(&events, "web", &v("v1", 10), &v("v2", 30))
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert_eq!(ids, ["in", "tagged"]);
    }
}
