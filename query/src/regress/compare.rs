//! The queries of a comparison and the assembly of its [`Report`]: one aggregate over
//! `samples` for both versions (by version, replicate and stack), the diff tree built from
//! it, and the per-replicate inclusive values of the functions found.

use super::attribution::{ChangeKind, Origin, TreeDiff};
use super::events::{Evidence, rank};
use super::stats::welch;
use super::{Finding, RegressionConfig, Report, Significance, Summary, Timings, VersionInfo};

/// The name of the test behind a finding's significance.
const WELCH: &str = "welch_t";
use crate::api::label;
use crate::context::FlameContext;
use crate::functions::common::Bound;
use crate::functions::flame_agg::build_tree;
use crate::session::tenant_session;
use crate::sums::StackSums;
use arrow::array::{AsArray, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Int64Type, UInt64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::expr_fn::{coalesce, concat};
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::prelude::{SessionContext, cast, col, lit};
use flamedb_profile::flame::FlameTree;
use flamedb_storage::ChangeEvent;
use hashbrown::HashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The versions of `app` with profiles of `sample_type`, by first profile time.
pub async fn versions(
    session: &SessionContext,
    app: &str,
    sample_type: &str,
) -> Result<Vec<VersionInfo>> {
    let end = cast(col("time"), DataType::Int64) + col("duration_nanos");
    let batches = session
        .table("profiles")
        .await?
        .filter(
            col("app")
                .eq(lit(app))
                .and(col("sample_type").eq(lit(sample_type))),
        )?
        .aggregate(
            vec![cast(col("version"), DataType::Utf8).alias("v")],
            vec![
                min(cast(col("time"), DataType::Int64)).alias("first"),
                max(end).alias("end"),
            ],
        )?
        .sort(vec![
            col("first").sort(true, true),
            col("v").sort(true, true),
        ])?
        .collect()
        .await?;
    let mut out = vec![];
    for b in &batches {
        let v = b.column(0).as_string::<i32>();
        let first = b.column(1).as_primitive::<Int64Type>();
        let end = b.column(2).as_primitive::<Int64Type>();
        for r in 0..b.num_rows() {
            out.push(VersionInfo {
                version: v.value(r).to_string(),
                first_nanos: first.value(r),
                end_nanos: end.value(r),
            });
        }
    }
    Ok(out)
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct Comparison<'a> {
    /// The app.
    pub app: &'a str,
    /// The sample type and its unit.
    pub sample_type: (&'a str, &'a str),
    /// The baseline version.
    pub before: &'a VersionInfo,
    /// The later version.
    pub after: &'a VersionInfo,
    /// Thresholds.
    pub config: RegressionConfig,
    /// The change events that may have caused a change ([`super::events::candidates`]).
    pub events: &'a [Arc<ChangeEvent>],
}

/// Per replicate: each group's inclusive value, and the replicate's total.
type ReplicateValues = Vec<(Vec<i64>, i64)>;

/// Per side, per replicate: `(stack, value)` rows.
type Replicates = [BTreeMap<String, Vec<(u64, i64)>>; 2];

/// Stack sums per side (for the tree) and per replicate.
async fn stack_sums(
    session: &SessionContext,
    c: &Comparison<'_>,
) -> Result<(StackSums, Replicates)> {
    let (before, after) = (c.before.version.as_str(), c.after.version.as_str());
    // A pod is a replicate; profiles without a pod label are each their own. When every
    // profile has one, the key reads no per-profile column, so the scan sums each
    // series' rows per stack before the aggregate (Collapse::BySeriesStack): on the
    // medium fleet the scan, 60% of a comparison (string keys built per sample row),
    // took 0.15-0.6 s instead of 0.5-1.0 s (benches/RESULTS.md).
    let versions = col("version")
        .eq(lit(before))
        .or(col("version").eq(lit(after)));
    let unlabelled = session
        .table("profiles")
        .await?
        .filter(
            col("app")
                .eq(lit(c.app))
                .and(col("sample_type").eq(lit(c.sample_type.0)))
                .and(versions.clone())
                .and(label("pod").is_null()),
        )?
        .count()
        .await?;
    let pod = if unlabelled == 0 {
        label("pod")
    } else {
        coalesce(vec![
            label("pod"),
            cast(cast(col("time"), DataType::Int64), DataType::Utf8),
        ])
    };
    let replicate = concat(vec![cast(col("dc"), DataType::Utf8), lit("/"), pod]);
    let batches = session
        .table("samples")
        .await?
        .filter(
            col("app")
                .eq(lit(c.app))
                .and(col("sample_type").eq(lit(c.sample_type.0)))
                .and(versions),
        )?
        .aggregate(
            vec![
                cast(col("version"), DataType::Utf8).alias("v"),
                replicate.alias("r"),
                col("stack"),
            ],
            vec![sum(col("value")).alias("s")],
        )?
        .collect()
        .await?;
    let mut sums = StackSums::new();
    let mut reps: Replicates = [BTreeMap::new(), BTreeMap::new()];
    for b in &batches {
        add_rows(b, before, &mut sums, &mut reps)?;
    }
    Ok((sums, reps))
}

fn add_rows(
    b: &RecordBatch,
    before: &str,
    sums: &mut StackSums,
    reps: &mut Replicates,
) -> Result<()> {
    let internal = || DataFusionError::Internal("unexpected comparison row types".into());
    let v = b.column(0).as_string_opt::<i32>().ok_or_else(internal)?;
    let r = b.column(1).as_string_opt::<i32>().ok_or_else(internal)?;
    let k = b
        .column(2)
        .as_primitive_opt::<UInt64Type>()
        .ok_or_else(internal)?;
    let s = b
        .column(3)
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(internal)?;
    for i in 0..b.num_rows() {
        let side = usize::from(v.value(i) != before);
        let (key, value) = (k.value(i), s.value(i));
        let mut pair = [0, 0];
        pair[side] = value;
        sums.add(key, pair);
        reps[side]
            .entry(r.value(i).to_string())
            .or_default()
            .push((key, value));
    }
    Ok(())
}

/// Compares `c.after` with `c.before`.
pub async fn compare(ctx: &Arc<FlameContext>, tenant: &str, c: &Comparison<'_>) -> Result<Report> {
    let session = tenant_session(ctx, tenant)?;
    let started = std::time::Instant::now();
    let (sums, reps) = stack_sums(&session, c).await?;
    let scan = started.elapsed().as_secs_f64() * 1e3;
    let bound = Bound {
        ctx: ctx.clone(),
        tenant: tenant.to_string(),
    };
    let c = c.clone();
    let (app, st, unit) = (
        c.app.to_string(),
        c.sample_type.0.to_string(),
        c.sample_type.1.to_string(),
    );
    let (before, after) = (c.before.clone(), c.after.clone());
    let config = c.config;
    let events = c.events.to_vec();
    // Tree building, key resolution and the per-replicate sums are CPU work.
    tokio::task::spawn_blocking(move || {
        let t0 = std::time::Instant::now();
        let tree = build_tree(&bound, &sums.into_sorted(), true)?;
        let t1 = std::time::Instant::now();
        let mut report = assemble(
            &bound,
            &tree,
            &reps,
            &Names { app, st, unit },
            (&before, &after),
            config,
            &events,
        )?;
        report.summary.timings_ms = Timings {
            scan,
            tree: (t1 - t0).as_secs_f64() * 1e3,
            analysis: t1.elapsed().as_secs_f64() * 1e3,
        };
        Ok(report)
    })
    .await
    .map_err(|e| DataFusionError::External(Box::new(e)))?
}

struct Names {
    app: String,
    st: String,
    unit: String,
}

/// Origins of one function and direction, summed.
struct Group {
    function: String,
    kind: ChangeKind,
    delta: f64,
    origins: Vec<Origin>,
}

fn assemble(
    bound: &Bound,
    tree: &FlameTree,
    reps: &Replicates,
    names: &Names,
    (before, after): (&VersionInfo, &VersionInfo),
    config: RegressionConfig,
    events: &[Arc<ChangeEvent>],
) -> Result<Report> {
    let replicates = [reps[0].len(), reps[1].len()];
    let mut report = Report {
        summary: Summary {
            app: names.app.clone(),
            sample_type: names.st.clone(),
            unit: names.unit.clone(),
            from_version: before.version.clone(),
            to_version: after.version.clone(),
            before_total: tree.total(0),
            after_total: tree.total(1),
            work_scale: 1.0,
            replicates,
            min_pp: config.min_pp,
            test: WELCH,
            alpha: config.alpha,
            timings_ms: Timings::default(),
        },
        findings: vec![],
    };
    let Some(mut diff) = TreeDiff::new(tree) else {
        return Ok(report);
    };
    let base = tree.total(0) as f64;
    let threshold = config.min_pp / 100.0 * base;
    // Origins are looked for at a tenth of the threshold: a function's change can flow
    // through several callers, each below the threshold; the threshold applies to the sum.
    let origins = diff.origins_refined(threshold / 10.0);
    report.summary.work_scale = diff.scale;
    let shift = shifted(&diff, &origins);
    let mut groups: Vec<Group> = vec![];
    let mut index: HashMap<(String, bool), usize> = HashMap::new();
    for o in origins {
        let name = tree.name(o.node).to_string();
        let key = (name.clone(), o.delta > 0.0);
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Group {
                function: name,
                kind: o.kind,
                delta: 0.0,
                origins: vec![],
            });
            groups.len() - 1
        });
        let g = &mut groups[g];
        g.delta += o.delta;
        if o.kind == ChangeKind::Increase {
            g.kind = ChangeKind::Increase;
        }
        g.origins.push(o);
    }
    // A function's change flows through many call paths, and the walk finds it on those
    // where enough of it flows: its size is its origins' plus what its other nodes moved,
    // leaving out nodes on the way to another origin or below one (theirs).
    let own = own_deltas(&diff, &groups);
    for (g, own) in groups.iter_mut().zip(own) {
        if own * g.delta > 0.0 && own.abs() > g.delta.abs() {
            g.delta = own;
        }
    }
    groups.retain(|g| g.delta.abs() >= threshold);
    let (per_rep, examples) = replicate_values(bound, reps, &groups)?;
    let files = if events.is_empty() {
        vec![None; groups.len()]
    } else {
        files_of(bound, &groups, &examples)?
    };
    let work_factor = tree.total(1) as f64 * diff.scale / base;
    let wall_secs = (before.end_nanos - before.first_nanos) as f64 / 1e9;
    let (tb, ta) = (base, tree.total(1) as f64);
    for (gi, g) in groups.iter().enumerate() {
        let (total, self_) = diff
            .functions
            .get(&g.function)
            .map_or(([0; 2], [0; 2]), |f| (f.total, f.self_));
        let pct = |v: i64, t: f64| v as f64 / t * 100.0;
        let (bp, ap) = (pct(total[0], tb), pct(total[1], ta));
        let shares = |side: usize, factor: f64| -> Vec<f64> {
            per_rep[side]
                .iter()
                .map(|(v, t)| {
                    if *t > 0 {
                        v[gi] as f64 / *t as f64 * factor
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let test = welch(&shares(0, 1.0), &shares(1, work_factor));
        let low = replicates.iter().any(|&n| n < config.min_replicates);
        if !low && test.is_some_and(|t| t.p_value >= config.alpha) {
            continue;
        }
        let mut origins = g.origins.clone();
        origins.sort_by(|a, b| b.delta.abs().total_cmp(&a.delta.abs()));
        let mut callers: Vec<String> = vec![];
        for o in &origins {
            let p = diff.parent[o.node];
            let name = if p == 0 {
                String::new()
            } else {
                tree.name(p).to_string()
            };
            if !name.is_empty() && !callers.contains(&name) {
                callers.push(name);
            }
        }
        let (ranked, cause) = rank(
            &diff,
            &Evidence {
                function: &g.function,
                file: files[gi].as_deref(),
                origins: &origins,
            },
            events,
        );
        let shifted: f64 = origins
            .iter()
            .filter(|o| shift.contains(&o.node))
            .map(|o| o.delta)
            .sum();
        report.findings.push(Finding {
            id: finding_id(&names.app, before, after, &g.function, g.kind),
            function: g.function.clone(),
            kind: g.kind,
            before_pct: bp,
            after_pct: ap,
            delta_pp: ap - bp,
            self_delta_pp: pct(self_[1], ta) - pct(self_[0], tb),
            work_delta_pp: g.delta / base * 100.0,
            cores: (names.unit == "nanoseconds" && wall_secs > 0.0)
                .then(|| g.delta / 1e9 / wall_secs),
            significance: test.map(|t| Significance {
                test: WELCH,
                p_value: t.p_value,
                t: t.t,
                replicates,
            }),
            low_confidence: low,
            cost_shift: shifted.abs() * 2.0 >= g.delta.abs(),
            path: origins
                .first()
                .map(|o| diff.path(o.node))
                .unwrap_or_default(),
            callers,
            events: ranked,
            cause,
        });
    }
    report.findings.sort_by(|a, b| {
        (a.kind == ChangeKind::Decrease)
            .cmp(&(b.kind == ChangeKind::Decrease))
            .then(b.work_delta_pp.abs().total_cmp(&a.work_delta_pp.abs()))
            .then(a.function.cmp(&b.function))
    });
    Ok(report)
}

/// Per group: the work delta of its function's nodes that are its origins, or that are
/// neither on the way to an origin nor below one (topmost per stack, so recursion counts
/// once); self deltas only for a group of self-only origins.
fn own_deltas(diff: &TreeDiff<'_>, groups: &[Group]) -> Vec<f64> {
    let t = diff.tree;
    let n = t.len();
    let mut origin_at: HashMap<usize, usize> = HashMap::new();
    for (k, g) in groups.iter().enumerate() {
        for o in &g.origins {
            origin_at.insert(o.node, k);
        }
    }
    let index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(k, g)| (g.function.as_str(), k))
        .collect();
    let self_only: Vec<bool> = groups
        .iter()
        .map(|g| g.origins.iter().all(|o| o.self_only))
        .collect();
    // On the way to an origin: every ancestor of an origin node.
    let mut above = vec![false; n];
    for &o in origin_at.keys() {
        let mut at = o;
        while at != 0 {
            at = diff.parent[at];
            if above[at] {
                break;
            }
            above[at] = true;
        }
    }
    let mut out = vec![0.0; groups.len()];
    // Per level of the current path: (the node is an origin, group of its function).
    let mut path: Vec<(bool, Option<usize>)> = vec![];
    let (mut below, mut same) = (0usize, vec![0usize; groups.len()]);
    for (i, &on_the_way) in above.iter().enumerate().skip(1) {
        let level = t.level(i) as usize;
        while path.len() >= level {
            if let Some((o, k)) = path.pop() {
                below -= usize::from(o);
                if let Some(k) = k {
                    same[k] -= 1;
                }
            }
        }
        let k = index.get(t.name(i)).copied();
        let is_origin = origin_at.contains_key(&i);
        if let Some(k) = k {
            let counted = if is_origin {
                origin_at.get(&i) == Some(&k)
            } else {
                !on_the_way && below == 0
            };
            if counted && same[k] == 0 {
                out[k] += if self_only[k] {
                    diff.self_delta(i)
                } else {
                    diff.delta(i)
                };
            }
            same[k] += 1;
        }
        below += usize::from(is_origin);
        path.push((is_origin, k));
    }
    out
}

/// Origins paired with a sibling origin of the opposite direction and about the same
/// size (within a quarter): a cost shift between two callees of one caller.
fn shifted(diff: &TreeDiff<'_>, origins: &[Origin]) -> hashbrown::HashSet<usize> {
    let mut out = hashbrown::HashSet::new();
    for a in origins.iter().filter(|o| o.delta > 0.0) {
        for b in origins.iter().filter(|o| o.delta < 0.0) {
            let same_parent = diff.parent[a.node] == diff.parent[b.node];
            let close = (a.delta + b.delta).abs() <= 0.25 * a.delta.max(-b.delta);
            if same_parent && close {
                out.insert(a.node);
                out.insert(b.node);
            }
        }
    }
    out
}

/// Per side, per replicate: each group's inclusive value (stacks containing the
/// function, once per stack) and the replicate's total.
fn replicate_values(
    bound: &Bound,
    reps: &Replicates,
    groups: &[Group],
) -> Result<([ReplicateValues; 2], Vec<Option<u64>>)> {
    let mut keys: Vec<u64> = reps
        .iter()
        .flat_map(|side| side.values().flatten().map(|(k, _)| *k))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // Which groups each stack holds: per dictionary, one node mask per group function
    // (computed for this comparison, not cached), read at each key's node. Building
    // every stack's frame names and hashing each of them was most of the analysis on the
    // medium fleet (perf: `hash_bytes_long`, `memmove`, `memcmp`).
    let mut holds: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut examples = vec![None; groups.len()];
    if !groups.is_empty() {
        let preds: Vec<crate::dicts::StackPred> = groups
            .iter()
            .map(|g| crate::dicts::StackPred::Contains(g.function.clone()))
            .collect();
        let mut masks: HashMap<*const crate::dicts::BlockDict, Vec<Vec<bool>>> = HashMap::new();
        let mut found: Vec<(u64, crate::dicts::Found)> = bound
            .nodes_of(&UInt64Array::from(keys))?
            .into_iter()
            .collect();
        found.sort_unstable_by_key(|(k, _)| *k);
        for (k, (dict, node)) in found {
            let ms = masks.entry(Arc::as_ptr(&dict)).or_insert_with(|| {
                preds
                    .iter()
                    .map(|p| dict.stacks_matching_uncached(p))
                    .collect()
            });
            let gs: Vec<usize> = ms
                .iter()
                .enumerate()
                .filter(|(_, m)| m.get(node as usize).copied().unwrap_or(false))
                .map(|(g, _)| g)
                .collect();
            for &g in &gs {
                examples[g].get_or_insert(k);
            }
            if !gs.is_empty() {
                holds.insert(k, gs);
            }
        }
    }
    let side = |s: &BTreeMap<String, Vec<(u64, i64)>>| -> ReplicateValues {
        s.values()
            .map(|rows| {
                let mut v = vec![0i64; groups.len()];
                let mut total = 0i64;
                for (k, x) in rows {
                    total += x;
                    for &g in holds.get(k).map(Vec::as_slice).unwrap_or(&[]) {
                        v[g] += x;
                    }
                }
                (v, total)
            })
            .collect()
    };
    Ok(([side(&reps[0]), side(&reps[1])], examples))
}

/// Per group: the source file of its function, from a stack that holds it (`examples`),
/// `None` when the profiles carry none.
fn files_of(
    bound: &Bound,
    groups: &[Group],
    examples: &[Option<u64>],
) -> Result<Vec<Option<String>>> {
    let keys: Vec<u64> = examples.iter().flatten().copied().collect();
    let nodes = bound.nodes_of(&UInt64Array::from(keys))?;
    Ok(groups
        .iter()
        .zip(examples)
        .map(|(g, k)| {
            let (dict, node) = nodes.get(&(*k)?)?;
            dict.frame_files(*node)
                .into_iter()
                .find(|(name, file)| *name == g.function && !file.is_empty())
                .map(|(_, file)| file)
        })
        .collect())
}

/// A stable id for a finding: the same change found again gets the same id.
fn finding_id(
    app: &str,
    before: &VersionInfo,
    after: &VersionInfo,
    function: &str,
    kind: ChangeKind,
) -> String {
    let text = format!(
        "{app}\u{0}{}\u{0}{}\u{0}{function}\u{0}{kind:?}",
        before.version, after.version
    );
    format!("{:016x}", twox_hash::XxHash3_64::oneshot(text.as_bytes()))
}
