//! Folded output of a decoded `perf script` profile, equal to inferno's `collapse-perf`.
//!
//! The model keeps perf's names (offsets stripped, see [`super`]); the name tidying of
//! inferno and stackcollapse-perf is applied here, at output time: finishing half-demangled
//! Rust symbols, cutting argument lists (but not Go's `.(*T)` or C++'s
//! `(anonymous namespace)`), `;` to `:`, Java's leading `L`, splitting `->` inlined frames,
//! and the `_[k]`/`_[j]`/`_[i]` annotations.

use super::parse;
use crate::{LabelSetId, LabelValue, Line, LocationId, Profile, StackId, StrId};
use hashbrown::HashMap;
use std::borrow::Cow;
use std::fmt::Write as _;

/// Options of [`collapse`], those of inferno's `collapse-perf`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CollapseOptions {
    /// Suffix kernel frames with `_[k]` (dso `[...]`, `*.ko` or `vmlinux*`, as inferno).
    pub annotate_kernel: bool,
    /// Suffix JIT frames with `_[j]` (dso `/tmp/perf-*.map` or `*/jitted-*.so`).
    pub annotate_jit: bool,
    /// Root frame `comm-PID` instead of `comm` (`comm-?` when perf printed no PID).
    pub include_pid: bool,
    /// Root frame `comm-PID/TID`; implies `include_pid`.
    pub include_tid: bool,
    /// Name frames without symbol `[dso <ip>]` instead of `[dso]`.
    pub include_addrs: bool,
}

impl CollapseOptions {
    /// inferno's `--all`: kernel and JIT annotations.
    pub fn all() -> Self {
        CollapseOptions {
            annotate_kernel: true,
            annotate_jit: true,
            ..Self::default()
        }
    }
}

/// Folded stacks (`comm;root;...;leaf WEIGHT`, one line per distinct stack, sorted) of a
/// profile decoded by [`decode`](super::decode). The weight is the period column when the
/// profile has one (an event without a printed period weighs 1), else the event count.
/// Samples whose stack renders empty (no frames, or only malformed ones) are left out, as
/// inferno does.
pub fn collapse(p: &Profile, opts: &CollapseOptions) -> String {
    let n = p.sample_types.len();
    let column = usize::from(n > 1);
    let mut per_key: HashMap<(StackId, LabelSetId), u64> = HashMap::new();
    for (i, s) in p.samples.iter().enumerate() {
        let v = p.values.get(i * n + column).copied().unwrap_or(0).max(0) as u64;
        let sum = per_key.entry((s.stack, s.labels)).or_insert(0);
        *sum = sum.saturating_add(v);
    }
    let keys = ["comm", "pid", "tid"].map(|k| p.strings.lookup(k));
    let mut folded: HashMap<String, u64> = HashMap::new();
    let mut locations = Vec::new();
    let mut buf = String::new();
    for ((stack, labels), weight) in per_key {
        let [comm, pid, tid] = keys.map(|k| label(p, labels, k));
        buf.clear();
        buf.push_str(&comm.unwrap_or("").replace(' ', "_"));
        if opts.include_tid {
            let _ = write!(buf, "-{}/{}", pid.unwrap_or("?"), tid.unwrap_or("?"));
        } else if opts.include_pid {
            let _ = write!(buf, "-{}", pid.unwrap_or("?"));
        }
        let java = comm.is_some_and(|c| c.starts_with("java"));
        p.stacks.locations_into(stack, &mut locations);
        let mut any = false;
        for &loc in &locations {
            any |= render_location(p, loc, java, opts, &mut buf);
        }
        if any {
            let sum = folded.entry_ref(buf.as_str()).or_insert(0);
            *sum = sum.saturating_add(weight);
        }
    }
    let mut lines: Vec<(String, u64)> = folded.into_iter().collect();
    lines.sort_unstable();
    let mut out = String::with_capacity(lines.iter().map(|(s, _)| s.len() + 12).sum());
    for (stack, count) in lines {
        let _ = writeln!(out, "{stack} {count}");
    }
    out
}

/// The string value of label `key` of a label set.
fn label(p: &Profile, set: LabelSetId, key: Option<StrId>) -> Option<&str> {
    let key = key?;
    p.label_sets.get(set).iter().find_map(|l| match l.value {
        LabelValue::Str(v) if l.key == key => Some(p.strings.get(v)),
        _ => None,
    })
}

/// Appends `;name` for each frame of a location (inlined lines expanded, outermost first);
/// returns whether anything was appended.
fn render_location(
    p: &Profile,
    loc: LocationId,
    java: bool,
    opts: &CollapseOptions,
    buf: &mut String,
) -> bool {
    let location = &p.locations[loc.index()];
    let dso = location
        .mapping
        .and_then(|m| p.mappings.get(m.index()))
        .map_or("", |m| p.strings.get(m.filename));
    let lines = p.location_lines(loc);
    let outer = lines.last().copied().unwrap_or_default();
    // stackcollapse-perf skips "process names": symbols starting with '('.
    if raw_name(p, &outer).0.starts_with('(') {
        return false;
    }
    let kernel = opts.annotate_kernel && parse::inferno_is_kernel(dso);
    let jit = opts.annotate_jit && inferno_is_jit(dso);
    let mut first = true;
    for line in lines.iter().rev().chain(lines.is_empty().then_some(&outer)) {
        let (name, unknown) = raw_name(p, line);
        let name: Cow<'_, str> = if unknown && opts.include_addrs {
            let base = if dso == "[unknown]" {
                "unknown"
            } else {
                parse::basename(dso)
            };
            Cow::Owned(format!("[{base} <{:x}>]", location.address))
        } else {
            Cow::Borrowed(name)
        };
        let fixed = fix_rust_symbol(&name);
        for part in fixed.split("->") {
            let mut f = tidy_generic(part);
            if java && f.starts_with('L') && f.contains('/') {
                f.remove(0);
            }
            if !first {
                if !f.contains("_[i]") {
                    f.push_str("_[i]");
                }
            } else if kernel {
                f.push_str("_[k]");
            } else if jit && !f.contains("_[j]") {
                f.push_str("_[j]");
            }
            first = false;
            buf.push(';');
            buf.push_str(&f);
        }
    }
    true
}

