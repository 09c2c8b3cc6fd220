//! The folded encoder: one sorted line per distinct stack text.

use super::FoldedOptions;
use super::text::{self, CountError, LineKind};
use crate::{Frame, Profile, Result, StackId};
use hashbrown::HashMap;
use std::fmt::Write as _;

/// Encodes `p` as folded text; see the [module documentation](super) for the rules.
pub fn encode(p: &Profile, opts: &FoldedOptions) -> String {
    let columns: Vec<usize> = match opts.diff_columns {
        Some((before, after)) => vec![before, after],
        None => vec![opts.value_index],
    };
    let milli: Vec<bool> = columns
        .iter()
        .map(|&c| {
            p.sample_types
                .get(c)
                .is_some_and(|vt| p.strings.get(vt.unit) == "millicount")
        })
        .collect();

    // Sum per stack node first: rendering a stack is the expensive part.
    let n = p.sample_types.len();
    let mut per_stack: HashMap<StackId, [i128; 2]> = HashMap::new();
    for (i, sample) in p.samples.iter().enumerate() {
        let values = p.values.get(i * n..(i + 1) * n).unwrap_or_default();
        let sums = per_stack.entry(sample.stack).or_default();
        for (sum, &c) in sums.iter_mut().zip(&columns) {
            *sum += i128::from(values.get(c).copied().unwrap_or(0));
        }
    }

    // Then per stack text: distinct nodes may render alike (same names, other addresses).
    let mut lines: Vec<(String, [i128; 2])> = Vec::with_capacity(per_stack.len());
    for (stack, sums) in per_stack {
        if let Some(text) = stack_text(p, stack, opts.annotate) {
            lines.push((text, sums));
        }
    }
    lines.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let mut out = String::new();
    let mut i = 0;
    while let Some((stack, first)) = lines.get(i) {
        let mut sums = *first;
        i += 1;
        while let Some((_, more)) = lines.get(i).filter(|(s, _)| s == stack) {
            sums[0] += more[0];
            sums[1] += more[1];
            i += 1;
        }
        if sums.iter().take(columns.len()).all(|&s| s <= 0) {
            continue;
        }
        out.push_str(stack);
        for (j, &is_milli) in milli.iter().enumerate() {
            out.push(' ');
            write_count(&mut out, sums.get(j).copied().unwrap_or(0).max(0), is_milli);
        }
        out.push('\n');
    }
    out
}

/// [`encode`], written to `w`.
pub fn encode_to<W: std::io::Write>(p: &Profile, opts: &FoldedOptions, mut w: W) -> Result<()> {
    w.write_all(encode(p, opts).as_bytes())?;
    Ok(())
}

/// The text of one stack, made readable back as the same frames where the format allows;
/// `None` when it would be blank.
fn stack_text(p: &Profile, stack: StackId, annotate: bool) -> Option<String> {
    let mut s = String::new();
    for (i, frame) in p.frames(stack).iter().enumerate() {
        if i > 0 {
            s.push(';');
        }
        if !is_nameless(frame) {
            for c in frame.name.chars() {
                s.push(match c {
                    ';' => ':',
                    '\n' | '\r' => ' ',
                    c => c,
                });
            }
        }
        if let Some(suffix) = frame.kind.suffix().filter(|_| annotate) {
            s.push_str(suffix);
        }
    }
    // A leaf cannot end in whitespace (trimmed by readers)...
    s.truncate(text::trim_end(&s).len());
    // ... nor in whitespace and a number (read as a count): join them with `_`.
    if let Some((head, token)) = text::split_last_token(&s)
        && text::parse_count(token) != Err(CountError::NotANumber)
    {
        let range = head.len()..s.len() - token.len();
        s.replace_range(range, "_");
    }
    match text::classify(&s) {
        LineKind::Blank => return None,
        // The root cannot look like a comment or a byte-order mark.
        LineKind::Comment => s.insert(0, '_'),
        LineKind::Other if s.starts_with('\u{feff}') => s.insert(0, '_'),
        LineKind::Other => {}
    }
    Some(s)
}

/// A frame that knows nothing (no function name, binary or address), such as an empty
/// folded frame: written as an empty frame rather than the `0x0` the model shows for it.
fn is_nameless(frame: &Frame<'_>) -> bool {
    frame.system_name.is_empty()
        && frame.mapping_file.is_empty()
        && frame.address == 0
        && frame.name == "0x0"
}

/// Writes a count; thousandths as a decimal without trailing zeros (`31230` -> `31.23`).
fn write_count(out: &mut String, v: i128, milli: bool) {
    if !milli || v % 1000 == 0 {
        let _ = write!(out, "{}", if milli { v / 1000 } else { v });
        return;
    }
    let frac = format!("{:03}", v % 1000);
    let _ = write!(out, "{}.{}", v / 1000, frac.trim_end_matches('0'));
}
