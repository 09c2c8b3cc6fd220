//! Flame graphs by selectors: the query parameters of `/api/v1/flamegraph` and
//! `/api/v1/diff` (which `flamedb flamegraph` and `flamedb diff` build too), the sample
//! type default, and the formats a tree is rendered to.

use super::{Engine, strings};
use crate::parse::{check_label_name, parse_time};
use crate::{Error, Result};
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::prelude::col;
use flamedb_profile::flame::FlameTree;
use flamedb_profile::flame::render::{self, FlamebearerOptions, SvgOptions};
use flamedb_query::Selector;

/// `'s'` with quotes doubled, for the SVG subtitle.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Default flame graph size (nodes kept before the rest fold into `other`).
pub const DEFAULT_MAX_NODES: usize = 1024;

/// Sample types picked, in this order, when a selection holds several and none is named.
pub const PREFERRED_SAMPLE_TYPES: &[&str] = &["cpu", "wall", "inuse_space", "samples"];

/// What a flame graph is rendered as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlameFormat {
    /// Pyroscope's flamebearer JSON (`json` and `flamebearer`).
    Flamebearer,
    /// Grafana's flame graph data frame (nested set).
    Grafana,
    /// SVG via inferno (differential for a diff).
    Svg,
    /// Folded stacks, `a;b;c 12` (`a;b;c 12 15` for a diff).
    Folded,
    /// Gzipped pprof (a diff gives its right side).
    Pprof,
}

impl FlameFormat {
    /// The format named by `format=` (`json` is flamebearer).
    pub fn from_name(name: &str) -> Option<FlameFormat> {
        Some(match name {
            "json" | "flamebearer" => FlameFormat::Flamebearer,
            "grafana" => FlameFormat::Grafana,
            "svg" => FlameFormat::Svg,
            "folded" => FlameFormat::Folded,
            "pprof" => FlameFormat::Pprof,
            _ => return None,
        })
    }

    /// The `format=` name.
    pub fn name(self) -> &'static str {
        match self {
            FlameFormat::Flamebearer => "flamebearer",
            FlameFormat::Grafana => "grafana",
            FlameFormat::Svg => "svg",
            FlameFormat::Folded => "folded",
            FlameFormat::Pprof => "pprof",
        }
    }

    /// The format an output file name implies (`.svg`, `.json`, `.pb.gz`/`.pprof`,
    /// `.folded`/`.txt`).
    pub fn from_path(path: &str) -> Option<FlameFormat> {
        let p = path.to_ascii_lowercase();
        let has = |ends: &[&str]| ends.iter().any(|e| p.ends_with(e));
        Some(if has(&[".svg"]) {
            FlameFormat::Svg
        } else if has(&[".json"]) {
            FlameFormat::Flamebearer
        } else if has(&[".pb.gz", ".pb", ".pprof"]) {
            FlameFormat::Pprof
        } else if has(&[".folded", ".txt", ".collapsed"]) {
            FlameFormat::Folded
        } else {
            return None;
        })
    }

    /// The response content type.
    pub fn content_type(self) -> &'static str {
        match self {
            FlameFormat::Flamebearer | FlameFormat::Grafana => "application/json",
            FlameFormat::Svg => "image/svg+xml",
            FlameFormat::Folded => "text/plain; charset=utf-8",
            FlameFormat::Pprof => "application/octet-stream",
        }
    }
}

/// A flame graph (or diff) to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct FlameRequest {
    /// The selection (the baseline of a diff).
    pub left: Selector,
    /// The compared selection of a diff.
    pub right: Option<Selector>,
    /// Output format.
    pub format: FlameFormat,
    /// Nodes kept.
    pub max_nodes: usize,
}

const SELECTOR_KEYS: &str = "app, version, dc, sample_type, from, until, label.NAME";

