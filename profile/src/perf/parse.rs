//! Line-level parsing of `perf script` text: event lines, frame lines and dso rules.
//!
//! Everything works on bytes and borrows from the input: no allocation per line. Every
//! function here is linear in the length of its line.

/// An event line: `COMM [PID/]TID [[CPU]] [SECONDS.FRACTION:] [PERIOD] EVENT: [IP SYM (DSO)]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventLine<'a> {
    /// Command name; may contain spaces and digits (`FS Broker 5906`).
    pub comm: &'a [u8],
    /// Process id, when printed as `PID/TID`.
    pub pid: Option<&'a [u8]>,
    /// Thread id (perf's default output prints only this number).
    pub tid: &'a [u8],
    /// The timestamp in nanoseconds, when printed (perf: time since boot).
    pub time_nanos: Option<i64>,
    /// The period, when printed.
    pub period: Option<u64>,
    /// The event name without its final `:`, modifiers kept (`cycles:u`).
    pub event: &'a [u8],
    /// Text after the event (the single frame of an event without call chain), trimmed;
    /// empty when none.
    pub trailing: &'a [u8],
}

/// A frame line: `IP SYM (DSO)`, SYM possibly empty or containing spaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameLine<'a> {
    /// The instruction pointer.
    pub ip: u64,
    /// The symbol as printed (with its `+0x..` offset), trimmed; may be empty.
    pub sym: &'a [u8],
    /// The dso, without its parentheses.
    pub dso: &'a [u8],
}

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

pub(crate) fn trim(s: &[u8]) -> &[u8] {
    trim_end(trim_start(s))
}

pub(crate) fn trim_start(s: &[u8]) -> &[u8] {
    let i = s.iter().position(|&b| !is_ws(b)).unwrap_or(s.len());
    &s[i..]
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let i = s.iter().rposition(|&b| !is_ws(b)).map_or(0, |i| i + 1);
    &s[..i]
}

/// The first whitespace-delimited token of `s` (which starts with a non-space) and the
/// rest after it (starting with whitespace, or empty).
fn token(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s.iter().position(|&b| is_ws(b)).unwrap_or(s.len());
    s.split_at(end)
}

fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// `TID` or `PID/TID`: returns `(pid, tid)`.
fn pid_tid(word: &[u8]) -> Option<(Option<&[u8]>, &[u8])> {
    match word.iter().position(|&b| b == b'/') {
        Some(slash) => {
            let (pid, tid) = (&word[..slash], &word[slash + 1..]);
            (all_digits(pid) && all_digits(tid)).then_some((Some(pid), tid))
        }
        None => all_digits(word).then_some((None, word)),
    }
}

/// Parses an event line; `None` when it does not have the event shape.
///
/// COMM is everything before the first all-digit word (`TID` or `PID/TID`) after which the
/// rest of the line fits the shape, so command names with spaces and digits work. Each
/// candidate looks at no more than the next four tokens, so this is linear in the line.
pub(crate) fn parse_event_line(line: &[u8]) -> Option<EventLine<'_>> {
    let line = trim(line);
    let mut i = 0;
    loop {
        // The next word after whitespace: comm is never empty.
        let ws = i + line[i..].iter().position(|&b| is_ws(b))?;
        let start = ws + line[ws..].iter().position(|&b| !is_ws(b))?;
        let (word, rest) = token(&line[start..]);
        i = start + word.len();
        if rest.is_empty() {
            return None;
        }
        if let Some((pid, tid)) = pid_tid(word)
            && let Some(tail) = parse_tail(rest)
        {
            return Some(EventLine {
                comm: trim_end(&line[..start]),
                pid,
                tid,
                ..tail
            });
        }
    }
}

