//! In-memory block contents: sample and profile rows, series and symbols, and the two
//! transformations every block goes through before it is written: normalisation (depth-first
//! symbols, sorted series, sorted and summed rows) and merging (compaction).

use crate::{Labels, SampleType};
use flamedb_profile::{Remap, StackId, Symbols};
use hashbrown::HashMap;

/// Sample rows, one per (sample type, series, time, stack), as parallel columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleRows {
    /// Index into the block's sample types.
    pub sample_type: Vec<u16>,
    /// Index into the block's series.
    pub series: Vec<u32>,
    /// Nanoseconds since the Unix epoch.
    pub time: Vec<i64>,
    /// Stack id in the block's symbols.
    pub stack: Vec<u32>,
    /// Value.
    pub value: Vec<i64>,
}

impl SampleRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// Appends one row.
    pub fn push(&mut self, sample_type: u16, series: u32, time: i64, stack: u32, value: i64) {
        self.sample_type.push(sample_type);
        self.series.push(series);
        self.time.push(time);
        self.stack.push(stack);
        self.value.push(value);
    }

    /// Sorts by (sample type, series, time, stack) and sums rows with equal keys; rows
    /// whose value sums to zero are dropped.
    pub fn sort_and_sum(&mut self) {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_unstable_by_key(|&i| {
            let i = i as usize;
            (
                self.sample_type[i],
                self.series[i],
                self.time[i],
                self.stack[i],
            )
        });
        let mut out = SampleRows::default();
        for &i in &order {
            let i = i as usize;
            let key = (
                self.sample_type[i],
                self.series[i],
                self.time[i],
                self.stack[i],
            );
            let n = out.len();
            if n > 0
                && (
                    out.sample_type[n - 1],
                    out.series[n - 1],
                    out.time[n - 1],
                    out.stack[n - 1],
                ) == key
            {
                out.value[n - 1] = out.value[n - 1].saturating_add(self.value[i]);
            } else {
                out.push(key.0, key.1, key.2, key.3, self.value[i]);
            }
        }
        out.retain_nonzero();
        *self = out;
    }

    fn retain_nonzero(&mut self) {
        if self.value.iter().all(|&v| v != 0) {
            return;
        }
        let mut out = SampleRows::default();
        for i in (0..self.len()).filter(|&i| self.value[i] != 0) {
            out.push(
                self.sample_type[i],
                self.series[i],
                self.time[i],
                self.stack[i],
                self.value[i],
            );
        }
        *self = out;
    }
}

/// Profile rows: one per ingested profile and sample type, with its pre-summed total.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileRows {
    /// Index into the block's sample types.
    pub sample_type: Vec<u16>,
    /// Index into the block's series.
    pub series: Vec<u32>,
    /// Start of the profile, ns since the Unix epoch.
    pub time: Vec<i64>,
    /// Duration in ns (0 when unknown).
    pub duration: Vec<i64>,
    /// Sampling period (0 when unknown).
    pub period: Vec<i64>,
    /// Sum of the profile's values of this sample type.
    pub total: Vec<i64>,
    /// Number of distinct stacks with a non-zero value.
    pub stacks: Vec<u32>,
}

impl ProfileRows {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.total.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    /// Appends one row.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        sample_type: u16,
        series: u32,
        time: i64,
        duration: i64,
        period: i64,
        total: i64,
        stacks: u32,
    ) {
        self.sample_type.push(sample_type);
        self.series.push(series);
        self.time.push(time);
        self.duration.push(duration);
        self.period.push(period);
        self.total.push(total);
        self.stacks.push(stacks);
    }

    /// Row `i` as a tuple (for sorting and tests).
    pub fn row(&self, i: usize) -> (u16, u32, i64, i64, i64, i64, u32) {
        (
            self.sample_type[i],
            self.series[i],
            self.time[i],
            self.duration[i],
            self.period[i],
            self.total[i],
            self.stacks[i],
        )
    }

    /// Sorts by (sample type, series, time).
    pub fn sort(&mut self) {
        let mut rows: Vec<_> = (0..self.len()).map(|i| self.row(i)).collect();
        rows.sort_unstable();
        let mut out = ProfileRows::default();
        for r in rows {
            out.push(r.0, r.1, r.2, r.3, r.4, r.5, r.6);
        }
        *self = out;
    }
}