/// A line's name as decoded, and whether it stands for perf's `[unknown]` symbol. A frame
/// printed without symbol is `" "`, as stackcollapse-perf names it.
fn raw_name<'p>(p: &'p Profile, line: &Line) -> (&'p str, bool) {
    match line.function.and_then(|f| p.functions.get(f.index())) {
        Some(f) => {
            let name = p.strings.get(f.name);
            (name, f.system_name.is_empty() && name.starts_with('['))
        }
        None => (" ", false),
    }
}

/// inferno's JIT rule (without perf's `[JIT]`, which inferno counts as kernel).
fn inferno_is_jit(dso: &str) -> bool {
    (dso.starts_with("/tmp/perf-") && dso.ends_with(".map"))
        || (dso.contains("/jitted-") && dso.ends_with(".so"))
}

/// `$..$` escapes of legacy Rust mangling.
const RUST_ESCAPES: [(&str, &str); 20] = [
    ("$SP$", "@"),
    ("$BP$", "*"),
    ("$RF$", "&"),
    ("$LT$", "<"),
    ("$GT$", ">"),
    ("$LP$", "("),
    ("$RP$", ")"),
    ("$C$", ","),
    ("$u7e$", "~"),
    ("$u20$", " "),
    ("$u27$", "'"),
    ("$u3d$", "="),
    ("$u5b$", "["),
    ("$u5d$", "]"),
    ("$u7b$", "{"),
    ("$u7d$", "}"),
    ("$u3b$", ";"),
    ("$u2b$", "+"),
    ("$u21$", "!"),
    ("$u22$", "\""),
];

/// Finishes a Rust symbol perf left half-demangled: one ending in a `h<16 hex>` hash loses
/// it, `..` becomes `::` and `$LT$`-style escapes are decoded.
fn fix_rust_symbol(sym: &str) -> Cow<'_, str> {
    let b = sym.as_bytes();
    let is_hash = b.len() >= 17
        && b[b.len() - 17] == b'h'
        && b[b.len() - 16..].iter().all(u8::is_ascii_hexdigit);
    if !is_hash {
        return Cow::Borrowed(sym);
    }
    // The hash is ASCII, so its start is a char boundary.
    let mut rest = &sym[..sym.len() - 17];
    rest = rest.strip_suffix("::").unwrap_or(rest);
    if rest.starts_with("_$") {
        rest = &rest[1..];
    }
    let mut out = String::with_capacity(rest.len());
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("..") {
            out.push_str("::");
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            out.push('.');
            rest = r;
        } else if rest.starts_with('$') {
            match RUST_ESCAPES.iter().find(|(code, _)| rest.starts_with(code)) {
                Some((code, text)) => {
                    out.push_str(text);
                    rest = &rest[code.len()..];
                }
                None => {
                    out.push_str(rest);
                    break;
                }
            }
        } else {
            let end = rest.find(['$', '.']).unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        }
    }
    Cow::Owned(out)
}

/// `;` to `:` and the argument list cut: the first top-level `(` ends the name unless it
/// follows a `.` (Go's `pkg.(*T).M`) or opens `(anonymous namespace)`.
fn tidy_generic(name: &str) -> String {
    let mut name = name.replace(';', ":");
    let b = name.as_bytes();
    let mut depth: i64 = 0;
    let mut cut = b.len();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'<' | b'{' | b'[' => depth += 1,
            b'>' | b'}' | b']' | b')' => depth -= 1,
            b'(' => {
                let go_method = i > 0 && b[i - 1] == b'.';
                if depth == 0 && !go_method && !name[i..].starts_with("(anonymous namespace)") {
                    cut = i;
                    break;
                }
                depth += 1;
            }
            _ => {}
        }
    }
    name.truncate(cut);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_rules() {
        let cases = [
            (
                "go/build.(*importReader).readByte",
                "go/build.(*importReader).readByte",
            ),
            ("foo<Vec::<usize>>(Vec<usize>)", "foo<Vec::<usize>>"),
            (".run()V", ".run"),
            ("base(BasicType) const", "base"),
            (
                "std::function<void (int, int)>::operator(int, int)",
                "std::function<void (int, int)>::operator",
            ),
            (
                "{lambda(int, int)#2}::operator()",
                "{lambda(int, int)#2}::operator",
            ),
            (
                "(anonymous namespace)::myBar()",
                "(anonymous namespace)::myBar",
            ),
            ("a;b", "a:b"),
        ];
        for (input, want) in cases {
            assert_eq!(tidy_generic(input), want, "{input}");
        }
    }

    #[test]
    fn rust_symbols() {
        assert_eq!(
            fix_rust_symbol("std::sys::unix::fs::File::open::hb90e1c1c787080f0"),
            "std::sys::unix::fs::File::open"
        );
        assert_eq!(
            fix_rust_symbol(
                "_$LT$std..fs..ReadDir$u20$as$u20$core..iter..Iterator$GT$::next::hc14f1750ca79129b"
            ),
            "<std::fs::ReadDir as core::iter::Iterator>::next"
        );
        assert_eq!(fix_rust_symbol("_ZN4test1a2bcE"), "_ZN4test1a2bcE");
        assert_eq!(fix_rust_symbol("é::h0123456789abcdef"), "é");
    }
}
