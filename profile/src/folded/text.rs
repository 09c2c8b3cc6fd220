//! The text layer of folded stacks: byte-order marks and UTF-16, one line's parts, counts.
//!
//! Everything here is pure and allocation-free except [`to_text`] for UTF-16 or invalid
//! UTF-8 input.

use std::borrow::Cow;

/// The text encoding the input was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte-order mark.
    #[default]
    Utf8,
    /// UTF-16 little endian (byte-order mark `FF FE`).
    Utf16Le,
    /// UTF-16 big endian (byte-order mark `FE FF`).
    Utf16Be,
}

/// The input as text: UTF-16 with a byte-order mark is decoded, a UTF-8 byte-order mark
/// dropped. Invalid UTF-8, lone surrogates and an odd trailing UTF-16 byte become U+FFFD.
pub fn to_text(data: &[u8]) -> (Cow<'_, str>, TextEncoding) {
    if let Some(rest) = data.strip_prefix(&[0xff, 0xfe]) {
        return (
            Cow::Owned(utf16(rest, u16::from_le_bytes)),
            TextEncoding::Utf16Le,
        );
    }
    if let Some(rest) = data.strip_prefix(&[0xfe, 0xff]) {
        return (
            Cow::Owned(utf16(rest, u16::from_be_bytes)),
            TextEncoding::Utf16Be,
        );
    }
    let data = data.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(data);
    // `from_utf8` is the fast validator; the lossy path is only for broken input.
    match std::str::from_utf8(data) {
        Ok(s) => (Cow::Borrowed(s), TextEncoding::Utf8),
        Err(_) => (String::from_utf8_lossy(data), TextEncoding::Utf8),
    }
}

fn utf16(data: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let chunks = data.chunks_exact(2);
    let odd = !chunks.remainder().is_empty();
    let units = chunks.map(|c| unit([c[0], c[1]]));
    let mut out: String = char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    if odd {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// Whitespace as the folded conventions see it (ASCII `\s` without the line feed).
#[inline]
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

/// `s` without trailing whitespace (this drops the CR of a CRLF line end too).
#[inline]
pub fn trim_end(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while end > 0 && is_space(b[end - 1]) {
        end -= 1;
    }
    s.get(..end).unwrap_or(s)
}

/// What a (trailing-whitespace-trimmed) line is when it is not a sample line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Only whitespace.
    Blank,
    /// First non-blank characters are `#` or `//`.
    Comment,
    /// Something else: a candidate sample line.
    Other,
}

/// Classifies a trimmed line.
#[inline]
pub fn classify(line: &str) -> LineKind {
    let b = line.as_bytes();
    let start = b.iter().position(|&c| !is_space(c));
    match start.and_then(|i| b.get(i..)) {
        None => LineKind::Blank,
        Some([b'#', ..]) | Some([b'/', b'/', ..]) => LineKind::Comment,
        Some(_) => LineKind::Other,
    }
}

/// A count as written, exactly: `milli` is the count times 1000, rounded half away from
/// zero past the third decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The count in thousandths.
    pub milli: i128,
    /// Whether a decimal digit after the point is not zero.
    pub fractional: bool,
}

/// Why a count could not be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountError {
    /// Not `\d+(\.\d*)?`.
    NotANumber,
    /// More than fits in 64 bits.
    TooLarge,
}

/// Parses `\d+(\.\d*)?` exactly.
pub fn parse_count(s: &[u8]) -> Result<Count, CountError> {
    let (int, frac) = match memchr::memchr(b'.', s) {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, &[][..]),
    };
    if int.is_empty() {
        return Err(CountError::NotANumber);
    }
    let mut whole: u64 = 0;
    for &d in int {
        if !d.is_ascii_digit() {
            return Err(CountError::NotANumber);
        }
        whole = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u64::from(d - b'0')))
            .ok_or(CountError::TooLarge)?;
    }
    let mut milli: i128 = i128::from(whole) * 1000;
    let mut fractional = false;
    let mut scale = 100;
    for (i, &d) in frac.iter().enumerate() {
        if !d.is_ascii_digit() {
            return Err(CountError::NotANumber);
        }
        let v = i128::from(d - b'0');
        fractional |= v != 0;
        match i {
            0..=2 => {
                milli += v * scale;
                scale /= 10;
            }
            3 if v >= 5 => milli += 1,
            _ => {}
        }
    }
    Ok(Count { milli, fractional })
}

