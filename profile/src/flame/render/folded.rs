//! Folded stacks: one `root;...;leaf COUNT` line per node with a non-zero self value.

use crate::flame::FlameTree;
use std::fmt::Write as _;

/// The tree as folded text: one line per node with a non-zero self value (on some side),
/// in pre-order, frames root first without the synthetic root, then the self value; a diff
/// tree writes two counts, `left right`, inferno's differential input. Counts are not
/// negative in this format: a negative self is written as 0. In names `;` becomes `:` and
/// CR/LF become spaces, so that every line reads back as the same frames. The root's own
/// self value (samples with an empty stack) has no path and is not written.
pub fn folded(tree: &FlameTree) -> String {
    let mut out = String::new();
    for_each_line(tree, |path, counts| {
        out.push_str(path);
        for &c in counts {
            let _ = write!(out, " {}", c.max(0));
        }
        out.push('\n');
    });
    out
}

/// Calls `f(path, self values)` for each node but the root with a non-zero self value.
pub(super) fn for_each_line(tree: &FlameTree, mut f: impl FnMut(&str, &[i64])) {
    let sides = if tree.is_diff() { 2 } else { 1 };
    let mut path = String::new();
    // ends[l] = length of `path` up to and including the frame at level l.
    let mut ends: Vec<usize> = vec![0];
    let mut counts = [0i64; 2];
    for i in 1..tree.len() {
        let level = tree.level(i) as usize;
        ends.truncate(level);
        path.truncate(ends[level - 1]);
        if level > 1 {
            path.push(';');
        }
        push_frame(&mut path, tree.name(i));
        ends.push(path.len());
        for (side, c) in counts.iter_mut().enumerate().take(sides) {
            *c = tree.self_at(i, side);
        }
        if counts[..sides].iter().any(|&c| c != 0) {
            f(&path, &counts[..sides]);
        }
    }
}

/// Appends a frame name, with `;` and line breaks replaced.
fn push_frame(out: &mut String, name: &str) {
    if !name.contains([';', '\n', '\r']) {
        out.push_str(name);
        return;
    }
    out.extend(name.chars().map(|c| match c {
        ';' => ':',
        '\n' | '\r' => ' ',
        c => c,
    }));
}
