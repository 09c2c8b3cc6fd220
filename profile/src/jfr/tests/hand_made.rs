//! Hand-made recordings: both integer encodings, string pool references, labels, the
//! truncated frame, the recorded period, and malformed input of every kind.

use super::super::*;
use super::collapsed;
use super::synthetic::{self, LONG, STACK, Synth, W};
use crate::{Error, FrameKind, LabelValue};
use std::collections::BTreeMap;

fn stacks(rec: &JfrRecording) -> BTreeMap<String, Vec<i64>> {
    assert_eq!(rec.profiles.len(), 1);
    collapsed(&rec.profiles[0].profile)
}

fn want(period: i64) -> BTreeMap<String, Vec<i64>> {
    [
        ("Main.main:1;Main.work:7", 2 * period),
        ("Main.main:1;Lib$$Lambda_.run:3", period),
        ("Main.main:1;Main.work:8", period),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), vec![v]))
    .collect()
}

fn dec(data: &[u8]) -> Result<JfrRecording> {
    decode_with(data, &JfrOptions::default())
}

#[test]
fn compressed_and_fixed_integers_and_pooled_strings_decode_alike() {
    for compressed in [true, false] {
        for pooled_strings in [false, true] {
            let synth = Synth {
                compressed,
                pooled_strings,
                ..Synth::default()
            };
            let rec = dec(&synthetic::recording(&synth)).unwrap();
            assert_eq!(
                stacks(&rec),
                want(10_000_000),
                "{compressed} {pooled_strings}"
            );
            let p = &rec.profiles[0];
            assert_eq!(p.sample_type, SampleType::Cpu);
            assert_eq!(p.profile.strings.get(p.profile.name), "process_cpu");
            assert_eq!(p.profile.samples.len(), 3, "equal stacks are one sample");
            assert_eq!(
                rec.stats.method_not_found, 1,
                "method 99 is not in the pool"
            );
            assert_eq!(rec.chunks[0].version, (2, 1));
            assert_eq!(p.profile.time_nanos, 1_700_000_000_000_000_000);
            assert_eq!(p.profile.duration_nanos, 5_000_000_000);
            // Frame types become frame kinds.
            let leaf = p
                .profile
                .samples
                .iter()
                .map(|s| p.profile.frames(s.stack))
                .next();
            let kinds: Vec<FrameKind> = leaf.unwrap().iter().map(|f| f.kind).collect();
            assert_eq!(kinds, [FrameKind::Interpreted, FrameKind::Jit]);
        }
    }
}

#[test]
fn gzip_and_several_chunks() {
    use std::io::Write;
    let one = synthetic::recording(&Synth::default());
    let two = [one.clone(), one].concat();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&two).unwrap();
    let rec = dec(&gz.finish().unwrap()).unwrap();
    assert_eq!(rec.chunks.len(), 2);
    assert_eq!(stacks(&rec), want(20_000_000));
    assert_eq!(rec.profiles[0].profile.samples.len(), 3);
}

#[test]
fn the_period_comes_from_the_rate_else_the_recording_else_10ms() {
    let data = synthetic::recording(&Synth {
        settings: vec![
            (synthetic::EXECUTION, "period", "20 ms"),
            (0, "event", "cpu"),
        ],
        ..Synth::default()
    });
    let rec = dec(&data).unwrap();
    assert_eq!(rec.period_nanos, 20_000_000);
    assert_eq!(rec.event.as_deref(), Some("cpu"));
    assert_eq!(stacks(&rec), want(20_000_000));
    assert_eq!(rec.profiles[0].profile.period, 20_000_000);
    let opts = JfrOptions {
        sample_rate: Some(1000),
        ..JfrOptions::default()
    };
    assert_eq!(stacks(&decode_with(&data, &opts).unwrap()), want(1_000_000));
    assert_eq!(parse_duration("10000000"), Some(10_000_000));
    assert_eq!(parse_duration("1 s"), Some(1_000_000_000));
    assert_eq!(parse_duration("everyChunk"), None);
}

#[test]
fn wall_mode_sends_execution_samples_to_wall_too() {
    let data = synthetic::recording(&Synth {
        settings: vec![(0, "event", "wall")],
        ..Synth::default()
    });
    let rec = dec(&data).unwrap();
    let keys: Vec<&str> = rec
        .profiles
        .iter()
        .map(|p| p.sample_type.metric())
        .collect();
    assert_eq!(keys, ["process_cpu", "wall"]);
    assert_eq!(collapsed(&rec.profiles[1].profile), want(10_000_000));
}

#[test]
fn truncated_stacks_get_a_root_frame_when_asked() {
    let data = synthetic::recording(&Synth::default());
    let opts = JfrOptions {
        truncated_frame: true,
        ..JfrOptions::default()
    };
    let got = stacks(&decode_with(&data, &opts).unwrap());
    assert_eq!(
        got["[truncated]:0;Main.main:1;Lib$$Lambda_.run:3"],
        [10_000_000]
    );
    assert_eq!(got.len(), 3);
}

