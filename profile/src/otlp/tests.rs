//! The corpus request (binary and JSON) against expected.json and Pyroscope's answers,
//! and hand-made requests exercising one rule each.
#![allow(clippy::unwrap_used)] // tests: a panic is a failure report

use super::proto::{self, any_value::Value};
use super::*;
use crate::{Error, FrameKind, LabelValue};
use std::collections::BTreeMap;
use std::path::PathBuf;

const BIN: &str = "otel/pyroscope/otel-ebpf-profile.pb.bin";
const JSON: &str = "otel/pyroscope/otel-ebpf-profile.pb.json";

fn corpus() -> Option<(PathBuf, serde_json::Value)> {
    let dir = crate::testing::corpus_dir()?;
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    Some((dir, serde_json::from_str(&text).unwrap()))
}

/// Everything about a profile a user can see, in a comparable form.
fn render(p: &OtlpProfile) -> String {
    let q = &p.profile;
    let mut out = format!(
        "{:?} {:?} {:?} {:?} {} {} {} {:?}\n",
        p.resource_attributes,
        p.scope_name,
        p.scope_attributes,
        p.profile_attributes,
        q.value_type_name(q.sample_types[0]),
        q.period,
        q.time_nanos,
        q.period_type.map(|vt| q.value_type_name(vt)),
    );
    for (i, s) in q.samples.iter().enumerate() {
        let frames: Vec<String> = q
            .frames(s.stack)
            .iter()
            .map(|f| format!("{}|{}|{:?}|{}", f.name, f.build_id, f.kind, f.address))
            .collect();
        out += &format!(
            "{:?} {:?} {:?} {:?}\n",
            frames,
            q.sample_values(i),
            labels(q, s),
            s.time_nanos
        );
    }
    out
}

fn labels(q: &Profile, s: &crate::Sample) -> Vec<(String, String)> {
    q.labels(s)
        .iter()
        .map(|l| {
            let v = match l.value {
                LabelValue::Str(v) => q.strings.get(v).to_string(),
                LabelValue::Num { value, .. } => value.to_string(),
            };
            (q.strings.get(l.key).to_string(), v)
        })
        .collect()
}

#[test]
fn corpus_request_has_the_expected_facts() {
    let Some((dir, expected)) = corpus() else {
        return;
    };
    let data = std::fs::read(dir.join(BIN)).unwrap();
    let limits = DecodeLimits::default();
    let profiles = decode_request(&data, &limits).unwrap();
    let facts = &expected["files"][BIN];
    let request = proto::ExportProfilesServiceRequest::decode(&data[..]).unwrap();
    assert_eq!(
        request.resource_profiles.len() as u64,
        facts["resource_profiles"].as_u64().unwrap()
    );
    let scopes: usize = request
        .resource_profiles
        .iter()
        .map(|r| r.scope_profiles.len())
        .sum();
    assert_eq!(scopes as u64, facts["scope_profiles"].as_u64().unwrap());
    // The dictionary's tables as the facts count them (the field numbers are right).
    let d = request.dictionary.as_ref().unwrap();
    let tables = [
        ("mapping_table", d.mapping_table.len()),
        ("location_table", d.location_table.len()),
        ("function_table", d.function_table.len()),
        ("link_table", d.link_table.len()),
        ("string_table", d.string_table.len()),
        ("attribute_table", d.attribute_table.len()),
        ("stack_table", d.stack_table.len()),
    ];
    for (name, len) in tables {
        assert_eq!(
            len as u64,
            facts["dictionary"][name].as_u64().unwrap(),
            "{name}"
        );
    }
    assert_eq!(profiles.len() as u64, facts["profiles"].as_u64().unwrap());
    let samples: usize = profiles.iter().map(|p| p.profile.samples.len()).sum();
    assert_eq!(samples as u64, facts["samples"].as_u64().unwrap());
    // Per sample type: profiles, samples, and the value sum (for samples without values,
    // one per timestamp: the facts count those timestamps).
    let mut by_type: BTreeMap<String, (u64, u64, i64)> = BTreeMap::new();
    for p in &profiles {
        let q = &p.profile;
        let t = by_type
            .entry(q.value_type_name(q.sample_types[0]))
            .or_default();
        t.0 += 1;
        t.1 += q.samples.len() as u64;
        t.2 += q.values.iter().sum::<i64>();
    }
    let want = facts["by_sample_type"].as_object().unwrap();
    assert_eq!(by_type.len(), want.len());
    for (name, (n_profiles, n_samples, sum)) in &by_type {
        let w = &want[name];
        assert_eq!(*n_profiles, w["profiles"].as_u64().unwrap(), "{name}");
        assert_eq!(*n_samples, w["samples"].as_u64().unwrap(), "{name}");
        let want_sum = if w["values"].as_u64() == Some(0) {
            w["timestamps"].as_i64().unwrap()
        } else {
            w["value_sum"].as_i64().unwrap()
        };
        assert_eq!(*sum, want_sum, "{name}");
    }
    assert_eq!(by_type["off_cpu/nanoseconds"].2, 267_302_249_331);
    // Every profile knows its process, and kernel frames are marked.
    assert!(
        profiles
            .iter()
            .all(|p| p.attribute("process.pid").is_some())
    );
    let kernel = profiles.iter().any(|p| {
        let q = &p.profile;
        q.samples.iter().any(|s| {
            q.frames(s.stack)
                .iter()
                .any(|f| f.kind == FrameKind::Kernel)
        })
    });
    assert!(kernel);
}

