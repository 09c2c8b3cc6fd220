//! The registry of block directories this process is writing, so garbage collection never
//! deletes a block under its writer.

use object_store::path::Path;

/// Block directories this process is writing (a file written, `meta.json` not yet): the
/// garbage collector's deletion of incomplete blocks skips them whatever their age, so a
/// grace period of zero never deletes a block under its writer.
static WRITING: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Registers a block directory in [`WRITING`] until dropped.
pub(crate) struct Writing(String);

impl Writing {
    pub(crate) fn start(dir: Path) -> Writing {
        let dir = dir.to_string();
        if let Ok(mut w) = WRITING.lock() {
            w.push(dir.clone());
        }
        Writing(dir)
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        if let Ok(mut w) = WRITING.lock()
            && let Some(i) = w.iter().position(|d| *d == self.0)
        {
            w.swap_remove(i);
        }
    }
}

/// Whether this process is writing the block in directory `dir` right now.
pub fn is_being_written(dir: &Path) -> bool {
    let dir = dir.as_ref();
    WRITING
        .lock()
        .map(|w| w.iter().any(|d| d == dir))
        // A poisoned registry cannot say: treat every block as in progress.
        .unwrap_or(true)
}
