//! Hand-made pprof messages exercising one rule each.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure report

use super::proto;
use super::*;
use crate::{DecodeLimits, Error, LabelValue, LocationId, Profile, StackId};
use prost::Message;

fn strings(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// A profile with one sample type `samples/count` and strings `["", "samples", "count", ...extra]`.
fn base(extra: &[&str]) -> proto::Profile {
    let mut table = vec!["", "samples", "count"];
    table.extend_from_slice(extra);
    proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
        string_table: strings(&table),
        ..Default::default()
    }
}

fn loc(id: u64, mapping_id: u64, address: u64, function_ids: &[u64]) -> proto::Location {
    proto::Location {
        id,
        mapping_id,
        address,
        line: function_ids
            .iter()
            .map(|&f| proto::Line {
                function_id: f,
                line: 7,
                column: 0,
            })
            .collect(),
        is_folded: false,
    }
}

fn sample(location_id: &[u64], value: &[i64]) -> proto::Sample {
    proto::Sample {
        location_id: location_id.to_vec(),
        value: value.to_vec(),
        label: vec![],
    }
}

fn dec(msg: &proto::Profile) -> crate::Result<Profile> {
    decode(&msg.encode_to_vec(), &DecodeLimits::default())
}

fn pprof_message(e: Error) -> String {
    match e {
        Error::Pprof { message } => message,
        other => panic!("expected Error::Pprof, got {other:?}"),
    }
}

#[test]
fn address_only_locations_are_named_by_mapping_and_address() {
    let mut msg = base(&["/lib/x86_64-linux-gnu/libc.so.6"]);
    msg.mapping.push(proto::Mapping {
        id: 9,
        filename: 3,
        ..Default::default()
    });
    msg.location = vec![loc(1, 9, 0x1a2b, &[]), loc(2, 0, 0xff, &[])];
    msg.sample = vec![sample(&[1, 2], &[5])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.location_name(LocationId(0)), "libc.so.6 0x1a2b");
    assert_eq!(p.location_name(LocationId(1)), "0xff");
    // Leaf first in pprof, root first in the model.
    assert_eq!(
        p.frame_names(p.samples[0].stack),
        vec!["0xff", "libc.so.6 0x1a2b"]
    );
}

#[test]
fn function_id_zero_or_dangling_gives_no_function() {
    let mut msg = base(&["main"]);
    msg.function.push(proto::Function {
        id: 4,
        name: 3,
        ..Default::default()
    });
    msg.location = vec![
        loc(1, 0, 0x10, &[0]),
        loc(2, 77, 0x20, &[99]),
        loc(3, 0, 0x30, &[4]),
    ];
    msg.sample = vec![sample(&[1, 2, 3], &[1])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.location_lines(LocationId(0))[0].function, None);
    assert_eq!(p.location_lines(LocationId(1))[0].function, None);
    assert_eq!(
        p.locations[1].mapping, None,
        "dangling mapping id gives no mapping"
    );
    assert_eq!(p.location_name(LocationId(2)), "main");
    assert_eq!(
        p.frame_names(p.samples[0].stack),
        vec!["main", "0x20", "0x10"]
    );
}

#[test]
fn inlined_lines_keep_pprof_order() {
    let mut msg = base(&["memcpy", "printf"]);
    msg.function = vec![
        proto::Function {
            id: 1,
            name: 3,
            ..Default::default()
        },
        proto::Function {
            id: 2,
            name: 4,
            ..Default::default()
        },
    ];
    msg.location = vec![loc(1, 0, 0x10, &[1, 2])];
    msg.sample = vec![sample(&[1], &[1])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.location_name(LocationId(0)), "printf");
    let frames = p.frames(p.samples[0].stack);
    assert_eq!(
        (frames[0].name.as_ref(), frames[0].inlined),
        ("printf", false)
    );
    assert_eq!(
        (frames[1].name.as_ref(), frames[1].inlined),
        ("memcpy", true)
    );
}

#[test]
fn invalid_utf8_is_kept_lossily() {
    let mut msg = base(&[]);
    msg.string_table.push(b"bad\xff name".to_vec());
    msg.function.push(proto::Function {
        id: 1,
        name: 3,
        ..Default::default()
    });
    msg.location = vec![loc(1, 0, 0, &[1])];
    msg.sample = vec![sample(&[1], &[1])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.location_name(LocationId(0)), "bad\u{fffd} name");
}

#[test]
fn string_index_out_of_range_names_the_field() {
    let mut msg = base(&[]);
    msg.function.push(proto::Function {
        id: 1,
        name: 2,
        filename: 40,
        ..Default::default()
    });
    let err = pprof_message(dec(&msg).unwrap_err());
    assert_eq!(
        err,
        "function[0].filename refers to string index 40, but the string table has 3 entries"
    );
    let mut msg = base(&[]);
    msg.drop_frames = -1;
    assert!(
        pprof_message(dec(&msg).unwrap_err()).starts_with("drop_frames refers to string index -1")
    );
    let mut msg = base(&[]);
    msg.sample = vec![proto::Sample {
        label: vec![proto::Label {
            key: 1,
            str: 8,
            ..Default::default()
        }],
        ..sample(&[], &[1])
    }];
    assert!(
        pprof_message(dec(&msg).unwrap_err())
            .starts_with("sample[0].label[0].str refers to string index 8")
    );
}