#[test]
fn corpus_json_decodes_to_the_same_profiles() {
    let Some((dir, _)) = corpus() else {
        return;
    };
    let limits = DecodeLimits::default();
    let bin = decode_request(&std::fs::read(dir.join(BIN)).unwrap(), &limits).unwrap();
    let json = decode_request_json(&std::fs::read(dir.join(JSON)).unwrap(), &limits).unwrap();
    assert_eq!(bin.len(), json.len());
    for (b, j) in bin.iter().zip(&json) {
        assert_eq!(render(b), render(j));
    }
}

/// Pyroscope's merged answer: (leaf-first function names) -> value.
fn pyroscope_answer(path: &std::path::Path) -> BTreeMap<Vec<String>, i64> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for s in doc["samples"].as_array().unwrap() {
        // A line is `name[system_name]@file:line`.
        let names = s["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let line = l["lines"][0].as_str().unwrap();
                let at = line.rfind('@').unwrap();
                let open = line[..at].rfind('[').unwrap();
                line[..open].to_string()
            })
            .collect();
        let v: i64 = s["values"].as_str().unwrap().parse().unwrap();
        *out.entry(names).or_insert(0) += v;
    }
    out
}

/// Our merged stacks of the profiles Pyroscope names `unknown_service` (no
/// `service.name`, no `process.executable.name`), leaf first, values times `scale(p)`.
fn merged(
    profiles: &[OtlpProfile],
    sample_type: &str,
    scale: impl Fn(&Profile) -> i64,
) -> BTreeMap<Vec<String>, i64> {
    let mut out = BTreeMap::new();
    for p in profiles {
        let q = &p.profile;
        let unnamed = p.attribute("service.name").is_none()
            && p.attribute("process.executable.name").is_none();
        if !unnamed || q.value_type_name(q.sample_types[0]) != sample_type {
            continue;
        }
        for (i, s) in q.samples.iter().enumerate() {
            let mut names: Vec<String> = q
                .frame_names(s.stack)
                .iter()
                .map(|n| n.to_string())
                .collect();
            names.reverse();
            *out.entry(names).or_insert(0) += q.sample_values(i)[0] * scale(q);
        }
    }
    out
}

