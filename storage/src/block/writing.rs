//! The gate between block writes and the garbage collector's deletion of incomplete
//! blocks, so garbage collection never deletes a block under its writer.

/// Block writes of this process hold this gate shared while they write a block's files
/// (the first data file to `meta.json`); the garbage collector's deletion of incomplete
/// blocks holds it exclusively from its listing to its last delete. So within a process
/// a block without `meta.json` that the collector lists is abandoned, never one being
/// written: the collector cannot list a block's data files, see its writer finish, and
/// then delete a complete block (which, with a grace of zero, lost acknowledged profiles:
/// a later block of the partition then made replay skip them).
static WRITE_GATE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// A block write in progress (see [`WRITE_GATE`]); dropped when the write ends or is
/// abandoned (also when its future is cancelled).
pub(crate) struct Writing {
    _gate: tokio::sync::RwLockReadGuard<'static, ()>,
}

impl Writing {
    /// Waits while the collector deletes incomplete blocks, then holds it off.
    pub(crate) async fn start() -> Writing {
        Writing {
            _gate: WRITE_GATE.read().await,
        }
    }
}

/// Holds off every block write of this process (see [`WRITE_GATE`]).
pub(crate) async fn exclusive_of_writers() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    WRITE_GATE.write().await
}
