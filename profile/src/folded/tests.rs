//! Hand-computed cases for the folded codec.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::{Error, FrameKind};
use std::collections::BTreeMap;

type Stacks = BTreeMap<Vec<(String, FrameKind)>, Vec<i64>>;

fn stacks(p: &Profile) -> Stacks {
    let mut out = Stacks::new();
    for (i, s) in p.samples.iter().enumerate() {
        let key = p
            .frames(s.stack)
            .into_iter()
            .map(|f| (f.name.into_owned(), f.kind))
            .collect();
        let sums = out
            .entry(key)
            .or_insert_with(|| vec![0; p.sample_types.len()]);
        for (sum, v) in sums.iter_mut().zip(p.sample_values(i)) {
            *sum += v;
        }
    }
    out
}

fn key(frames: &[&str]) -> Vec<(String, FrameKind)> {
    frames
        .iter()
        .map(|f| {
            let (name, kind) = FrameKind::split_suffix(f);
            (name.to_string(), kind)
        })
        .collect()
}

fn types(p: &Profile) -> Vec<String> {
    p.sample_types
        .iter()
        .map(|&vt| p.value_type_name(vt))
        .collect()
}

fn dec(text: &str) -> (Profile, FoldedReport) {
    decode_with_report(text.as_bytes(), &DecodeLimits::default()).unwrap()
}

#[test]
fn sums_stacks_and_skips_blank_comment_and_invalid_lines() {
    let (p, r) = dec("# hi\n// c 1\na;b 1\n\n  \r\na;b c 2\r\nbad line\na;b 3\nx;;y; 4");
    assert_eq!(types(&p), ["samples/count"]);
    let s = stacks(&p);
    assert_eq!(s[&key(&["a", "b"])], [4]);
    assert_eq!(s[&key(&["a", "b c"])], [2]);
    assert_eq!(s[&key(&["x", "0x0", "y", "0x0"])], [4]);
    assert_eq!(s.len(), 3);
    assert_eq!(p.samples.len(), 4, "one sample per sample line");
    assert_eq!(
        (r.lines, r.sample_lines, r.blank_lines, r.comment_lines),
        (9, 4, 2, 2)
    );
    assert_eq!((r.invalid_lines, r.first_invalid.clone()), (1, vec![7]));
    assert_eq!(r.crlf_lines, 2);
    assert_eq!(p.time_nanos, 0);
}

#[test]
fn annotations_become_frame_kinds() {
    let (p, _) = dec("run_[j];read_[i];sys_read_[k];x_[0];y_[1];_[j] 2\n");
    let s = stacks(&p);
    let want = vec![
        ("run".to_string(), FrameKind::Jit),
        ("read".to_string(), FrameKind::Inlined),
        ("sys_read".to_string(), FrameKind::Kernel),
        ("x".to_string(), FrameKind::Interpreted),
        ("y".to_string(), FrameKind::C1),
        ("_[j]".to_string(), FrameKind::Unspecified),
    ];
    assert_eq!(s[&want], [2]);
}

#[test]
fn fractional_counts_switch_the_whole_profile_to_millicount() {
    let (p, r) = dec("a 31.23\nb 6.\nc 1.00049\nd 2.0005\na 1\n");
    assert_eq!(types(&p), ["samples/millicount"]);
    assert!(r.fractional);
    let s = stacks(&p);
    assert_eq!(s[&key(&["a"])], [32_230]);
    assert_eq!(s[&key(&["b"])], [6_000]);
    assert_eq!(s[&key(&["c"])], [1_000]);
    assert_eq!(s[&key(&["d"])], [2_001]);
    let (p, r) = dec("a 6.\nb 2.0\n");
    assert_eq!(types(&p), ["samples/count"]);
    assert!(!r.fractional);
    assert_eq!(stacks(&p)[&key(&["b"])], [2]);
}

