//! `decode(encode(p))` is `p`, compared with every id resolved to strings: for random
//! profiles built through the model's API, and for every pprof file of the corpus.
#![allow(clippy::unwrap_used)]

mod common;

use flamedb_profile::pprof::{decode, decode_maybe_gzip, encode, encode_gzip};
use flamedb_profile::{
    DecodeLimits, FrameKind, Function, Label, LabelValue, Line, Mapping, MappingId, Profile, StrId,
    Summary, ValueType,
};
use proptest::prelude::*;

/// A profile with every id replaced by what it stands for.
#[derive(Debug, PartialEq)]
struct Semantic {
    meta: Vec<String>,
    sample_types: Vec<(String, String)>,
    comments: Vec<String>,
    mappings: Vec<SemMapping>,
    functions: Vec<SemFunction>,
    locations: Vec<SemLocation>,
    samples: Vec<SemSample>,
}

type SemMapping = (u64, u64, u64, String, String, [bool; 4]);
/// `(name, system name, file, start line)`.
type SemFunction = (String, String, String, i64);
/// Function, line, column.
type SemLine = (Option<SemFunction>, i64, i64);
/// Name, system name, file, line, mapping file, build id, address, inlined.
type SemFrame = (String, String, String, i64, String, String, u64, bool);

#[derive(Debug, PartialEq)]
struct SemLocation {
    mapping: Option<SemMapping>,
    address: u64,
    is_folded: bool,
    kind: FrameKind,
    lines: Vec<SemLine>,
}

#[derive(Debug, PartialEq)]
struct SemSample {
    /// Resolved frames, root first.
    frames: Vec<SemFrame>,
    /// The locations, root first, fully resolved (covers columns, flags, start lines).
    stack: Vec<SemLocation>,
    values: Vec<i64>,
    labels: Vec<(String, String, i64, String)>,
    time: Option<i64>,
}

fn semantic(p: &Profile) -> Semantic {
    let s = |id: StrId| p.strings.get(id).to_string();
    let vt = |v: ValueType| (s(v.kind), s(v.unit));
    let mapping = |m: &Mapping| {
        let flags = [
            m.has_functions,
            m.has_filenames,
            m.has_line_numbers,
            m.has_inline_frames,
        ];
        (
            m.memory_start,
            m.memory_limit,
            m.file_offset,
            s(m.filename),
            s(m.build_id),
            flags,
        )
    };
    let function = |f: &Function| (s(f.name), s(f.system_name), s(f.filename), f.start_line);
    let location = |i: usize| {
        let l = &p.locations[i];
        let id = flamedb_profile::LocationId::from_index(i);
        SemLocation {
            mapping: l.mapping.map(|m| mapping(&p.mappings[m.index()])),
            address: l.address,
            is_folded: l.is_folded,
            kind: l.kind,
            lines: p
                .location_lines(id)
                .iter()
                .map(|line| {
                    (
                        line.function.map(|f| function(&p.functions[f.index()])),
                        line.line,
                        line.column,
                    )
                })
                .collect(),
        }
    };
    let n = p.sample_types.len();
    let samples = p
        .samples
        .iter()
        .enumerate()
        .map(|(i, smp)| SemSample {
            frames: p
                .frames(smp.stack)
                .into_iter()
                .map(|f| {
                    let (sys, file, mf, b) = (f.system_name, f.file, f.mapping_file, f.build_id);
                    (
                        f.name.into_owned(),
                        sys.into(),
                        file.into(),
                        f.line,
                        mf.into(),
                        b.into(),
                        f.address,
                        f.inlined,
                    )
                })
                .collect(),
            stack: p
                .stacks
                .locations(smp.stack)
                .into_iter()
                .map(|l| location(l.index()))
                .collect(),
            values: p.values[i * n..(i + 1) * n].to_vec(),
            labels: p
                .labels(smp)
                .iter()
                .map(|l| match l.value {
                    LabelValue::Str(v) => (s(l.key), s(v), 0, String::new()),
                    LabelValue::Num { value, unit } => (s(l.key), String::new(), value, s(unit)),
                })
                .collect(),
            time: smp.time_nanos,
        })
        .collect();
    Semantic {
        meta: vec![
            format!("{:?}", p.period_type.map(vt)),
            p.period.to_string(),
            p.time_nanos.to_string(),
            p.duration_nanos.to_string(),
            format!("{:?}", p.default_sample_type.map(s)),
            s(p.drop_frames),
            s(p.keep_frames),
            s(p.doc_url),
        ],
        sample_types: p.sample_types.iter().map(|&v| vt(v)).collect(),
        comments: p.comments.iter().map(|&c| s(c)).collect(),
        mappings: p.mappings.iter().map(mapping).collect(),
        functions: p.functions.iter().map(function).collect(),
        locations: (0..p.locations.len()).map(location).collect(),
        samples,
    }
}

