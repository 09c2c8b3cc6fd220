//! Flame trees: the merged (and diffed) call tree a flame graph draws, and its renderers.
//!
//! ```text
//!   stacks / (parent, name) pairs ──► FlameTreeBuilder ──finish──► FlameTree ──┬─► truncate(max_nodes)
//!        add_self(node, side, v)      (parent pointers,            (pre-order) ├─► function_totals()
//!                                      interned names)                         ├─► merge(other)
//!                                                                              └─► render::{folded,
//!                                          flamebearer, nested_set, svg, pprof}
//! ```
//!
//! Layout:
//! - [`FlameTreeBuilder`] (`builder.rs`): nodes in creation order with a parent pointer and
//!   an interned name id (`u32` each), one self value per node per side; children are
//!   found through per-node sibling lists, and through a hash map on `(parent, name id)`
//!   for parents with many children. The root ([`FlameTreeBuilder::ROOT`]) is the
//!   synthetic node `total`. `examples/flame_speed.rs` times it on 3M nodes.
//! - [`FlameTree`] (`tree.rs`): the finished tree as columns in depth-first pre-order,
//!   children ordered by name (bytewise): level, name id, and per side self and total.
//!   Pre-order plus levels is the whole structure: a node's subtree is the run of nodes
//!   after it with a greater level, which is what every renderer walks.
//! - `truncate.rs`: [`FlameTree::truncate`], best-first pruning with `other` nodes.
//! - [`render`]: one file per output format.
//!
//! Sides: side 0 is the left (baseline) side, the only one of a single tree; a diff tree
//! ([`FlameTreeBuilder::finish`] with `diff`) also has side 1, the right side.

mod builder;
pub mod render;
mod tree;
mod truncate;

pub use builder::FlameTreeBuilder;
pub use tree::FlameTree;

#[cfg(test)]
mod tests;

/// A node of a [`FlameTreeBuilder`]: dense, in creation order, the root is 0.
pub type NodeId = u32;

/// Name of the synthetic root.
pub const ROOT_NAME: &str = "total";

/// Name of the node [`FlameTree::truncate`] folds cut children into.
pub const OTHER_NAME: &str = "other";

/// One node of a [`FlameTree`], as [`FlameTree::nodes`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlameNodeRef<'a> {
    /// Position in the pre-order (0 is the root).
    pub index: usize,
    /// Depth: 0 for the root, 1 for its children, ...
    pub level: u32,
    /// Function name (`total` for the root).
    pub name: &'a str,
    /// Self value per side (side 1 is 0 in a single tree).
    pub self_: [i64; 2],
    /// Total value (self plus all descendants) per side.
    pub total: [i64; 2],
}

/// What [`FlameTree::function_totals`] reports for one function name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionTotal {
    /// The function name.
    pub name: String,
    /// Sum of the self values of the nodes with this name, per side.
    pub self_: [i64; 2],
    /// Sum of the totals of the nodes with this name that have no ancestor of the same
    /// name, per side (recursion counted once per stack).
    pub total: [i64; 2],
}