#[test]
fn corpus_request_merges_to_pyroscopes_answers_stack_by_stack() {
    let Some((dir, expected)) = corpus() else {
        return;
    };
    let data = std::fs::read(dir.join(BIN)).unwrap();
    let profiles = decode_request(&data, &DecodeLimits::default()).unwrap();
    // Off-CPU: the values as they are.
    let file = "otel/pyroscope/otel-ebpf-profile-offcpu.out.json";
    let want = pyroscope_answer(&dir.join(file));
    let got = merged(&profiles, "off_cpu/nanoseconds", |_| 1);
    assert_eq!(got, want);
    let facts = &expected["files"][file];
    assert_eq!(got.len() as u64, facts["num_samples"].as_u64().unwrap());
    assert_eq!(
        got.values().sum::<i64>(),
        facts["value_sum"].as_i64().unwrap()
    );
    // CPU: Pyroscope turns `samples/count` with a `cpu/nanoseconds` period into
    // nanoseconds, count times period; the decoder keeps the counts, and
    // `samples_as_cpu_time` converts them.
    let file = "otel/pyroscope/otel-ebpf-profile-cpu.out.json";
    let want = pyroscope_answer(&dir.join(file));
    let got = merged(&profiles, "samples/count", |q| q.period);
    assert_eq!(got, want);
    let mut profiles = profiles;
    let mut converted = 0;
    for p in &mut profiles {
        converted += usize::from(p.samples_as_cpu_time());
    }
    assert_eq!(converted, 5);
    let got = merged(&profiles, "cpu/nanoseconds", |_| 1);
    assert_eq!(got, want);
    let facts = &expected["files"][file];
    assert_eq!(got.len() as u64, facts["num_samples"].as_u64().unwrap());
    assert_eq!(
        got.values().sum::<i64>(),
        facts["value_sum"].as_i64().unwrap()
    );
}

// ---------------------------------------------------------------- hand-made requests

