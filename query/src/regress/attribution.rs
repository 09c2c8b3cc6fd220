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
//! "Scaled alike": every node of the subtree (its self value) is compared with two
//! explanations: it moved by the node's ratio (the change is in this function: more
//! calls of it, or slower code spread over its callees), or it did not move at all (the
//! change is below, elsewhere in the subtree). A node counts as unmoved when its ratio
//! is nearer 1 and it is away from the node's ratio by more than two standard deviations
//! of counting noise (Poisson on both sides, in units of one sample: the greatest common
//! divisor of the values). The node is the origin unless its unmoved nodes would have carried
//! a tenth of its change under the first explanation, or nodes that moved by another
//! ratio (beyond noise: further than the node, or new inside it) are a tenth of it away
//! from the node's ratio; the second part found `compute` instead of its two callees
//! (one 35% slower, one called twice) in the perf captures of `server/tests/data/regress-c`. What was tried first and failed on
//! the generated fleets: judging the node's children (a child holding most of its caller
//! moves with it when the change is deep inside, so callers were reported) and judging
//! every node without the noise test (a quarter of a subtree scaled 2.3x looked unmoved
//! at a few samples per node). So a caller whose only change is calling a leaf twice
//! passes the rise down to the leaf, and a function whose whole subtree grew is the
//! origin, not each callee.

use super::stats::weighted_median;
use flamedb_profile::flame::{FlameTree, FunctionTotal};

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
    /// Per function name: its inclusive (once per stack) and self totals over the whole
    /// tree, before and after (raw).
    pub(crate) functions: std::collections::HashMap<String, FunctionTotal>,
    /// Per node, the pre-order index past its subtree.
    end: Vec<usize>,
    /// One sample of a sampled profile, the unit of counting noise: see [`sample_unit`].
    unit: f64,
    /// Per node: sum over its subtree of positive self deltas, and of negative ones.
    flow: Vec<[f64; 2]>,
    /// Per function name: its inclusive totals (once per stack) before and after (raw)
    /// over the paths that exist in the baseline: subtrees of new nodes left out, so
    /// a function that also appears under new code is judged by how its old stacks
    /// moved.
    old_totals: std::collections::HashMap<String, [f64; 2]>,
}

/// Under "the whole node scaled", the parts that stayed put must have carried at least
/// this share of the node's change for that explanation to be rejected.
pub const UNMOVED_SHARE: f64 = 0.1;

/// In a chain of callers and callees that carry the same change, functions whose change
/// across the tree is within this fraction of the largest count as the same: the topmost
/// of them is the origin. (At a tenth, a caller whose ratio was 1.65 was taken for the
/// planted callee's 1.82 on the small fleet.)
const SAME_CHANGE: f64 = 0.03;

