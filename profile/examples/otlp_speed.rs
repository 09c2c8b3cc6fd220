//! Times OTLP decoding against pprof decoding of the same samples (no assertions; numbers
//! on stdout).
//!
//! ```sh
//! cargo run --release -p flamedb-profile --example otlp_speed
//! ```
//!
//! One seeded set of 200k samples over 20k locations (one function each, one mapping),
//! stacks of 8 to 40 frames grown from a shared trunk as real profiles are, one label per
//! sample out of 16 values. Written three ways: one pprof profile; one OTLP request with
//! one profile; one OTLP request with the samples split into 100 profiles sharing the
//! dictionary (the eBPF profiler's shape, one profile per process). Each is decoded 5
//! times; the best time is reported as samples per second, and for OTLP the time prost
//! alone takes to parse the request. The OTLP JSON form is timed once.
#![allow(clippy::unwrap_used)]

use flamedb_profile::otlp::proto as otlp;
use flamedb_profile::pprof::proto as pprof;
use flamedb_profile::testing::Rng;
use flamedb_profile::{DecodeLimits, otlp as otlp_decode, pprof as pprof_decode};
use prost::Message;
use std::time::{Duration, Instant};

const SAMPLES: usize = 200_000;
const LOCATIONS: usize = 20_000;
const LABELS: usize = 16;

/// Stacks (location positions 0.., leaf first), values and label value per sample.
struct Data {
    stacks: Vec<Vec<usize>>,
    values: Vec<i64>,
    labels: Vec<usize>,
}

fn data() -> Data {
    let mut rng = Rng::new(7);
    // A trunk shared by most stacks, then random branches.
    let trunk: Vec<usize> = (0..6).collect();
    let mut stacks = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let depth = 8 + rng.below(33);
        let mut root_first = trunk[..rng.below(trunk.len() + 1)].to_vec();
        while root_first.len() < depth {
            // Skewed towards low positions: some functions are everywhere.
            let bound = 1 + rng.below(LOCATIONS);
            let l = rng.below(bound);
            root_first.push(l);
        }
        root_first.reverse();
        stacks.push(root_first);
    }
    let values = (0..SAMPLES).map(|_| 1 + rng.below(1000) as i64).collect();
    let labels = (0..SAMPLES).map(|_| rng.below(LABELS)).collect();
    Data {
        stacks,
        values,
        labels,
    }
}

fn names() -> Vec<String> {
    (0..LOCATIONS)
        .map(|i| format!("github.com/org/pkg{}.(*Type{}).Method{i}", i % 97, i % 13))
        .collect()
}