/// Splits a trimmed line at its last whitespace run into the text before it (not empty,
/// ending in a non-space) and the last token. `None` without such a split.
#[inline]
pub fn split_last_token(line: &str) -> Option<(&str, &[u8])> {
    let b = line.as_bytes();
    let tok_start = b.iter().rposition(|&c| is_space(c))? + 1;
    let mut end = tok_start;
    while end > 0 && is_space(b[end - 1]) {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    Some((line.get(..end)?, b.get(tok_start..)?))
}

/// Splits a trimmed candidate line into `(stack, count)`: the count is the last token, the
/// stack everything before the whitespace run before it. `None` when the line is not
/// `^(.*\S)\s+(\d+(\.\d*)?)$`; an error when the count is too large for 64 bits.
#[inline]
pub fn split_count(line: &str) -> Option<Result<(&str, Count), CountError>> {
    let (stack, token) = split_last_token(line)?;
    match parse_count(token) {
        Ok(count) => Some(Ok((stack, count))),
        Err(CountError::NotANumber) => None,
        Err(e) => Some(Err(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<(i128, bool), CountError> {
        parse_count(s.as_bytes()).map(|c| (c.milli, c.fractional))
    }

    #[test]
    fn counts_are_parsed_exactly() {
        assert_eq!(c("31"), Ok((31_000, false)));
        assert_eq!(c("31.23"), Ok((31_230, true)));
        assert_eq!(c("6."), Ok((6_000, false)));
        assert_eq!(c("2.0"), Ok((2_000, false)));
        assert_eq!(c("14.2343983248722834234"), Ok((14_234, true)));
        assert_eq!(c("0.0005"), Ok((1, true)));
        assert_eq!(c("0.00049999"), Ok((0, true)));
        assert_eq!(c("1.9995"), Ok((2_000, true)));
        assert_eq!(
            c("18446744073709551615"),
            Ok((18_446_744_073_709_551_615_000, false))
        );
        assert_eq!(c("18446744073709551616"), Err(CountError::TooLarge));
        for bad in ["", ".5", "1.2.3", "12V.43", "-1", "1e3", "١"] {
            assert_eq!(c(bad), Err(CountError::NotANumber), "{bad}");
        }
    }

    #[test]
    fn lines_split_at_the_last_whitespace_run() {
        fn ok(l: &str) -> Option<Result<(&str, i128), CountError>> {
            split_count(l).map(|r| r.map(|(s, c)| (s, c.milli)))
        }
        assert_eq!(ok("a;b c 12"), Some(Ok(("a;b c", 12_000))));
        assert_eq!(ok("a;b \t 1.5"), Some(Ok(("a;b", 1_500))));
        assert_eq!(ok("a;b 1 2"), Some(Ok(("a;b 1", 2_000))));
        assert_eq!(ok(" a 1"), Some(Ok((" a", 1_000))));
        assert_eq!(ok("; 1"), Some(Ok((";", 1_000))));
        for bad in [
            "a;b",
            "12",
            "  12",
            "a;b x12",
            "THIS IS A BAD FRACTIONAL LINE 12V.43",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn lines_are_classified() {
        assert_eq!(classify(""), LineKind::Blank);
        assert_eq!(classify(" \t"), LineKind::Blank);
        assert_eq!(classify("  # x 1"), LineKind::Comment);
        assert_eq!(classify("// x"), LineKind::Comment);
        assert_eq!(classify("/x 1"), LineKind::Other);
        assert_eq!(trim_end("a 1 \t\r"), "a 1");
    }

    #[test]
    fn text_encodings() {
        let le = [0xff, 0xfe, b'a', 0, b' ', 0, b'1', 0];
        assert_eq!(to_text(&le), (Cow::Borrowed("a 1"), TextEncoding::Utf16Le));
        let be = [0xfe, 0xff, 0, b'a', 0xd8];
        assert_eq!(to_text(&be).0, "a\u{fffd}");
        let lone = [0xff, 0xfe, 0x00, 0xd8, b'x', 0];
        assert_eq!(to_text(&lone).0, "\u{fffd}x");
        assert_eq!(to_text(b"\xef\xbb\xbfa 1").0, "a 1");
        assert_eq!(to_text(b"a\xff 1").0, "a\u{fffd} 1");
    }
}
