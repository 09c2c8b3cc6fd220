//! Allocator tuning for query memory.
//!
//! A large query (a flame graph of millions of stacks) allocates and frees hundreds of MiB
//! of per-stack sums, node-order slots and tree nodes. mimalloc (the binaries' global
//! allocator) returns freed memory to the kernel 1 s after it is freed (mimalloc 3's
//! default), and the next query faults and zeroes those pages again: measured on
//! `flamedb-bench flame3m` (3M distinct stacks), one run in three or four took 600-770 ms
//! instead of 450-520 ms, page faults and zeroing ~7% of the samples. Keeping freed memory
//! for [`PURGE_DELAY_MS`] before returning it makes every run fast, and an idle server still
//! gives the memory back.

/// How long freed memory is kept for reuse before it is returned to the kernel.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// mimalloc's `mi_option_purge_delay` (the 16th entry of `mi_option_e` in mimalloc 2 and 3,
/// which `libmimalloc-sys` builds by default; it names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`], unless the operator chose one with
/// the `MIMALLOC_PURGE_DELAY` environment variable. Call once at start-up, from a binary
/// whose global allocator is mimalloc.
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets one integer option in mimalloc's option table; no pointers, and
    // mimalloc reads options atomically, so it may be called while other threads allocate.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) }
}

/// mimalloc's current purge delay in milliseconds.
#[allow(unsafe_code)]
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads one integer option; no pointers.
    unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_purge_delay() {
        // mimalloc 3 sets the purge delay's default to 1000 ms (no neighbouring option has
        // that default); the environment can change it, and keep_freed_memory then leaves
        // it alone.
        let env = std::env::var("MIMALLOC_PURGE_DELAY").ok();
        let before = purge_delay_ms();
        keep_freed_memory();
        match env {
            None => {
                assert_eq!(before, 1000);
                assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
            }
            Some(v) => assert_eq!(purge_delay_ms(), before, "MIMALLOC_PURGE_DELAY={v}"),
        }
    }
}