fn pprof_bytes(d: &Data) -> Vec<u8> {
    let mut strings = vec![
        String::new(),
        "cpu".into(),
        "nanoseconds".into(),
        "thread".into(),
    ];
    strings.extend((0..LABELS).map(|i| format!("worker-{i}")));
    let first_name = strings.len();
    strings.extend(names());
    let p = pprof::Profile {
        sample_type: vec![pprof::ValueType { r#type: 1, unit: 2 }],
        sample: (0..SAMPLES)
            .map(|i| pprof::Sample {
                location_id: d.stacks[i].iter().map(|&l| l as u64 + 1).collect(),
                value: vec![d.values[i]],
                label: vec![pprof::Label {
                    key: 3,
                    str: 4 + d.labels[i] as i64,
                    num: 0,
                    num_unit: 0,
                }],
            })
            .collect(),
        location: (0..LOCATIONS)
            .map(|l| pprof::Location {
                id: l as u64 + 1,
                mapping_id: 1,
                address: 0x1000 + l as u64 * 16,
                line: vec![pprof::Line {
                    function_id: l as u64 + 1,
                    line: 1,
                    column: 0,
                }],
                is_folded: false,
            })
            .collect(),
        function: (0..LOCATIONS)
            .map(|f| pprof::Function {
                id: f as u64 + 1,
                name: (first_name + f) as i64,
                system_name: (first_name + f) as i64,
                filename: 0,
                start_line: 0,
            })
            .collect(),
        mapping: vec![pprof::Mapping {
            id: 1,
            memory_limit: 1 << 30,
            filename: 3,
            ..Default::default()
        }],
        string_table: strings.into_iter().map(String::into_bytes).collect(),
        ..Default::default()
    };
    p.encode_to_vec()
}

fn otlp_request(d: &Data, profiles: usize) -> otlp::ExportProfilesServiceRequest {
    let mut strings = vec![
        String::new(),
        "cpu".into(),
        "nanoseconds".into(),
        "thread".into(),
    ];
    let first_name = strings.len();
    strings.extend(names());
    let dictionary = otlp::ProfilesDictionary {
        mapping_table: vec![
            otlp::Mapping::default(),
            otlp::Mapping {
                memory_limit: 1 << 30,
                filename_strindex: 3,
                ..Default::default()
            },
        ],
        location_table: std::iter::once(otlp::Location::default())
            .chain((0..LOCATIONS).map(|l| otlp::Location {
                mapping_index: 1,
                address: 0x1000 + l as u64 * 16,
                lines: vec![otlp::Line {
                    function_index: l as i32 + 1,
                    line: 1,
                    column: 0,
                }],
                attribute_indices: vec![],
            }))
            .collect(),
        function_table: std::iter::once(otlp::Function::default())
            .chain((0..LOCATIONS).map(|f| otlp::Function {
                name_strindex: (first_name + f) as i32,
                system_name_strindex: (first_name + f) as i32,
                ..Default::default()
            }))
            .collect(),
        link_table: vec![otlp::Link::default()],
        string_table: strings.into_iter().map(String::into_bytes).collect(),
        attribute_table: std::iter::once(otlp::KeyValueAndUnit::default())
            .chain((0..LABELS).map(|i| otlp::KeyValueAndUnit {
                key_strindex: 3,
                value: Some(otlp::AnyValue {
                    value: Some(otlp::any_value::Value::StringValue(format!("worker-{i}"))),
                }),
                unit_strindex: 0,
            }))
            .collect(),
        stack_table: std::iter::once(otlp::Stack::default())
            .chain(d.stacks.iter().map(|s| otlp::Stack {
                location_indices: s.iter().map(|&l| l as i32 + 1).collect(),
            }))
            .collect(),
    };
    let per = SAMPLES.div_ceil(profiles);
    let profiles = (0..SAMPLES)
        .step_by(per)
        .map(|start| otlp::Profile {
            sample_type: Some(otlp::ValueType {
                type_strindex: 1,
                unit_strindex: 2,
            }),
            samples: (start..(start + per).min(SAMPLES))
                .map(|i| otlp::Sample {
                    stack_index: i as i32 + 1,
                    attribute_indices: vec![d.labels[i] as i32 + 1],
                    link_index: 0,
                    values: vec![d.values[i]],
                    timestamps_unix_nano: vec![],
                })
                .collect(),
            time_unix_nano: 1_700_000_000_000_000_000,
            ..Default::default()
        })
        .collect();
    otlp::ExportProfilesServiceRequest {
        resource_profiles: vec![otlp::ResourceProfiles {
            resource: None,
            scope_profiles: vec![otlp::ScopeProfiles {
                scope: None,
                profiles,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary),
    }
}

fn best(runs: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = f();
        best = best.min(t.elapsed());
    }
    (best, n)
}

fn report(what: &str, bytes: usize, (time, samples): (Duration, usize)) {
    println!(
        "{what:<34} {:>6.1} MB {:>8.1} ms {:>6.2} M samples/s",
        bytes as f64 / 1e6,
        time.as_secs_f64() * 1e3,
        samples as f64 / time.as_secs_f64() / 1e6
    );
}

fn main() {
    let d = data();
    let limits = DecodeLimits::default();
    let frames: usize = d.stacks.iter().map(Vec::len).sum();
    println!("{SAMPLES} samples, {frames} frames, {LOCATIONS} locations");
    let bytes = pprof_bytes(&d);
    report(
        "pprof decode",
        bytes.len(),
        best(5, || {
            pprof_decode::decode(&bytes, &limits).unwrap().samples.len()
        }),
    );
    for profiles in [1, 100] {
        let request = otlp_request(&d, profiles);
        let bytes = request.encode_to_vec();
        let decode = || {
            let out = otlp_decode::decode_request(&bytes, &limits).unwrap();
            assert_eq!(out.len(), profiles);
            out.iter().map(|p| p.profile.samples.len()).sum()
        };
        report(
            &format!("otlp decode ({profiles} profiles)"),
            bytes.len(),
            best(5, decode),
        );
        let parse = || {
            let r = otlp::ExportProfilesServiceRequest::decode(&bytes[..]).unwrap();
            r.resource_profiles[0].scope_profiles[0]
                .profiles
                .iter()
                .map(|p| p.samples.len())
                .sum()
        };
        report("  of which prost parsing", bytes.len(), best(5, parse));
    }
    // The JSON form of the one-profile request, written with the decoder's own mapping.
    let json = to_json(&otlp_request(&d, 1));
    report(
        "otlp JSON decode (1 profile)",
        json.len(),
        best(1, || {
            let out = otlp_decode::decode_request_json(json.as_bytes(), &limits).unwrap();
            out.iter().map(|p| p.profile.samples.len()).sum()
        }),
    );
}

/// A minimal OTLP/JSON writer for the messages the generator fills.
fn to_json(r: &otlp::ExportProfilesServiceRequest) -> String {
    use serde_json::json;
    let d = r.dictionary.as_ref().unwrap();
    let strings: Vec<String> = (d.string_table.iter())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    let dictionary = json!({
        "mappingTable": d.mapping_table.iter().map(|m| json!({
            "memoryLimit": m.memory_limit.to_string(), "filenameStrindex": m.filename_strindex})).collect::<Vec<_>>(),
        "locationTable": d.location_table.iter().map(|l| json!({
            "mappingIndex": l.mapping_index, "address": l.address.to_string(),
            "lines": l.lines.iter().map(|x| json!({"functionIndex": x.function_index, "line": x.line.to_string()})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "functionTable": d.function_table.iter().map(|f| json!({
            "nameStrindex": f.name_strindex, "systemNameStrindex": f.system_name_strindex})).collect::<Vec<_>>(),
        "stringTable": strings,
        "attributeTable": d.attribute_table.iter().map(|a| json!({
            "keyStrindex": a.key_strindex,
            "value": match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(otlp::any_value::Value::StringValue(s)) => json!({"stringValue": s}),
                _ => json!({}),
            }})).collect::<Vec<_>>(),
        "stackTable": d.stack_table.iter().map(|s| json!({"locationIndices": s.location_indices})).collect::<Vec<_>>(),
    });
    let p = &r.resource_profiles[0].scope_profiles[0].profiles[0];
    let profile = json!({
        "sampleType": {"typeStrindex": 1, "unitStrindex": 2},
        "timeUnixNano": p.time_unix_nano.to_string(),
        "samples": p.samples.iter().map(|s| json!({
            "stackIndex": s.stack_index, "attributeIndices": s.attribute_indices,
            "values": s.values.iter().map(|v| v.to_string()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
    });
    json!({
        "resourceProfiles": [{"scopeProfiles": [{"profiles": [profile]}]}],
        "dictionary": dictionary,
    })
    .to_string()
}