#[test]
fn dangling_location_is_an_error() {
    let mut msg = base(&[]);
    msg.location = vec![loc(1, 0, 0, &[])];
    msg.sample = vec![sample(&[1], &[1]), sample(&[1, 5], &[1])];
    let err = pprof_message(dec(&msg).unwrap_err());
    assert_eq!(
        err,
        "sample[1] refers to location id 5, which no location has"
    );
}

#[test]
fn value_counts_are_padded_or_truncated() {
    let mut msg = base(&["cpu", "nanoseconds"]);
    msg.sample_type
        .push(proto::ValueType { r#type: 3, unit: 4 });
    msg.sample = vec![
        sample(&[], &[1]),
        sample(&[], &[2, 3, 4]),
        sample(&[], &[-5, -6]),
    ];
    let p = dec(&msg).unwrap();
    assert_eq!(p.values, vec![1, 0, 2, 3, -5, -6]);
    assert_eq!(p.samples[0].stack, StackId::EMPTY);
}

#[test]
fn without_sample_types_each_value_column_gets_an_unnamed_type() {
    let mut msg = base(&[]);
    msg.sample_type.clear();
    msg.sample = vec![sample(&[], &[1]), sample(&[], &[2, 3])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.sample_types.len(), 2);
    assert_eq!(p.value_type_name(p.sample_types[1]), "/");
    assert_eq!(p.values, vec![1, 0, 2, 3]);
}

#[test]
fn labels_are_string_or_number_with_unit() {
    let mut msg = base(&["thread", "main", "bytes", "size"]);
    let labels = vec![
        proto::Label {
            key: 3,
            str: 4,
            ..Default::default()
        },
        proto::Label {
            key: 6,
            num: -12,
            num_unit: 5,
            ..Default::default()
        },
    ];
    msg.sample = vec![
        proto::Sample {
            label: labels.clone(),
            ..sample(&[], &[1])
        },
        proto::Sample {
            label: labels,
            ..sample(&[], &[2])
        },
    ];
    let p = dec(&msg).unwrap();
    assert_eq!(
        p.samples[0].labels, p.samples[1].labels,
        "label sets are interned"
    );
    let l = p.labels(&p.samples[0]);
    assert_eq!(p.strings.get(l[0].key), "thread");
    assert!(matches!(l[0].value, LabelValue::Str(s) if p.strings.get(s) == "main"));
    assert!(
        matches!(l[1].value, LabelValue::Num { value: -12, unit } if p.strings.get(unit) == "bytes")
    );
}

#[test]
fn sparse_ids_are_resolved() {
    let mut msg = base(&["f"]);
    msg.function.push(proto::Function {
        id: u64::MAX,
        name: 3,
        ..Default::default()
    });
    msg.location = vec![loc(1 << 40, 0, 1, &[u64::MAX]), loc(7, 0, 2, &[])];
    msg.sample = vec![sample(&[7, 1 << 40], &[1])];
    let p = dec(&msg).unwrap();
    assert_eq!(p.frame_names(p.samples[0].stack), vec!["f", "0x2"]);
}

#[test]
fn limits_are_enforced() {
    let mut msg = base(&[]);
    msg.location = vec![loc(1, 0, 0, &[])];
    msg.sample = vec![sample(&[1, 1, 1], &[1])];
    let limits = DecodeLimits {
        max_stack_depth: 2,
        ..DecodeLimits::default()
    };
    let err = decode(&msg.encode_to_vec(), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "stack depth",
                limit: 2
            }
        ),
        "{err}"
    );
    let limits = DecodeLimits {
        max_samples: 0,
        ..DecodeLimits::default()
    };
    let err = decode(&msg.encode_to_vec(), &limits).unwrap_err();
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
}

