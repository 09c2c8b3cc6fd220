//! Where a change originates, on the diff of two call trees (baseline = side 0, the later
//! version = side 1).
//!
//! ```text
//!  diff FlameTree ─► scale: weighted median of per-node self ratios (after/before),
//!                   weighted by size: the factor that leaves unchanged work unchanged
//!               ─► work delta per node: after·(1/scale) − before (total and self)
//!               ─► per direction (rises, then falls), from the root down, visit nodes
//!                  whose subtree moves at least min_pp of the baseline total:
//!                    new node (absent before)           ─► origin `new`, stop
//!                    whole node scaled alike (uniform)  ─► origin, stop
//!                    else: own self moved ≥ min_pp      ─► origin (self)
//!                          and visit each child
//!               ─► origins
//! ```
//!
//! Dilution: when one function grows, every other share falls; comparing work normalised
//! by the work that did not change (the median ratio) keeps unchanged code at a delta of
//! zero, so it is never reported.
//!
//! "Scaled alike": the node's parts (its self value and each child's subtree) are
//! compared with two explanations: every part moved by the node's ratio (the change is
//! in this function: more calls of it, or slower code spread over its callees), or the
//! parts that stayed put did not move at all (the change is below, in the parts that
//! moved). A part is "unmoved" when its ratio is nearer 1 than the node's. The node is
//! the origin unless its unmoved parts would have carried a visible share of its change
//! under the first explanation. A child holding most of the node moves with it even when
//! the change is deep inside that child, so such a child must be scaled alike too (and
//! so on down). Self values of single nodes would be finer parts, but too few samples
//! each: on the tiny fleet a quarter of a subtree scaled 2.3x looked unmoved. So a caller whose only change is calling a leaf twice
//! passes the rise down to the leaf, and a function whose whole subtree grew is the
//! origin, not each callee.

use super::stats::weighted_median;
use flamedb_profile::flame::FlameTree;

/// What kind of change an origin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Its cost rose.
    Increase,
    /// It is new: absent from the baseline.
    New,
    /// Its cost fell (an improvement), or it is gone.
    Decrease,
}

/// One node where a change originates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Origin {
    /// Pre-order index in the tree.
    pub node: usize,
    /// The kind.
    pub kind: ChangeKind,
    /// Work delta attributed to it, in the baseline's units (normalised as above).
    pub delta: f64,
    /// Whether only its self value is attributed (its children were visited apart).
    pub self_only: bool,
}

/// A diff tree prepared for attribution.
#[derive(Debug)]
pub struct TreeDiff<'a> {
    /// The tree.
    pub tree: &'a FlameTree,
    /// Parent of each node (the root's is itself).
    pub parent: Vec<usize>,
    /// Factor applied to side 1 so that unchanged work is equal on both sides.
    pub scale: f64,
    children: Vec<Vec<usize>>,
    /// Per node: sum over its subtree of positive self deltas, and of negative ones.
    flow: Vec<[f64; 2]>,
}

/// Under "every part moved alike", the unmoved parts must have carried at least this
/// share of the node's change for that explanation to be rejected.
const UNMOVED_SHARE: f64 = 0.1;

impl<'a> TreeDiff<'a> {
    /// Prepares `tree` (a diff tree). `None` when a side is empty or the tree has one side.
    pub fn new(tree: &'a FlameTree) -> Option<Self> {
        if !tree.is_diff() || tree.total(0) <= 0 || tree.total(1) <= 0 {
            return None;
        }
        let n = tree.len();
        let mut parent = vec![0usize; n];
        let mut children = vec![vec![]; n];
        let mut path: Vec<usize> = vec![];
        for (i, up) in parent.iter_mut().enumerate() {
            path.truncate(tree.level(i) as usize);
            if let Some(&p) = path.last() {
                *up = p;
                children[p].push(i);
            }
            path.push(i);
        }
        // Weighted by the node's smaller side (the later side at the baseline's scale):
        // weighting by the baseline alone favours nodes whose baseline value came out high
        // by chance, whose ratio is low, and biases the median down; the smaller side is
        // symmetric and gives changed nodes less say than unchanged ones.
        let sides = tree.total(0) as f64 / tree.total(1) as f64;
        let ratios = (0..n)
            .filter(|&i| tree.self_at(i, 0) > 0)
            .map(|i| {
                let (b, a) = (tree.self_at(i, 0) as f64, tree.self_at(i, 1) as f64);
                (a / b, b.min(a * sides))
            })
            .collect();
        let median = weighted_median(ratios).filter(|m| *m > 0.0)?;
        let mut d = TreeDiff {
            tree,
            parent,
            scale: 1.0,
            children,
            flow: vec![],
        };
        d.set_scale(1.0 / median);
        Some(d)
    }

    /// Baseline total of node `i`.
    pub fn before(&self, i: usize) -> f64 {
        self.tree.total_at(i, 0) as f64
    }

    /// Normalised later total of node `i`.
    pub fn after(&self, i: usize) -> f64 {
        self.tree.total_at(i, 1) as f64 * self.scale
    }

    /// Work delta of node `i` (total).
    pub fn delta(&self, i: usize) -> f64 {
        self.after(i) - self.before(i)
    }

    /// Work delta of node `i`'s self value.
    pub fn self_delta(&self, i: usize) -> f64 {
        self.tree.self_at(i, 1) as f64 * self.scale - self.tree.self_at(i, 0) as f64
    }

    /// Names from the root's first child down to `i`'s parent.
    pub fn path(&self, i: usize) -> Vec<String> {
        let mut out = vec![];
        let mut at = i;
        while at != 0 {
            at = self.parent[at];
            if at != 0 {
                out.push(self.tree.name(at).to_string());
            }
        }
        out.reverse();
        out
    }

