//! SVG flame graphs drawn by inferno, from the folded lines of the tree.

use super::folded;
use crate::Result;
use crate::flame::FlameTree;

/// Options for [`svg`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SvgOptions {
    /// Title at the top; default `Flame Graph` (`Differential Flame Graph` for a diff).
    pub title: Option<String>,
    /// Subtitle under the title, if any.
    pub subtitle: Option<String>,
    /// What a value counts, shown in tooltips (`samples`, `bytes`, ...); default `samples`.
    pub count_name: Option<String>,
    /// For a diff: colour by `left - right` instead of `right - left`.
    pub negate_differentials: bool,
}

/// The tree as an SVG flame graph, with inferno's search and zoom scripts.
///
/// A single tree draws its self values; a diff tree is drawn as inferno's differential
/// flame graph: widths are the right side, colours the change from left to right (red
/// grew, blue shrank). A tree without any positive value gives inferno's one-line SVG
/// saying that there is no input, rather than an error.
pub fn svg(tree: &FlameTree, opts: &SvgOptions) -> Result<String> {
    let text = folded(tree);
    let mut o = inferno::flamegraph::Options::default();
    o.title = match &opts.title {
        Some(t) => t.clone(),
        None if tree.is_diff() => "Differential Flame Graph".to_string(),
        None => "Flame Graph".to_string(),
    };
    o.subtitle = opts.subtitle.clone();
    if let Some(c) = &opts.count_name {
        o.count_name = c.clone();
    }
    o.negate_differentials = opts.negate_differentials;
    // Lines are in tree pre-order: each distinct path once, shared prefixes adjacent,
    // which is all inferno's merge needs.
    o.no_sort = true;

    let mut out = Vec::new();
    let result = inferno::flamegraph::from_lines(&mut o, text.lines(), &mut out);
    match result {
        Ok(()) => {}
        // inferno writes a complete SVG saying "no valid input" before this error.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData && !out.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