fn strings(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn str_attr(key: i32, value: &str) -> proto::KeyValueAndUnit {
    proto::KeyValueAndUnit {
        key_strindex: key,
        value: Some(proto::AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        unit_strindex: 0,
    }
}

/// Two profiles over one dictionary: `main -> work -> leaf` and `main -> idle`.
fn request() -> proto::ExportProfilesServiceRequest {
    let function = |name| proto::Function {
        name_strindex: name,
        ..Default::default()
    };
    let location = |f, attrs: Vec<i32>| proto::Location {
        mapping_index: 1,
        address: 0x10 * f as u64,
        lines: vec![proto::Line {
            function_index: f,
            line: 3,
            column: 0,
        }],
        attribute_indices: attrs,
    };
    let dictionary = proto::ProfilesDictionary {
        mapping_table: vec![
            proto::Mapping::default(),
            proto::Mapping {
                filename_strindex: 7,
                attribute_indices: vec![2],
                ..Default::default()
            },
        ],
        location_table: vec![
            proto::Location::default(),
            location(1, vec![]),
            location(2, vec![]),
            location(3, vec![3]),
            location(4, vec![]),
        ],
        function_table: vec![
            proto::Function::default(),
            function(3),
            function(4),
            function(5),
            function(6),
        ],
        link_table: vec![
            proto::Link::default(),
            proto::Link {
                trace_id: vec![0xab; 16],
                span_id: vec![1, 2, 3, 4, 5, 6, 7, 8],
            },
        ],
        string_table: strings(&[
            "",
            "cpu",
            "nanoseconds",
            "main",
            "work",
            "leaf",
            "idle",
            "/bin/app",
            "thread.name",
            "process.executable.build_id.gnu",
            "profile.frame.type",
        ]),
        attribute_table: vec![
            proto::KeyValueAndUnit::default(),
            str_attr(8, "worker-1"),
            str_attr(9, "b1d"),
            str_attr(10, "kernel"),
        ],
        stack_table: vec![
            proto::Stack::default(),
            proto::Stack {
                location_indices: vec![3, 2, 1],
            },
            proto::Stack {
                location_indices: vec![4, 1],
            },
        ],
    };
    let sample = |stack, values: Vec<i64>, ts: Vec<u64>| proto::Sample {
        stack_index: stack,
        attribute_indices: vec![1],
        link_index: 0,
        values,
        timestamps_unix_nano: ts,
    };
    let profile = |samples| proto::Profile {
        sample_type: Some(proto::ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples,
        time_unix_nano: 0,
        period: 10,
        ..Default::default()
    };
    let mut linked = sample(2, vec![], vec![50, 40]);
    linked.link_index = 1;
    proto::ExportProfilesServiceRequest {
        resource_profiles: vec![proto::ResourceProfiles {
            resource: Some(proto::Resource {
                attributes: vec![proto::KeyValue {
                    key: "service.name".into(),
                    value: Some(proto::AnyValue {
                        value: Some(Value::StringValue("app".into())),
                    }),
                    key_strindex: 0,
                }],
                dropped_attributes_count: 0,
            }),
            scope_profiles: vec![proto::ScopeProfiles {
                scope: None,
                profiles: vec![
                    profile(vec![sample(1, vec![5, 7], vec![30, 20]), linked]),
                    profile(vec![sample(2, vec![1], vec![])]),
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary),
    }
}

fn dec(r: &proto::ExportProfilesServiceRequest) -> Result<Vec<OtlpProfile>> {
    decode_request(&r.encode_to_vec(), &DecodeLimits::default())
}

fn otlp_message(e: Error) -> String {
    match e {
        Error::Otlp { message } => message,
        other => panic!("expected Error::Otlp, got {other:?}"),
    }
}

#[test]
fn profiles_copy_only_what_they_reference() {
    let profiles = dec(&request()).unwrap();
    assert_eq!(profiles.len(), 2);
    let p = &profiles[0];
    assert_eq!(p.attribute("service.name"), Some("app"));
    let q = &p.profile;
    assert_eq!(q.value_type_name(q.sample_types[0]), "cpu/nanoseconds");
    assert_eq!(
        q.values,
        [12, 2],
        "values summed; no values: one per timestamp"
    );
    assert_eq!(q.time_nanos, 20, "no profile time: the earliest timestamp");
    assert_eq!(q.samples[0].time_nanos, Some(20));
    let names: Vec<_> = q
        .frame_names(q.samples[0].stack)
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, ["main", "work", "leaf"], "root first");
    let frames = q.frames(q.samples[0].stack);
    assert_eq!(frames[2].kind, FrameKind::Kernel);
    assert_eq!(
        (frames[0].build_id, frames[0].mapping_file),
        ("b1d", "/bin/app")
    );
    assert_eq!(
        labels(q, &q.samples[0]),
        [("thread.name".into(), "worker-1".into())]
    );
    assert_eq!(
        labels(q, &q.samples[1])[1..],
        [
            ("span_id".to_string(), "0102030405060708".to_string()),
            ("trace_id".to_string(), "ab".repeat(16)),
        ]
    );
    // The second profile has only `main -> idle`: two locations, two functions.
    let q = &profiles[1].profile;
    assert_eq!((q.locations.len(), q.functions.len()), (2, 2));
    assert!(q.strings.lookup("leaf").is_none());
}

#[test]
fn json_mapping_reads_strings_numbers_nulls_and_hex_ids() {
    let json = r#"{
      "resourceProfiles": [{
        "resource": {"attributes": [{"key": "k", "value": {"intValue": "42"}},
                                    {"key": "b", "value": {"boolValue": true}},
                                    {"key": "a", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"doubleValue": 1.5}]}}}]},
        "scopeProfiles": [{"scope": {"name": "ebpf", "version": null},
          "profiles": [{"sampleType": {"typeStrindex": 1, "unitStrindex": "2"},
                        "samples": [{"stackIndex": 1, "values": [3, "4"], "linkIndex": 1, "unknownField": {}}],
                        "timeUnixNano": "1000", "period": 7, "periodType": null}]}]
      }],
      "dictionary": {
        "stringTable": ["", "cpu", "nanoseconds", "f"],
        "functionTable": [{}, {"nameStrindex": 3}],
        "locationTable": [{}, {"lines": [{"functionIndex": 1}]}],
        "stackTable": [{}, {"locationIndices": [1]}],
        "linkTable": [{}, {"traceId": "0AFF", "spanId": "AQI="}],
        "mappingTable": null
      }
    }"#;
    let profiles = decode_request_json(json.as_bytes(), &DecodeLimits::default()).unwrap();
    let p = &profiles[0];
    assert_eq!(p.attribute("k"), Some("42"));
    assert_eq!(p.attribute("b"), Some("true"));
    assert_eq!(p.attribute("a"), Some(r#"["x",1.5]"#));
    assert_eq!(p.scope_name, "ebpf");
    let q = &p.profile;
    assert_eq!(
        (q.values.as_slice(), q.time_nanos, q.period),
        (&[7][..], 1000, 7)
    );
    let l = labels(q, &q.samples[0]);
    assert_eq!(
        l,
        [
            ("span_id".into(), "0102".into()),
            ("trace_id".into(), "0aff".into())
        ]
    );
}

#[test]
fn bad_references_name_the_field() {
    type Breaker = Box<dyn Fn(&mut proto::ExportProfilesServiceRequest)>;
    let cases: Vec<(Breaker, &str)> = vec![
        (
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = 9
            }),
            "resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index is 9",
        ),
        (
            Box::new(|r| r.dictionary.as_mut().unwrap().stack_table[1].location_indices[1] = -1),
            "dictionary.stack_table[1].location_indices[1] is -1",
        ),
        (
            Box::new(|r| {
                r.dictionary.as_mut().unwrap().location_table[2].lines[0].function_index = 99
            }),
            "dictionary.location_table[2].lines[0].function_index is 99",
        ),
        (
            Box::new(|r| r.dictionary.as_mut().unwrap().function_table[1].name_strindex = 1000),
            "dictionary.function_table[1].name_strindex (string index) is 1000",
        ),
        (
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[1].samples[0]
                    .values
                    .clear()
            }),
            "profiles[1].samples[0] has neither values nor timestamps",
        ),
        (
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[1].samples[0].values =
                    vec![i64::MAX, 1]
            }),
            "profiles[1].samples[0]: the sum of its values overflows",
        ),
        (
            Box::new(|r| {
                r.resource_profiles[0].scope_profiles[0].profiles[0].samples[1].link_index = 5
            }),
            "samples[1].link_index is 5",
        ),
    ];
    for (break_it, want) in cases {
        let mut r = request();
        break_it(&mut r);
        let message = otlp_message(dec(&r).unwrap_err());
        assert!(message.contains(want), "{message:?} should say {want:?}");
    }
}