/// The value of one sample: the greatest common divisor of the positive self values of
/// both sides (every value of a sampled profile is a count times the sample's weight:
/// 1 for counts, the period in ns for CPU time). The smallest value, used before, is one
/// sample only when some stack was seen once: on profiles whose every stack is heavy (few
/// stacks, hundreds of samples each) it made every change look like counting noise, so
/// the rise of a function was left in the unchanged work that scales the later side, and
/// its unchanged siblings were reported as decreases (dilution).
fn sample_unit(tree: &FlameTree) -> f64 {
    let gcd = |mut a: i64, mut b: i64| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    (0..tree.len())
        .flat_map(|i| [tree.self_at(i, 0), tree.self_at(i, 1)])
        .filter(|v| *v > 0)
        .fold(0, gcd)
        .max(1) as f64
}

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
            functions: tree
                .function_totals()
                .into_iter()
                .map(|f| (f.name.clone(), f))
                .collect(),
            end: vec![n; n],
            unit: sample_unit(tree),
            flow: vec![],
            old_totals: old_totals(tree),
        };
        let mut open: Vec<usize> = vec![];
        for i in 0..n {
            while open.len() > tree.level(i) as usize {
                if let Some(j) = open.pop() {
                    d.end[j] = i;
                }
            }
            open.push(i);
        }
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
    /// subtree), a sum over most of the tree. Only origins whose change is beyond
    /// counting noise (3 standard deviations) are left out of that sum: in a profile of a
    /// few thousand samples, a tenth of the threshold is within the noise of many
    /// unchanged nodes, and leaving them all out skewed the scale by 15% on the perf
    /// captures of `server/tests/data/regress-c`.
    pub fn origins_refined(&mut self, threshold: f64) -> Vec<Origin> {
        let first = self.origins(threshold);
        let t = self.tree;
        let mut inside = vec![false; t.len()];
        for o in first.iter().filter(|o| self.beyond_noise(o)) {
            inside[o.node..self.end[o.node]].fill(true);
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

    /// Whether an origin's change is more than 3 standard deviations of counting noise
    /// (Poisson on both sides, in units of one sample, [`sample_unit`]).
    fn beyond_noise(&self, o: &Origin) -> bool {
        let t = self.tree;
        let (b, a) = if o.self_only {
            (
                t.self_at(o.node, 0) as f64,
                t.self_at(o.node, 1) as f64 * self.scale,
            )
        } else {
            (self.before(o.node), self.after(o.node))
        };
        o.delta.abs() > 3.0 * (self.unit * (b + a)).sqrt()
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
        // Work is normalised by the work that did not change, assumed to be most of it: a
        // node holding over half of the baseline that moved as a whole is the scale
        // itself (more load, or the median's error), not a change; look below it.
        if b * 2.0 > self.before(0) {
            return None;
        }
        if !self.uniform(n) {
            return None;
        }
        let at = self.pick_in_chain(n);
        Some(Origin {
            node: at,
            kind: kind(sign, self.before(at) <= 0.0),
            delta: self.delta(at),
            self_only: false,
        })
    }

    /// Among `n` and the chain of children below it that each carry nearly all of their
    /// parent's change, the node whose function changed the most across the whole tree
    /// (its ratio over every stack containing it); the topmost of those that changed
    /// about as much. A function whose every stack scaled has that ratio everywhere; a
    /// caller on the way to it also calls other, unchanged code elsewhere, and so has a
    /// lower one.
    fn pick_in_chain(&self, n: usize) -> usize {
        let mut chain = vec![n];
        let mut at = n;
        loop {
            let d = self.delta(at);
            let next = self.children[at].iter().copied().find(|&c| {
                let dc = self.delta(c);
                dc * d > 0.0 && dc.abs() >= (1.0 - UNMOVED_SHARE) * d.abs()
            });
            match next {
                Some(c) => {
                    chain.push(c);
                    at = c;
                }
                None => break,
            }
        }
        if chain.len() == 1 {
            return n;
        }
        let old = |i: usize| self.old_totals.get(self.tree.name(i)).copied();
        let moved = |i: usize| -> f64 {
            match old(i) {
                Some([b, a]) if b > 0.0 => (a * self.scale / b - 1.0).abs(),
                _ => f64::INFINITY,
            }
        };
        let best = chain.iter().map(|&i| moved(i)).fold(0.0f64, f64::max);
        let band: Vec<usize> = chain
            .iter()
            .copied()
            .filter(|&i| moved(i) >= (1.0 - SAME_CHANGE) * best)
            .collect();
        // Every function of the band moved by the same ratio; the one whose stacks hold
        // the others' (the culprit: its callers' other stacks stayed, its callees are a
        // part of it) has the largest change across the tree. Changes within counting
        // noise of each other tie; then the larger ratio, then the topmost.
        let sign = self.delta(n).signum();
        let size = |i: usize| -> (f64, f64) {
            old(i).map_or((0.0, 0.0), |[b, a]| {
                let a = a * self.scale;
                (sign * (a - b), (self.unit * (b + a * self.scale)).sqrt())
            })
        };
        let Some(&first) = band.first() else {
            return n;
        };
        let mut pick = first;
        for &i in &band[1..] {
            let ((di, si), (dp, sp)) = (size(i), size(pick));
            let noise = 3.0 * (si * si + sp * sp).sqrt();
            if di > dp + noise || ((di - dp).abs() <= noise && moved(i) > moved(pick)) {
                pick = i;
            }
        }
        pick
    }

    /// Whether `n` scaled as a whole: the nodes of its subtree that did not move by `n`'s
    /// ratio (beyond counting noise) account for less than [`UNMOVED_SHARE`] of `n`'s
    /// change. A node that stayed put (its ratio nearer 1 than `n`'s) accounts for the
    /// change it would have carried had it scaled; one that moved otherwise (further than
    /// `n`, or new inside it) for its distance from scaling. So a function whose callees
    /// changed by different amounts (one slower by 35%, another called twice) is not
    /// the origin of both: each is.
    fn uniform(&self, n: usize) -> bool {
        let (b, a) = (self.before(n), self.after(n));
        let d = a - b;
        if b <= 0.0 {
            return true;
        }
        let rho = a / b;
        let t = self.tree;
        let unit = self.unit;
        let off: f64 = (n..self.end[n])
            .filter_map(|i| {
                let pb = t.self_at(i, 0) as f64;
                let pa = t.self_at(i, 1) as f64 * self.scale;
                let (cb, ca) = (pb / unit, pa / unit);
                if pb <= 0.0 {
                    // New inside `n`: nothing of it would be there had `n` scaled.
                    return (ca > 4.0).then_some(pa);
                }
                let sd = (rho * cb * (1.0 + rho)).sqrt();
                if (ca - rho * cb).abs() <= 2.0 * sd {
                    return None;
                }
                let r = pa / pb;
                Some(if (r - 1.0).abs() < (r - rho).abs() {
                    pb * (rho - 1.0).abs()
                } else {
                    (pa - rho * pb).abs()
                })
            })
            .sum();
        off < UNMOVED_SHARE * d.abs()
    }
}

/// Per function: inclusive totals (once per stack: the topmost node of a name on each
/// path) over the nodes outside subtrees of new nodes (absent from the baseline).
fn old_totals(tree: &FlameTree) -> std::collections::HashMap<String, [f64; 2]> {
    let mut out: std::collections::HashMap<String, [f64; 2]> = std::collections::HashMap::new();
    // The names on the current path, and whether the path is inside a new subtree.
    let mut path: Vec<(&str, bool)> = vec![];
    for i in 0..tree.len() {
        path.truncate(tree.level(i) as usize);
        let name = tree.name(i);
        let new = path.last().is_some_and(|p| p.1) || (i > 0 && tree.total_at(i, 0) == 0);
        if i > 0 && !new && !path.iter().any(|p| p.0 == name) {
            let e = out.entry(name.to_string()).or_default();
            e[0] += tree.total_at(i, 0) as f64;
            e[1] += tree.total_at(i, 1) as f64;
        }
        path.push((name, new));
    }
    out
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