    /// [`TreeDiff::origins`] twice: the first pass's scale is a median of node ratios,
    /// which small nodes make noisy; the second pass scales by the ratio of the totals of
    /// everything outside the first pass's origins (self values of nodes in no origin's
    /// subtree), a sum over most of the tree.
    pub fn origins_refined(&mut self, threshold: f64) -> Vec<Origin> {
        let first = self.origins(threshold);
        let t = self.tree;
        let n = t.len();
        let mut inside = vec![false; n];
        for o in &first {
            let level = t.level(o.node);
            inside[o.node] = true;
            for (i, slot) in inside.iter_mut().enumerate().take(n).skip(o.node + 1) {
                if t.level(i) <= level {
                    break;
                }
                *slot = true;
            }
        }
        let (mut b, mut a) = (0.0, 0.0);
        for (i, _) in inside.iter().enumerate().filter(|(_, x)| !**x) {
            b += t.self_at(i, 0) as f64;
            a += t.self_at(i, 1) as f64;
        }
        if b <= 0.0 || a <= 0.0 {
            return first;
        }
        self.set_scale(b / a);
        self.origins(threshold)
    }

    fn set_scale(&mut self, scale: f64) {
        self.scale = scale;
        let n = self.tree.len();
        self.flow = vec![[0.0; 2]; n];
        for i in (0..n).rev() {
            let s = self.self_delta(i);
            self.flow[i][0] += s.max(0.0);
            self.flow[i][1] += (-s).max(0.0);
            if i > 0 {
                let f = self.flow[i];
                let p = self.parent[i];
                self.flow[p][0] += f[0];
                self.flow[p][1] += f[1];
            }
        }
    }

    /// The origins of every change of at least `threshold` (in the baseline's units):
    /// rises first, then falls.
    pub fn origins(&self, threshold: f64) -> Vec<Origin> {
        let mut out = vec![];
        for sign in [1.0, -1.0] {
            let mut stack = vec![0usize];
            while let Some(n) = stack.pop() {
                let flow = self.flow[n][usize::from(sign < 0.0)];
                if flow < threshold {
                    continue;
                }
                if n != 0 {
                    if let Some(o) = self.whole_node(n, sign, threshold) {
                        out.push(o);
                        continue;
                    }
                    let s = self.self_delta(n);
                    if sign * s >= threshold {
                        out.push(Origin {
                            node: n,
                            kind: kind(sign, false),
                            delta: s,
                            self_only: true,
                        });
                    }
                }
                stack.extend(self.children[n].iter().rev());
            }
        }
        out
    }

    /// `n` as a whole, when its change in direction `sign` originates there: it is new
    /// (or gone), or every part of it moved alike.
    fn whole_node(&self, n: usize, sign: f64, threshold: f64) -> Option<Origin> {
        let (b, a, d) = (self.before(n), self.after(n), self.delta(n));
        if sign * d < threshold {
            return None;
        }
        let whole = |kind| Origin {
            node: n,
            kind,
            delta: d,
            self_only: false,
        };
        if b <= 0.0 {
            return (sign > 0.0).then_some(whole(ChangeKind::New));
        }
        if a <= 0.0 {
            return (sign < 0.0).then_some(whole(ChangeKind::Decrease));
        }
        if self.single_child(n).is_some() {
            return None;
        }
        self.uniform(n, threshold).then(|| whole(kind(sign, false)))
    }

    /// The only child holding anything of `n`, when `n` has no self value.
    fn single_child(&self, n: usize) -> Option<usize> {
        let t = self.tree;
        if t.self_at(n, 0) != 0 || t.self_at(n, 1) != 0 {
            return None;
        }
        let mut live = self.children[n]
            .iter()
            .filter(|&&c| t.total_at(c, 0) > 0 || t.total_at(c, 1) > 0);
        match (live.next(), live.next()) {
            (Some(&c), None) => Some(c),
            _ => None,
        }
    }

    /// Whether every part of `n` (its self value, each child) moved by `n`'s ratio, and
    /// so, within it, did a child holding most of it (whose moving with `n` says nothing
    /// by itself). A change below `threshold` is no evidence either way.
    fn uniform(&self, n: usize, threshold: f64) -> bool {
        let (b, a) = (self.before(n), self.after(n));
        let d = a - b;
        if b <= 0.0 || d.abs() < threshold {
            return true;
        }
        if let Some(c) = self.single_child(n) {
            return self.uniform(c, threshold);
        }
        let rho = a / b;
        let t = self.tree;
        let parts = std::iter::once((t.self_at(n, 0) as f64, t.self_at(n, 1) as f64 * self.scale))
            .chain(
                self.children[n]
                    .iter()
                    .map(|&c| (self.before(c), self.after(c))),
            );
        let unmoved: f64 = parts
            .filter(|&(pb, pa)| {
                let r = pa / pb;
                pb > 0.0 && (r - 1.0).abs() < (r - rho).abs()
            })
            .map(|(pb, _)| pb)
            .sum();
        // What the unmoved parts would have moved had the whole node scaled by rho.
        if unmoved * (rho - 1.0).abs() >= UNMOVED_SHARE * d.abs() {
            return false;
        }
        let dominant = self.children[n]
            .iter()
            .copied()
            .max_by(|&x, &y| self.before(x).total_cmp(&self.before(y)));
        match dominant {
            Some(c) if self.before(c) * 2.0 >= b => self.uniform(c, threshold),
            _ => true,
        }
    }
}

fn kind(sign: f64, new: bool) -> ChangeKind {
    match (sign > 0.0, new) {
        (true, true) => ChangeKind::New,
        (true, false) => ChangeKind::Increase,
        (false, _) => ChangeKind::Decrease,
    }
}

#[cfg(test)]
mod tests;
