//! Hand-written `perf script` snippets: decoding and collapsing.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::{Error, FrameKind, LabelValue, Summary};

fn dec(text: &str) -> Profile {
    decode(text.as_bytes(), &PerfOptions::default()).unwrap()
}

fn folded(text: &str, opts: CollapseOptions) -> String {
    collapse(&dec(text), &opts)
}

fn labels(p: &Profile, i: usize) -> Vec<(String, String)> {
    p.labels(&p.samples[i])
        .iter()
        .map(|l| {
            let v = match l.value {
                LabelValue::Str(s) => p.strings.get(s).to_string(),
                LabelValue::Num { value, .. } => value.to_string(),
            };
            (p.strings.get(l.key).to_string(), v)
        })
        .collect()
}

const TWO_THREADS: &str = "\
FS Broker 5906  7564/7598  2574592.949428:     250000 cpu-clock:uhH:
\t    7f0000000010 leaf_fn+0x10 (/usr/lib/libfoo.so)
\t    7f0000000020 [unknown] (/usr/lib/libbar.so.1)
\t    ffffffff81000000 do_syscall_64+0x5b ([kernel.kallsyms])
\t    7f0000000030 main (/usr/bin/app)

app 42 [001] 12.5: 500000 cpu-clock:uhH:
\t7f0000000030 main (/usr/bin/app)
";