#[test]
fn round_trip_keeps_everything_pprof_can_carry() {
    let mut msg = base(&[
        "main",
        "main.go",
        "/bin/app",
        "abc123",
        "note",
        "cpu",
        "https://doc",
    ]);
    msg.mapping.push(proto::Mapping {
        id: 3,
        memory_start: 1,
        memory_limit: 2,
        filename: 5,
        build_id: 6,
        has_functions: true,
        ..Default::default()
    });
    msg.function.push(proto::Function {
        id: 2,
        name: 3,
        system_name: 3,
        filename: 4,
        start_line: 9,
    });
    msg.location = vec![loc(5, 3, 0x99, &[2, 0])];
    msg.location[0].is_folded = true;
    msg.sample = vec![sample(&[5, 5], &[-3])];
    msg.comment = vec![7];
    msg.default_sample_type = 8;
    msg.doc_url = 9;
    msg.period_type = Some(proto::ValueType { r#type: 8, unit: 2 });
    msg.period = 100;
    msg.time_nanos = 5;
    msg.duration_nanos = 6;
    let p = dec(&msg).unwrap();
    let again = decode_maybe_gzip(&encode_gzip(&p), &DecodeLimits::default()).unwrap();
    assert_eq!(to_proto(&p), to_proto(&again));
    let out = to_proto(&again);
    assert_eq!(out.location[0].id, 1);
    assert_eq!(out.location[0].line[0].function_id, 1);
    assert_eq!(out.location[0].line[1].function_id, 0);
    assert_eq!(out.sample[0].location_id, vec![1, 1]);
    assert_eq!(out.string_table[0], b"");
}

#[test]
fn unpacked_and_unknown_sample_fields_decode_like_packed_ones() {
    let mut msg = base(&[]);
    msg.location = vec![loc(1, 0, 0x10, &[]), loc(2, 0, 0x20, &[])];
    msg.sample = vec![sample(&[1, 2], &[4])];
    let packed = dec(&msg).unwrap();
    // sample { location_id: 1 (unpacked); location_id: 2; value: 4; field 9: 1 }.
    let unpacked_sample = [0x08, 1, 0x08, 2, 0x10, 4, 0x48, 1];
    msg.sample.clear();
    let mut bytes = msg.encode_to_vec();
    bytes.extend_from_slice(&[0x12, unpacked_sample.len() as u8]);
    bytes.extend_from_slice(&unpacked_sample);
    let unpacked = decode(&bytes, &DecodeLimits::default()).unwrap();
    assert_eq!(
        unpacked.frame_names(unpacked.samples[0].stack),
        packed.frame_names(packed.samples[0].stack)
    );
    assert_eq!(unpacked.values, packed.values);
    // A sample cut short is prost's error.
    let cut = [0x12, 2, 0x0a, 5];
    bytes.extend_from_slice(&cut);
    assert!(matches!(
        decode(&bytes, &DecodeLimits::default()),
        Err(Error::PprofProtobuf(_))
    ));
}

#[test]
fn decoded_tables_are_indexed_for_later_interning() {
    let mut msg = base(&["main"]);
    msg.function.push(proto::Function {
        id: 1,
        name: 3,
        ..Default::default()
    });
    msg.location = vec![loc(1, 0, 0x10, &[1])];
    msg.sample = vec![sample(&[1], &[1])];
    let mut p = dec(&msg).unwrap();
    let lines = p.location_lines(LocationId(0)).to_vec();
    assert_eq!(
        p.intern_location(None, 0x10, &lines, crate::FrameKind::Unspecified),
        LocationId(0)
    );
    let stack = p.samples[0].stack;
    assert_eq!(p.stacks.intern([LocationId(0)]), stack);
    assert_eq!(
        from_proto(&msg, &DecodeLimits::default())
            .unwrap()
            .stacks
            .len(),
        p.stacks.len()
    );
}

#[test]
fn padded_values_are_bounded_by_the_input_size() {
    // 32 sample types; one sample gives all 32 values, 20,000 give none (each padded to
    // 32 zeros): 640,032 values from about 60 KB.
    let mut msg = base(&[]);
    msg.sample_type = vec![proto::ValueType { r#type: 1, unit: 2 }; 32];
    msg.location = vec![loc(1, 0, 0, &[])];
    msg.sample = vec![sample(&[1], &[1; 32])];
    msg.sample.extend((0..20_000).map(|_| sample(&[1], &[])));
    let bytes = msg.encode_to_vec();
    assert!(bytes.len() < 640_032 / 4, "{}", bytes.len());
    let err = pprof_message(decode(&bytes, &DecodeLimits::default()).unwrap_err());
    assert!(err.contains("640032 values"), "{err}");
    // The same samples each giving their 32 values decode.
    msg.sample = (0..2_000).map(|_| sample(&[1], &[1; 32])).collect();
    assert_eq!(dec(&msg).unwrap().samples.len(), 2_000);
}

#[test]
fn distinct_label_sets_are_bounded() {
    let mut msg = base(&["span"]);
    let n = 300usize;
    msg.string_table
        .extend((0..n).map(|i| format!("v{i}").into_bytes()));
    msg.location = vec![loc(1, 0, 0, &[])];
    msg.sample = (0..n)
        .map(|i| proto::Sample {
            location_id: vec![1],
            value: vec![1],
            label: vec![proto::Label {
                key: 3,
                str: 4 + i as i64,
                ..Default::default()
            }],
        })
        .collect();
    let limits = DecodeLimits {
        max_label_sets: 299,
        ..DecodeLimits::default()
    };
    let err = decode(&msg.encode_to_vec(), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "distinct label sets",
                limit: 299
            }
        ),
        "{err}"
    );
    let limits = DecodeLimits {
        max_label_sets: 300,
        ..DecodeLimits::default()
    };
    // 300 sets and the empty one.
    let p = decode(&msg.encode_to_vec(), &limits);
    assert_eq!(p.unwrap().label_sets.len(), 301);
}
