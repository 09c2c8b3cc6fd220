//! `POST /ingest`, compatible with Grafana Pyroscope's ingest API (as its
//! `pkg/ingester/pyroscope/ingest_handler.go` and `api/model/labelset` describe it).
//!
//! Query parameters:
//! - `name=APP.PROFILE{k=v,...}` (required): the app is the part of the name before the
//!   last dot (all of it without a dot), `PROFILE` becomes the label `__name__`, and the
//!   tags become series labels (`version`, `dc` and their aliases, see
//!   [`flamedb_service::ingest::canonical_labels`]).
//! - `from`, `until`: unix time in seconds, or ms/us/ns by digit count (13/16/19), or
//!   `YYYYMMDD`, or `now`, `now-1h`, ... `from` is the profile time (default: the
//!   profile's own time, else now). With both, `until` must not be before `from`, and
//!   `until - from` is the profile's duration (`profiles.duration_nanos`) unless the
//!   profile carries its own (pprof `duration_nanos`); folded and lines never do.
//! - `format`: `folded` (default; Pyroscope calls it `groups`), `lines` (one stack per
//!   line, each one sample), `pprof` (raw body, stored as sent, or multipart/form-data
//!   with a `profile` part and optional `sample_type_config` (JSON) and `prev_profile`
//!   parts, applied as [`sample_types`] describes), `jfr` (a JFR recording: one profile
//!   per event kind, each named by its kind as Pyroscope names it, e.g. `process_cpu`,
//!   `memory`, `mutex`; `sampleRate` weighs its CPU and wall samples), `speedscope` (one
//!   profile per speedscope profile). A multipart body is a JFR recording when it has a
//!   `jfr` part (and its `labels` part: Pyroscope's `LabelsSnapshot` of context ids, as
//!   the Java agent sends them), else pprof whatever `format` says, as Pyroscope does.
//! - `sampleRate`, `spyName`, `units`, `aggregationType`: stored as the series labels
//!   `sample_rate`, `spy_name`, `units`, `aggregation` when given. With `sampleRate`, a
//!   folded (or lines) body of a CPU profile (`PROFILE` `cpu`, `itimer` or none) or a wall
//!   profile (`wall`) is stored as time, as Pyroscope stores it: every count times the
//!   period `1e9 / sampleRate` ns, sample type `cpu/nanoseconds` (`wall/nanoseconds`),
//!   period type `cpu/nanoseconds` ([`sample_rate`]). Other profiles keep their
//!   counts.

use super::AppState;
use super::auth::Tenant;
use super::error::{ApiError, ApiResult};
use super::ingest::{admit, body_of, record, store_all};
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use bytes::Bytes;
use flamedb_profile::{DecodeLimits, DecodeOptions, Format, Profile};
use flamedb_service::ingest::sample_rate;
use flamedb_service::ingest::sample_types::{self, SampleTypeConfigs};
use flamedb_service::parse::parse_time;
use flamedb_storage::WalEntry;

/// `POST /ingest`: answers 200 with an empty body once the profile is durable.
pub async fn ingest(
    State(state): State<AppState>,
    tenant: Tenant,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let _slot = admit(&state, &tenant)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("query string: {e}")))?;
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let name = get("name").ok_or_else(|| {
        ApiError::bad_request("missing app: add ?name=APP.PROFILE{k=v,...} (Pyroscope's name)")
    })?;
    let mut labels = parse_name(name)?;
    let time_nanos = match get("from") {
        Some(t) => parse_time(t)?,
        None => 0,
    };
    let mut duration_nanos = 0;
    if let Some(until) = get("until") {
        let until = parse_time(until)?;
        if time_nanos != 0 {
            if until < time_nanos {
                return Err(ApiError::bad_request(format!(
                    "until ({until} ns) is before from ({time_nanos} ns)"
                )));
            }
            duration_nanos = until.saturating_sub(time_nanos);
        }
    }
    labels.extend(metadata_labels(&get)?);
    let content_type = super::content_type(&headers).to_string();
    let (data, received) = body_of(&state, &tenant, &headers, body).await?;
    let limits = state.store.config().decode;
    let mut entries = Vec::new();
    let payload = body_format(&content_type, get("format"), data, limits).await?;
    if let Some(Payload::Jfr {
        data,
        labels: snapshot,
    }) = payload
    {
        // metadata_labels checked the rate.
        let rate = get("sampleRate").and_then(|r| r.parse::<u32>().ok());
        let entry = WalEntry {
            record: record(&tenant, labels, Some(Format::Jfr), time_nanos, data),
            duration_nanos,
        };
        let entries = tokio::task::spawn_blocking(move || {
            flamedb_service::ingest::expand_jfr(entry, snapshot.as_deref(), rate, &limits)
        })
        .await
        .map_err(ApiError::internal)??;
        store_all(&state, &tenant, "/ingest", received, entries).await?;
        return Ok(StatusCode::OK);
    }
    if let Some(Payload::Profile(mut format, mut data)) = payload {
        let profile_name = labels
            .iter()
            .find(|(k, _)| k == "__name__")
            .map(|(_, v)| v.as_str());
        if format == Format::Folded
            && let Some(rate) = get("sampleRate")
            && let Some(kind) = sample_rate::time_kind(profile_name)
        {
            // metadata_labels checked the rate.
            let rate = rate.parse::<u32>().unwrap_or(0);
            data = tokio::task::spawn_blocking(move || folded_as_time(&data, kind, rate, limits))
                .await
                .map_err(ApiError::internal)??;
            format = Format::Pprof;
        }
        entries.push(WalEntry {
            record: record(&tenant, labels, Some(format), time_nanos, data),
            duration_nanos,
        });
    }
    store_all(&state, &tenant, "/ingest", received, entries).await?;
    Ok(StatusCode::OK)
}

