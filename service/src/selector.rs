//! Label selectors in PromQL's syntax, as Pyroscope and Grafana write them:
//! `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api", pod=~"api-.*"}`: an
//! optional metric name, then matchers `name op "value"` with `=`, `!=`, `=~`, `!~`
//! (regular expressions in RE2 syntax, anchored at both ends), values in double, single
//! or back quotes. `{}` and the empty text select everything. Bounded: at most
//! [`MAX_SELECTOR_BYTES`] of text and [`MAX_MATCHERS`] matchers, each regular expression
//! compiled (and so checked) under [`MAX_REGEX_BYTES`] before any query runs.

use crate::{Error, Result};
use flamedb_query::api::{MatchOp, Matcher};

/// Longest selector text.
pub const MAX_SELECTOR_BYTES: usize = 16 << 10;
/// Most matchers in one selector.
pub const MAX_MATCHERS: usize = 64;
/// Largest compiled regular expression.
pub const MAX_REGEX_BYTES: usize = 1 << 20;

/// A parsed selector: the metric name in front (if any) and the matchers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelSelector {
    /// The name before `{`, as in `process_cpu:cpu:nanoseconds:cpu:nanoseconds{...}`.
    pub metric: Option<String>,
    /// The matchers, in order.
    pub matchers: Vec<Matcher>,
}

fn bad(text: &str, why: &str) -> Error {
    Error::invalid(format!(
        "label selector {text:?}: {why}; write it like {{service_name=\"api\", pod=~\"api-.*\"}}"
    ))
}

/// Parses `text`.
pub fn parse_selector(text: &str) -> Result<LabelSelector> {
    if text.len() > MAX_SELECTOR_BYTES {
        return Err(Error::too_large(format!(
            "the label selector is {} bytes, more than {MAX_SELECTOR_BYTES}",
            text.len()
        )));
    }
    let b = text.as_bytes();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let ident = |i: &mut usize, metric: bool| -> Option<String> {
        let start = *i;
        while *i < b.len()
            && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || (metric && b[*i] == b':'))
        {
            *i += 1;
        }
        let id = &text[start..*i];
        (!id.is_empty() && !id.as_bytes()[0].is_ascii_digit()).then(|| id.to_string())
    };
    let mut out = LabelSelector::default();
    skip_ws(&mut i);
    if i < b.len() && b[i] != b'{' {
        out.metric = Some(ident(&mut i, true).ok_or_else(|| bad(text, "expected a name or {"))?);
        skip_ws(&mut i);
    }
    if i == b.len() {
        return Ok(out);
    }
    if b[i] != b'{' {
        return Err(bad(text, "expected {"));
    }
    i += 1;
    loop {
        skip_ws(&mut i);
        if i < b.len() && b[i] == b'}' {
            i += 1;
            break;
        }
        let name = ident(&mut i, false).ok_or_else(|| bad(text, "expected a label name"))?;
        skip_ws(&mut i);
        let op = match (b.get(i), b.get(i + 1)) {
            (Some(b'='), Some(b'~')) => MatchOp::Re,
            (Some(b'!'), Some(b'~')) => MatchOp::Nre,
            (Some(b'!'), Some(b'=')) => MatchOp::Ne,
            (Some(b'='), _) => MatchOp::Eq,
            _ => return Err(bad(text, &format!("expected =, !=, =~ or !~ after {name}"))),
        };
        i += if op == MatchOp::Eq { 1 } else { 2 };
        skip_ws(&mut i);
        let value = quoted(text, &mut i)?;
        if matches!(op, MatchOp::Re | MatchOp::Nre) {
            regex::RegexBuilder::new(&format!("^(?:{value})$"))
                .size_limit(MAX_REGEX_BYTES)
                .build()
                .map_err(|e| bad(text, &format!("bad regular expression {value:?}: {e}")))?;
        }
        out.matchers.push(Matcher { name, op, value });
        if out.matchers.len() > MAX_MATCHERS {
            return Err(Error::too_large(format!(
                "the label selector has more than {MAX_MATCHERS} matchers"
            )));
        }
        skip_ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                break;
            }
            _ => return Err(bad(text, "expected , or }")),
        }
    }
    skip_ws(&mut i);
    if i != b.len() {
        return Err(bad(text, "text after }"));
    }
    Ok(out)
}

/// A quoted value at `*i` (`"..."` and `'...'` with backslash escapes, `` `...` `` raw).
fn quoted(text: &str, i: &mut usize) -> Result<String> {
    let b = text.as_bytes();
    let Some(&q) = b.get(*i).filter(|c| matches!(c, b'"' | b'\'' | b'`')) else {
        return Err(bad(text, "expected a quoted value"));
    };
    *i += 1;
    let mut out = String::new();
    let mut chars = text[*i..].char_indices();
    while let Some((k, c)) = chars.next() {
        if c as u32 == u32::from(q) {
            *i += k + 1;
            return Ok(out);
        }
        if c == '\\' && q != b'`' {
            let Some((_, e)) = chars.next() else { break };
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                other => other,
            });
        } else {
            out.push(c);
        }
    }
    Err(bad(text, "a quoted value is not closed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            name: name.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn selectors_parse_as_promql_writes_them() {
        let s = parse_selector(
            r#"process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api", pod=~'api-.*',dc!="eu" , x!~`a\d`}"#,
        )
        .unwrap();
        assert_eq!(
            s.metric.as_deref(),
            Some("process_cpu:cpu:nanoseconds:cpu:nanoseconds")
        );
        assert_eq!(
            s.matchers,
            [
                m("service_name", MatchOp::Eq, "api"),
                m("pod", MatchOp::Re, "api-.*"),
                m("dc", MatchOp::Ne, "eu"),
                m("x", MatchOp::Nre, "a\\d"),
            ]
        );
        assert_eq!(parse_selector("{}").unwrap(), LabelSelector::default());
        assert_eq!(parse_selector("").unwrap(), LabelSelector::default());
        assert_eq!(
            parse_selector(" { a = \"q\\\"x\" , } ").unwrap().matchers,
            [m("a", MatchOp::Eq, "q\"x")]
        );
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (text, says) in [
            ("{a}", "expected =, !=, =~ or !~"),
            ("{a=b}", "expected a quoted value"),
            ("{a=\"b}", "not closed"),
            ("{a=\"b\" c=\"d\"}", "expected , or }"),
            ("{a=~\"(\"}", "bad regular expression"),
            ("{1a=\"b\"}", "expected a label name"),
            ("{a=\"b\"} x", "text after }"),
        ] {
            let e = parse_selector(text).unwrap_err();
            assert!(e.message.contains(says), "{text}: {}", e.message);
        }
        let many = format!(
            "{{{}}}",
            (0..65)
                .map(|i| format!("l{i}=\"v\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        assert_eq!(
            parse_selector(&many).unwrap_err().kind,
            crate::ErrorKind::TooLarge
        );
    }
}
