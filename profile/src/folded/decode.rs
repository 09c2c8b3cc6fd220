//! The folded decoder: lines to samples, frames to interned locations, stacks to the tree.
//!
//! Cost per line: one `memchr` for the line end, a backward scan for the count, a byte
//! comparison with the previous line's stack (a shared prefix of whole frames reuses the
//! previous line's stack nodes), then per remaining frame one `memchr` for `;`, one hash
//! lookup in a frame cache keyed by `&str` slices of the input and one stack-tree lookup.
//! Nothing is allocated per line or per frame; only new frames, stacks and samples allocate.

use super::text::{self, Count, CountError, LineKind, TextEncoding};
use super::{FoldedReport, MAX_INVALID_REPORTED};
use crate::{DecodeLimits, Error, FrameKind, LabelSetId, LocationId, Profile, Result, StackId};
use hashbrown::HashMap;

/// The stack of a sample line without frames.
const UNKNOWN_STACK: &str = "[unknown]";

/// Decodes folded text (already gunzipped and turned into a `str`).
pub(super) fn decode_text(
    text: &str,
    encoding: TextEncoding,
    limits: &DecodeLimits,
) -> Result<(Profile, FoldedReport)> {
    let mut d = Decoder::new(limits);
    d.report.encoding = encoding;
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        let end = bytes
            .get(start..)
            .and_then(|rest| memchr::memchr(b'\n', rest))
            .map_or(bytes.len(), |i| start + i);
        number += 1;
        // Both ends are at an ASCII `\n` or the end of the text: char boundaries.
        let line = text.get(start..end).unwrap_or_default();
        d.line(line, number)?;
        start = end + 1;
    }
    d.report.lines = number;
    d.finish()
}

/// Decoding state; `'a` is the lifetime of the input text.
struct Decoder<'a> {
    p: Profile,
    limits: DecodeLimits,
    report: FoldedReport,
    /// Raw frame text (suffix included) -> its location.
    frames: HashMap<&'a str, LocationId>,
    /// The stack of each sample (one per sample line), in line order.
    sample_stacks: Vec<StackId>,
    /// `columns` counts per sample, in thousandths.
    sums: Vec<i128>,
    /// Value columns: 0 before the first sample line, then 1 or 2.
    columns: usize,
    first_sample_line: usize,
    fractional: bool,
    /// First line where a sum went past `i64::MAX` thousandths (fatal only if fractional).
    milli_overflow_line: Option<usize>,
    /// The previous sample line's stack and, per raw frame, its end offset and stack node.
    prev: &'a str,
    prev_frames: Vec<(usize, StackId)>,
}

impl<'a> Decoder<'a> {
    fn new(limits: &DecodeLimits) -> Self {
        Decoder {
            p: Profile::new(),
            limits: *limits,
            report: FoldedReport::default(),
            frames: HashMap::new(),
            sample_stacks: Vec::new(),
            sums: Vec::new(),
            columns: 0,
            first_sample_line: 0,
            fractional: false,
            milli_overflow_line: None,
            prev: "",
            prev_frames: Vec::new(),
        }
    }

    fn line(&mut self, raw: &'a str, number: usize) -> Result<()> {
        if raw.ends_with('\r') {
            self.report.crlf_lines += 1;
        }
        let line = text::trim_end(raw);
        match text::classify(line) {
            LineKind::Blank => self.report.blank_lines += 1,
            LineKind::Comment => self.report.comment_lines += 1,
            LineKind::Other => match text::split_count(line) {
                // A count after nothing but whitespace: a sample whose stack the profiler
                // could not unwind (py-spy writes ` 1`). Kept, under one `[unknown]` frame,
                // so the totals match the file.
                None if self.columns != 2
                    && line.starts_with(|c: char| c.is_ascii_whitespace())
                    && let Ok(count) = text::parse_count(line.trim_start().as_bytes()) =>
                {
                    self.report.unknown_stack_lines += 1;
                    self.sample_line(UNKNOWN_STACK, count, number)?
                }
                None => self.invalid(number),
                Some(Err(e)) => return Err(count_error(e, number)),
                Some(Ok((stack, count))) => self.sample_line(stack, count, number)?,
            },
        }
        Ok(())
    }

    fn invalid(&mut self, number: usize) {
        self.report.invalid_lines += 1;
        if self.report.first_invalid.len() < MAX_INVALID_REPORTED {
            self.report.first_invalid.push(number);
        }
    }

    fn sample_line(&mut self, stack: &'a str, last: Count, number: usize) -> Result<()> {
        if self.columns == 0 {
            let two = matches!(text::split_count(stack), Some(Ok(_)));
            self.columns = if two { 2 } else { 1 };
            self.first_sample_line = number;
        }
        let (stack, counts) = if self.columns == 1 {
            (stack, [last, last])
        } else {
            match text::split_count(stack) {
                Some(Ok((stack, first))) => (stack, [first, last]),
                Some(Err(e)) => return Err(count_error(e, number)),
                None => {
                    return Err(Error::Folded {
                        line: number,
                        message: format!(
                            "one count where this differential file has two (from line {})",
                            self.first_sample_line
                        ),
                    });
                }
            }
        };
        self.report.sample_lines += 1;
        let id = self.intern_stack(stack, number)?;
        let sample = self.new_sample(id)?;
        let columns = self.columns;
        for (j, count) in counts.iter().take(columns).enumerate() {
            self.fractional |= count.fractional;
            let Some(sum) = self.sums.get_mut(sample * columns + j) else {
                continue; // sample_of sized `sums`; cannot happen
            };
            *sum += count.milli;
            if *sum > i128::from(i64::MAX) * 1000 {
                return Err(Error::Folded {
                    line: number,
                    message: "this count does not fit in 64 bits".into(),
                });
            }
            if *sum > i128::from(i64::MAX) {
                self.milli_overflow_line.get_or_insert(number);
            }
        }
        Ok(())
    }

