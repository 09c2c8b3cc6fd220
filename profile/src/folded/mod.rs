//! Folded (collapsed) stacks, Brendan Gregg's, inferno's and async-profiler's.
//!
//! ```text
//!   main;work;leaf_[j] 31        one line per stack: frames root first, `;`-separated,
//!   main;idle 6                  then whitespace and a count
//! ```
//!
//! # Decoding
//!
//! - **Text.** gzip input is decompressed first. Input starting with a UTF-16 byte-order
//!   mark (`FF FE`, `FE FF`) is decoded as UTF-16; a UTF-8 byte-order mark is dropped.
//!   Invalid UTF-8, lone surrogates and an odd trailing UTF-16 byte become U+FFFD: the
//!   rest of the profile is still read.
//! - **Lines.** Split on LF; trailing whitespace (so a CR) is ignored. Whitespace is ASCII
//!   (space, tab, CR, VT, FF). Blank lines and comment lines (first non-blank characters
//!   `#` or `//`) are skipped. Line numbers are 1-based physical lines.
//! - **Sample lines** match `^(.*\S)\s+(\d+(\.\d*)?)$`: the count is the last token, the
//!   stack everything before the whitespace run before it, so frames may contain spaces.
//!   Frames are split on `;`. **Empty frames** (`a;;b`, a trailing `;` as perf leaves for
//!   a frame without symbol) are kept, as inferno and the corpus facts count them: a
//!   location whose function has no name, which the model shows as `0x0` like pprof's
//!   location without symbol; encoding writes such a frame back as an empty frame.
//! - **Samples without a stack**: a line of whitespace then a count (` 1`, as py-spy
//!   writes a sample it could not unwind, up to 2 % of a capture) is a sample of the one
//!   frame `[unknown]`, so the profile's total is the file's (the corpus convention would
//!   call it invalid; no corpus file has one).
//! - **Invalid lines** (any other line) are skipped and counted; [`decode_with_report`]
//!   returns their number and the first [`MAX_INVALID_REPORTED`] line numbers so that a
//!   caller can warn or reject, as inferno warns and goes on. When there is no sample line
//!   but some invalid line the text is not folded at all and decoding fails with
//!   [`Error::Folded`](crate::Error::Folded) naming the first invalid line.
//! - **One sample per line.** Every sample line is one sample, in line order, so a stack on
//!   several lines is several samples of one interned stack (the
//!   [`StackTree`](crate::StackTree) dedups it); merging sums them.
//! - **Columns.** When the first sample line ends in two counts (`stack 31 56`, inferno's
//!   differential input), every sample line must: the sample types are `before/count` and
//!   `after/count`, and a line with one count is an error naming it. Otherwise there is
//!   one sample type, `samples/count`, and a second number before the count is part of the
//!   leaf frame, as the regular expression says.
//! - **Fractional counts.** When some count has a non-zero digit after the point, the
//!   whole profile uses the unit `millicount` and every value is the count times 1000,
//!   parsed exactly as a decimal (no floating point) and rounded half away from zero past
//!   the third decimal: `31.23` is 31230, `14.2343983` is 14234. Integral-valued decimals
//!   (`6.`, `2.0`) alone keep the unit `count`.
//! - **Annotations.** A frame ending in async-profiler's `_[j]`, `_[i]`, `_[k]`, `_[0]` or
//!   `_[1]` becomes a location of that [`FrameKind`](crate::FrameKind), named without the
//!   suffix. Every frame is a one-line location made by
//!   [`Profile::intern_named_location`](crate::Profile::intern_named_location).
//! - **Limits.** A stack deeper than `max_stack_depth` frames is an error naming its line;
//!   more sample lines than `max_samples` is [`Error::Limit`](crate::Error::Limit). A
//!   count beyond 64 bits (in thousandths for a fractional profile) is an error naming the
//!   line.
//! - No labels, no times, no period: `time_nanos` is 0.
//!
//! # Encoding
//!
//! [`encode`] writes one line `root;...;leaf COUNT` per distinct stack text, lines sorted
//! bytewise, samples with the same frames summed; stacks whose sum is zero or negative in
//! every written column are left out (folded counts are non-negative; a negative sum in a
//! written column is written as 0). Frames are [`Profile::frames`](crate::Profile::frames):
//! inlined frames expanded, with their kind's suffix when [`FoldedOptions::annotate`] is
//! set. A column whose unit is `millicount` is written as a decimal (`31230` -> `31.23`),
//! so `decode(encode(p))` gives `p`'s stacks and values back; only a millicount profile
//! whose values are all whole counts comes back in unit `count`. With
//! [`FoldedOptions::diff_columns`] two columns are written, which decode as `before` and
//! `after` ([`FoldedOptions::for_profile`] picks them for such a profile).
//!
//! Names the format cannot hold are changed so that every line reads back as one sample:
//! `;` becomes `:`, CR and LF become spaces, whitespace at the end of the leaf is dropped,
//! whitespace between a leaf and a trailing number (`foo 12`, else read as a count) becomes
//! `_`, a stack whose text would be a comment (`#...`, `//...`) or start with a byte-order
//! mark gets a leading `_`. A stack whose text would be blank (the empty stack of a pprof
//! sample without locations, or a single nameless frame) cannot be written and is left
//! out. A name that itself ends
//! in a kind suffix reads back as that kind.