/// `\s+ ([CPU]\s+)? (SECS.FRAC:\s+)? (PERIOD\s+)? EVENT: (\s+ TRAILING)?` (comm, pid, tid
/// left empty).
fn parse_tail(rest: &[u8]) -> Option<EventLine<'_>> {
    let mut s = trim_start(rest);
    let (tok, after) = token(s);
    if tok.len() > 2
        && tok[0] == b'['
        && tok[tok.len() - 1] == b']'
        && all_digits(&tok[1..tok.len() - 1])
        && !after.is_empty()
    {
        s = trim_start(after);
    }
    let (tok, after) = token(s);
    let mut time_nanos = None;
    if !after.is_empty()
        && let Some(t) = tok.strip_suffix(b":").and_then(parse_time)
    {
        time_nanos = t;
        s = trim_start(after);
    }
    let (tok, after) = token(s);
    let mut period = None;
    if !after.is_empty() && all_digits(tok) {
        // A period beyond u64 is kept as the largest value.
        period = Some(
            std::str::from_utf8(tok)
                .ok()?
                .parse::<u64>()
                .unwrap_or(u64::MAX),
        );
        s = trim_start(after);
    }
    let (tok, after) = token(s);
    let event = tok.strip_suffix(b":").filter(|e| !e.is_empty())?;
    Some(EventLine {
        comm: &[],
        pid: None,
        tid: &[],
        time_nanos,
        period,
        event,
        trailing: trim(after),
    })
}

/// `SECS.FRAC` to nanoseconds: `Some(None)` when it has the shape but overflows.
fn parse_time(tok: &[u8]) -> Option<Option<i64>> {
    let dot = tok.iter().position(|&b| b == b'.')?;
    let (secs, frac) = (&tok[..dot], &tok[dot + 1..]);
    if !all_digits(secs) || !all_digits(frac) {
        return None;
    }
    let mut s: i64 = 0;
    for &d in secs {
        s = match s
            .checked_mul(10)
            .and_then(|s| s.checked_add(i64::from(d - b'0')))
        {
            Some(v) => v,
            None => return Some(None),
        };
    }
    let mut f: i64 = 0;
    for k in 0..9 {
        f = f * 10 + frac.get(k).map_or(0, |&d| i64::from(d - b'0'));
    }
    Some(s.checked_mul(1_000_000_000).and_then(|s| s.checked_add(f)))
}

/// Parses a frame line; `None` when it is not `IP SYM (DSO)` with a hexadecimal IP.
pub(crate) fn parse_frame_line(line: &[u8]) -> Option<FrameLine<'_>> {
    let line = trim(line);
    let (ip, rest) = token(line);
    let ip = parse_hex(ip)?;
    let rest = trim_start(rest);
    if rest.last() != Some(&b')') {
        return None;
    }
    // The dso is the last balanced parenthesised group (`(/tmp/x (deleted))`).
    let mut depth = 0usize;
    let mut open = None;
    for (i, &b) in rest.iter().enumerate().rev() {
        match b {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth == 0 {
                    open = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let open = open?;
    Some(FrameLine {
        ip,
        sym: trim_end(&rest[..open]),
        dso: &rest[open + 1..rest.len() - 1],
    })
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(d))
    })
}

/// `sym` without a final `+0x<hex>` offset (perf's `sym+0x1f`), as stackcollapse-perf and
/// inferno strip it.
pub(crate) fn strip_offset(sym: &[u8]) -> &[u8] {
    if let Some(at) = memchr::memmem::rfind(sym, b"+0x")
        && sym[at + 3..].iter().all(u8::is_ascii_hexdigit)
    {
        return &sym[..at];
    }
    sym
}

/// The event name without trailing perf modifiers (`cycles:uppp` -> `cycles`,
/// `cpu-clock:uhH` -> `cpu-clock`); a tracepoint (`sched:sched_switch`) is unchanged.
pub(crate) fn event_base(event: &[u8]) -> &[u8] {
    if let Some(colon) = event.iter().rposition(|&b| b == b':') {
        let mods = &event[colon + 1..];
        if colon > 0 && !mods.is_empty() && mods.iter().all(|b| b"ukhIGHpPSDWebR".contains(b)) {
            return &event[..colon];
        }
    }
    event
}