/// A random profile, described by indexes into a word pool so references stay valid.
#[derive(Debug, Clone)]
struct Spec {
    words: Vec<String>,
    sample_types: Vec<(usize, usize)>,
    meta: SpecMeta,
    mappings: Vec<(u64, u64, u64, usize, usize, [bool; 4])>,
    functions: Vec<(usize, usize, usize, i64)>,
    locations: Vec<SpecLocation>,
    samples: Vec<SpecSample>,
}

/// Period type, period, time, duration, default sample type, comments, drop/keep/doc_url.
type SpecMeta = (
    Option<(usize, usize)>,
    i64,
    i64,
    i64,
    Option<usize>,
    Vec<usize>,
    [usize; 3],
);
/// Mapping, address, lines (function, line, column), is_folded.
type SpecLocation = (Option<usize>, u64, Vec<(Option<usize>, i64, i64)>, bool);
/// Stack (location indexes, root first), values, labels (key, str or num + unit).
type SpecSample = (
    Vec<usize>,
    Vec<i64>,
    Vec<(usize, Result<usize, (i64, usize)>)>,
);

fn spec() -> impl Strategy<Value = Spec> {
    let words = prop::collection::vec("[a-zA-Z_./:é]{1,8}", 1..12);
    let i = || any::<usize>();
    (
        words,
        prop::collection::vec((i(), i()), 0..4),
        (
            prop::option::of((i(), i())),
            any::<i64>(),
            any::<i64>(),
            any::<i64>(),
            prop::option::of(i()),
            prop::collection::vec(i(), 0..3),
            [i(), i(), i()],
        ),
        prop::collection::vec(
            (
                any::<u64>(),
                any::<u64>(),
                any::<u64>(),
                i(),
                i(),
                any::<[bool; 4]>(),
            ),
            0..4,
        ),
        prop::collection::vec((i(), i(), i(), any::<i64>()), 0..6),
        prop::collection::vec(
            (
                prop::option::of(i()),
                any::<u64>(),
                prop::collection::vec((prop::option::of(i()), any::<i64>(), any::<i64>()), 0..4),
                any::<bool>(),
            ),
            1..10,
        ),
        prop::collection::vec(
            (
                prop::collection::vec(i(), 0..8),
                prop::collection::vec(any::<i64>(), 4),
                prop::collection::vec(
                    (i(), prop::result::maybe_ok(i(), (any::<i64>(), i()))),
                    0..3,
                ),
            ),
            0..24,
        ),
    )
        .prop_map(
            |(words, sample_types, meta, mappings, functions, locations, samples)| Spec {
                words,
                sample_types,
                meta,
                mappings,
                functions,
                locations,
                samples,
            },
        )
}

