//! Pyroscope's querier API (`POST /querier.v1.QuerierService/<Method>`, Connect unary):
//! what Grafana's Pyroscope data source, Profiles Drilldown and Pyroscope's UI call, as
//! an adapter over the service (selections, flame trees, series, labels).
//!
//! ```text
//!  body (application/proto | application/json, gzip ok, bounded) ─► message
//!    ─► Selector: label selector and matchers (PromQL syntax, service::selector),
//!       service_name = app, __profile_type__ = a sample type, start/end ms
//!    ─► service: apps, label names/values, series, flame tree ─► message ─► same codec
//!  errors: {"code", "message"} with Connect's status (the connect_errors layer)
//! ```
//!
//! Served: ProfileTypes (an empty store answers an empty list: Grafana's "Save & test"),
//! LabelNames, LabelValues, Series, SelectMergeStacktraces (flame graph levels, the
//! `other` node past `max_nodes`), SelectSeries (`step`, `group_by`, sums, `limit` top
//! series), GetProfileStats, Diff (two selections aligned, 7 values per node),
//! SelectMergeProfile (the merged pprof; in JSON, `google.v1.Profile`'s proto3 JSON
//! mapping). Every other method answers `unimplemented`. Profile types
//! are named as Pyroscope names them (`process_cpu:cpu:nanoseconds:cpu:nanoseconds`);
//! flamedb's `version`, `dc` and stored labels are labels.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::small_body_of;
use super::limits::MAX_QUERY_BODY_BYTES;
use super::querier_proto::*;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use flamedb_profile::flame::render::{self, FlamebearerOptions};
use flamedb_query::Selector;
use flamedb_query::api::{MatchOp, Matcher};
use flamedb_service::query::meta::{
    self, LabelValuesRequest as SvcLabelValues, LabelsRequest, SeriesRequest as SvcSeries,
};
use flamedb_service::selector::parse_selector;
use std::collections::{BTreeMap, BTreeSet};

/// The path prefix of the service.
pub const QUERIER_PREFIX: &str = "/querier.v1.QuerierService/";

/// `max_nodes` when a request sets none (Pyroscope's default).
const DEFAULT_MAX_NODES: i64 = 8192;

/// The codec of a request, from its content type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Codec {
    Proto,
    Json,
}

fn codec(headers: &HeaderMap) -> Option<Codec> {
    let ct = super::content_type(headers);
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "application/proto" | "application/x-protobuf" => Some(Codec::Proto),
        "application/json" => Some(Codec::Json),
        _ => None,
    }
}

/// A Connect error answered directly (codes the service's kinds do not have).
fn connect_error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "code": code, "message": message })),
    )
        .into_response()
}

fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(
    codec: Codec,
    body: &[u8],
    method: &str,
) -> ApiResult<M> {
    match codec {
        Codec::Proto => M::decode(body)
            .map_err(|e| ApiError::bad_request(format!("{method}: bad protobuf body: {e}"))),
        Codec::Json => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("{method}: bad JSON body: {e}"))),
    }
}

fn encode<M: prost::Message + serde::Serialize>(codec: Codec, m: &M) -> ApiResult<Response> {
    Ok(match codec {
        Codec::Proto => ([(CONTENT_TYPE, "application/proto")], m.encode_to_vec()).into_response(),
        Codec::Json => (
            [(CONTENT_TYPE, "application/json")],
            serde_json::to_vec(m).map_err(|e| ApiError(flamedb_service::Error::internal(e)))?,
        )
            .into_response(),
    })
}