/// The file name of a dso path (`/lib/libc.so.6` -> `libc.so.6`).
pub(crate) fn basename(dso: &str) -> &str {
    dso.rsplit('/').next().unwrap_or(dso)
}

/// Whether perf's dso names JIT-compiled code: a perf map (`/tmp/perf-PID.map`), a jitdump
/// image (`.../jitted-PID-N.so`) or perf's `[JIT] tid N`.
pub(crate) fn is_jit_dso(dso: &str) -> bool {
    (dso.starts_with("/tmp/perf-") && dso.ends_with(".map"))
        || (dso.contains("/jitted-") && dso.ends_with(".so"))
        || dso.starts_with("[JIT]")
}

/// Whether the dso is the kernel: `[kernel.kallsyms]`, a module (`[nf_conntrack]`,
/// `x.ko`) or a vmlinux image, but not a user-space pseudo mapping (`[vdso]`, `[heap]`, ...).
pub(crate) fn is_kernel_dso(dso: &str) -> bool {
    const USER: [&str; 11] = [
        "[unknown]",
        "[vdso",
        "[vvar",
        "[vsyscall",
        "[heap",
        "[stack",
        "[anon",
        "[jit",
        "[JIT]",
        "[uprobes",
        "[sigpage",
    ];
    inferno_is_kernel(dso) && !USER.iter().any(|u| dso.starts_with(u))
}

/// inferno's and stackcollapse-perf's kernel rule, used by the collapser to annotate
/// `_[k]` exactly as they do (it counts `[vdso]` as kernel).
pub(crate) fn inferno_is_kernel(dso: &str) -> bool {
    (dso.starts_with('[') || dso.ends_with(".ko") || is_vmlinux(dso)) && dso != "[unknown]"
}

