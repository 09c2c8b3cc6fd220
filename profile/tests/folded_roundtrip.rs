//! `decode(encode(p))` has the stacks and values of `p`: for random profiles (proptest)
//! and for every folded corpus file decoded.

mod common;

use flamedb_profile::folded::{self, FoldedOptions};
use flamedb_profile::{DecodeLimits, FrameKind, LabelSetId, Profile};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Per stack of (frame name, kind), root first: the sum of each column in thousandths.
type Semantic = BTreeMap<Vec<(String, FrameKind)>, Vec<i128>>;

fn semantic(p: &Profile, columns: &[usize]) -> Semantic {
    let n = p.sample_types.len();
    let scale: Vec<i128> = columns
        .iter()
        .map(|&c| {
            let unit = p.sample_types.get(c).map(|vt| p.strings.get(vt.unit));
            if unit == Some("millicount") { 1 } else { 1000 }
        })
        .collect();
    let mut out = Semantic::new();
    for (i, s) in p.samples.iter().enumerate() {
        let key = p
            .frames(s.stack)
            .into_iter()
            .map(|f| (f.name.into_owned(), f.kind))
            .collect();
        let sums = out.entry(key).or_insert_with(|| vec![0; columns.len()]);
        for (j, &c) in columns.iter().enumerate() {
            sums[j] += i128::from(p.values[i * n + c]) * scale[j];
        }
    }
    out.retain(|_, v| v.iter().any(|&x| x != 0));
    out
}

fn roundtrip(p: &Profile) -> (Semantic, Semantic, String) {
    let opts = FoldedOptions::for_profile(p);
    let columns: Vec<usize> = match opts.diff_columns {
        Some((a, b)) => vec![a, b],
        None => vec![0],
    };
    let text = folded::encode(p, &opts);
    let back = folded::decode(text.as_bytes(), &DecodeLimits::default())
        .unwrap_or_else(|e| panic!("decode of encoded text failed: {e}\n{text}"));
    (semantic(p, &columns), semantic(&back, &columns), text)
}

const KINDS: [FrameKind; 6] = [
    FrameKind::Unspecified,
    FrameKind::Jit,
    FrameKind::Inlined,
    FrameKind::Kernel,
    FrameKind::Interpreted,
    FrameKind::C1,
];

/// Frame names the format can hold as they are: no `;` or line break, no whitespace at
/// either end, not a comment start, no trailing ` <number>`, no kind suffix of their own.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.:<>()\\[\\]$@*&é中🔥-][a-zA-Z0-9 _.:<>()\\[\\]$@*&é中🔥/#-]{0,14}".prop_filter(
        "representable",
        |s| {
            let last = s.rsplit(' ').next().unwrap_or("");
            let numeric = s.contains(' ')
                && !last.is_empty()
                && last.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            !s.ends_with(' ')
                && !numeric
                && !s.starts_with('#')
                && !s.starts_with("//")
                && FrameKind::split_suffix(s).1 == FrameKind::Unspecified
        },
    )
}

#[derive(Debug, Clone)]
struct Spec {
    names: Vec<(String, usize)>,
    samples: Vec<(Vec<usize>, [i64; 2])>,
    milli: bool,
    diff: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::collection::vec((name(), 0..KINDS.len()), 1..8),
        prop::collection::vec(
            (
                prop::collection::vec(0..8usize, 1..7),
                [0..5_000i64, 0..5_000i64],
            ),
            0..20,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(names, samples, milli, diff)| Spec {
            names,
            samples,
            milli,
            diff,
        })
}

fn build(spec: &Spec) -> Profile {
    let mut p = Profile::new();
    let unit = if spec.milli { "millicount" } else { "count" };
    if spec.diff {
        p.add_sample_type("before", unit);
        p.add_sample_type("after", unit);
    } else {
        p.add_sample_type("samples", unit);
    }
    let locations: Vec<_> = spec
        .names
        .iter()
        .map(|(n, k)| p.intern_named_location(n, None, 0, KINDS[*k]))
        .collect();
    for (frames, values) in &spec.samples {
        let stack = p
            .stacks
            .intern(frames.iter().map(|&i| locations[i % locations.len()]));
        let n = p.sample_types.len();
        p.push_sample(stack, &values[..n], LabelSetId::EMPTY, None);
    }
    p
}

proptest! {
    #[test]
    fn random_profiles_round_trip(spec in spec()) {
        let p = build(&spec);
        let (want, got, text) = roundtrip(&p);
        prop_assert_eq!(want, got, "{}", text);
    }

    /// Names the format cannot hold are changed, but every line still reads back.
    #[test]
    fn any_names_give_readable_lines(
        names in prop::collection::vec(("\\PC{0,8}|[;#/ \\n\\r\\t0-9.]{0,6}", 0..KINDS.len()), 1..6),
        samples in prop::collection::vec((prop::collection::vec(0..6usize, 1..5), 1..100i64), 1..10),
    ) {
        let spec = Spec {
            names,
            samples: samples.into_iter().map(|(f, v)| (f, [v, 0])).collect(),
            milli: false,
            diff: false,
        };
        let p = build(&spec);
        let text = folded::encode(&p, &FoldedOptions::default());
        let (back, report) = folded::decode_with_report(text.as_bytes(), &DecodeLimits::default())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(report.invalid_lines, 0, "{}", text);
        prop_assert_eq!(report.sample_lines, text.lines().count(), "{}", text);
        let total = |p: &Profile| p.values.iter().map(|&v| i128::from(v)).sum::<i128>();
        // Only a blank stack text (nameless or whitespace frames alone) is left out.
        prop_assert!(total(&back) <= total(&p));
    }
}

#[test]
fn corpus_files_round_trip() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let mut bad = Vec::new();
    for format in ["folded", "collapsed-async-profiler"] {
        for (path, _) in common::files_of_format(&expected, format) {
            let data = std::fs::read(dir.join(&path)).expect("read corpus file");
            let p = folded::decode(&data, &DecodeLimits::default()).expect("decode corpus file");
            let (want, got, _) = roundtrip(&p);
            if want != got {
                bad.push(path);
            }
        }
    }
    assert!(bad.is_empty(), "not round-tripped: {bad:?}");
}