/// Everything a block holds, in memory.
#[derive(Debug, Clone, Default)]
pub struct BlockData {
    /// Symbols and stacks; sample rows refer to stack ids here.
    pub symbols: Symbols,
    /// Sample types; rows refer to them by index.
    pub sample_types: Vec<SampleType>,
    /// Series labels; rows refer to them by index.
    pub series: Vec<Labels>,
    /// Sample rows.
    pub samples: SampleRows,
    /// Profile rows.
    pub profiles: ProfileRows,
}

impl BlockData {
    /// The canonical form written to storage: symbols holding only the stacks in use, in
    /// depth-first order; series sorted by labels (unused ones dropped); rows sorted with
    /// equal keys summed and zero values dropped.
    pub fn normalize(mut self) -> BlockData {
        self.samples.sort_and_sum();
        let used = self.samples.stack.iter().map(|&s| StackId(s));
        let (symbols, remap) = self.symbols.compact(used);
        for s in &mut self.samples.stack {
            *s = remap.stack(StackId(*s)).map_or(0, |id| id.0);
        }
        // Series: sorted by labels, so label filters select contiguous id ranges.
        let mut in_use = vec![false; self.series.len()];
        for &s in self.samples.series.iter().chain(&self.profiles.series) {
            if let Some(u) = in_use.get_mut(s as usize) {
                *u = true;
            }
        }
        let mut order: Vec<usize> = (0..self.series.len()).filter(|&i| in_use[i]).collect();
        order.sort_by(|&a, &b| self.series[a].cmp(&self.series[b]));
        let mut series_map = vec![u32::MAX; self.series.len()];
        for (new, &old) in order.iter().enumerate() {
            series_map[old] = new as u32;
        }
        let series = order.iter().map(|&i| self.series[i].clone()).collect();
        for s in self
            .samples
            .series
            .iter_mut()
            .chain(self.profiles.series.iter_mut())
        {
            *s = series_map[*s as usize];
        }
        self.samples.sort_and_sum();
        self.profiles.sort();
        BlockData {
            symbols,
            sample_types: self.sample_types,
            series,
            samples: self.samples,
            profiles: self.profiles,
        }
    }

    /// Merges blocks into one (not yet normalized): symbols are imported with id remapping,
    /// sample types and series are unified.
    pub fn merge(blocks: impl IntoIterator<Item = BlockData>) -> BlockData {
        let mut out = BlockData::default();
        let mut types: HashMap<SampleType, u16> = HashMap::new();
        let mut series: HashMap<Labels, u32> = HashMap::new();
        for b in blocks {
            let type_map: Vec<u16> = b
                .sample_types
                .iter()
                .map(|t| {
                    *types.entry(t.clone()).or_insert_with(|| {
                        out.sample_types.push(t.clone());
                        (out.sample_types.len() - 1) as u16
                    })
                })
                .collect();
            let series_map: Vec<u32> = b
                .series
                .iter()
                .map(|l| {
                    *series.entry(l.clone()).or_insert_with(|| {
                        out.series.push(l.clone());
                        (out.series.len() - 1) as u32
                    })
                })
                .collect();
            let mut remap = Remap::for_source(&b.symbols);
            let s = &b.samples;
            for i in 0..s.len() {
                let stack = out
                    .symbols
                    .import_stack(&b.symbols, &mut remap, StackId(s.stack[i]));
                out.samples.push(
                    type_map[s.sample_type[i] as usize],
                    series_map[s.series[i] as usize],
                    s.time[i],
                    stack.0,
                    s.value[i],
                );
            }
            let p = &b.profiles;
            for i in 0..p.len() {
                let r = p.row(i);
                out.profiles.push(
                    type_map[r.0 as usize],
                    series_map[r.1 as usize],
                    r.2,
                    r.3,
                    r.4,
                    r.5,
                    r.6,
                );
            }
        }
        out
    }

    /// Earliest and latest time of the rows (sample and profile rows), if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let times = self.samples.time.iter().chain(&self.profiles.time);
        let min = times.clone().min()?;
        let max = times.max()?;
        Some((*min, *max))
    }
}