#[test]
fn truncated_and_garbage_input_are_errors() {
    let bytes = request().encode_to_vec();
    for cut in [1, bytes.len() / 3, bytes.len() - 1] {
        let err = decode_request(&bytes[..cut], &DecodeLimits::default()).unwrap_err();
        assert!(otlp_message(err).starts_with("protobuf:"));
    }
    for json in [
        "",
        "{",
        r#"{"resourceProfiles": 5}"#,
        r#"{"dictionary": {"stringTable": [1]}}"#,
    ] {
        let err = decode_request_json(json.as_bytes(), &DecodeLimits::default()).unwrap_err();
        assert!(otlp_message(err).starts_with("JSON:"), "{json}");
    }
    // Nothing at all is an empty request.
    assert!(
        decode_request(b"", &DecodeLimits::default())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn limits_are_enforced() {
    let limited = |f: fn(&mut DecodeLimits)| {
        let mut limits = DecodeLimits::default();
        f(&mut limits);
        decode_request(&request().encode_to_vec(), &limits).unwrap_err()
    };
    let what = |e: Error| match e {
        Error::Limit { what, .. } => what,
        other => panic!("{other:?}"),
    };
    assert_eq!(what(limited(|l| l.max_samples = 1)), "samples");
    assert_eq!(what(limited(|l| l.max_stack_depth = 2)), "stack depth");
    assert_eq!(
        what(limited(|l| l.max_labels_per_sample = 2)),
        "labels per sample"
    );
    assert!(matches!(
        limited(|l| l.max_decompressed_bytes = 10),
        Error::DecompressedTooLarge { limit: 10 }
    ));
}

/// Found by `fuzz/fuzz_targets/otlp_decode.rs`: an attribute whose value is not set (an
/// unknown `arrayYalue` key) rendered as `""` became a string label with an empty value,
/// which pprof reads back as a numeric label. Attributes without a value are not labels.
#[test]
fn fuzz_attribute_without_value_is_no_label() {
    let json = r#"{"resourceProfiles":[{"scopeProfiles":[{"profiles":[{"sampleType":{"typeStrindex":1,"unitStrindex":2},"samples":[{"stackIndex":1,"values":[3,"4"],"linkIndex":1,"attributeIndices":[1]}],"timeUnixNano":"1000","period":7}]}]}],"dictionary":{"stringTable":["","cpu","nanoseconds","f"],"functionTable":[{},{"nameStrindex":3}],"locationTable":[{},{"lines":[{"functionIndex":1}],"mappingIndex":1}],"mappingTable":[{},{"filenameStrindex":3,"attributeIndices":[1]}],"attributeTable":[{},{"keyStrindex":3,"value":{"arrayYalue":{"values":[{"stringValue":"x"}]}}}],"stackTable":[{},{"locationIndices":[0,1]}],"linkTable":[{},{"traceId":"0AFF","spanId":"AQI="}]}}"#;
    let limits = DecodeLimits::default();
    let p = &decode_request_json(json.as_bytes(), &limits).unwrap()[0].profile;
    let keys: Vec<_> = labels(p, &p.samples[0])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, ["span_id", "trace_id"]);
    let again = crate::pprof::decode(&crate::pprof::encode(p), &limits).unwrap();
    assert_eq!(crate::Summary::of(p), crate::Summary::of(&again));
}

#[test]
fn sample_counts_are_checked_before_decoding() {
    let mut r = request();
    let samples = &mut r.resource_profiles[0].scope_profiles[0].profiles[0].samples;
    samples.resize(1000, proto::Sample::default());
    let bytes = r.encode_to_vec();
    let limits = DecodeLimits {
        max_samples: 999,
        ..DecodeLimits::default()
    };
    assert!(matches!(
        scan::check_samples(&bytes, &limits),
        Err(Error::Limit {
            what: "samples",
            limit: 999
        })
    ));
    let limits = DecodeLimits {
        max_samples: 1000,
        ..DecodeLimits::default()
    };
    assert!(scan::check_samples(&bytes, &limits).is_ok());
    // Bad framing is left to prost.
    assert!(scan::check_samples(&bytes[..bytes.len() / 2], &limits).is_ok());
    // A group is refused: prost would skip it and decode what follows unseen.
    assert!(scan::check_samples(&[0x0b, 0xff], &limits).is_err());
}

#[test]
fn json_requests_are_counted_before_decoding() {
    let at = |tables: usize, samples: usize| DecodeLimits {
        max_table_entries: tables,
        max_samples: samples,
        ..DecodeLimits::default()
    };
    let locations = vec!["{}"; 50].join(",");
    let samples = vec!["{\"values\": [\"1\"]}"; 20].join(",");
    let doc = format!(
        "{{\"resourceProfiles\": [{{\"scopeProfiles\": [{{\"profiles\": [{{\"samples\": [{samples}]}}]}}]}}], \
         \"dictionary\": {{\"stringTable\": [\"\", \"a\"], \"locationTable\": [{locations}]}}}}"
    );
    let err = decode_request_json(doc.as_bytes(), &at(49, 100)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "location table entries",
                limit: 49
            }
        ),
        "{err}"
    );
    let err = decode_request_json(doc.as_bytes(), &at(100, 19)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Limit {
                what: "samples",
                limit: 19
            }
        ),
        "{err}"
    );
    assert!(scan::check_json(doc.as_bytes(), &at(50, 20)).is_ok());
    // Malformed JSON is left to the decoder.
    assert!(scan::check_json(b"{\"dictionary\": [", &at(1, 1)).is_ok());
}

