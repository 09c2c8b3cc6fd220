//! Pyroscope's querier API (Connect) on a real server, spoken with messages generated
//! from Pyroscope's own protos (`common/pyroscope_api.rs`, upstream path and commit in its
//! header) and with JSON as the UIs send it; answers checked against flamedb's SQL totals
//! on the same data, and flame graph levels decoded as Grafana does
//! (`[x_offset_delta, total, self, name_index]` per node, parents by containment).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Server;
use common::pyroscope_api::{querier::v1 as q, types::v1 as t};
use common::query::Api;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const T0: i64 = 1_700_000_000;

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_string()
}

struct Client {
    http: reqwest::Client,
    base: String,
    tenant: String,
}

impl Client {
    async fn proto<Req: Message, Resp: Message + Default>(&self, method: &str, req: &Req) -> Resp {
        let resp = self
            .http
            .post(format!("{}/querier.v1.QuerierService/{method}", self.base))
            .header("content-type", "application/proto")
            .header("connect-protocol-version", "1")
            .header("X-Scope-OrgID", &self.tenant)
            .body(req.encode_to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert_eq!(
            resp.headers()["content-type"],
            if status == StatusCode::OK {
                "application/proto"
            } else {
                "application/json"
            }
        );
        let body = resp.bytes().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{method}: {}",
            String::from_utf8_lossy(&body)
        );
        Resp::decode(body).unwrap()
    }

    async fn json(&self, method: &str, body: Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}/querier.v1.QuerierService/{method}", self.base))
            .header("content-type", "application/json")
            .header("X-Scope-OrgID", &self.tenant)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        (
            status,
            serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap(),
        )
    }
}

/// Per pod of app web: parse 300, render 100 (+pod), gc 200; api: one stack.
fn folded(app: &str, pod: i64) -> String {
    if app == "web" {
        format!(
            "main;handle;parse 300\nmain;handle;render {}\nmain;gc 200\n",
            100 + pod
        )
    } else {
        "main;serve 50\n".to_string()
    }
}