#[test]
fn comm_with_spaces_labels_time_and_period() {
    let p = dec(TWO_THREADS);
    assert_eq!(p.samples.len(), 2);
    assert_eq!(
        labels(&p, 0),
        [("comm", "FS Broker 5906"), ("pid", "7564"), ("tid", "7598")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(
        labels(&p, 1),
        [("comm", "app"), ("tid", "42")].map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(p.samples[0].time_nanos, Some(2_574_592_949_428_000));
    assert_eq!(p.samples[1].time_nanos, Some(12_500_000_000));
    let s = Summary::of(&p);
    let types = [("samples", "count"), ("cpu-clock", "nanoseconds")]
        .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(s.sample_types, types);
    assert_eq!(s.value_sums, vec![2, 750_000]);
    assert_eq!(
        s.period_type,
        Some(("cpu-clock".into(), "nanoseconds".into()))
    );
    assert_eq!(p.period, 0, "periods differ");
    // Root first; offsets stripped; [unknown] named after the dso; kinds.
    let names = p.frame_names(p.samples[0].stack);
    assert_eq!(names, ["main", "do_syscall_64", "[libbar.so.1]", "leaf_fn"]);
    let frames = p.frames(p.samples[0].stack);
    assert_eq!(frames[1].kind, FrameKind::Kernel);
    assert_eq!(frames[1].address, 0xffff_ffff_8100_0000);
    assert_eq!(frames[2].mapping_file, "/usr/lib/libbar.so.1");
    assert_eq!(frames[0].kind, FrameKind::Unspecified);
}

#[test]
fn collapse_options() {
    let plain = folded(TWO_THREADS, CollapseOptions::default());
    assert_eq!(
        plain,
        "FS_Broker_5906;main;do_syscall_64;[libbar.so.1];leaf_fn 250000\napp;main 500000\n"
    );
    let all = folded(TWO_THREADS, CollapseOptions::all());
    assert!(all.contains(";do_syscall_64_[k];"), "{all}");
    let tid = CollapseOptions {
        include_tid: true,
        include_addrs: true,
        ..CollapseOptions::default()
    };
    let out = folded(TWO_THREADS, tid);
    assert!(
        out.starts_with(
            "FS_Broker_5906-7564/7598;main;do_syscall_64;[libbar.so.1 <7f0000000020>];"
        ),
        "{out}"
    );
    assert!(out.contains("app-?/42;main 500000"), "{out}");
}

#[test]
fn header_lines_and_events_with_their_frame_on_the_event_line() {
    let text = "\
# ========
# hostname : box
# cmdline : /usr/bin/perf record -e cycles:u
# ========
#
           false 39654 19115.489713:          1 cycles:u:  ffffffff9b201293 [unknown] ([unknown])
           false 39654 19115.489719:          3 cycles:      7fa68b1f2d84 _dl_start+0x4 (/usr/lib/ld-2.31.so)
";
    let p = dec(text);
    assert_eq!(p.samples.len(), 2);
    assert_eq!(
        folded(text, CollapseOptions::default()),
        "false;[unknown] 1\nfalse;_dl_start 3\n"
    );
    let comments: Vec<&str> = p.comments.iter().map(|&c| p.strings.get(c)).collect();
    assert_eq!(
        comments,
        ["hostname: box", "cmdline: /usr/bin/perf record -e cycles:u"]
    );
}

const TWO_EVENTS: &str = "\
noploop 21796 [001] 1410597.984841: instructions:
\t4004f4 main (/tmp/noploop)

noploop 21796 [001] 1410597.984850: cycles:
\t4004f4 main (/tmp/noploop)
\t4004f0 _start (/tmp/noploop)

noploop 21796 [001] 1410597.984860: instructions:
\t4004f0 _start (/tmp/noploop)
";

#[test]
fn one_event_type_is_kept() {
    let p = dec(TWO_EVENTS);
    assert_eq!(p.samples.len(), 2);
    assert_eq!(Summary::of(&p).sample_types.len(), 1, "no period printed");
    assert_eq!(
        p.period_type.map(|vt| p.strings.get(vt.kind)),
        Some("instructions")
    );
    let cycles = decode(
        TWO_EVENTS.as_bytes(),
        &PerfOptions {
            event: Some("cycles".into()),
            ..PerfOptions::default()
        },
    )
    .unwrap();
    assert_eq!(cycles.samples.len(), 1);
    assert_eq!(
        cycles.frame_names(cycles.samples[0].stack),
        ["_start", "main"]
    );
}

#[test]
fn modifiers_are_matched_exactly_only_when_asked() {
    let text = "a 1 1.0: 5 cycles:u:\n\t1 f (/x)\n\na 1 1.1: 7 cycles:k:\n\t2 g (/x)\n";
    assert_eq!(dec(text).samples.len(), 2);
    let only = |e: &str| {
        let o = PerfOptions {
            event: Some(e.into()),
            ..PerfOptions::default()
        };
        decode(text.as_bytes(), &o).unwrap().samples.len()
    };
    assert_eq!(
        (only("cycles:k"), only("cycles"), only("instructions")),
        (1, 2, 0)
    );
}

#[test]
fn blank_line_inside_an_event_and_malformed_lines() {
    // The blank line ends the first event; the frame after it is not an event line.
    let text = "\
inline-counter 26037  8801.193547:     250000 cpu-clock:uhH:
\t          401b97 main+0x1f (./inline-counter)

inline-counter 26037  8801.194312:     250000 cpu-clock:uhH:

\t          401b94 main+0x1c (./inline-counter)
inline-counter 26037  8801.194312:     250000 cpu-clock:uhH:
\t          THIS_IS_A_WEIRD_LINE
";
    let p = dec(text);
    // Three events: one frame, none (its frame line follows the blank line and is not an
    // event line), one malformed frame. Only the first has a stack to collapse.
    assert_eq!(p.samples.len(), 3);
    assert_eq!(
        folded(text, CollapseOptions::default()),
        "inline-counter;main 250000\n"
    );
    let comments: Vec<&str> = p.comments.iter().map(|&c| p.strings.get(c)).collect();
    assert!(
        comments
            .iter()
            .any(|c| c.contains("1 lines in event position")),
        "{comments:?}"
    );
    assert!(
        comments
            .iter()
            .any(|c| c.contains("1 malformed frame lines (first at line 8)")),
        "{comments:?}"
    );
}

#[test]
fn java_inlining_splits_jit_symbols() {
    let text = "\
java 10488  9962.513682:   10101010 cpu-clock:
\t    7f89cc467bf0 Ljava/io/PrintStream;::println->Ljava/io/PrintStream;::print+0x0 (/tmp/perf-10487.map)
\t    7f89cc467000 Lcom/Foo;::run()V (/tmp/perf-10487.map)
";
    let p = dec(text);
    let frames = p.frames(p.samples[0].stack);
    let names: Vec<(&str, FrameKind)> = frames.iter().map(|f| (f.name.as_ref(), f.kind)).collect();
    assert_eq!(
        names,
        [
            ("Lcom/Foo;::run()V", FrameKind::Jit),
            ("Ljava/io/PrintStream;::println", FrameKind::Jit),
            ("Ljava/io/PrintStream;::print", FrameKind::Jit),
        ]
    );
    // One location, innermost line first. (`Frame::inlined` is not asserted here: on this
    // base the model sets it on the wrong lines; fixed separately in 9d7744b.)
    let leaf = p.stacks.node(p.samples[0].stack).location;
    let lines: Vec<_> = p
        .location_lines(leaf)
        .iter()
        .map(|l| p.line_name(leaf, Some(l)).into_owned())
        .collect();
    assert_eq!(
        lines,
        [
            "Ljava/io/PrintStream;::print",
            "Ljava/io/PrintStream;::println"
        ]
    );
    let jit = CollapseOptions {
        annotate_jit: true,
        ..CollapseOptions::default()
    };
    assert_eq!(
        folded(text, jit),
        "java;com/Foo:::run_[j];java/io/PrintStream:::println_[j];java/io/PrintStream:::print_[i] 10101010\n"
    );
}

#[test]
fn empty_input_and_garbage() {
    assert_eq!(dec("").samples.len(), 0);
    assert_eq!(dec("# only a header\n\n").samples.len(), 0);
    assert!(matches!(
        decode(b"hello world\n", &PerfOptions::default()),
        Err(Error::PerfScript { line: 1, .. })
    ));
}

#[test]
fn limits_name_the_line() {
    let mut text = String::from("a 1 cycles:\n");
    for i in 0..10 {
        text.push_str(&format!("\t{i:x} f{i} (/x)\n"));
    }
    let limits = DecodeLimits {
        max_stack_depth: 4,
        ..DecodeLimits::default()
    };
    let err = decode(
        text.as_bytes(),
        &PerfOptions {
            limits,
            event: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::PerfScript { line: 6, .. }), "{err}");
    let limits = DecodeLimits {
        max_samples: 1,
        ..DecodeLimits::default()
    };
    let two = "a 1 cycles:\n\t1 f (/x)\n\na 1 cycles:\n\t1 f (/x)\n";
    assert!(matches!(
        decode(
            two.as_bytes(),
            &PerfOptions {
                limits,
                event: None
            }
        ),
        Err(Error::Limit {
            what: "samples",
            ..
        })
    ));
}