mod decode;
mod encode;
mod text;

pub use encode::{encode, encode_to};
pub use text::TextEncoding;

use crate::{DecodeLimits, Profile, Result};

/// At most this many invalid line numbers are kept in [`FoldedReport::first_invalid`].
pub const MAX_INVALID_REPORTED: usize = 16;

/// What decoding saw besides the profile: line counts and the lines it skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldedReport {
    /// Physical lines (a last line without newline counts).
    pub lines: usize,
    /// Valid sample lines (before summing equal stacks).
    pub sample_lines: usize,
    /// Sample lines with a count but no stack (` 1`, as py-spy writes a sample it could
    /// not unwind), stored under the one frame `[unknown]`; counted in `sample_lines` too.
    pub unknown_stack_lines: usize,
    /// Lines of only whitespace.
    pub blank_lines: usize,
    /// Comment lines (`#`, `//`).
    pub comment_lines: usize,
    /// Lines that are neither blank, comment nor sample lines: skipped.
    pub invalid_lines: usize,
    /// Line numbers (1-based) of the first [`MAX_INVALID_REPORTED`] invalid lines.
    pub first_invalid: Vec<usize>,
    /// Lines that ended in CR LF.
    pub crlf_lines: usize,
    /// Count columns: 1, or 2 for differential input.
    pub count_columns: usize,
    /// Whether some count had a non-zero fraction (values are in thousandths).
    pub fractional: bool,
    /// How the bytes were read as text.
    pub encoding: TextEncoding,
}

/// Decodes folded text (gzip, UTF-8, or UTF-16 with a byte-order mark); see the
/// [module documentation](self) for the rules.
pub fn decode(data: &[u8], limits: &DecodeLimits) -> Result<Profile> {
    decode_with_report(data, limits).map(|(p, _)| p)
}

/// [`decode`], also returning what was skipped and how the text was read.
pub fn decode_with_report(data: &[u8], limits: &DecodeLimits) -> Result<(Profile, FoldedReport)> {
    let data = crate::gzip::maybe_gunzip(data, limits)?;
    let (text, encoding) = text::to_text(&data);
    decode::decode_text(&text, encoding, limits)
}

/// Options for [`encode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoldedOptions {
    /// The value column written when `diff_columns` is `None`. Default 0. A column the
    /// profile does not have counts as zero everywhere (nothing is written).
    pub value_index: usize,
    /// Whether frames get their kind's async-profiler suffix (`_[j]`, ...). Default true.
    pub annotate: bool,
    /// Write two counts per line, these columns (before, after), as differential folded
    /// input has. Default `None`.
    pub diff_columns: Option<(usize, usize)>,
}

impl Default for FoldedOptions {
    fn default() -> Self {
        FoldedOptions {
            value_index: 0,
            annotate: true,
            diff_columns: None,
        }
    }
}

impl FoldedOptions {
    /// The defaults, writing both columns of a profile whose sample types are exactly
    /// `before` and `after` (as differential input decodes to).
    pub fn for_profile(p: &Profile) -> Self {
        let kinds: Vec<&str> = p
            .sample_types
            .iter()
            .map(|vt| p.strings.get(vt.kind))
            .collect();
        FoldedOptions {
            diff_columns: (kinds == ["before", "after"]).then_some((0, 1)),
            ..FoldedOptions::default()
        }
    }
}

#[cfg(test)]
mod tests;