/// Builds the profile of a spec through the model's API. Index `k` picks `words[k % len]`,
/// or `""` for a pick that lands one past the end (so empty strings occur too, where pprof
/// can carry them: not as a string label's value nor as `default_sample_type`).
fn build(spec: &Spec) -> Profile {
    let mut p = Profile::new();
    let w = &spec.words;
    let word = |k: usize| {
        if k % (w.len() + 1) == w.len() {
            ""
        } else {
            &w[k % (w.len() + 1)]
        }
    };
    let nonempty = |k: usize| &w[k % w.len()];
    for &(t, u) in &spec.sample_types {
        p.add_sample_type(word(t), word(u));
    }
    let (period_type, period, time, duration, default, comments, [drop, keep, doc]) = &spec.meta;
    p.period_type = period_type.map(|(t, u)| ValueType {
        kind: p.strings.intern(word(t)),
        unit: p.strings.intern(word(u)),
    });
    (p.period, p.time_nanos, p.duration_nanos) = (*period, *time, *duration);
    p.default_sample_type = default.map(|d| p.strings.intern(nonempty(d)));
    p.comments = comments
        .iter()
        .map(|&c| p.strings.intern(word(c)))
        .collect();
    p.drop_frames = p.strings.intern(word(*drop));
    p.keep_frames = p.strings.intern(word(*keep));
    p.doc_url = p.strings.intern(word(*doc));
    for &(start, limit, offset, file, build_id, f) in &spec.mappings {
        let (filename, build_id) = (p.intern(word(file)), p.intern(word(build_id)));
        p.push_mapping(Mapping {
            memory_start: start,
            memory_limit: limit,
            file_offset: offset,
            filename,
            build_id,
            has_functions: f[0],
            has_filenames: f[1],
            has_line_numbers: f[2],
            has_inline_frames: f[3],
        });
    }
    for &(name, system_name, file, start_line) in &spec.functions {
        let f = Function {
            name: p.intern(word(name)),
            system_name: p.intern(word(system_name)),
            filename: p.intern(word(file)),
            start_line,
        };
        p.push_function(f);
    }
    let pick = |k: Option<usize>, len: usize| k.filter(|_| len > 0).map(|k| k % len);
    for (mapping, address, lines, folded) in &spec.locations {
        let mapping = pick(*mapping, spec.mappings.len()).map(MappingId::from_index);
        let lines: Vec<Line> = lines
            .iter()
            .map(|&(f, line, column)| Line {
                function: pick(f, spec.functions.len())
                    .map(flamedb_profile::FunctionId::from_index),
                line,
                column,
            })
            .collect();
        p.push_location(mapping, *address, &lines, FrameKind::Unspecified, *folded);
    }
    let n = spec.sample_types.len();
    for (stack, values, labels) in &spec.samples {
        let locs = stack
            .iter()
            .map(|&l| flamedb_profile::LocationId::from_index(l % spec.locations.len()));
        let stack = p.stacks.intern(locs);
        let labels: Vec<Label> = labels
            .iter()
            .map(|(key, value)| Label {
                key: p.strings.intern(word(*key)),
                value: match value {
                    Ok(s) => LabelValue::Str(p.strings.intern(nonempty(*s))),
                    Err((v, unit)) => LabelValue::Num {
                        value: *v,
                        unit: p.strings.intern(word(*unit)),
                    },
                },
            })
            .collect();
        let labels = p.label_sets.intern(&labels);
        p.push_sample(stack, &values[..n], labels, None);
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_profiles_round_trip(spec in spec()) {
        let p = build(&spec);
        let raw = decode(&encode(&p), &DecodeLimits::default()).unwrap();
        prop_assert_eq!(semantic(&raw), semantic(&p));
        prop_assert_eq!(Summary::of(&raw), Summary::of(&p));
        let gz = decode_maybe_gzip(&encode_gzip(&p), &DecodeLimits::default()).unwrap();
        prop_assert_eq!(semantic(&gz), semantic(&p));
    }
}

#[test]
fn corpus_pprof_files_round_trip() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let expected = common::expected(&dir);
    let limits = DecodeLimits::default();
    let mut failures = Vec::new();
    for (path, _) in common::files_of_format(&expected, "pprof") {
        let data = std::fs::read(dir.join(&path)).unwrap();
        let p = decode_maybe_gzip(&data, &limits).unwrap();
        let again = match decode_maybe_gzip(&encode_gzip(&p), &limits) {
            Ok(again) => again,
            Err(e) => {
                failures.push(format!("{path}: re-decoding failed: {e}"));
                continue;
            }
        };
        if semantic(&again) != semantic(&p) {
            failures.push(format!(
                "{path}: semantic profile differs after a round trip"
            ));
        }
        if Summary::of(&again) != Summary::of(&p) {
            failures.push(format!("{path}: summary differs after a round trip"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