/// Grafana's decoding of flame graph levels: absolute x per node (the delta from the end
/// of the previous node of the level), parent = the node of the level above whose span
/// holds it. Returns per name: (total, self) summed over nodes, and the root total.
fn decode_levels(names: &[String], levels: &[Vec<i64>]) -> (BTreeMap<String, (i64, i64)>, i64) {
    let mut spans: Vec<Vec<(i64, i64)>> = vec![];
    let mut by_name: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (l, values) in levels.iter().enumerate() {
        assert_eq!(values.len() % 4, 0);
        let mut x = 0;
        let mut row = vec![];
        for n in values.chunks(4) {
            let (start, total, self_, name) = (x + n[0], n[1], n[2], n[3] as usize);
            x = start + total;
            if l > 0 {
                let inside = spans[l - 1]
                    .iter()
                    .any(|&(ps, pt)| ps <= start && start + total <= ps + pt);
                assert!(inside, "node {} at level {l} has no parent", names[name]);
            }
            row.push((start, total));
            let e = by_name.entry(names[name].clone()).or_default();
            e.0 += total;
            e.1 += self_;
        }
        spans.push(row);
    }
    let root = levels.first().map_or(0, |v| v[1]);
    (by_name, root)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafana_and_the_uis_query_flamedb_through_the_querier_api() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let c = Client {
        http: reqwest::Client::new(),
        base: server.url(""),
        tenant: "default".into(),
    };
    // Grafana's "Save & test" on an empty store: 200, no profile types.
    let r: q::ProfileTypesResponse = c
        .proto(
            "ProfileTypes",
            &q::ProfileTypesRequest {
                start: 1000,
                end: 4000,
            },
        )
        .await;
    assert!(r.profile_types.is_empty());

    let api = Api::new(&server, "default");
    for app in ["web", "api"] {
        for pod in 0..2 {
            let q = format!(
                "app={app}&version=1&dc=eu&label.pod=p{pod}&format=folded&time={}",
                T0 + pod
            );
            api.ingest(&q, folded(app, pod)).await;
        }
    }
    let (start, end) = ((T0 - 60) * 1000, (T0 + 60) * 1000);
    let r: q::ProfileTypesResponse = c
        .proto("ProfileTypes", &q::ProfileTypesRequest { start, end })
        .await;
    let ids: Vec<&str> = r.profile_types.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["process_cpu:samples:count:cpu:nanoseconds"]);
    let pt = ids[0].to_string();
    assert_eq!(r.profile_types[0].sample_type, "samples");

    // Labels, as the editor and the UIs ask for them.
    let names: t::LabelNamesResponse = c
        .proto(
            "LabelNames",
            &t::LabelNamesRequest {
                matchers: vec![format!("{{__profile_type__=\"{pt}\"}}")],
                start,
                end,
            },
        )
        .await;
    for n in ["service_name", "__profile_type__", "pod", "version", "dc"] {
        assert!(
            names.names.iter().any(|x| x == n),
            "{n} in {:?}",
            names.names
        );
    }
    let (status, v) = c
        .json(
            "LabelValues",
            json!({"name": "service_name", "matchers": [], "start": start, "end": end}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["names"], json!(["api", "web"]));
    let pods: t::LabelValuesResponse = c
        .proto(
            "LabelValues",
            &t::LabelValuesRequest {
                name: "pod".into(),
                matchers: vec!["{service_name=\"web\"}".into()],
                start,
                end,
            },
        )
        .await;
    assert_eq!(pods.names, ["p0", "p1"]);
    let series: q::SeriesResponse = c
        .proto(
            "Series",
            &q::SeriesRequest {
                matchers: vec![],
                label_names: vec!["service_name".into(), "__profile_type__".into()],
                start,
                end,
            },
        )
        .await;
    let sets: Vec<Vec<(String, String)>> = series
        .labels_set
        .iter()
        .map(|l| {
            l.labels
                .iter()
                .map(|p| (p.name.clone(), p.value.clone()))
                .collect()
        })
        .collect();
    assert_eq!(
        sets,
        [
            vec![
                ("__profile_type__".to_string(), pt.clone()),
                ("service_name".into(), "api".into())
            ],
            vec![
                ("__profile_type__".to_string(), pt.clone()),
                ("service_name".into(), "web".into())
            ],
        ]
    );

    // The merged flame graph of web's pods against SQL's totals.
    let sql_total = api
        .rows("SELECT sum(value) AS v FROM samples WHERE app = 'web'")
        .await[0]["v"]
        .as_i64()
        .unwrap();
    let sql_self: BTreeMap<String, i64> = api
        .rows("SELECT leaf(stack) AS f, sum(value) AS v FROM samples WHERE app = 'web' GROUP BY 1")
        .await
        .iter()
        .map(|r| {
            (
                r["f"].as_str().unwrap().to_string(),
                r["v"].as_i64().unwrap(),
            )
        })
        .collect();
    let fg: q::SelectMergeStacktracesResponse = c
        .proto(
            "SelectMergeStacktraces",
            &q::SelectMergeStacktracesRequest {
                profile_type_id: pt.clone(),
                label_selector: "{service_name=\"web\", pod=~\"p.*\"}".into(),
                start,
                end,
                ..Default::default()
            },
        )
        .await;
    let g = fg.flamegraph.unwrap();
    assert_eq!(g.total, sql_total);
    let levels: Vec<Vec<i64>> = g.levels.iter().map(|l| l.values.clone()).collect();
    let (by_name, root) = decode_levels(&g.names, &levels);
    assert_eq!(root, sql_total);
    for (f, v) in &sql_self {
        assert_eq!(by_name[f].1, *v, "self of {f}");
    }
    assert_eq!(by_name["handle"].0, sql_self["parse"] + sql_self["render"]);
    assert_eq!(g.max_self, *sql_self.values().max().unwrap());

    // The same as Drilldown sends it (JSON, proto field names beside JSON names), with
    // max_nodes small enough to fold the rest into `other`.
    let (status, v) = c
        .json(
            "SelectMergeStacktraces",
            json!({"profile_typeID": pt, "label_selector": "{service_name=\"web\"}",
                   "start": start.to_string(), "end": end, "maxNodes": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let fg = &v["flamegraph"];
    assert_eq!(
        fg["total"],
        sql_total.to_string(),
        "int64 as a string: {fg}"
    );
    let names: Vec<String> = serde_json::from_value(fg["names"].clone()).unwrap();
    let levels: Vec<Vec<i64>> = fg["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().parse().unwrap())
                .collect()
        })
        .collect();
    let (by_name, root) = decode_levels(&names, &levels);
    assert_eq!(root, sql_total);
    assert!(by_name.contains_key("other"), "{names:?}");
    let nodes: usize = levels.iter().map(|l| l.len() / 4).sum();
    assert!(nodes <= 3 + levels.len(), "{nodes} nodes");

    // Totals over time per pod, against SQL.
    let ss: q::SelectSeriesResponse = c
        .proto(
            "SelectSeries",
            &q::SelectSeriesRequest {
                profile_type_id: pt.clone(),
                label_selector: "{service_name=\"web\"}".into(),
                start,
                end,
                group_by: vec!["pod".into()],
                step: 60.0,
                limit: Some(1),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(ss.series.len(), 1, "limit keeps the top series");
    let top = &ss.series[0];
    assert_eq!(top.labels[0].name, "pod");
    assert_eq!(
        top.labels[0].value, "p1",
        "p1's render is one sample heavier"
    );
    let p1 = api
        .rows("SELECT sum(value) AS v FROM samples WHERE app = 'web' AND labels['pod'] = 'p1'")
        .await[0]["v"]
        .as_f64()
        .unwrap();
    assert_eq!(top.points.iter().map(|p| p.value).sum::<f64>(), p1);

    // Diff of pod p0 (left) and p1 (right): 7 values per node, each side decoded as
    // Grafana does, against SQL's per-pod totals.
    let side = |pod: &str| q::SelectMergeStacktracesRequest {
        profile_type_id: pt.clone(),
        label_selector: format!("{{service_name=\"web\", pod=\"{pod}\"}}"),
        start,
        end,
        ..Default::default()
    };
    let d: q::DiffResponse = c
        .proto(
            "Diff",
            &q::DiffRequest {
                left: Some(side("p0")),
                right: Some(side("p1")),
            },
        )
        .await;
    let g = d.flamegraph.unwrap();
    let pod_total = |pod: &str| {
        let api = &api;
        let sql = format!(
            "SELECT sum(value) AS v FROM samples WHERE app = 'web' AND labels['pod'] = '{pod}'"
        );
        async move { api.rows(&sql).await[0]["v"].as_i64().unwrap() }
    };
    let (l, r) = (pod_total("p0").await, pod_total("p1").await);
    assert_eq!((g.left_ticks, g.right_ticks, g.total), (l, r, l + r));
    let one_side = |offset: usize| -> Vec<Vec<i64>> {
        g.levels
            .iter()
            .map(|lv| {
                lv.values
                    .chunks(7)
                    .flat_map(|n| [n[offset], n[offset + 1], n[offset + 2], n[6]])
                    .collect()
            })
            .collect()
    };
    let (left_names, left_root) = decode_levels(&g.names, &one_side(0));
    let (right_names, right_root) = decode_levels(&g.names, &one_side(3));
    assert_eq!((left_root, right_root), (l, r));
    assert_eq!(
        right_names["render"].1 - left_names["render"].1,
        1,
        "p1's render is one more"
    );
    assert_eq!(right_names["parse"].1, left_names["parse"].1);

    // The merged profile as pprof, decoded with Pyroscope's google.v1.Profile.
    let resp = c
        .http
        .post(server.url("/querier.v1.QuerierService/SelectMergeProfile"))
        .header("content-type", "application/proto")
        .body(
            q::SelectMergeProfileRequest {
                profile_type_id: pt.clone(),
                label_selector: "{service_name=\"web\"}".into(),
                start,
                end,
                ..Default::default()
            }
            .encode_to_vec(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let p =
        common::pyroscope_api::google::v1::Profile::decode(resp.bytes().await.unwrap()).unwrap();
    let st = &p.string_table[p.sample_type[0].r#type as usize];
    assert_eq!(st, "samples");
    assert_eq!(p.sample.iter().map(|s| s.value[0]).sum::<i64>(), sql_total);

    // The same in JSON, as the Pyroscope UI asks: proto3 JSON of google.v1.Profile
    // (int64 as strings), read here by hand: the sample type, the total and every leaf's
    // self value against SQL's.
    let (status, j) = c
        .json(
            "SelectMergeProfile",
            json!({
                "profileTypeID": pt,
                "labelSelector": "{service_name=\"web\"}",
                "start": start.to_string(),
                "end": end.to_string(),
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{j}");
    let int = |v: &Value| v.as_str().unwrap().parse::<i64>().unwrap();
    let strings: Vec<&str> = j["stringTable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        strings[int(&j["sampleType"][0]["type"]) as usize],
        "samples"
    );
    let function_name: BTreeMap<i64, &str> = j["function"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (int(&f["id"]), strings[int(&f["name"]) as usize]))
        .collect();
    let leaf_of: BTreeMap<i64, &str> = j["location"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                int(&l["id"]),
                function_name[&int(&l["line"][0]["functionId"])],
            )
        })
        .collect();
    let mut json_self: BTreeMap<String, i64> = BTreeMap::new();
    for s in j["sample"].as_array().unwrap() {
        // pprof lists a stack leaf first.
        let leaf = leaf_of[&int(&s["locationId"][0])];
        *json_self.entry(leaf.to_string()).or_default() += int(&s["value"][0]);
    }
    assert_eq!(json_self.values().sum::<i64>(), sql_total);
    assert_eq!(json_self, sql_self);

    let stats: t::GetProfileStatsResponse = c
        .proto("GetProfileStats", &t::GetProfileStatsRequest {})
        .await;
    assert!(stats.data_ingested);
    assert_eq!(
        (stats.oldest_profile_time, stats.newest_profile_time),
        (T0 * 1000, (T0 + 1) * 1000)
    );

    // The legacy HTTP API, as Drilldown and Perses call it.
    let range = format!("from={}&until={}", T0 - 60, T0 + 60);
    let render = api
        .get(&format!(
            "/pyroscope/render?query={}&{range}&max-nodes=1024",
            urlencode(&format!("{pt}{{service_name=\"web\"}}"))
        ))
        .await
        .ok()
        .json();
    let fb = &render["flamebearer"];
    assert_eq!(fb["numTicks"], sql_total, "{render}");
    let names: Vec<String> = serde_json::from_value(fb["names"].clone()).unwrap();
    let levels: Vec<Vec<i64>> = serde_json::from_value(fb["levels"].clone()).unwrap();
    let (by_name, root) = decode_levels(&names, &levels);
    assert_eq!(root, sql_total);
    for (f, v) in &sql_self {
        assert_eq!(by_name[f].1, *v, "self of {f}");
    }
    assert_eq!(render["metadata"]["format"], "single");
    let timeline = &render["timeline"];
    let samples: Vec<i64> = serde_json::from_value(timeline["samples"].clone()).unwrap();
    assert_eq!(samples.iter().sum::<i64>(), sql_total, "{timeline}");
    assert!(timeline["durationDelta"].as_i64().unwrap() >= 15);
    assert!(timeline["startTime"].as_i64().unwrap() <= T0);
    let diff = api
        .get(&format!(
            "/pyroscope/render-diff?leftQuery={}&rightQuery={}&leftFrom={}&leftUntil={}&rightFrom={}&rightUntil={}",
            urlencode(&format!("{pt}{{service_name=\"web\", pod=\"p0\"}}")),
            urlencode(&format!("{pt}{{service_name=\"web\", pod=\"p1\"}}")),
            T0 - 60,
            T0 + 60,
            T0 - 60,
            T0 + 60
        ))
        .await
        .ok()
        .json();
    assert_eq!(diff["metadata"]["format"], "double");
    assert_eq!(
        (diff["leftTicks"].as_i64(), diff["rightTicks"].as_i64()),
        (Some(l), Some(r))
    );
    let values = api
        .get("/pyroscope/label-values?label=service_name")
        .await
        .ok()
        .json();
    assert_eq!(values, json!(["api", "web"]));
    let values = api
        .get("/pyroscope/label-values?label=__name__")
        .await
        .ok()
        .json();
    assert_eq!(values, json!([pt]));
    for path in [
        "/pyroscope/label-values".to_string(),
        format!(
            "/pyroscope/render?query={}",
            urlencode("{service_name=\"web\"}")
        ),
    ] {
        let a = api.get(&path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}: {}", a.text());
    }

    // Errors in Connect's form.
    let (status, v) = c.json("LabelValues", json!({"name": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["code"], "invalid_argument", "{v}");
    let (status, v) = c
        .json("SelectMergeStacktraces", json!({"profileTypeID": pt, "labelSelector": "{pod=~\"(\"}", "start": start, "end": end}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("bad regular expression"),
        "{v}"
    );
    let (status, v) = c.json("SelectHeatmap", json!({})).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(v["code"], "unimplemented");
    let (status, v) = c.json("Diff", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let resp = reqwest::Client::new()
        .post(server.url("/querier.v1.QuerierService/LabelNames"))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Another tenant sees none of it.
    let other = Client {
        tenant: "other".into(),
        ..c
    };
    let (status, v) = other
        .json(
            "LabelValues",
            json!({"name": "service_name", "start": start, "end": end}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["names"], json!([]), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_querier_api_takes_the_same_token_as_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--auth-token", "s3cret"]);
    let resp = reqwest::Client::new()
        .post(server.url("/querier.v1.QuerierService/ProfileTypes"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(v["code"], "unauthenticated", "{v}");
    let resp = reqwest::Client::new()
        .post(server.url("/querier.v1.QuerierService/ProfileTypes"))
        .header("content-type", "application/json")
        .bearer_auth("s3cret")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
