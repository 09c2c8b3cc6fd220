//! The flamedb store (being written).