    /// Adds a sample (one per sample line) of stack `id` and returns its index. Lines with
    /// the same stack stay separate samples, as they are in the text; consumers sum them.
    fn new_sample(&mut self, id: StackId) -> Result<usize> {
        let index = self.sample_stacks.len();
        DecodeLimits::check("samples", index + 1, self.limits.max_samples)?;
        self.sample_stacks.push(id);
        self.sums.resize(self.sums.len() + self.columns, 0);
        Ok(index)
    }

    /// Interns a `;`-separated stack, reusing the previous line's nodes for a shared prefix
    /// of whole frames. An empty frame is a location without a name.
    fn intern_stack(&mut self, stack: &'a str, number: usize) -> Result<StackId> {
        let sb = stack.as_bytes();
        let common = common_prefix(sb, self.prev.as_bytes());
        let mut parent = StackId::EMPTY;
        let mut pos = 0;
        let mut keep = 0;
        for &(end, id) in &self.prev_frames {
            // A previous frame ending before `common` is followed by `;` in both lines; one
            // ending at `common` must end a frame of this line too.
            if end > common || (end == common && end < sb.len() && sb[end] != b';') {
                break;
            }
            parent = id;
            pos = end + 1;
            keep += 1;
        }
        self.prev_frames.truncate(keep);
        self.prev = stack;
        let mut depth = self.p.stacks.depth(parent);
        while pos <= sb.len() {
            let end = sb
                .get(pos..)
                .and_then(|rest| memchr::memchr(b';', rest))
                .map_or(sb.len(), |i| pos + i);
            // Both ends are at an ASCII `;` or the end of the stack: char boundaries.
            let frame = stack.get(pos..end).unwrap_or_default();
            depth += 1;
            if depth > self.limits.max_stack_depth {
                return Err(Error::Folded {
                    line: number,
                    message: format!(
                        "stack depth exceeds the limit of {}",
                        self.limits.max_stack_depth
                    ),
                });
            }
            let location = self.location(frame);
            parent = self.p.stacks.child(parent, location);
            self.prev_frames.push((end, parent));
            pos = end + 1;
        }
        Ok(parent)
    }

    /// The location of a raw frame, `_[k]`-style suffix split into its kind.
    #[inline]
    fn location(&mut self, frame: &'a str) -> LocationId {
        if let Some(&id) = self.frames.get(frame) {
            return id;
        }
        let (name, kind) = FrameKind::split_suffix(frame);
        let id = self.p.intern_named_location(name, None, 0, kind);
        self.frames.insert(frame, id);
        id
    }

    fn finish(mut self) -> Result<(Profile, FoldedReport)> {
        if self.report.sample_lines == 0
            && let Some(&line) = self.report.first_invalid.first()
        {
            return Err(Error::Folded {
                line,
                message: "not folded stacks: no line is `frame;frame;... count`".into(),
            });
        }
        if self.fractional
            && let Some(line) = self.milli_overflow_line
        {
            return Err(Error::Folded {
                line,
                message: "the counts of this stack in thousandths exceed 64 bits".into(),
            });
        }
        let columns = self.columns.max(1);
        let unit = if self.fractional {
            "millicount"
        } else {
            "count"
        };
        let names: &[&str] = if columns == 2 {
            &["before", "after"]
        } else {
            &["samples"]
        };
        for name in names {
            self.p.add_sample_type(name, unit);
        }
        self.report.count_columns = columns;
        self.report.fractional = self.fractional;
        let scale = if self.fractional { 1 } else { 1000 };
        self.p.samples.reserve(self.sample_stacks.len());
        self.p.values.reserve(self.sums.len());
        let mut values = [0i64; 2];
        for (i, &stack) in self.sample_stacks.iter().enumerate() {
            for (j, v) in values.iter_mut().take(columns).enumerate() {
                let sum = self.sums.get(i * columns + j).copied().unwrap_or(0) / scale;
                // Sums were bounded by i64::MAX thousandths (fractional) or counts.
                *v = i64::try_from(sum).unwrap_or(i64::MAX);
            }
            let vals = values.get(..columns).unwrap_or_default();
            self.p.push_sample(stack, vals, LabelSetId::EMPTY, None);
        }
        Ok((self.p, self.report))
    }
}

fn count_error(e: CountError, line: usize) -> Error {
    let message = match e {
        CountError::TooLarge => "count does not fit in 64 bits",
        CountError::NotANumber => "count is not a number",
    };
    Error::Folded {
        line,
        message: message.into(),
    }
}

/// Length of the common prefix of `a` and `b`, compared eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        if x != y {
            break;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}