/// Sets one selector field from a query parameter; `false` if `key` is not one.
pub(super) fn set_field(sel: &mut Selector, key: &str, value: &str) -> Result<bool> {
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

impl FlameRequest {
    /// Parses the query of `/api/v1/flamegraph` (or, with `diff`, of `/api/v1/diff`,
    /// where `left.`/`right.` prefixed selectors override unprefixed ones).
    pub fn from_pairs(pairs: &[(String, String)], diff: bool, limit: usize) -> Result<Self> {
        let mut common = Selector::default();
        let mut sides: [Vec<(&str, &str)>; 2] = [vec![], vec![]];
        let mut format = FlameFormat::Flamebearer;
        let mut max_nodes = DEFAULT_MAX_NODES.min(limit);
        for (k, v) in pairs {
            if diff {
                if let Some(k) = k.strip_prefix("left.") {
                    sides[0].push((k, v));
                    continue;
                }
                if let Some(k) = k.strip_prefix("right.") {
                    sides[1].push((k, v));
                    continue;
                }
            }
            match k.as_str() {
                "format" => {
                    format = FlameFormat::from_name(v).ok_or_else(|| {
                        Error::invalid(format!(
                            "format {v:?}: use json, flamebearer, grafana, svg, folded or pprof"
                        ))
                    })?
                }
                "max_nodes" => {
                    max_nodes = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=limit).contains(n))
                        .ok_or_else(|| {
                            Error::invalid(format!(
                                "max_nodes {v:?}: use a whole number from 1 to {limit}"
                            ))
                        })?
                }
                _ if set_field(&mut common, k, v)? => {}
                _ => return Err(unknown(k, diff)),
            }
        }
        let mut out = [common.clone(), common];
        for (sel, side) in out.iter_mut().zip(&sides) {
            for (k, v) in side {
                if !set_field(sel, k, v)? {
                    return Err(unknown(k, diff));
                }
            }
        }
        let [left, right] = out;
        Ok(FlameRequest {
            left,
            right: diff.then_some(right),
            format,
            max_nodes,
        })
    }
}

fn unknown(key: &str, diff: bool) -> Error {
    let prefixes = if diff {
        " (each also as left.KEY and right.KEY)"
    } else {
        ""
    };
    Error::invalid(format!(
        "unknown query parameter {key:?}: use {SELECTOR_KEYS}{prefixes}, format, max_nodes"
    ))
}

/// A rendered flame graph.
#[derive(Debug)]
pub struct Rendered {
    /// Its content type.
    pub content_type: &'static str,
    /// The bytes.
    pub body: Vec<u8>,
}

/// The sample types (and units) of `sel`'s profiles, heaviest first.
pub async fn sample_types(
    engine: &Engine,
    tenant: &str,
    sel: &Selector,
) -> Result<Vec<(String, String)>> {
    let batches = engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .aggregate(
                    vec![col("sample_type"), col("sample_unit")],
                    vec![sum(col("total")).alias("t")],
                )?
                .sort(vec![
                    col("t").sort(false, true),
                    col("sample_type").sort(true, true),
                ])?
                .select(vec![col("sample_type"), col("sample_unit")])
        })
        .await?;
    let mut out = vec![];
    for b in batches {
        let (t, u) = (strings(&b, 0)?, strings(&b, 1)?);
        out.extend(
            t.into_iter()
                .zip(u)
                .map(|(t, u)| (t.unwrap_or_default(), u.unwrap_or_default())),
        );
    }
    Ok(out)
}

/// The sample type to draw for `sel` and its unit: the one named, the only one, or the
/// first of [`PREFERRED_SAMPLE_TYPES`] present. `None` when nothing matches.
pub(super) async fn pick_sample_type(
    engine: &Engine,
    tenant: &str,
    sel: &Selector,
) -> Result<Option<(String, String)>> {
    let mut any = sel.clone();
    any.sample_type = None;
    let types = sample_types(engine, tenant, &any).await?;
    if let Some(t) = &sel.sample_type {
        let unit = types.iter().find(|(n, _)| n == t).map(|(_, u)| u.clone());
        return Ok(Some((t.clone(), unit.unwrap_or_default())));
    }
    if types.len() <= 1 {
        return Ok(types.into_iter().next());
    }
    for p in PREFERRED_SAMPLE_TYPES {
        if let Some(t) = types.iter().find(|(n, _)| n == p) {
            return Ok(Some(t.clone()));
        }
    }
    let names: Vec<&str> = types.iter().map(|(n, _)| n.as_str()).collect();
    Err(Error::invalid(format!(
        "the selection holds several sample types ({}): add sample_type=",
        names.join(", ")
    )))
}

/// Draws `req` for `tenant`.
pub async fn render(engine: &Engine, tenant: &str, mut req: FlameRequest) -> Result<Rendered> {
    let picked = pick_sample_type(engine, tenant, &req.left).await?;
    let (sample_type, unit) = picked.unwrap_or_default();
    if !sample_type.is_empty() || req.left.sample_type.is_some() {
        req.left.sample_type = Some(sample_type.clone());
        if let Some(r) = &mut req.right {
            r.sample_type.get_or_insert_with(|| sample_type.clone());
        }
    }
    let tree = engine
        .flame_tree(tenant, &req.left, req.right.as_ref())
        .await?
        .truncate(req.max_nodes);
    let subtitle = subtitle(&req);
    let format = req.format;
    // Rendering (SVG especially) is CPU work: off the async threads.
    let body =
        tokio::task::spawn_blocking(move || draw(&tree, format, &sample_type, &unit, subtitle))
            .await
            .map_err(Error::internal)??;
    Ok(Rendered {
        content_type: format.content_type(),
        body,
    })
}