/// `.../vmlinux` optionally followed by a version made of `[A-Za-z0-9._-]`.
fn is_vmlinux(dso: &str) -> bool {
    dso.rfind("vmlinux").is_some_and(|at| {
        dso[at..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// comm, pid, tid, time, period, event, trailing.
    type Ev<S> = (S, Option<S>, S, Option<i64>, Option<u64>, S, S);

    fn ev(line: &str) -> Option<Ev<String>> {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        parse_event_line(line.as_bytes()).map(|e| {
            (
                s(e.comm),
                e.pid.map(s),
                s(e.tid),
                e.time_nanos,
                e.period,
                s(e.event),
                s(e.trailing),
            )
        })
    }

    #[test]
    fn event_lines_of_every_shape() {
        let cases: &[(&str, Ev<&str>)] = &[
            (
                "java 25607 4794564.109216: cycles:",
                (
                    "java",
                    None,
                    "25607",
                    Some(4_794_564_109_216_000),
                    None,
                    "cycles",
                    "",
                ),
            ),
            (
                "java 12688 [002] 6544038.708352: cpu-clock:",
                (
                    "java",
                    None,
                    "12688",
                    Some(6_544_038_708_352_000),
                    None,
                    "cpu-clock",
                    "",
                ),
            ),
            (
                "V8 WorkerThread 24636/25607 [000] 94564.109216: cycles:",
                (
                    "V8 WorkerThread",
                    Some("24636"),
                    "25607",
                    Some(94_564_109_216_000),
                    None,
                    "cycles",
                    "",
                ),
            ),
            (
                "vote   913    72.176760:     257597 cycles:uppp:",
                (
                    "vote",
                    None,
                    "913",
                    Some(72_176_760_000),
                    Some(257_597),
                    "cycles:uppp",
                    "",
                ),
            ),
            (
                "func_ab 15294 cpu-clock: ",
                ("func_ab", None, "15294", None, None, "cpu-clock", ""),
            ),
            (
                "FS Broker 5906  7564/7598  2574592.949428:          1 cycles:ppp: ",
                (
                    "FS Broker 5906",
                    Some("7564"),
                    "7598",
                    Some(2_574_592_949_428_000),
                    Some(1),
                    "cycles:ppp",
                    "",
                ),
            ),
            (
                "Gecko\t25122 [007] 115539.936601:\t\t1000000 task-clock:u:",
                (
                    "Gecko",
                    None,
                    "25122",
                    Some(115_539_936_601_000),
                    Some(1_000_000),
                    "task-clock:u",
                    "",
                ),
            ),
            (
                "  false 39654 19115.489713:  1 cycles:u:  ffffffff9b201293 [unknown] ([unknown])",
                (
                    "false",
                    None,
                    "39654",
                    Some(19_115_489_713_000),
                    Some(1),
                    "cycles:u",
                    "ffffffff9b201293 [unknown] ([unknown])",
                ),
            ),
            (
                "swapper     0 [001]  1333.768770: cpu-clock: ",
                (
                    "swapper",
                    None,
                    "0",
                    Some(1_333_768_770_000),
                    None,
                    "cpu-clock",
                    "",
                ),
            ),
            (
                "a 1 2.123456789: 5 ev:",
                ("a", None, "1", Some(2_123_456_789), Some(5), "ev", ""),
            ),
        ];
        for (line, want) in cases {
            let want = (
                want.0.to_string(),
                want.1.map(str::to_string),
                want.2.to_string(),
                want.3,
                want.4,
                want.5.to_string(),
                want.6.to_string(),
            );
            assert_eq!(ev(line), Some(want), "{line}");
        }
        for bad in [
            "",
            "java",
            "java 123",
            "123 cycles:",
            "java abc cycles:",
            "\t401b97 main+0x1f (./x)",
            "java 1 2 3 4",
        ] {
            assert_eq!(ev(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn frame_lines() {
        let f = parse_frame_line(
            b"\t    7f533952bc77 _dl_check_map_versions+0x597 (/usr/lib/ld-2.28.so)",
        )
        .unwrap();
        assert_eq!(
            (f.ip, f.sym, f.dso),
            (
                0x7f53_3952_bc77,
                &b"_dl_check_map_versions+0x597"[..],
                &b"/usr/lib/ld-2.28.so"[..]
            )
        );
        let f = parse_frame_line(b"  b3cea6c4\tLock::unlock() (/system/lib/libc.so)").unwrap();
        assert_eq!(
            (f.sym, f.dso),
            (&b"Lock::unlock()"[..], &b"/system/lib/libc.so"[..])
        );
        let f = parse_frame_line(b"7f1e2215d058  (/lib/libc-2.15.so)").unwrap();
        assert_eq!(f.sym, b"");
        let f = parse_frame_line(b"1 f (/tmp/x (deleted))").unwrap();
        assert_eq!((f.sym, f.dso), (&b"f"[..], &b"/tmp/x (deleted)"[..]));
        for bad in [
            "THIS_IS_A_WEIRD_LINE",
            "7fa4c73bc184 start_thread (/lib/x86_64",
            "xyz f (dso)",
            "1 f dso)",
            "",
        ] {
            assert_eq!(parse_frame_line(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn names_and_dsos() {
        assert_eq!(strip_offset(b"main+0x1f"), b"main");
        assert_eq!(strip_offset(b"a+0xzz"), b"a+0xzz");
        assert_eq!(event_base(b"cycles:uppp"), b"cycles");
        assert_eq!(event_base(b"sched:sched_switch"), b"sched:sched_switch");
        assert_eq!(event_base(b"cpu-clock"), b"cpu-clock");
        assert!(is_kernel_dso("[kernel.kallsyms]") && is_kernel_dso("/boot/vmlinux-5.4.14-cf"));
        assert!(!is_kernel_dso("[vdso]") && inferno_is_kernel("[vdso]"));
        assert!(!inferno_is_kernel("[unknown]") && !inferno_is_kernel("/usr/lib/libc.so"));
        assert!(
            is_jit_dso("/tmp/perf-4771.map")
                && is_jit_dso("/x/jitted-1-2.so")
                && !is_jit_dso("/lib/x.so")
        );
    }
}
