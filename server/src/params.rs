//! The REST API's query parameters as the service's typed requests: `app`, `version`,
//! `dc`, `sample_type`, `from`, `until`, `label.NAME` select; `left.`/`right.` prefixes
//! pick the sides of a diff; `format`, `max_nodes`, `step`, `group_by` shape the answer.
//!
//! `http::query` parses requests with it, and the CLI (`flamedb flamegraph`, `flamedb
//! diff`) builds the same parameters from its flags and parses them here when it runs in
//! process, so that a local and a remote run read the flags alike. Limits (the largest
//! `max_nodes`, points per series) are the service's to check, not this module's.

use flamedb_query::Selector;
use flamedb_service::events::EventsRequest;
use flamedb_service::parse::{check_label_name, parse_step, parse_time};
use flamedb_service::query::flame::{DiffRequest, FlameFormat, FlameRequest};
use flamedb_service::query::meta::{
    DEFAULT_STEP_SECS, LabelValuesRequest, LabelsRequest, SeriesRequest,
};
use flamedb_service::query::regress::RegressionRequest;
use flamedb_service::{Error, Result};

/// Query parameters, in order.
pub type Pairs = [(String, String)];

/// The pairs of a query string (`None`: no query).
pub fn pairs(query: Option<&str>) -> Result<Vec<(String, String)>> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| Error::invalid(format!("query string: {e}")))
}

const SELECTOR_KEYS: &str = "app, version, dc, sample_type, from, until, label.NAME";

/// Sets one selector field from a query parameter; `false` if `key` is not one.
fn set_field(sel: &mut Selector, key: &str, value: &str) -> Result<bool> {
    let v = || (!value.is_empty()).then(|| value.to_string());
    match key {
        "app" => sel.app = v(),
        "version" => sel.version = v(),
        "dc" => sel.dc = v(),
        "sample_type" => sel.sample_type = v(),
        "from" => sel.from_nanos = Some(parse_time(value)?),
        "until" => sel.until_nanos = Some(parse_time(value)?),
        _ => match key.strip_prefix("label.") {
            Some(name) => {
                check_label_name(name)?;
                sel.labels.retain(|(k, _)| k != name);
                sel.labels.push((name.to_string(), value.to_string()));
            }
            None => return Ok(false),
        },
    }
    Ok(true)
}

/// A selector from `pairs`, and the parameters named in `extra` (in order); any other
/// parameter is an error naming the accepted ones.
pub fn selector(pairs: &Pairs, extra: &[&str]) -> Result<(Selector, Vec<(String, String)>)> {
    let mut sel = Selector::default();
    let mut rest = vec![];
    for (k, v) in pairs {
        if extra.contains(&k.as_str()) {
            rest.push((k.clone(), v.clone()));
        } else if !set_field(&mut sel, k, v)? {
            let extra = extra.iter().map(|e| format!(", {e}")).collect::<String>();
            return Err(Error::invalid(format!(
                "unknown query parameter {k:?}: use {SELECTOR_KEYS}{extra}"
            )));
        }
    }
    Ok((sel, rest))
}

/// `format` and `max_nodes` of a flame graph.
fn flame_options(rest: &Pairs) -> Result<(FlameFormat, Option<usize>)> {
    let mut format = FlameFormat::Flamebearer;
    let mut max_nodes = None;
    for (k, v) in rest {
        match k.as_str() {
            "format" => format = FlameFormat::from_name(v).ok_or_else(|| {
                Error::invalid(format!(
                    "format {v:?}: use json, flamebearer, grafana, svg, folded, pprof or speedscope"
                ))
            })?,
            _ => {
                max_nodes = Some(v.parse().map_err(|_| {
                    Error::invalid(format!("max_nodes {v:?}: use a whole number from 1"))
                })?)
            }
        }
    }
    Ok((format, max_nodes))
}

/// The query of `/api/v1/flamegraph`.
pub fn flame_request(pairs: &Pairs) -> Result<FlameRequest> {
    let (selection, rest) = selector(pairs, &["format", "max_nodes"])?;
    let (format, max_nodes) = flame_options(&rest)?;
    Ok(FlameRequest {
        selection,
        format,
        max_nodes,
    })
}

/// The query of `/api/v1/diff`: unprefixed selectors apply to both sides, `left.KEY`
/// and `right.KEY` override them on one side.
pub fn diff_request(pairs: &Pairs) -> Result<DiffRequest> {
    let mut common = vec![];
    let mut sides: [Vec<(String, String)>; 2] = [vec![], vec![]];
    for (k, v) in pairs {
        if let Some(k) = k.strip_prefix("left.") {
            sides[0].push((k.to_string(), v.clone()));
        } else if let Some(k) = k.strip_prefix("right.") {
            sides[1].push((k.to_string(), v.clone()));
        } else {
            common.push((k.clone(), v.clone()));
        }
    }
    let unknown = |e: Error| {
        if e.message.starts_with("unknown query parameter") {
            Error::invalid(format!(
                "{} (each selector also as left.KEY and right.KEY)",
                e.message
            ))
        } else {
            e
        }
    };
    let (common, rest) = selector(&common, &["format", "max_nodes"]).map_err(unknown)?;
    let (format, max_nodes) = flame_options(&rest)?;
    let mut out = [common.clone(), common];
    for (sel, side) in out.iter_mut().zip(&sides) {
        for (k, v) in side {
            if !set_field(sel, k, v)? {
                return Err(unknown(Error::invalid(format!(
                    "unknown query parameter {k:?}: use {SELECTOR_KEYS}"
                ))));
            }
        }
    }
    let [baseline, comparison] = out;
    Ok(DiffRequest {
        baseline,
        comparison,
        format,
        max_nodes,
    })
}