/// `POST /querier.v1.QuerierService/{method}`.
pub async fn call(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    state.rate.check(&tenant.0, 1.0, 0.0)?;
    let Some(codec) = codec(&headers) else {
        return Ok(connect_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_argument",
            format!(
                "content type {:?}: use application/proto or application/json",
                super::content_type(&headers)
            ),
        ));
    };
    let data = small_body_of(&state, &tenant, &headers, body, MAX_QUERY_BODY_BYTES).await?;
    let t = tenant.0.as_str();
    let _timer = state.metrics.query_timer("/querier.v1.QuerierService");
    match method.as_str() {
        "ProfileTypes" => {
            let r: ProfileTypesRequest = decode(codec, &data, &method)?;
            encode(codec, &profile_types(&state, t, r).await?)
        }
        "LabelNames" => {
            let r: LabelNamesRequest = decode(codec, &data, &method)?;
            encode(codec, &label_names(&state, t, r).await?)
        }
        "LabelValues" => {
            let r: LabelValuesRequest = decode(codec, &data, &method)?;
            encode(codec, &label_values(&state, t, r).await?)
        }
        "Series" => {
            let r: SeriesRequest = decode(codec, &data, &method)?;
            encode(codec, &series(&state, t, r).await?)
        }
        "SelectMergeStacktraces" => {
            let r: SelectMergeStacktracesRequest = decode(codec, &data, &method)?;
            encode(codec, &merge_stacktraces(&state, t, r).await?)
        }
        "SelectSeries" => {
            let r: SelectSeriesRequest = decode(codec, &data, &method)?;
            encode(codec, &select_series(&state, t, r).await?)
        }
        "GetProfileStats" => {
            let _: GetProfileStatsRequest = decode(codec, &data, &method)?;
            encode(codec, &profile_stats(&state, t).await?)
        }
        "Diff" => {
            let r: DiffRequest = decode(codec, &data, &method)?;
            encode(codec, &diff(&state, t, r).await?)
        }
        "SelectMergeProfile" => {
            let r: SelectMergeProfileRequest = decode(codec, &data, &method)?;
            let pprof = merge_profile(&state, t, r).await?;
            Ok(match codec {
                Codec::Proto => ([(CONTENT_TYPE, "application/proto")], pprof).into_response(),
                Codec::Json => (
                    [(CONTENT_TYPE, "application/json")],
                    profile_json(&pprof)?.to_string(),
                )
                    .into_response(),
            })
        }
        "SelectMergeSpanProfile" | "SelectHeatmap" | "AnalyzeQuery" => Ok(connect_error(
            StatusCode::NOT_IMPLEMENTED,
            "unimplemented",
            format!("querier.v1.QuerierService/{method} is not served by flamedb yet"),
        )),
        _ => Ok(connect_error(
            StatusCode::NOT_FOUND,
            "unimplemented",
            format!("querier.v1.QuerierService has no method {method:?}"),
        )),
    }
}

/// The Pyroscope profile type of a flamedb sample type and unit.
pub fn profile_type(sample_type: &str, unit: &str) -> ProfileType {
    let (name, period_type, period_unit) = match sample_type {
        "cpu" | "samples" => ("process_cpu", "cpu", "nanoseconds"),
        "wall" => ("wall", "wall", "nanoseconds"),
        "alloc_space" | "alloc_objects" | "inuse_space" | "inuse_objects" => {
            ("memory", "space", "bytes")
        }
        "goroutine" | "goroutines" => ("goroutine", "goroutine", "count"),
        "contentions" | "delay" => ("block", "contentions", "count"),
        other => (other, other, unit),
    };
    ProfileType {
        id: format!("{name}:{sample_type}:{unit}:{period_type}:{period_unit}"),
        name: name.to_string(),
        sample_type: sample_type.to_string(),
        sample_unit: unit.to_string(),
        period_type: period_type.to_string(),
        period_unit: period_unit.to_string(),
    }
}

/// The flamedb sample type of a profile type id (its second part).
fn sample_type_of(id: &str) -> ApiResult<String> {
    let parts: Vec<&str> = id.split(':').collect();
    if !(5..=6).contains(&parts.len()) || parts[1].is_empty() {
        return Err(ApiError::bad_request(format!(
            "profile type {id:?}: use <name>:<sample type>:<sample unit>:<period type>:<period unit>, \
             e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds"
        )));
    }
    Ok(parts[1].to_string())
}

/// A selection from selector texts (ANDed), a profile type id and a time range in ms.
fn selection(selectors: &[&str], profile_type: &str, start: i64, end: i64) -> ApiResult<Selector> {
    let mut sel = Selector::default();
    if start > 0 {
        sel.from_nanos = start.checked_mul(1_000_000);
    }
    if end > 0 {
        sel.until_nanos = end.checked_add(1).and_then(|e| e.checked_mul(1_000_000));
    }
    if start > 0 && end > 0 && start > end {
        return Err(ApiError::bad_request("start is after end"));
    }
    if !profile_type.is_empty() {
        sel.sample_type = Some(sample_type_of(profile_type)?);
    }
    for text in selectors {
        let parsed = parse_selector(text)?;
        for m in parsed.matchers {
            match m.name.as_str() {
                "__profile_type__" if m.op == MatchOp::Eq => {
                    sel.sample_type = Some(sample_type_of(&m.value)?);
                }
                "__profile_type__" => {
                    return Err(ApiError::bad_request(
                        "__profile_type__ takes = only (one profile type)",
                    ));
                }
                // The profile name is implied by the type.
                "__name__" => {}
                // Equality on a partition column or a label takes the selector's own
                // fields: the shape the scan prunes partitions and blocks by.
                "service_name" | "__service_name__" if m.op == MatchOp::Eq && sel.app.is_none() => {
                    sel.app = Some(m.value)
                }
                "version" if m.op == MatchOp::Eq && sel.version.is_none() => {
                    sel.version = Some(m.value)
                }
                "dc" if m.op == MatchOp::Eq && sel.dc.is_none() => sel.dc = Some(m.value),
                name if m.op == MatchOp::Eq && !m.value.is_empty() && name != "app" => {
                    sel.labels.push((m.name, m.value))
                }
                "service_name" | "__service_name__" => sel.matchers.push(Matcher {
                    name: "app".into(),
                    ..m
                }),
                _ => sel.matchers.push(m),
            }
        }
    }
    Ok(sel)
}

