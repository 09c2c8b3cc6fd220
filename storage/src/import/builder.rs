//! [`Builder`]: the rows of one partition and day as they arrive, with the block's own
//! symbols, series and profiles; becomes a block's data when cut.

use super::file::SeriesInfo;
use super::{ImportOptions, StackTable};
use crate::PartitionKey;
use crate::rows::{BlockData, ProfileRows, SampleRows};
use flamedb_profile::{FrameKind, LocationId, StackId, Symbols};
use hashbrown::HashMap;

/// The rows of one partition and day, as they arrive.
pub(super) struct Builder {
    pub(super) key: PartitionKey,
    pub(super) part: u32,
    pub(super) day: i64,
    symbols: Symbols,
    /// Location of each frame name of the stack table (+1; 0 = not yet).
    location_of: Vec<u32>,
    /// Stack of each stack of the stack table (0 = not yet; the empty stack is never one).
    stack_of: Vec<u32>,
    /// Series of the file -> series of this block.
    series_of: HashMap<u32, u32>,
    series: Vec<u32>,
    profile_of: HashMap<(u32, i64), u32>,
    last: Option<(u32, i64, u32)>,
    profiles: ProfileRows,
    pub(super) samples: SampleRows,
}

impl Builder {
    pub(super) fn new(key: PartitionKey, part: u32, day: i64) -> Self {
        Builder {
            key,
            part,
            day,
            symbols: Symbols::new(),
            location_of: Vec::new(),
            stack_of: Vec::new(),
            series_of: HashMap::new(),
            series: Vec::new(),
            profile_of: HashMap::new(),
            last: None,
            profiles: ProfileRows::default(),
            samples: SampleRows::default(),
        }
    }

    /// Whether the last row pushed was of `series` at `time`.
    pub(super) fn is_last(&self, series: u32, time: i64) -> bool {
        matches!(self.last, Some((s, t, _)) if s == series && t == time)
    }

    #[inline]
    pub(super) fn push(
        &mut self,
        table: &StackTable,
        series: u32,
        time: i64,
        stack: u32,
        value: i64,
    ) {
        let profile = match self.last {
            Some((s, t, p)) if s == series && t == time => p,
            _ => self.profile(series, time),
        };
        let p = profile as usize;
        self.profiles.total[p] = self.profiles.total[p].saturating_add(value);
        let s = match self.stack_of.get(stack as usize) {
            Some(&s) if s != 0 => s,
            _ => self.import_stack(table, stack),
        };
        self.samples.push(profile, s, value);
    }

    fn profile(&mut self, series: u32, time: i64) -> u32 {
        let local = match self.series_of.get(&series) {
            Some(&l) => l,
            None => {
                let l = self.series.len() as u32;
                self.series.push(series);
                self.series_of.insert(series, l);
                l
            }
        };
        let profiles = &mut self.profiles;
        let p = *self.profile_of.entry((local, time)).or_insert_with(|| {
            profiles.push((0, local, time, 0, 0, 0, 0));
            (profiles.len() - 1) as u32
        });
        self.last = Some((series, time, p));
        p
    }

    #[cold]
    fn import_stack(&mut self, table: &StackTable, stack: u32) -> u32 {
        if self.stack_of.len() < table.len() {
            self.stack_of.resize(table.len(), 0);
        }
        if self.location_of.len() < table.names.len() {
            self.location_of.resize(table.names.len(), 0);
        }
        let mut node = StackId::EMPTY;
        for &name in table.frames_of(stack) {
            let slot = &mut self.location_of[name.index()];
            let location = if *slot != 0 {
                LocationId(*slot - 1)
            } else {
                let (base, kind) = FrameKind::split_suffix(table.names.get(name));
                let l = self.symbols.intern_named_location(base, None, 0, kind);
                self.location_of[name.index()] = l.0 + 1;
                l
            };
            node = self.symbols.stacks.child(node, location);
        }
        self.stack_of[stack as usize] = node.0;
        node.0
    }

    pub(super) fn into_data(self, opts: &ImportOptions, series: &[SeriesInfo]) -> BlockData {
        let mut profiles = self.profiles;
        let n = profiles.len();
        profiles.duration = vec![opts.duration_nanos; n];
        profiles.period = vec![opts.period; n];
        BlockData {
            symbols: self.symbols,
            sample_types: vec![opts.sample_type.clone()],
            series: self
                .series
                .iter()
                .map(|&s| series[s as usize].labels.clone())
                .collect(),
            profiles,
            samples: self.samples,
        }
    }
}
