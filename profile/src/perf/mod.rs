//! `perf script` text: [`decode`] into a [`Profile`], and [`collapse`] back to the folded
//! stacks inferno's `collapse-perf` writes.
//!
//! ```text
//!   bytes ─► gunzip? ─► lines (memchr) ─► state machine ─┬─ event line ─► labels, time, period
//!                                                        └─ frame line ─► Location (cached
//!                                                           by line text) ─► StackTree (root first)
//! ```
//!
//! # Input
//!
//! Lines starting with `#` are header lines (`perf script --header`) wherever they occur;
//! trailing whitespace is ignored. Outside an event the next non-blank line must be an event
//! line, `COMM [PID/]TID [[CPU]] [SECONDS.FRACTION:] [PERIOD] EVENT: [IP SYM (DSO)]`;
//! COMM may contain spaces and digits (`FS Broker 5906`): TID is the first all-digit word
//! after which the rest of the line fits. Inside an event every non-blank line, indented or
//! not, is a frame line `IP SYM (DSO)`, leaf first; a blank line ends the event. An event
//! line that carries a frame (perf script without call graphs) is a one-frame event.
//! Lines in event position that are not event lines, and frame lines that are not
//! `IP SYM (DSO)` with a hexadecimal IP, are skipped (as inferno does) and counted in a
//! profile comment; input with no event line at all is an error.
//!
//! # Events
//!
//! One event type is kept. [`PerfOptions::event`] `None` keeps the first event seen and
//! every event with the same name without modifiers (`cycles:u` and `cycles`): inferno
//! compares event names that way, so the folded output matches it. A name given with
//! modifiers (`cycles:ppp`) keeps exactly that name; one without (`cycles`) keeps all its
//! modifier variants.
//!
//! # Model
//!
//! - Sample types: `samples/count` (1 per event) and, when the kept events print a period,
//!   `<event>/count` (`nanoseconds` for `cpu-clock` and `task-clock`) holding it, where
//!   `<event>` is the first event's name without modifiers, or the name asked for; an event
//!   without printed period counts 1 there, as inferno weighs it. That column is the
//!   default sample type. `period_type` is the
//!   event; `period` is the period when every event has the same one, else 0.
//! - Each sample has string labels `comm`, `tid` and, when printed, `pid`, and
//!   `time_nanos` = the printed timestamp in nanoseconds. perf's timestamps count from
//!   boot (perf's clock), not from the Unix epoch, so `Profile::time_nanos` stays 0 and
//!   `duration_nanos` is the span of the sample times.
//! - A frame line is a [`Location`](crate::Location): `address` = IP, mapping file name =
//!   DSO, one line whose function is SYM without its `+0x..` offset (the offset is an
//!   address detail the location keeps; names without it merge as users expect). SYM
//!   `[unknown]` becomes a function named after the dso in brackets (`[libc.so.6]`, or
//!   `[unknown]`), as inferno names it, with an empty system name; an empty SYM gives a
//!   line without function. For JIT dsos (perf maps, jitdump), perf-map-agent's inlined
//!   `caller->callee` symbols become one location with several lines (innermost first).
//! - [`FrameKind::Kernel`](crate::FrameKind) for kernel dsos (`[kernel.kallsyms]`, modules,
//!   vmlinux; not `[vdso]`), [`FrameKind::Jit`](crate::FrameKind) for JIT dsos.
//! - Header lines `captured on`, `hostname`, `os release`, `perf version`, `arch` and
//!   `cmdline` become comments.
//!
//! Decoding never panics, is linear in the input and allocates per distinct frame line,
//! string, stack node and label set, not per line.

mod collapse;
mod decode;
mod parse;
#[cfg(test)]
mod tests;

pub use collapse::{CollapseOptions, collapse};

use crate::{DecodeLimits, Profile, Result};

/// Options for [`decode`].
#[derive(Debug, Clone, Default)]
pub struct PerfOptions {
    /// Bounds on the input.
    pub limits: DecodeLimits,
    /// Event type to keep; `None` keeps the first one seen (see the module documentation
    /// for how modifiers such as `:u` are matched).
    pub event: Option<String>,
}

/// Decodes `perf script` output (gzip-compressed input is decompressed first).
///
/// Fails on input without any event line, on a stack deeper than
/// [`DecodeLimits::max_stack_depth`] (naming its line) and past
/// [`DecodeLimits::max_samples`].
pub fn decode(data: &[u8], options: &PerfOptions) -> Result<Profile> {
    let data = crate::gzip::maybe_gunzip(data, &options.limits)?;
    let mut decoder = decode::Decoder::new(options);
    let mut start = 0;
    let mut lineno = 0;
    for end in memchr::memchr_iter(b'\n', &data).chain(std::iter::once(data.len())) {
        lineno += 1;
        if end == data.len() && start == end {
            break;
        }
        decoder.line(lineno, &data[start..end])?;
        start = end + 1;
    }
    decoder.finish()
}