/// flamedb's name of a Pyroscope label (`service_name` is the app).
fn flamedb_label(name: &str) -> &str {
    match name {
        "service_name" | "__service_name__" => "app",
        n => n,
    }
}

/// Pyroscope's name of a flamedb label.
fn pyroscope_label(name: &str) -> &str {
    match name {
        "app" => "service_name",
        n => n,
    }
}

/// The (sample type, unit) pairs of a selection.
async fn types_of(
    state: &AppState,
    tenant: &str,
    sel: &Selector,
) -> ApiResult<BTreeSet<(String, String)>> {
    let apps = meta::apps(&state.engine, tenant, sel).await?;
    Ok(apps
        .apps
        .iter()
        .flat_map(|a| a.sample_types.iter())
        .map(|t| {
            (
                t.sample_type.clone().unwrap_or_default(),
                t.unit.clone().unwrap_or_default(),
            )
        })
        .collect())
}

async fn profile_types(
    state: &AppState,
    tenant: &str,
    r: ProfileTypesRequest,
) -> ApiResult<ProfileTypesResponse> {
    let sel = selection(&[], "", r.start, r.end)?;
    let mut out: Vec<ProfileType> = types_of(state, tenant, &sel)
        .await?
        .iter()
        .map(|(t, u)| profile_type(t, u))
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(ProfileTypesResponse { profile_types: out })
}

fn matcher_texts(matchers: &[String]) -> Vec<&str> {
    matchers.iter().map(String::as_str).collect()
}

async fn label_names(
    state: &AppState,
    tenant: &str,
    r: LabelNamesRequest,
) -> ApiResult<NamesResponse> {
    let sel = selection(&matcher_texts(&r.matchers), "", r.start, r.end)?;
    let names = meta::label_names(&state.engine, tenant, &LabelsRequest { selection: sel }).await?;
    let mut out: BTreeSet<String> = names
        .labels
        .iter()
        .filter(|n| *n != "sample_type")
        .map(|n| pyroscope_label(n).to_string())
        .collect();
    out.insert("__profile_type__".into());
    out.insert("__name__".into());
    Ok(NamesResponse {
        names: out.into_iter().collect(),
    })
}

async fn label_values(
    state: &AppState,
    tenant: &str,
    r: LabelValuesRequest,
) -> ApiResult<NamesResponse> {
    if r.name.is_empty() {
        return Err(ApiError::bad_request("name is required"));
    }
    let sel = selection(&matcher_texts(&r.matchers), "", r.start, r.end)?;
    let names: Vec<String> = match r.name.as_str() {
        "__profile_type__" | "__name__" => {
            let types = types_of(state, tenant, &sel).await?;
            let set: BTreeSet<String> = types
                .iter()
                .map(|(t, u)| {
                    let p = profile_type(t, u);
                    if r.name == "__name__" { p.name } else { p.id }
                })
                .collect();
            set.into_iter().collect()
        }
        name => {
            let v = meta::label_values(
                &state.engine,
                tenant,
                &SvcLabelValues {
                    selection: sel,
                    name: flamedb_label(name).to_string(),
                },
            )
            .await?;
            v.values
        }
    };
    Ok(NamesResponse { names })
}