#[test]
fn two_counts_make_a_differential_profile() {
    let (p, r) = dec("a;b 31 56\nc 6 2\na;b 1 1\n");
    assert_eq!(types(&p), ["before/count", "after/count"]);
    assert_eq!(r.count_columns, 2);
    assert_eq!(stacks(&p)[&key(&["a", "b"])], [32, 57]);
    let err = decode(b"a 1 2\nb 3\n", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::Folded { line: 2, .. }), "{err}");
    // After a one-count first line, a number before the count belongs to the leaf.
    let (p, _) = dec("a 1\nb 2 3\n");
    assert_eq!(stacks(&p)[&key(&["b 2"])], [3]);
}

#[test]
fn text_that_is_not_folded_is_an_error_and_empty_text_is_not() {
    let err = decode(b"# c\nhello world\nfoo\n", &DecodeLimits::default()).unwrap_err();
    assert!(matches!(err, Error::Folded { line: 2, .. }), "{err}");
    for empty in ["", "\n\n", "# only a comment\n"] {
        let (p, r) = dec(empty);
        assert!(p.samples.is_empty());
        assert_eq!(r.sample_lines, 0);
        assert_eq!(types(&p), ["samples/count"]);
    }
}

#[test]
fn limits_are_enforced() {
    let limits = DecodeLimits {
        max_stack_depth: 3,
        max_samples: 2,
        ..DecodeLimits::default()
    };
    assert!(decode(b"a;b;c 1\n", &limits).is_ok());
    let err = decode(b"a;b;c 1\na;b;c;d 1\n", &limits).unwrap_err();
    assert!(matches!(err, Error::Folded { line: 2, .. }), "{err}");
    let err = decode(b"a 1\nb 1\na 2\nc 1\n", &limits).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "samples",
                ..
            }
        ),
        "{err}"
    );
    let err = decode(b"a 99999999999999999999\n", &limits).unwrap_err();
    assert!(matches!(err, Error::Folded { line: 1, .. }), "{err}");
    let big = format!("a {m}\na {m}\n", m = u64::MAX);
    assert!(decode(big.as_bytes(), &limits).is_err());
}

#[test]
fn shared_prefixes_with_the_previous_line_resolve_correctly() {
    let (p, _) = dec("ab;c 1\na;c 1\na;cd 1\na 1\na; 1\na;;c 1\nab;c 1\na;c;d 1\n");
    let s = stacks(&p);
    assert_eq!(s[&key(&["ab", "c"])], [2]);
    assert_eq!(s[&key(&["a", "c"])], [1]);
    assert_eq!(s[&key(&["a", "cd"])], [1]);
    assert_eq!(s[&key(&["a"])], [1]);
    assert_eq!(s[&key(&["a", "0x0"])], [1]);
    assert_eq!(s[&key(&["a", "0x0", "c"])], [1]);
    assert_eq!(s[&key(&["a", "c", "d"])], [1]);
    assert_eq!(s.len(), 7);
    assert_eq!(
        encode(&p, &FoldedOptions::default()),
        "a 1\na; 1\na;;c 1\na;c 1\na;c;d 1\na;cd 1\nab;c 2\n"
    );
}

#[test]
fn utf16_and_gzip_are_read() {
    let le: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("a;b 1\r\na;b 2".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let (p, r) = decode_with_report(&le, &DecodeLimits::default()).unwrap();
    assert_eq!(stacks(&p)[&key(&["a", "b"])], [3]);
    assert_eq!((r.encoding, r.crlf_lines), (TextEncoding::Utf16Le, 1));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, b"x;y 5\n").unwrap();
    let p = decode(&gz.finish().unwrap(), &DecodeLimits::default()).unwrap();
    assert_eq!(stacks(&p)[&key(&["x", "y"])], [5]);
}

