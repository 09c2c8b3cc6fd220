//! Flame graphs by selectors: the query parameters of `/api/v1/flamegraph` and
//! `/api/v1/diff` (which `flamedb flamegraph` and `flamedb diff` build too), the sample
//! type default, and the formats a tree is rendered to.

use super::Engine;
use crate::{Error, Result};
use flamedb_profile::flame::FlameTree;
use flamedb_profile::flame::render::{self, FlamebearerOptions, SvgOptions};
use flamedb_query::Selector;
use flamedb_query::api::{preferred_sample_type, sample_type_rows, sample_types_frame};

/// `'s'` with quotes doubled, for the SVG subtitle.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Default flame graph size (nodes kept before the rest fold into `other`).
pub const DEFAULT_MAX_NODES: usize = 1024;

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
    /// speedscope's file format: one sampled profile (a diff: left, then right).
    Speedscope,
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
            "speedscope" => FlameFormat::Speedscope,
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
            FlameFormat::Speedscope => "speedscope",
        }
    }

    /// The format an output file name implies (`.svg`, `.speedscope.json`, `.json`,
    /// `.pb.gz`/`.pprof`, `.folded`/`.txt`).
    pub fn from_path(path: &str) -> Option<FlameFormat> {
        let p = path.to_ascii_lowercase();
        let has = |ends: &[&str]| ends.iter().any(|e| p.ends_with(e));
        Some(if has(&[".svg"]) {
            FlameFormat::Svg
        } else if has(&[".speedscope.json", ".speedscope"]) {
            FlameFormat::Speedscope
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
            FlameFormat::Flamebearer | FlameFormat::Grafana | FlameFormat::Speedscope => {
                "application/json"
            }
            FlameFormat::Svg => "image/svg+xml",
            FlameFormat::Folded => "text/plain; charset=utf-8",
            FlameFormat::Pprof => "application/octet-stream",
        }
    }
}

/// A flame graph to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct FlameRequest {
    /// The selection.
    pub selection: Selector,
    /// Output format.
    pub format: FlameFormat,
    /// Nodes kept (lighter ones fold into `other`); `None`: [`DEFAULT_MAX_NODES`], or the
    /// limit if lower. Checked against [`super::QueryLimits::max_nodes`].
    pub max_nodes: Option<usize>,
}

/// A diff flame graph to draw: `comparison` against `baseline`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffRequest {
    /// The baseline (left side).
    pub baseline: Selector,
    /// The compared selection (right side); its sample type defaults to the baseline's.
    pub comparison: Selector,
    /// Output format (pprof gives the comparison side).
    pub format: FlameFormat,
    /// As [`FlameRequest::max_nodes`].
    pub max_nodes: Option<usize>,
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
            sample_types_frame(&session, sel).await
        })
        .await?;
    sample_type_rows(&batches).map_err(Error::internal)
}

/// The sample type to draw for `sel` and its unit: the one named, the only one, or the
/// first of [`flamedb_query::api::PREFERRED_SAMPLE_TYPES`] present. `None` when nothing matches.
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
    preferred_sample_type(&types).map_err(|names| {
        Error::invalid(format!(
            "the selection holds several sample types ({}): add sample_type=",
            names.join(", ")
        ))
    })
}

/// Draws `req` for `tenant`.
pub async fn render(engine: &Engine, tenant: &str, req: FlameRequest) -> Result<Rendered> {
    draw_sides(
        engine,
        tenant,
        req.selection,
        None,
        req.format,
        req.max_nodes,
    )
    .await
}

/// Draws the diff `req` for `tenant`.
pub async fn render_diff(engine: &Engine, tenant: &str, req: DiffRequest) -> Result<Rendered> {
    let right = Some(req.comparison);
    draw_sides(
        engine,
        tenant,
        req.baseline,
        right,
        req.format,
        req.max_nodes,
    )
    .await
}

/// The node count to keep: `asked`, or the default, within the engine's limit.
fn max_nodes(engine: &Engine, asked: Option<usize>) -> Result<usize> {
    let limit = engine.limits().max_nodes;
    match asked {
        None => Ok(DEFAULT_MAX_NODES.min(limit)),
        Some(n) if (1..=limit).contains(&n) => Ok(n),
        Some(n) => Err(Error::invalid(format!(
            "max_nodes {n}: use a whole number from 1 to {limit}"
        ))),
    }
}

async fn draw_sides(
    engine: &Engine,
    tenant: &str,
    mut left: Selector,
    mut right: Option<Selector>,
    format: FlameFormat,
    max_nodes_asked: Option<usize>,
) -> Result<Rendered> {
    let max_nodes = max_nodes(engine, max_nodes_asked)?;
    let picked = pick_sample_type(engine, tenant, &left).await?;
    let (sample_type, unit) = picked.unwrap_or_default();
    if !sample_type.is_empty() || left.sample_type.is_some() {
        left.sample_type = Some(sample_type.clone());
        if let Some(r) = &mut right {
            r.sample_type.get_or_insert_with(|| sample_type.clone());
        }
    }
    let tree = engine
        .flame_tree(tenant, &left, right.as_ref())
        .await?
        .truncate(max_nodes);
    let subtitle = subtitle(&left, right.as_ref());
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
        FlameFormat::Speedscope => {
            flamedb_profile::speedscope::encode(tree, &format!("{sample_type} {subtitle}"), unit)
                .into_bytes()
        }
        FlameFormat::Pprof => {
            let side = usize::from(tree.is_diff());
            flamedb_profile::pprof::encode_gzip(&render::to_profile(tree, side, sample_type, unit))
        }
    })
}

/// Pyroscope's units and sample rate for a sample type: ticks in nanoseconds are shown
/// as time with a rate of 1e9.
pub fn flamebearer_units(sample_type: &str, unit: &str) -> (&'static str, u32) {
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
fn subtitle(left: &Selector, right: Option<&Selector>) -> String {
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
    match right {
        None => one(left),
        Some(r) => format!("{} vs {}", one(left), one(r)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn max_nodes_within_the_limit() {
        let limits = super::super::QueryLimits {
            max_nodes: 100,
            ..Default::default()
        };
        let engine = Engine::new(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            object_store::path::Path::from("data"),
            flamedb_query::QueryConfig::default(),
            limits,
        );
        assert_eq!(max_nodes(&engine, None).unwrap(), 100);
        assert_eq!(max_nodes(&engine, Some(7)).unwrap(), 7);
        for bad in [0, 101] {
            let e = max_nodes(&engine, Some(bad)).unwrap_err();
            assert!(e.message.contains("from 1 to 100"), "{e}");
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