/// `tree` in `format`.
pub fn draw(
    tree: &FlameTree,
    format: FlameFormat,
    sample_type: &str,
    unit: &str,
    subtitle: String,
) -> Result<Vec<u8>> {
    Ok(match format {
        FlameFormat::Flamebearer => {
            let (units, sample_rate) = flamebearer_units(sample_type, unit);
            let opts = FlamebearerOptions {
                name: sample_type.to_string(),
                units: units.to_string(),
                sample_rate,
                ..FlamebearerOptions::default()
            };
            serde_json::to_vec(&render::flamebearer(tree, &opts)).map_err(Error::internal)?
        }
        FlameFormat::Grafana => {
            serde_json::to_vec(&render::grafana_frame(tree, grafana_unit(unit)))
                .map_err(Error::internal)?
        }
        FlameFormat::Svg => {
            let opts = SvgOptions {
                subtitle: Some(subtitle),
                count_name: Some(
                    match unit {
                        "" | "count" => "samples",
                        u => u,
                    }
                    .to_string(),
                ),
                ..SvgOptions::default()
            };
            render::svg(tree, &opts)
                .map_err(Error::internal)?
                .into_bytes()
        }
        FlameFormat::Folded => render::folded(tree).into_bytes(),
        FlameFormat::Pprof => {
            let side = usize::from(tree.is_diff());
            flamedb_profile::pprof::encode_gzip(&render::to_profile(tree, side, sample_type, unit))
        }
    })
}

/// Pyroscope's units and sample rate for a sample type: ticks in nanoseconds are shown
/// as time with a rate of 1e9.
fn flamebearer_units(sample_type: &str, unit: &str) -> (&'static str, u32) {
    match unit {
        "nanoseconds" => ("samples", 1_000_000_000),
        "bytes" => ("bytes", 100),
        _ if sample_type.contains("object") => ("objects", 100),
        _ if sample_type.contains("goroutine") => ("goroutines", 100),
        _ => ("samples", 100),
    }
}

fn grafana_unit(unit: &str) -> &'static str {
    match unit {
        "nanoseconds" => "ns",
        "bytes" => "bytes",
        _ => "short",
    }
}

/// One line saying what was selected, for the SVG.
fn subtitle(req: &FlameRequest) -> String {
    let one = |s: &Selector| {
        let mut parts: Vec<String> = [
            ("app", &s.app),
            ("version", &s.version),
            ("dc", &s.dc),
            ("sample_type", &s.sample_type),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", quote(v))))
        .collect();
        parts.extend(s.labels.iter().map(|(k, v)| format!("{k}={}", quote(v))));
        parts.join(" ")
    };
    match &req.right {
        None => one(&req.left),
        Some(r) => format!("{} vs {}", one(&req.left), one(r)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(q).unwrap()
    }

    #[test]
    fn diff_sides_override_common_selectors() {
        let r = FlameRequest::from_pairs(
            &pairs("app=a&left.version=1&right.version=2&label.pod=x&right.label.pod=y&format=svg"),
            true,
            100,
        )
        .unwrap();
        let right = r.right.unwrap();
        assert_eq!(r.left.app.as_deref(), Some("a"));
        assert_eq!(right.app.as_deref(), Some("a"));
        assert_eq!(r.left.version.as_deref(), Some("1"));
        assert_eq!(right.version.as_deref(), Some("2"));
        assert_eq!(r.left.labels, vec![("pod".into(), "x".into())]);
        assert_eq!(right.labels, vec![("pod".into(), "y".into())]);
        assert_eq!(r.format, FlameFormat::Svg);
        assert_eq!(r.max_nodes, 100);
    }

    #[test]
    fn bad_parameters_say_what_to_fix() {
        for (q, diff, says) in [
            ("colour=red", false, "unknown query parameter"),
            ("left.app=a", false, "unknown query parameter"),
            ("format=png", false, "format"),
            ("max_nodes=0", false, "max_nodes"),
            ("max_nodes=1000", false, "1 to 100"),
            ("from=yesterday", false, "time"),
            ("label.a%20b=x", false, "label name"),
            ("right.colour=x", true, "left.KEY"),
        ] {
            let e = FlameRequest::from_pairs(&pairs(q), diff, 100).unwrap_err();
            assert!(e.message.contains(says), "{q}: {e}");
        }
    }

    #[test]
    fn formats_from_file_names() {
        assert_eq!(FlameFormat::from_path("a.SVG"), Some(FlameFormat::Svg));
        assert_eq!(FlameFormat::from_path("a.pb.gz"), Some(FlameFormat::Pprof));
        assert_eq!(
            FlameFormat::from_path("x.json"),
            Some(FlameFormat::Flamebearer)
        );
        assert_eq!(
            FlameFormat::from_path("x.folded"),
            Some(FlameFormat::Folded)
        );
        assert_eq!(FlameFormat::from_path("x.png"), None);
    }
}