async fn series(state: &AppState, tenant: &str, r: SeriesRequest) -> ApiResult<SeriesResponse> {
    let sel = selection(&matcher_texts(&r.matchers), "", r.start, r.end)?;
    let wanted: Vec<String> = if r.label_names.is_empty() {
        let names = meta::label_names(
            &state.engine,
            tenant,
            &LabelsRequest {
                selection: sel.clone(),
            },
        )
        .await?;
        names
            .labels
            .iter()
            .filter(|n| *n != "sample_type")
            .map(|n| pyroscope_label(n).to_string())
            .chain(["__profile_type__".to_string(), "__name__".to_string()])
            .collect()
    } else {
        r.label_names.clone()
    };
    // Distinct label sets: the profiles of the selection grouped by sample type and unit
    // (the profile type), and the stored columns and labels asked.
    let mut keys: Vec<String> = vec![];
    for w in &wanted {
        let f = flamedb_label(w);
        if !matches!(f, "__profile_type__" | "__name__") && !keys.iter().any(|k| k == f) {
            flamedb_service::parse::check_label_name(f)?;
            keys.push(f.to_string());
        }
    }
    let exprs = |keys: &[String]| -> Vec<datafusion::prelude::Expr> {
        use datafusion::prelude::{cast, col};
        let mut e = vec![
            cast(col("sample_type"), arrow::datatypes::DataType::Utf8).alias("__type"),
            cast(col("sample_unit"), arrow::datatypes::DataType::Utf8).alias("__unit"),
        ];
        for (i, k) in keys.iter().enumerate() {
            let x = if meta::COLUMNS.contains(&k.as_str()) {
                cast(col(k.as_str()), arrow::datatypes::DataType::Utf8)
            } else {
                flamedb_query::api::label(k)
            };
            e.push(x.alias(format!("k{i}")));
        }
        e
    };
    let batches = state
        .engine
        .collect(tenant, async |session| {
            sel.frame(&session, "profiles")
                .await?
                .aggregate(exprs(&keys), vec![])
        })
        .await?;
    let mut groups: Vec<BTreeMap<String, Option<String>>> = vec![];
    for b in &batches {
        let cols: Vec<Vec<Option<String>>> = (0..b.num_columns())
            .map(|i| flamedb_service::query::strings(b, i))
            .collect::<Result<_, _>>()?;
        let names: Vec<String> = ["__type".to_string(), "__unit".to_string()]
            .into_iter()
            .chain(keys.iter().cloned())
            .collect();
        for r in 0..b.num_rows() {
            groups.push(
                names
                    .iter()
                    .zip(&cols)
                    .map(|(n, c)| (n.clone(), c.get(r).cloned().flatten()))
                    .collect(),
            );
        }
    }
    Ok(SeriesResponse {
        labels_set: label_sets(&groups, &wanted),
    })
}

/// `max_nodes` of a request: none or 0 is Pyroscope's default; over the server's limit
/// or negative is an error.
fn max_nodes_of(state: &AppState, asked: Option<i64>) -> ApiResult<usize> {
    let max_nodes = match asked {
        None | Some(0) => DEFAULT_MAX_NODES,
        Some(n) if n < 0 => return Err(ApiError::bad_request("max_nodes must not be negative")),
        Some(n) => n,
    };
    let limit = state.engine.limits().max_nodes;
    if max_nodes as u64 > limit as u64 {
        return Err(ApiError::bad_request(format!(
            "max_nodes {max_nodes} is over the server's limit of {limit} (--query-max-nodes)"
        )));
    }
    Ok(max_nodes as usize)
}

async fn diff(state: &AppState, tenant: &str, r: DiffRequest) -> ApiResult<DiffResponse> {
    let (Some(left), Some(right)) = (r.left, r.right) else {
        return Err(ApiError::bad_request("left and right are required"));
    };
    if left.profile_type_id.is_empty() || left.profile_type_id != right.profile_type_id {
        return Err(ApiError::bad_request(
            "left and right need the same profile_typeID",
        ));
    }
    let max_nodes = max_nodes_of(state, left.max_nodes.max(right.max_nodes))?;
    let l = selection(
        &[left.label_selector.as_str()],
        &left.profile_type_id,
        left.start,
        left.end,
    )?;
    let rs = selection(
        &[right.label_selector.as_str()],
        &right.profile_type_id,
        right.start,
        right.end,
    )?;
    let tree = state
        .engine
        .flame_tree(tenant, &l, Some(&rs))
        .await?
        .truncate(max_nodes);
    let fb = render::flamebearer(&tree, &FlamebearerOptions::default());
    Ok(DiffResponse {
        flamegraph: Some(FlameGraphDiff {
            names: fb.flamebearer.names,
            levels: fb
                .flamebearer
                .levels
                .into_iter()
                .map(|values| Level { values })
                .collect(),
            total: fb.flamebearer.num_ticks,
            max_self: fb.flamebearer.max_self,
            left_ticks: fb.left_ticks.unwrap_or(0),
            right_ticks: fb.right_ticks.unwrap_or(0),
        }),
    })
}

