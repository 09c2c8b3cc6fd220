//! Dense id newtypes. Every id is the position of its item in the owning table of a
//! [`Profile`](crate::Profile), so ids are only meaningful together with that profile.

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub u32);

        impl $name {
            /// Position in the owning table.
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// The id of position `i`.
            ///
            /// Tables are bounded by the decode limits far below `u32::MAX` entries.
            pub fn from_index(i: usize) -> Self {
                debug_assert!(i <= u32::MAX as usize);
                $name(i as u32)
            }
        }
    };
}

dense_id!(
    /// A [`Function`](crate::Function) in [`Profile::functions`](crate::Profile::functions).
    FunctionId
);
dense_id!(
    /// A [`Mapping`](crate::Mapping) in [`Profile::mappings`](crate::Profile::mappings).
    MappingId
);
dense_id!(
    /// A [`Location`](crate::Location) in [`Profile::locations`](crate::Profile::locations).
    LocationId
);
dense_id!(
    /// A node of the [`StackTree`](crate::StackTree); the node stands for the stack from the
    /// root down to it. `StackId::EMPTY` (0) is the empty stack.
    StackId
);
dense_id!(
    /// An interned set of labels in [`Profile::label_sets`](crate::Profile::label_sets).
    /// `LabelSetId::EMPTY` (0) is the set without labels.
    LabelSetId
);

impl StackId {
    /// The empty stack (the root of the stack tree).
    pub const EMPTY: StackId = StackId(0);
}

impl LabelSetId {
    /// The empty label set.
    pub const EMPTY: LabelSetId = LabelSetId(0);
}