/// The query of `/api/v1/series`.
pub fn series_request(pairs: &Pairs) -> Result<SeriesRequest> {
    let (selection, rest) = selector(pairs, &["step", "group_by"])?;
    let mut req = SeriesRequest {
        selection,
        step_secs: DEFAULT_STEP_SECS,
        group_by: vec![],
    };
    for (k, v) in &rest {
        match k.as_str() {
            "step" => req.step_secs = parse_step(v)?,
            _ => req.group_by.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(String::from),
            ),
        }
    }
    Ok(req)
}

/// The query of `/api/v1/labels`.
pub fn labels_request(pairs: &Pairs) -> Result<LabelsRequest> {
    let (selection, _) = selector(pairs, &[])?;
    Ok(LabelsRequest { selection })
}

/// The query of `/api/v1/labels/{name}/values`.
pub fn label_values_request(name: String, pairs: &Pairs) -> Result<LabelValuesRequest> {
    let (selection, _) = selector(pairs, &[])?;
    Ok(LabelValuesRequest { selection, name })
}

/// The query of `/api/v1/regressions`.
pub fn regression_request(pairs: &Pairs) -> Result<RegressionRequest> {
    let mut req = RegressionRequest::default();
    for (k, v) in pairs {
        let v = v.trim();
        let opt = || (!v.is_empty()).then(|| v.to_string());
        match k.as_str() {
            "app" => req.app = v.to_string(),
            "sample_type" => req.sample_type = opt(),
            "from_version" => req.from_version = opt(),
            "to_version" => req.to_version = opt(),
            "min_pp" => {
                req.min_pp = Some(v.parse().map_err(|_| {
                    Error::invalid(format!("min_pp {v:?}: use a number of percentage points"))
                })?)
            }
            _ => {
                return Err(Error::invalid(format!(
                    "unknown query parameter {k:?}: use app, sample_type, from_version, \
                     to_version, min_pp"
                )));
            }
        }
    }
    Ok(req)
}

/// `GET /api/v1/events?app=&from=&until=`.
pub fn events_request(pairs: &Pairs) -> Result<EventsRequest> {
    let mut req = EventsRequest::default();
    for (k, v) in pairs {
        let v = v.trim();
        match k.as_str() {
            "app" => req.app = (!v.is_empty()).then(|| v.to_string()),
            "from" => req.from = Some(parse_time(v)?),
            "until" => req.until = Some(parse_time(v)?),
            _ => {
                return Err(Error::invalid(format!(
                    "unknown query parameter {k:?}: use app, from, until"
                )));
            }
        }
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(q: &str) -> Vec<(String, String)> {
        pairs(Some(q)).unwrap()
    }

    #[test]
    fn diff_sides_override_common_selectors() {
        let r = diff_request(&parse(
            "app=a&left.version=1&right.version=2&label.pod=x&right.label.pod=y&format=svg&max_nodes=100",
        ))
        .unwrap();
        let (left, right) = (r.baseline, r.comparison);
        assert_eq!(left.app.as_deref(), Some("a"));
        assert_eq!(right.app.as_deref(), Some("a"));
        assert_eq!(left.version.as_deref(), Some("1"));
        assert_eq!(right.version.as_deref(), Some("2"));
        assert_eq!(left.labels, vec![("pod".into(), "x".into())]);
        assert_eq!(right.labels, vec![("pod".into(), "y".into())]);
        assert_eq!(r.format, FlameFormat::Svg);
        assert_eq!(r.max_nodes, Some(100));
    }

    #[test]
    fn bad_parameters_say_what_to_fix() {
        for (q, diff, says) in [
            ("colour=red", false, "unknown query parameter"),
            ("left.app=a", false, "unknown query parameter"),
            ("format=png", false, "format"),
            ("max_nodes=-1", false, "max_nodes"),
            ("max_nodes=ten", true, "whole number"),
            ("from=yesterday", false, "time"),
            ("label.a%20b=x", false, "label name"),
            ("right.colour=x", true, "left.KEY"),
            ("colour=x", true, "left.KEY"),
        ] {
            let e = if diff {
                diff_request(&parse(q)).unwrap_err()
            } else {
                flame_request(&parse(q)).unwrap_err()
            };
            assert!(e.message.contains(says), "{q}: {e}");
        }
    }

    #[test]
    fn series_parameters() {
        let r = series_request(&parse("app=a&step=5m&group_by=version,%20label.pod")).unwrap();
        assert_eq!(r.selection.app.as_deref(), Some("a"));
        assert_eq!(r.step_secs, 300);
        assert_eq!(r.group_by, vec!["version", "label.pod"]);
        assert_eq!(series_request(&[]).unwrap().step_secs, 60);
        for bad in ["step=0", "step=1.5m", "max_nodes=3", "group=version"] {
            assert!(series_request(&parse(bad)).is_err(), "{bad}");
        }
    }
}
