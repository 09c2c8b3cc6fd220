//! Applying pushed-down predicates: to the partition listing, to block metadata, to
//! profile rows and (for stack predicates) to a block's stack tree.

use crate::dicts::{BlockDict, StackPred};
use crate::table::pushdown::Pred;
use crate::table::schema::Col;
use datafusion::error::{DataFusionError, Result};
use flamedb_storage::{BlockMeta, Labels, PartitionFilter, PartitionKey, ProfileRows, SampleType};

/// The conjunction of a scan's predicates, ready to apply.
#[derive(Debug, Clone)]
pub struct Selection {
    dims: Vec<(Col, Vec<String>, bool)>,
    time: (i64, i64),
    labels: Vec<(String, Vec<String>, bool)>,
    /// Stack predicates and whether each is negated.
    pub stacks: Vec<(StackPred, bool)>,
}

impl Selection {
    /// Compiles predicates (regexes are compiled here).
    pub fn new(preds: &[Pred]) -> Result<Self> {
        let mut s = Selection {
            dims: vec![],
            time: (i64::MIN, i64::MAX),
            labels: vec![],
            stacks: vec![],
        };
        for p in preds {
            match p {
                Pred::Dim {
                    col,
                    values,
                    negated,
                } => s.dims.push((*col, values.clone(), *negated)),
                Pred::Time { min, max } => {
                    s.time = (s.time.0.max(*min), s.time.1.min(*max));
                }
                Pred::Label {
                    name,
                    values,
                    negated,
                } => s.labels.push((name.clone(), values.clone(), *negated)),
                Pred::Stack {
                    pattern,
                    regex,
                    negated,
                } => {
                    let pred = StackPred::new(pattern, *regex).map_err(|e| {
                        DataFusionError::Plan(format!("stack_matches: bad regex: {e}"))
                    })?;
                    s.stacks.push((pred, *negated));
                }
            }
        }
        Ok(s)
    }

    /// Whether a stack predicate is present (the scan then needs dictionaries).
    pub fn has_stack_preds(&self) -> bool {
        !self.stacks.is_empty()
    }

    /// The listing filter: include-lists of app, version and dc, and the dates the time
    /// range covers.
    pub fn partition_filter(&self) -> PartitionFilter {
        let include = |col: Col| -> Option<Vec<String>> {
            let mut out: Option<Vec<String>> = None;
            for (c, values, negated) in &self.dims {
                if *c != col || *negated {
                    continue;
                }
                out = Some(match out {
                    None => values.clone(),
                    Some(prev) => prev.into_iter().filter(|v| values.contains(v)).collect(),
                });
            }
            out
        };
        let dates = (self.time != (i64::MIN, i64::MAX)).then(|| {
            (
                PartitionKey::date_of(self.time.0),
                PartitionKey::date_of(self.time.1),
            )
        });
        PartitionFilter {
            apps: include(Col::App),
            versions: include(Col::Version),
            dcs: include(Col::Dc),
            dates,
        }
    }

    /// Whether any row of a block of partition `k` with metadata `meta` may pass.
    pub fn keeps_block(&self, k: &PartitionKey, meta: &BlockMeta) -> bool {
        if self.time.0 > self.time.1
            || meta.max_time_nanos < self.time.0
            || meta.min_time_nanos > self.time.1
        {
            return false;
        }
        let dims_ok = self.dims.iter().all(|(col, values, negated)| {
            let v = match col {
                Col::App => &k.app,
                Col::Version => &k.version,
                Col::Dc => &k.dc,
                _ => return true,
            };
            values.contains(v) != *negated
        });
        dims_ok && meta.sample_types.iter().any(|t| self.keeps_type(t))
    }

    fn keeps_type(&self, t: &SampleType) -> bool {
        self.dims.iter().all(|(col, values, negated)| {
            let v = match col {
                Col::SampleType => &t.kind,
                Col::SampleUnit => &t.unit,
                _ => return true,
            };
            values.contains(v) != *negated
        })
    }

    /// Whether label predicates exist (the scan then needs the block's series).
    pub fn has_label_preds(&self) -> bool {
        !self.labels.is_empty()
    }

    /// Which profile rows pass the time, sample-type and label predicates.
    pub fn profile_mask(
        &self,
        profiles: &ProfileRows,
        types: &[SampleType],
        series: &[Labels],
    ) -> Vec<bool> {
        let type_ok: Vec<bool> = types.iter().map(|t| self.keeps_type(t)).collect();
        let series_ok: Vec<bool> = series
            .iter()
            .map(|l| {
                self.labels
                    .iter()
                    .all(|(name, values, negated)| match l.get(name) {
                        Some(v) => values.iter().any(|x| x == v) != *negated,
                        None => false,
                    })
            })
            .collect();
        (0..profiles.len())
            .map(|i| {
                let t = profiles.time[i];
                t >= self.time.0
                    && t <= self.time.1
                    && type_ok
                        .get(profiles.sample_type[i] as usize)
                        .copied()
                        .unwrap_or(false)
                    && (self.labels.is_empty()
                        || series_ok
                            .get(profiles.series[i] as usize)
                            .copied()
                            .unwrap_or(false))
            })
            .collect()
    }

    /// Which stack nodes of `dict` pass every stack predicate (`None`: no predicate).
    pub fn stack_mask(&self, dict: &BlockDict) -> Option<Vec<bool>> {
        if self.stacks.is_empty() {
            return None;
        }
        let n = dict.len();
        let mut keep = vec![true; n];
        for (pred, negated) in &self.stacks {
            let hit = dict.stacks_matching(pred);
            for (k, h) in keep.iter_mut().zip(hit.iter()) {
                *k &= *h != *negated;
            }
        }
        Some(keep)
    }
}