#[test]
fn context_ids_map_to_labels_through_the_snapshot() {
    use prost::Message;
    let data = synthetic::recording(&Synth {
        samples: vec![(1, 5, 0xef, 3), (1, 5, 0xef, 3), (1, 6, 0, 0), (1, 0, 0, 0)],
        ..Synth::default()
    });
    let snap = snapshot::LabelsSnapshot {
        contexts: [(
            5,
            snapshot::Context {
                labels: [(1, 2), (4, 2)].into_iter().collect(),
            },
        )]
        .into_iter()
        .collect(),
        strings: [(1, "route"), (2, "/api"), (3, "GET /api"), (4, "a")]
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
    };
    let bytes = snap.encode_to_vec();
    let profiles = decode(&data, Some(&bytes), &DecodeLimits::default()).unwrap();
    let p = &profiles[0].profile;
    let mut got: Vec<(Vec<(String, String)>, i64)> = (p.samples.iter().enumerate())
        .map(|(i, s)| {
            let labels = (p.labels(s).iter())
                .map(|l| {
                    let LabelValue::Str(v) = l.value else {
                        panic!("string label")
                    };
                    (
                        p.strings.get(l.key).to_string(),
                        p.strings.get(v).to_string(),
                    )
                })
                .collect();
            (labels, p.sample_values(i)[0])
        })
        .collect();
    got.sort();
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        got,
        [
            // Context 6 has no labels: the same (empty) set as no context, one sample.
            (vec![], 20_000_000),
            (
                vec![
                    pair("a", "/api"),
                    pair("route", "/api"),
                    pair("profile_id", "00000000000000ef"),
                    pair("span_name", "GET /api")
                ],
                20_000_000
            ),
        ]
    );
    // Without a snapshot no labels, as in Pyroscope; a broken snapshot is an error.
    let plain = decode(&data, None, &DecodeLimits::default()).unwrap();
    assert_eq!(plain[0].profile.samples.len(), 1);
    let err = decode(&data, Some(b"\x0a\xff"), &DecodeLimits::default()).unwrap_err();
    assert!(err.to_string().contains("labels snapshot"), "{err}");
    let few = DecodeLimits {
        max_labels_per_sample: 3,
        ..DecodeLimits::default()
    };
    let err = decode(&data, Some(&bytes), &few).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "labels per sample",
                ..
            }
        ),
        "{err}"
    );
}

/// Decoding `data` fails with a JFR error whose message contains `needle`.
#[track_caller]
fn fails(data: &[u8], needle: &str) {
    match dec(data) {
        Err(e @ Error::Jfr { .. }) => assert!(e.to_string().contains(needle), "{e}"),
        other => panic!("want a jfr error with {needle:?}, got {other:?}"),
    }
}

#[test]
fn malformed_recordings_are_errors_naming_the_reason() {
    let good = synthetic::recording(&Synth::default());
    fails(b"", "no FLR");
    fails(b"PK\x03\x04 not a recording", "no FLR");
    fails(&good[..40], "truncated chunk header");
    fails(&good[..good.len() - 1], "chunk size");
    // Bad magic on a second chunk.
    let mut two = [good.clone(), good.clone()].concat();
    two[good.len()] = b'X';
    fails(&two, "magic");
    // Version 1 and huge or tiny sizes and offsets.
    let mut v1 = good.clone();
    v1[5] = 1;
    fails(&v1, "unsupported JFR version 1.1");
    let patch = |at: usize, v: u64| {
        let mut d = good.clone();
        d[at..at + 8].copy_from_slice(&v.to_be_bytes());
        d
    };
    fails(&patch(8, u64::MAX), "chunk size");
    fails(&patch(8, 10), "chunk size");
    fails(&patch(16, u64::MAX), "constant pool offset");
    fails(&patch(24, 3), "metadata offset");
    fails(&patch(24, 69), "metadata");
}

#[test]
fn every_prefix_and_every_byte_flip_decodes_or_fails_without_panic() {
    for compressed in [true, false] {
        let good = synthetic::recording(&Synth {
            compressed,
            pooled_strings: true,
            ..Synth::default()
        });
        for n in 0..good.len() {
            assert!(dec(&good[..n]).is_err(), "prefix {n}");
        }
        for i in 0..good.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut d = good.clone();
                d[i] ^= flip;
                let _ = dec(&d);
            }
        }
    }
}