#[test]
fn encodes_sorted_summed_lines() {
    let (p, _) = dec("b;c_[j] 2\na 1\nb;c_[j] 3\nz 0\n");
    assert_eq!(encode(&p, &FoldedOptions::default()), "a 1\nb;c_[j] 5\n");
    let plain = FoldedOptions {
        annotate: false,
        ..FoldedOptions::default()
    };
    assert_eq!(encode(&p, &plain), "a 1\nb;c 5\n");
    let missing = FoldedOptions {
        value_index: 3,
        ..FoldedOptions::default()
    };
    assert_eq!(encode(&p, &missing), "");
}

#[test]
fn stacks_rendering_alike_are_summed_before_dropping_non_positive_sums() {
    let mut p = Profile::new();
    p.add_sample_type("samples", "count");
    let a1 = p.intern_named_location("f", None, 0x10, FrameKind::Unspecified);
    let a2 = p.intern_named_location("f", None, 0x20, FrameKind::Unspecified);
    let b = p.intern_named_location("g", None, 0, FrameKind::Unspecified);
    for (loc, v) in [(a1, -5), (a2, 7), (b, -1)] {
        let id = p.stacks.intern([loc]);
        p.push_sample(id, &[v], crate::LabelSetId::EMPTY, None);
    }
    assert_eq!(encode(&p, &FoldedOptions::default()), "f 2\n");
}

#[test]
fn encodes_millicounts_as_decimals_and_two_columns() {
    let (p, _) = dec("a 31.23\nb 2.567\nc 19\nd 0.001\n");
    assert_eq!(
        encode(&p, &FoldedOptions::default()),
        "a 31.23\nb 2.567\nc 19\nd 0.001\n"
    );
    let (p, _) = dec("a 1 2\nb 0 3\n");
    let opts = FoldedOptions::for_profile(&p);
    assert_eq!(opts.diff_columns, Some((0, 1)));
    assert_eq!(encode(&p, &opts), "a 1 2\nb 0 3\n");
    assert_eq!(encode(&p, &FoldedOptions::default()), "a 1\n");
}

#[test]
fn unrepresentable_names_are_changed_so_lines_read_back() {
    let mut p = Profile::new();
    p.add_sample_type("samples", "count");
    let stack = |p: &mut Profile, names: &[&str], v: i64| {
        let locs: Vec<_> = names
            .iter()
            .map(|n| p.intern_named_location(n, None, 0, FrameKind::Unspecified))
            .collect();
        let id = p.stacks.intern(locs);
        p.push_sample(id, &[v], crate::LabelSetId::EMPTY, None);
    };
    stack(&mut p, &["# root", "a;b\nc", "leaf 12 "], 1);
    stack(&mut p, &[], 2);
    stack(&mut p, &["//x"], 3);
    stack(&mut p, &["\u{feff}bom"], 4);
    let text = encode(&p, &FoldedOptions::default());
    assert_eq!(text, "_# root;a:b c;leaf_12 1\n_//x 3\n_\u{feff}bom 4\n");
    let (back, r) = dec(&text);
    assert_eq!(r.sample_lines, 3);
    let s = stacks(&back);
    assert_eq!(s[&key(&["_# root", "a:b c", "leaf_12"])], [1]);
}

#[test]
fn a_count_without_a_stack_is_an_unknown_sample() {
    // py-spy's ` 1`: the samples it could not unwind still count.
    let (p, r) = dec(" 1\nmain;work 2\n\t3\nnot a sample\n");
    assert_eq!(r.sample_lines, 3);
    assert_eq!(r.unknown_stack_lines, 2);
    assert_eq!(r.invalid_lines, 1);
    let s = stacks(&p);
    assert_eq!(s[&key(&["[unknown]"])], vec![4]);
    assert_eq!(s[&key(&["main", "work"])], vec![2]);
    assert_eq!(p.values.iter().sum::<i64>(), 6);
    // A count alone at the start of a line is still not a sample.
    let (_, r) = dec("main 1\n7\n");
    assert_eq!((r.sample_lines, r.invalid_lines), (1, 1));
}
