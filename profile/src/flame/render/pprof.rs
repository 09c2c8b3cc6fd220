//! pprof export: a [`Profile`] with one sample per node that has a self value.

use crate::flame::FlameTree;
use crate::{FrameKind, LabelSetId, LocationId, Profile, StackId};

/// The tree as a profile with one sample type `sample_type`/`unit`: one sample per node
/// with a non-zero self value on `side`, whose stack is the node's path of function names
/// (the synthetic root excluded, so the root's own self value is a sample with an empty
/// stack) and whose value is that self value. Each distinct name is one function and one
/// location. Encode it with [`crate::pprof::encode_gzip`]; pprof writes stacks leaf first.
/// For a single tree `side` should be 0 (side 1 has no values).
pub fn to_profile(tree: &FlameTree, side: usize, sample_type: &str, unit: &str) -> Profile {
    let mut p = Profile::new();
    p.add_sample_type(sample_type, unit);
    let mut locations: hashbrown::HashMap<&str, LocationId> = hashbrown::HashMap::new();
    // stacks[l] = the stack of the current node at level l.
    let mut stacks: Vec<StackId> = vec![StackId::EMPTY];
    for i in 0..tree.len() {
        let level = tree.level(i) as usize;
        if level > 0 {
            stacks.truncate(level);
            let name = tree.name(i);
            let location = *locations.entry(name).or_insert_with(|| {
                p.symbols
                    .intern_named_location(name, None, 0, FrameKind::Unspecified)
            });
            let parent = stacks[level - 1];
            stacks.push(p.symbols.stacks.child(parent, location));
        }
        let value = tree.self_at(i, side);
        if value != 0 {
            let stack = stacks[level];
            p.push_sample(stack, &[value], LabelSetId::EMPTY, None);
        }
    }
    p
}