/// The merged profile as pprof (`google.v1.Profile`, not compressed).
async fn merge_profile(
    state: &AppState,
    tenant: &str,
    r: SelectMergeProfileRequest,
) -> ApiResult<Vec<u8>> {
    if r.profile_type_id.is_empty() {
        return Err(ApiError::bad_request("profile_typeID is required"));
    }
    let sel = selection(
        &[r.label_selector.as_str()],
        &r.profile_type_id,
        r.start,
        r.end,
    )?;
    let mut tree = state.engine.flame_tree(tenant, &sel, None).await?;
    if let Some(n) = r.max_nodes.filter(|&n| n != 0) {
        tree = tree.truncate(max_nodes_of(state, Some(n))?);
    }
    let parts: Vec<&str> = r.profile_type_id.split(':').collect();
    let (st, unit) = (parts[1], parts.get(2).copied().unwrap_or(""));
    Ok(flamedb_profile::pprof::encode(&render::to_profile(
        &tree, 0, st, unit,
    )))
}

/// A pprof message (as [`merge_profile`] encodes it) in the proto3 JSON mapping of
/// Pyroscope's `google.v1.Profile`: lowerCamelCase names, 64-bit integers as strings, the
/// string table as strings. Only the fields of that message (pprof's newer `doc_url` and
/// `Line.column` are not in it, and strict JSON parsers refuse unknown fields).
fn profile_json(pprof: &[u8]) -> ApiResult<serde_json::Value> {
    use flamedb_profile::pprof::proto;
    use prost::Message;
    use serde_json::json;
    let p =
        proto::Profile::decode(pprof).map_err(|e| ApiError(flamedb_service::Error::internal(e)))?;
    let n = |v: i64| json!(v.to_string());
    let u = |v: u64| json!(v.to_string());
    let vt = |t: &proto::ValueType| json!({ "type": n(t.r#type), "unit": n(t.unit) });
    Ok(json!({
        "sampleType": p.sample_type.iter().map(vt).collect::<Vec<_>>(),
        "sample": p.sample.iter().map(|s| json!({
            "locationId": s.location_id.iter().map(|&v| u(v)).collect::<Vec<_>>(),
            "value": s.value.iter().map(|&v| n(v)).collect::<Vec<_>>(),
            "label": s.label.iter().map(|l| json!({
                "key": n(l.key), "str": n(l.str), "num": n(l.num), "numUnit": n(l.num_unit),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "mapping": p.mapping.iter().map(|m| json!({
            "id": u(m.id), "memoryStart": u(m.memory_start), "memoryLimit": u(m.memory_limit),
            "fileOffset": u(m.file_offset), "filename": n(m.filename), "buildId": n(m.build_id),
            "hasFunctions": m.has_functions, "hasFilenames": m.has_filenames,
            "hasLineNumbers": m.has_line_numbers, "hasInlineFrames": m.has_inline_frames,
        })).collect::<Vec<_>>(),
        "location": p.location.iter().map(|l| json!({
            "id": u(l.id), "mappingId": u(l.mapping_id), "address": u(l.address),
            "line": l.line.iter().map(|x| json!({
                "functionId": u(x.function_id), "line": n(x.line),
            })).collect::<Vec<_>>(),
            "isFolded": l.is_folded,
        })).collect::<Vec<_>>(),
        "function": p.function.iter().map(|f| json!({
            "id": u(f.id), "name": n(f.name), "systemName": n(f.system_name),
            "filename": n(f.filename), "startLine": n(f.start_line),
        })).collect::<Vec<_>>(),
        "stringTable": p.string_table.iter().map(|b| String::from_utf8_lossy(b)).collect::<Vec<_>>(),
        "dropFrames": n(p.drop_frames),
        "keepFrames": n(p.keep_frames),
        "timeNanos": n(p.time_nanos),
        "durationNanos": n(p.duration_nanos),
        "periodType": p.period_type.as_ref().map(vt),
        "period": n(p.period),
        "comment": p.comment.iter().map(|&v| n(v)).collect::<Vec<_>>(),
        "defaultSampleType": n(p.default_sample_type),
    }))
}

async fn merge_stacktraces(
    state: &AppState,
    tenant: &str,
    r: SelectMergeStacktracesRequest,
) -> ApiResult<SelectMergeStacktracesResponse> {
    if !matches!(r.format, 0 | 1) {
        return Err(ApiError::bad_request(
            "format: flamedb serves PROFILE_FORMAT_FLAMEGRAPH; use SelectMergeProfile for pprof",
        ));
    }
    let max_nodes = max_nodes_of(state, r.max_nodes)?;
    let sel = selection(
        &[r.label_selector.as_str()],
        &r.profile_type_id,
        r.start,
        r.end,
    )?;
    if r.profile_type_id.is_empty() {
        return Err(ApiError::bad_request("profile_typeID is required"));
    }
    let tree = state
        .engine
        .flame_tree(tenant, &sel, None)
        .await?
        .truncate(max_nodes);
    let fb = render::flamebearer(&tree, &FlamebearerOptions::default()).flamebearer;
    Ok(SelectMergeStacktracesResponse {
        flamegraph: Some(FlameGraph {
            names: fb.names,
            levels: fb
                .levels
                .into_iter()
                .map(|values| Level { values })
                .collect(),
            total: fb.num_ticks,
            max_self: fb.max_self,
        }),
    })
}

async fn select_series(
    state: &AppState,
    tenant: &str,
    r: SelectSeriesRequest,
) -> ApiResult<SelectSeriesResponse> {
    if !(r.step.is_finite() && r.step >= 0.001) {
        return Err(ApiError::bad_request(
            "step must be >= 1ms (seconds, e.g. 15)",
        ));
    }
    if r.profile_type_id.is_empty() {
        return Err(ApiError::bad_request("profile_typeID is required"));
    }
    let sel = selection(
        &[r.label_selector.as_str()],
        &r.profile_type_id,
        r.start,
        r.end,
    )?;
    let group_by: Vec<String> = r
        .group_by
        .iter()
        .map(|g| {
            let f = flamedb_label(g);
            if meta::COLUMNS.contains(&f) {
                f.to_string()
            } else {
                format!("label.{f}")
            }
        })
        .collect();
    let answer = meta::series(
        &state.engine,
        tenant,
        &SvcSeries {
            selection: sel,
            step_secs: (r.step.ceil() as i64).max(1),
            group_by: group_by.clone(),
        },
    )
    .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) if e.kind == flamedb_service::ErrorKind::NotFound => {
            return Ok(SelectSeriesResponse { series: vec![] });
        }
        Err(e) => return Err(e.into()),
    };
    let mut out: Vec<(i64, Series)> = answer
        .series
        .into_iter()
        .map(|s| {
            let labels: Vec<LabelPair> = r
                .group_by
                .iter()
                .zip(&group_by)
                .filter_map(|(asked, key)| {
                    s.labels.get(key).cloned().flatten().map(|value| LabelPair {
                        name: asked.clone(),
                        value,
                    })
                })
                .collect();
            let sum = s.points.iter().map(|p| p.1).sum::<i64>();
            let points = s
                .points
                .iter()
                .map(|&(t, v)| Point {
                    value: v as f64,
                    timestamp: t,
                })
                .collect();
            (sum, Series { labels, points })
        })
        .collect();
    out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.labels.cmp(&b.1.labels)));
    if let Some(n) = r.limit.filter(|&n| n > 0) {
        out.truncate(n as usize);
    }
    Ok(SelectSeriesResponse {
        series: out.into_iter().map(|(_, s)| s).collect(),
    })
}

async fn profile_stats(state: &AppState, tenant: &str) -> ApiResult<GetProfileStatsResponse> {
    use datafusion::functions_aggregate::expr_fn::{count, max, min};
    use datafusion::prelude::{cast, col, lit};
    let ns = |c| cast(col(c), arrow::datatypes::DataType::Int64);
    let batches = state
        .engine
        .collect(tenant, async |session| {
            session.table("profiles").await?.aggregate(
                vec![],
                vec![
                    count(lit(1)).alias("n"),
                    min(ns("time")).alias("lo"),
                    max(ns("time")).alias("hi"),
                ],
            )
        })
        .await?;
    let mut out = GetProfileStatsResponse::default();
    if let Some(b) = batches.first().filter(|b| b.num_rows() > 0) {
        let n = flamedb_service::query::integers(b, 0)?;
        let lo = flamedb_service::query::integers(b, 1)?;
        let hi = flamedb_service::query::integers(b, 2)?;
        if n[0] > 0 {
            out.data_ingested = true;
            out.oldest_profile_time = lo[0] / 1_000_000;
            out.newest_profile_time = hi[0] / 1_000_000;
        }
    }
    Ok(out)
}

/// The distinct label sets of `groups` (flamedb names, `__type`/`__unit` the sample type
/// and unit), projected on `wanted` (Pyroscope names), each sorted by name.
fn label_sets(groups: &[BTreeMap<String, Option<String>>], wanted: &[String]) -> Vec<Labels> {
    let mut out: BTreeSet<Vec<LabelPair>> = BTreeSet::new();
    for g in groups {
        let get = |k: &str| g.get(k).cloned().flatten().unwrap_or_default();
        let pt = profile_type(&get("__type"), &get("__unit"));
        let mut pairs = vec![];
        for w in wanted {
            let value = match w.as_str() {
                "__profile_type__" => Some(pt.id.clone()),
                "__name__" => Some(pt.name.clone()),
                n => g.get(flamedb_label(n)).cloned().flatten(),
            };
            if let Some(value) = value {
                pairs.push(LabelPair {
                    name: w.clone(),
                    value,
                });
            }
        }
        pairs.sort();
        pairs.dedup();
        out.insert(pairs);
    }
    out.into_iter().map(|labels| Labels { labels }).collect()
}

/// Pyroscope's legacy HTTP query API (Drilldown and Perses call it):
/// `GET /pyroscope/render?query=<profile type id>{selector}&from=&until=&max-nodes=`
/// (flamebearer JSON with its timeline), `GET /pyroscope/render-diff?leftQuery=&leftFrom=
/// &leftUntil=&rightQuery=&rightFrom=&rightUntil=&max-nodes=` (the "double" flamebearer)
/// and `GET /pyroscope/label-values?label=` (a JSON array).
pub mod legacy {
    use super::*;
    use axum::Json;
    use axum::extract::RawQuery;
    use flamedb_service::parse::parse_time;
    use serde_json::{Value, json};

    fn params(query: Option<&str>) -> ApiResult<BTreeMap<String, String>> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("query string: {e}")))?;
        Ok(pairs.into_iter().collect())
    }

    /// `(profile type id, selector text)` of a render `query`.
    fn query_of(text: &str) -> ApiResult<String> {
        let parsed = parse_selector(text)?;
        parsed.metric.ok_or_else(|| {
            ApiError::bad_request(
                "query: start with the profile type, e.g. \
                 process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"api\"}",
            )
        })
    }

    /// A time parameter in ms (`now`, `now-1h`, unix seconds/ms, `YYYYMMDD`).
    fn time_ms(p: &BTreeMap<String, String>, key: &str, default: &str) -> ApiResult<i64> {
        let v = p.get(key).map_or(default, String::as_str);
        Ok(parse_time(v)? / 1_000_000)
    }

    fn max_nodes(state: &AppState, p: &BTreeMap<String, String>) -> ApiResult<usize> {
        let asked = match p.get("max-nodes").or_else(|| p.get("maxNodes")) {
            Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("max-nodes {v:?}: use a whole number"))
            })?),
            None => None,
        };
        max_nodes_of(state, asked)
    }

    /// The timeline step for a range: a 1/2/5 multiple of seconds near a 1500th of the
    /// range, at least 15 s.
    fn point_interval_secs(from_ms: i64, until_ms: i64) -> i64 {
        let raw = ((until_ms - from_ms) / 1000 / 1500).max(1);
        let mut step = 1i64;
        'outer: for mag in [1i64, 10, 100, 1_000, 10_000, 100_000, 1_000_000] {
            for m in [1, 2, 5] {
                if m * mag >= raw {
                    step = m * mag;
                    break 'outer;
                }
            }
        }
        step.max(15)
    }

    /// `GET /pyroscope/render`.
    pub async fn render(
        State(state): State<AppState>,
        tenant: Tenant,
        RawQuery(query): RawQuery,
    ) -> ApiResult<Json<Value>> {
        state.rate.check(&tenant.0, 1.0, 0.0)?;
        let p = params(query.as_deref())?;
        if p.get("format").is_some_and(|f| f != "json") {
            return Err(ApiError::bad_request("format: flamedb renders json"));
        }
        let text = p
            .get("query")
            .ok_or_else(|| ApiError::bad_request("query is required"))?;
        let pt = query_of(text)?;
        let (from, until) = (time_ms(&p, "from", "now-1h")?, time_ms(&p, "until", "now")?);
        let sel = selection(&[text.as_str()], &pt, from, until)?;
        let max_nodes = max_nodes(&state, &p)?;
        let t = tenant.0.as_str();
        let tree = state
            .engine
            .flame_tree(t, &sel, None)
            .await?
            .truncate(max_nodes);
        let parts: Vec<&str> = pt.split(':').collect();
        let (st, unit) = (parts[1], parts[2]);
        let (units, sample_rate) = flamedb_service::query::flame::flamebearer_units(st, unit);
        let fb = render::flamebearer(
            &tree,
            &FlamebearerOptions {
                name: st.to_string(),
                units: units.to_string(),
                sample_rate,
                ..FlamebearerOptions::default()
            },
        );
        // The timeline: one value per step from `from` (snapped down), zero-filled.
        let step = point_interval_secs(from, until);
        let start = from / 1000 / step * step;
        let end = until / 1000 / step * step;
        let n = usize::try_from((end - start) / step + 1)
            .unwrap_or(0)
            .min(100_000);
        let mut samples = vec![0i64; n];
        match meta::series(
            &state.engine,
            t,
            &SvcSeries {
                selection: sel,
                step_secs: step,
                group_by: vec![],
            },
        )
        .await
        {
            Ok(series) => {
                for s in &series.series {
                    for &(ms, v) in &s.points {
                        let i = (ms / 1000 - start) / step;
                        if let Some(x) = usize::try_from(i).ok().and_then(|i| samples.get_mut(i)) {
                            *x += v;
                        }
                    }
                }
            }
            Err(e) if e.kind == flamedb_service::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Json(json!({
            "version": fb.version,
            "flamebearer": fb.flamebearer,
            "metadata": fb.metadata,
            "timeline": {
                "startTime": start,
                "samples": samples,
                "durationDelta": step,
                "watermarks": null,
            },
            "groups": null,
            "heatmap": null,
        })))
    }

    /// `GET /pyroscope/render-diff`.
    pub async fn render_diff(
        State(state): State<AppState>,
        tenant: Tenant,
        RawQuery(query): RawQuery,
    ) -> ApiResult<Json<Value>> {
        state.rate.check(&tenant.0, 1.0, 0.0)?;
        let p = params(query.as_deref())?;
        let side = |q: &str, f: &str, u: &str| -> ApiResult<(String, Selector)> {
            let text = p
                .get(q)
                .ok_or_else(|| ApiError::bad_request(format!("{q} is required")))?;
            let pt = query_of(text)?;
            let sel = selection(
                &[text.as_str()],
                &pt,
                time_ms(&p, f, "now-1h")?,
                time_ms(&p, u, "now")?,
            )?;
            Ok((pt, sel))
        };
        let (lpt, left) = side("leftQuery", "leftFrom", "leftUntil")?;
        let (rpt, right) = side("rightQuery", "rightFrom", "rightUntil")?;
        if lpt != rpt {
            return Err(ApiError::bad_request(
                "leftQuery and rightQuery need the same profile type",
            ));
        }
        let max_nodes = max_nodes(&state, &p)?;
        let tree = state
            .engine
            .flame_tree(&tenant.0, &left, Some(&right))
            .await?
            .truncate(max_nodes);
        let parts: Vec<&str> = lpt.split(':').collect();
        let (units, sample_rate) =
            flamedb_service::query::flame::flamebearer_units(parts[1], parts[2]);
        let fb = render::flamebearer(
            &tree,
            &FlamebearerOptions {
                name: parts[1].to_string(),
                units: units.to_string(),
                sample_rate,
                ..FlamebearerOptions::default()
            },
        );
        Ok(Json(serde_json::to_value(fb).map_err(|e| {
            ApiError(flamedb_service::Error::internal(e))
        })?))
    }

    /// `GET /pyroscope/label-values?label=`.
    pub async fn label_values(
        State(state): State<AppState>,
        tenant: Tenant,
        RawQuery(query): RawQuery,
    ) -> ApiResult<Json<Vec<String>>> {
        state.rate.check(&tenant.0, 1.0, 0.0)?;
        let p = params(query.as_deref())?;
        let label = p
            .get("label")
            .ok_or_else(|| ApiError::bad_request("label is required"))?;
        let name = if label == "__name__" {
            "__profile_type__"
        } else {
            label.as_str()
        };
        let r = super::label_values(
            &state,
            &tenant.0,
            LabelValuesRequest {
                name: name.to_string(),
                ..Default::default()
            },
        )
        .await?;
        Ok(Json(r.names))
    }
}
