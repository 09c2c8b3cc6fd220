//! Reading blocks back as per-stack sums (frame names joined by `;`).

use flamedb_profile::StackId;
use flamedb_storage::{BlockData, BlockInfo, Store};
use std::collections::BTreeMap;

/// Adds `value` per stack of `d` into `out`.
pub fn add_stack_sums(d: &BlockData, out: &mut BTreeMap<String, i64>) {
    for i in 0..d.samples.len() {
        let names: Vec<String> = d
            .symbols
            .frames(StackId(d.samples.stack[i]))
            .into_iter()
            .map(|f| f.name.into_owned())
            .collect();
        *out.entry(names.join(";")).or_default() += d.samples.value[i];
    }
}

/// Per-stack sums over `blocks`.
pub async fn stack_sums(store: &Store, blocks: &[BlockInfo]) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for b in blocks {
        let (_, d) = store.read_block(&b.path).await.expect("read block");
        add_stack_sums(&d, &mut out);
    }
    out
}
