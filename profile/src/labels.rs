//! Sample labels, interned as whole sets so a sample carries one small id.

use crate::{LabelSetId, StrId};
use hashbrown::HashMap;

/// A label value: a string, or a number with an optional unit (pprof `num`/`num_unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LabelValue {
    /// A string value.
    Str(StrId),
    /// A numeric value; `unit` is `StrId::EMPTY` when the source gave none.
    Num {
        /// The number.
        value: i64,
        /// Its unit (for example `bytes`).
        unit: StrId,
    },
}

/// One label of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// Label name.
    pub key: StrId,
    /// Label value.
    pub value: LabelValue,
}

/// Interned label sets. A set keeps its labels in the order they were given (pprof keeps
/// order and allows repeated keys); set 0 is the empty set.
#[derive(Debug, Clone)]
pub struct LabelSets {
    labels: Vec<Label>,
    /// `ends[i]`: end of set `i` in `labels`.
    ends: Vec<u32>,
    index: HashMap<Box<[Label]>, LabelSetId>,
}

impl Default for LabelSets {
    fn default() -> Self {
        Self::new()
    }
}

impl LabelSets {
    /// A table holding only the empty set.
    pub fn new() -> Self {
        let mut index = HashMap::new();
        index.insert(Box::from([]), LabelSetId::EMPTY);
        LabelSets {
            labels: Vec::new(),
            ends: vec![0],
            index,
        }
    }

    /// Number of distinct sets, the empty set included.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Always false: the empty set is always present.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Interns a set of labels. Allocates only the first time a set is seen.
    pub fn intern(&mut self, labels: &[Label]) -> LabelSetId {
        if let Some(&id) = self.index.get(labels) {
            return id;
        }
        let id = LabelSetId::from_index(self.ends.len());
        self.labels.extend_from_slice(labels);
        self.ends.push(self.labels.len() as u32);
        self.index.insert(labels.into(), id);
        id
    }

    /// The labels of set `id` (empty for an unknown id).
    pub fn get(&self, id: LabelSetId) -> &[Label] {
        let i = id.index();
        if i == 0 || i >= self.ends.len() {
            return &[];
        }
        &self.labels[self.ends[i - 1] as usize..self.ends[i] as usize]
    }

    /// All sets with their ids, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (LabelSetId, &[Label])> + '_ {
        (0..self.ends.len()).map(|i| {
            let id = LabelSetId::from_index(i);
            (id, self.get(id))
        })
    }
}