/// A chunk with the given metadata classes and pool bytes (`types` pool types).
fn chunk(classes: &[synthetic::ClassDef], pool: &[u8], types: u64, events: &[u8]) -> Vec<u8> {
    let mut w = W::new(true);
    w.buf.resize(68, 0);
    let meta_at = w.buf.len();
    w.event(&synthetic::metadata(classes, true));
    w.buf.extend_from_slice(events);
    let cp_at = w.buf.len();
    let mut p = W::new(true);
    p.long(1).long(0).long(0).long(0).byte(0).int(types);
    p.buf.extend_from_slice(pool);
    w.event(&p.buf);
    let size = w.buf.len() as u64;
    w.buf[..4].copy_from_slice(b"FLR\0");
    w.buf[4..8].copy_from_slice(&[0, 2, 0, 0]);
    w.buf[8..16].copy_from_slice(&size.to_be_bytes());
    w.buf[16..24].copy_from_slice(&(cp_at as u64).to_be_bytes());
    w.buf[24..32].copy_from_slice(&(meta_at as u64).to_be_bytes());
    w.buf[64..68].copy_from_slice(&1u32.to_be_bytes());
    w.buf
}

#[test]
fn hostile_counts_references_and_types_are_refused() {
    let classes = synthetic::classes();
    // A pool entry count far beyond the bytes left.
    let mut pool = W::new(true);
    pool.long(STACK).varint(u64::from(u32::MAX));
    fails(&chunk(&classes, &pool.buf, 1, &[]), "constant count");
    // A frame count beyond the stack depth limit, and beyond the bytes left.
    let mut pool = W::new(true);
    pool.long(STACK).int(1).long(1).byte(0).int(5000);
    pool.buf.resize(pool.buf.len() + 6000, 0);
    let err = dec(&chunk(&classes, &pool.buf, 1, &[])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "stack depth",
                ..
            }
        ),
        "{err}"
    );
    let mut pool = W::new(true);
    pool.long(STACK).int(1).long(1).byte(0).int(1000);
    fails(&chunk(&classes, &pool.buf, 1, &[]), "stack frame count");
    // A pool of a type the metadata does not define.
    let mut pool = W::new(true);
    pool.long(777).int(0);
    fails(&chunk(&classes, &pool.buf, 1, &[]), "undefined type 777");
    // An event whose size runs past the chunk, and one of size 0.
    let mut ev = W::new(true);
    ev.varint(1 << 40).long(LONG);
    fails(&chunk(&classes, &[], 0, &ev.buf), "event size");
    fails(&chunk(&classes, &[], 0, &[0]), "event size 0");
    // References to pool entries that do not exist: the sample has no stack trace (and
    // is counted), its missing thread state keeps it out of the CPU profile.
    let mut ev = W::new(true);
    ev.long(synthetic::EXECUTION)
        .long(0)
        .long(12345)
        .long(1)
        .long(0)
        .long(0)
        .long(0);
    let mut events = W::new(true);
    events.event(&ev.buf);
    let mut pool = W::new(true);
    pool.long(synthetic::STATE)
        .int(1)
        .long(1)
        .str("STATE_RUNNABLE");
    let rec = dec(&chunk(&classes, &pool.buf, 1, &events.buf)).unwrap();
    assert_eq!(rec.stats.stacktrace_not_found, 1);
    assert_eq!(rec.profiles.len(), 1);
    assert!(rec.profiles[0].profile.samples.is_empty());
}

#[test]
fn recursive_and_deeply_nested_types_are_refused() {
    // A struct that contains itself (and a number, so it is not empty) as a setting value.
    let mut classes = synthetic::classes();
    classes.push((
        40,
        "Loop",
        vec![("again", 40, false, false), ("n", LONG, false, false)],
    ));
    let mut pool = W::new(true);
    pool.long(40).int(1).long(1);
    pool.buf.resize(pool.buf.len() + 100, 1);
    fails(&chunk(&classes, &pool.buf, 1, &[]), "nested deeper");
    // An empty struct that contains itself takes no bytes and is fine.
    let mut classes = synthetic::classes();
    classes.push((40, "Empty", vec![("again", 40, false, false)]));
    let mut pool = W::new(true);
    pool.long(40).int(3).long(1).long(2).long(3);
    assert!(dec(&chunk(&classes, &pool.buf, 1, &[])).is_ok());
    // Metadata elements nested 100 deep.
    let mut body = W::new(true);
    body.long(0).long(0).long(0).long(0).int(1).str("root");
    for _ in 0..100 {
        body.int(0).int(0).int(1);
    }
    let mut w = W::new(true);
    w.buf.resize(68, 0);
    w.event(&body.buf);
    let size = w.buf.len() as u64;
    w.buf[..4].copy_from_slice(b"FLR\0");
    w.buf[4..8].copy_from_slice(&[0, 2, 0, 0]);
    w.buf[8..16].copy_from_slice(&size.to_be_bytes());
    w.buf[16..24].copy_from_slice(&68u64.to_be_bytes());
    w.buf[24..32].copy_from_slice(&68u64.to_be_bytes());
    w.buf[64..68].copy_from_slice(&1u32.to_be_bytes());
    fails(&w.buf, "nested deeper than 32");
}