/// What an `/ingest` body holds.
enum Payload {
    /// One profile of a format, as bytes to store.
    Profile(Format, Bytes),
    /// A JFR recording, with the `LabelsSnapshot` of its context ids when sent.
    Jfr { data: Bytes, labels: Option<Bytes> },
}

/// What the body holds: multipart is a JFR recording when it has a `jfr` part (with its
/// `labels` part, as Pyroscope's Java agent sends them), else pprof (with its sample type
/// config applied; `None` when nothing is left to store); otherwise `format` decides
/// (folded by default; `lines` is rewritten as folded).
async fn body_format(
    content_type: &str,
    format: Option<&str>,
    data: Bytes,
    limits: DecodeLimits,
) -> ApiResult<Option<Payload>> {
    if content_type.starts_with("multipart/form-data") {
        let mut parts = read_multipart(content_type, data).await?;
        if let Some(data) = parts.jfr.take() {
            return Ok(Some(Payload::Jfr {
                data,
                labels: parts.labels.take(),
            }));
        }
        let converted = tokio::task::spawn_blocking(move || convert_multipart(parts, limits))
            .await
            .map_err(ApiError::internal)??;
        return Ok(converted.map(|data| Payload::Profile(Format::Pprof, data)));
    }
    let format = match format.unwrap_or("folded") {
        "folded" | "groups" | "collapsed" => Format::Folded,
        "lines" => {
            return Ok(Some(Payload::Profile(
                Format::Folded,
                lines_to_folded(&data),
            )));
        }
        "pprof" => Format::Pprof,
        "jfr" => return Ok(Some(Payload::Jfr { data, labels: None })),
        "speedscope" => Format::Speedscope,
        f @ ("trie" | "tree") => {
            return Err(ApiError::bad_request(format!(
                "format {f:?} is not supported by flamedb: send folded, lines, pprof, jfr or speedscope"
            )));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown format {other:?}: use folded, lines, pprof, jfr or speedscope"
            )));
        }
    };
    Ok(Some(Payload::Profile(format, data)))
}

/// A folded body of sample counts at `rate` Hz as a pprof profile of `kind` nanoseconds
/// ([`sample_rate::counts_to_nanos`]), as Pyroscope stores a CPU or wall profile.
fn folded_as_time(data: &[u8], kind: &str, rate: u32, limits: DecodeLimits) -> ApiResult<Bytes> {
    let options = DecodeOptions {
        limits,
        perf_event: None,
    };
    let (_, mut profile) = flamedb_profile::decode(data, Some(Format::Folded), &options)?;
    sample_rate::counts_to_nanos(&mut profile, kind, rate)
        .map_err(|e| ApiError::bad_request(format!("sampleRate: {e}")))?;
    Ok(Bytes::from(flamedb_profile::pprof::encode(&profile)))
}