#[test]
fn dictionary_tables_are_counted_before_decoding() {
    let mut r = request();
    let dict = r.dictionary.as_mut().unwrap();
    let locations = dict.location_table.len();
    dict.location_table
        .resize(locations + 100, proto::Location::default());
    let bytes = r.encode_to_vec();
    let at = |n: usize| DecodeLimits {
        max_table_entries: n,
        ..DecodeLimits::default()
    };
    let n = locations + 100;
    assert!(matches!(
        decode_request(&bytes, &at(n - 1)),
        Err(Error::Limit {
            what: "location table entries",
            ..
        })
    ));
    assert!(scan::check_tables(&bytes, &at(n)).is_ok());
    // Every table is counted: the string table is the longest of the hand-made request.
    let strings = r.dictionary.as_ref().unwrap().string_table.len();
    let limits = at(strings.max(n) - 1);
    assert!(scan::check_tables(&bytes, &limits).is_err());
}

#[test]
fn a_v1_9_sample_is_refused_with_the_likely_cause() {
    // v1.9.0: values = 2, attribute_indices = 3 (packed), timestamps = 5.
    let sample = [0x08, 0x01, 0x12, 0x01, 0x05, 0x1a, 0x02, 0x01, 0x02];
    let mut profile = vec![0x12, sample.len() as u8];
    profile.extend(sample);
    let mut scope = vec![0x12, profile.len() as u8];
    scope.extend(profile);
    let mut resource = vec![0x12, scope.len() as u8];
    resource.extend(scope);
    let mut request = vec![0x0a, resource.len() as u8];
    request.extend(resource);
    let err = otlp_message(decode_request(&request, &DecodeLimits::default()).unwrap_err());
    assert!(err.contains("v1.9.0 or older"), "{err}");
}