/// `sampleRate`, `spyName`, `units`, `aggregationType` as series labels.
fn metadata_labels<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(rate) = get("sampleRate") {
        match rate.parse::<u32>() {
            Ok(n) if n > 0 => out.push(("sample_rate".to_string(), n.to_string())),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "sampleRate {rate:?} is not a positive integer (samples per second)"
                )));
            }
        }
    }
    for (param, label) in [
        ("spyName", "spy_name"),
        ("units", "units"),
        ("aggregationType", "aggregation"),
    ] {
        if let Some(v) = get(param) {
            out.push((label.to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// Parses Pyroscope's `APP.PROFILE{key=value,...}` into series labels (`app`,
/// `__name__`, the tags).
pub fn parse_name(name: &str) -> ApiResult<Vec<(String, String)>> {
    let (service, tags) = match name.split_once('{') {
        Some((s, rest)) => {
            let tags = rest.strip_suffix('}').ok_or_else(|| {
                ApiError::bad_request(format!("name {name:?}: the tag list must end with '}}'"))
            })?;
            (s.trim(), tags)
        }
        None => (name.trim(), ""),
    };
    let valid_service = service
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    if service.is_empty() || !valid_service {
        return Err(ApiError::bad_request(format!(
            "name {name:?}: the application name must be non-empty and use A-Z a-z 0-9 _ . - /"
        )));
    }
    let (app, profile) = match service.rsplit_once('.') {
        Some((app, profile)) if !app.is_empty() => (app, profile),
        _ => (service, ""),
    };
    let mut labels = vec![("app".to_string(), app.to_string())];
    if !profile.is_empty() {
        labels.push(("__name__".to_string(), profile.to_string()));
    }
    for tag in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let Some((k, v)) = tag.split_once('=') else {
            return Err(ApiError::bad_request(format!(
                "name {name:?}: tag {tag:?} is not key=value"
            )));
        };
        labels.push((k.trim().to_string(), v.trim().to_string()));
    }
    Ok(labels)
}

/// `lines` format: every non-empty line is one stack (`a;b;c`) with one sample.
fn lines_to_folded(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b" 1\n");
    }
    Bytes::from(out)
}

/// The parts of a multipart `/ingest` body that Pyroscope reads.
struct MultipartParts {
    profile: Bytes,
    prev_profile: Option<Bytes>,
    configs: Option<SampleTypeConfigs>,
    /// A JFR recording (Pyroscope's Java agent), instead of `profile`.
    jfr: Option<Bytes>,
    /// Its `LabelsSnapshot`.
    labels: Option<Bytes>,
}

/// Reads the `profile`, `prev_profile`, `sample_type_config`, `jfr` and `labels` parts
/// (others are skipped); `sample_type_config` must be valid.
async fn read_multipart(content_type: &str, body: Bytes) -> ApiResult<MultipartParts> {
    let mut form = super::multipart_form(content_type, body, "multipart Content-Type")?;
    let (mut profile, mut prev_profile, mut configs) = (None, None, None);
    let (mut jfr, mut labels) = (None, None);
    let bad = |e: multer::Error| ApiError::bad_request(format!("multipart body: {e}"));
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field.bytes().await.map_err(bad)?;
        match name.as_str() {
            "profile" => profile = Some(bytes),
            "prev_profile" => prev_profile = Some(bytes).filter(|b| !b.is_empty()),
            "sample_type_config" => configs = Some(sample_types::parse_configs(&bytes)?),
            "jfr" => jfr = Some(bytes),
            "labels" => labels = Some(bytes).filter(|b| !b.is_empty()),
            _ => {}
        }
    }
    if profile.is_none() && jfr.is_none() {
        return Err(ApiError::bad_request(
            "multipart body has no `profile` part (nor a `jfr` one)",
        ));
    }
    Ok(MultipartParts {
        profile: profile.unwrap_or_default(),
        prev_profile,
        configs,
        jfr,
        labels,
    })
}

/// Decodes the parts, applies the sample type config (Pyroscope's default mapping when
/// the part is absent) and the difference to `prev_profile`, and encodes the result as
/// pprof; `None` when nothing is left (or the profile part is empty, as Pyroscope).
fn convert_multipart(parts: MultipartParts, limits: DecodeLimits) -> ApiResult<Option<Bytes>> {
    if parts.profile.is_empty() {
        return Ok(None);
    }
    let decode = |name: &str, data: &[u8]| -> ApiResult<Profile> {
        let options = DecodeOptions {
            limits,
            perf_event: None,
        };
        flamedb_profile::decode(data, Some(Format::Pprof), &options)
            .map(|(_, p)| p)
            .map_err(|e| {
                let mut e = ApiError::from(e);
                e.message = format!("multipart part `{name}`: {}", e.message);
                e
            })
    };
    let profile = decode("profile", &parts.profile)?;
    let prev = match &parts.prev_profile {
        Some(data) => Some(decode("prev_profile", data)?),
        None => None,
    };
    let configs = parts.configs.unwrap_or_else(sample_types::default_configs);
    Ok(sample_types::apply(profile, prev.as_ref(), &configs)?
        .map(|p| Bytes::from(flamedb_profile::pprof::encode(&p))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_app_profile_and_tags() {
        let l = parse_name("my.app.cpu{env=prod, region = eu}").unwrap();
        assert_eq!(
            l,
            vec![
                ("app".into(), "my.app".into()),
                ("__name__".into(), "cpu".into()),
                ("env".into(), "prod".into()),
                ("region".into(), "eu".into()),
            ]
        );
        assert_eq!(
            parse_name("solo").unwrap(),
            vec![("app".into(), "solo".into())]
        );
        for bad in ["", "{a=b}", "a.cpu{a=b", "a b.cpu", "a.cpu{novalue}"] {
            assert!(parse_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_follow_pyroscope() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(
            parse_time("1700000000123").unwrap(),
            1_700_000_000_123_000_000
        );
        assert_eq!(
            parse_time("1700000000123456").unwrap(),
            1_700_000_000_123_456_000
        );
        assert_eq!(
            parse_time("1700000000123456789").unwrap(),
            1_700_000_000_123_456_789
        );
        assert_eq!(parse_time("20240102").unwrap(), 1_704_153_600_000_000_000);
        let now = parse_time("now").unwrap();
        let hour_ago = parse_time("now-1h").unwrap();
        assert!((now - hour_ago - 3_600_000_000_000).abs() < 60_000_000_000);
        for bad in ["yesterday", "now-1x", "12ab", "now*2"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_become_one_sample_each() {
        assert_eq!(
            &lines_to_folded(b"a;b\n\na;b\r\nc\n")[..],
            b"a;b 1\na;b 1\nc 1\n"
        );
    }
}
