//! Ingest, whatever the door: the labels every format is read into (`app`, `version`,
//! `dc` and their aliases), the record the store takes, and storing a request's profiles
//! all or nothing. Pyroscope's ingest semantics live here too ([`sample_rate`] for
//! `sampleRate`, [`sample_types`] for a multipart pprof's sample type config), since
//! `flamedb ingest` applies them as `POST /ingest` does.

pub mod sample_rate;
pub mod sample_types;

use crate::{Result, Tenant};
use bytes::Bytes;
use flamedb_profile::Format;
use flamedb_storage::{Store, WalEntry, WalRecord};
use serde::Serialize;

/// Label names read as `version` when `version` itself is absent, first match wins.
pub const VERSION_ALIASES: &[&str] = &["service_version", "service.version", "app_version"];

/// Label names read as `dc` (data center) when `dc` itself is absent, first match wins.
pub const DC_ALIASES: &[&str] = &[
    "datacenter",
    "data_center",
    "region",
    "cloud.region",
    "cloud_region",
];

/// Label names read as `app` when `app` itself is absent (Pyroscope's `service_name`).
pub const APP_ALIASES: &[&str] = &["service_name", "service.name"];

/// What an ingest request stored.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct IngestSummary {
    /// Profiles stored durably.
    pub profiles: u64,
    /// Samples in them.
    pub samples: u64,
}

/// One ingest request: its profiles, stored all or nothing (a profile of zero bytes is an
/// [`ErrorKind::Invalid`](crate::ErrorKind) error).
#[derive(Debug, Clone)]
pub struct IngestRequest {
    /// Whose data it is.
    pub tenant: Tenant,
    /// The profiles (each a record with its duration).
    pub entries: Vec<WalEntry>,
}

/// Adds `app`, `version` and `dc` from their aliases when absent; every given label stays.
pub fn canonical_labels(mut labels: Vec<(String, String)>) -> Vec<(String, String)> {
    for (canonical, aliases) in [
        ("app", APP_ALIASES),
        ("version", VERSION_ALIASES),
        ("dc", DC_ALIASES),
    ] {
        if labels.iter().any(|(k, v)| k == canonical && !v.is_empty()) {
            continue;
        }
        let found = aliases.iter().find_map(|alias| {
            labels
                .iter()
                .find(|(k, v)| k == alias && !v.is_empty())
                .map(|(_, v)| v.clone())
        });
        if let Some(v) = found {
            labels.push((canonical.to_string(), v));
        }
    }
    labels
}

/// A record for the store, its labels made canonical.
pub fn record(
    tenant: &Tenant,
    labels: Vec<(String, String)>,
    format: Option<Format>,
    time_nanos: i64,
    data: Bytes,
) -> WalRecord {
    WalRecord {
        tenant: tenant.0.clone(),
        labels: canonical_labels(labels),
        format,
        time_nanos,
        perf_event: String::new(),
        data,
    }
}

/// Splits every entry whose body holds several profiles (JFR, speedscope, OTLP: named by
/// its format, or detected from its first bytes) into one entry per profile, each the
/// profile encoded as pprof with the labels the input gave it (OTLP attributes, a JFR
/// event kind's `__name__`) over the entry's own, made canonical. Other entries pass
/// unchanged. The store then takes each like any pprof, so the write-ahead log holds
/// one profile per record whatever came in.
pub fn expand(
    entries: Vec<WalEntry>,
    limits: &flamedb_profile::DecodeLimits,
) -> Result<Vec<WalEntry>> {
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let format = match entry.record.format {
            Some(f) => Some(f),
            None => flamedb_profile::detect_prefix(&entry.record.data).ok(),
        };
        if !format.is_some_and(Format::is_multi) {
            out.push(entry);
            continue;
        }
        let options = flamedb_profile::DecodeOptions {
            limits: *limits,
            perf_event: None,
        };
        let (format, all) = flamedb_profile::decode_all(&entry.record.data, format, &options)?;
        if all.is_empty() {
            return Err(crate::Error::invalid(format!(
                "the {format} input holds no profile"
            )));
        }
        out.extend(split(&entry, all));
    }
    Ok(out)
}

/// One pprof entry per decoded profile of `entry`, its labels over the entry's own.
fn split(entry: &WalEntry, all: Vec<flamedb_profile::Decoded>) -> Vec<WalEntry> {
    all.into_iter()
        .map(|decoded| {
            let mut labels = entry.record.labels.clone();
            for (k, v) in decoded.labels {
                labels.retain(|(key, _)| *key != k);
                labels.push((k, v));
            }
            WalEntry {
                record: WalRecord {
                    labels: canonical_labels(labels),
                    format: Some(Format::Pprof),
                    data: Bytes::from(flamedb_profile::pprof::encode(&decoded.profile)),
                    perf_event: String::new(),
                    ..entry.record.clone()
                },
                duration_nanos: entry.duration_nanos,
            }
        })
        .collect()
}

/// A JFR recording as Pyroscope's Java agent sends it (`entry`'s bytes): with its
/// `LabelsSnapshot` part (each event's context id to labels) and `sampleRate` (the weight
/// of a CPU or wall sample, `1e9 / rate` ns; else the recording's own period). One pprof
/// entry per kind of sample, named by its kind ([`flamedb_profile::jfr_decoded`]).
pub fn expand_jfr(
    entry: WalEntry,
    labels: Option<&[u8]>,
    sample_rate: Option<u32>,
    limits: &flamedb_profile::DecodeLimits,
) -> Result<Vec<WalEntry>> {
    let opts = flamedb_profile::jfr::JfrOptions {
        limits: *limits,
        labels,
        sample_rate,
        ..Default::default()
    };
    let recording = flamedb_profile::jfr::decode_with(&entry.record.data, &opts)?;
    if recording.profiles.is_empty() {
        return Err(crate::Error::invalid(
            "the JFR recording holds no sample the ingest keeps (execution, wall, allocation, lock, park, malloc or live object samples)",
        ));
    }
    let all = recording
        .profiles
        .into_iter()
        .map(flamedb_profile::jfr_decoded)
        .collect();
    Ok(split(&entry, all))
}

/// Stores the request's profiles all or nothing ([`Store::append_batch`]: every profile
/// is decoded and validated first, then all go into one write-ahead log record) and
/// returns once they are durable.
pub async fn ingest(store: &Store, request: IngestRequest) -> Result<IngestSummary> {
    debug_assert!(
        request
            .entries
            .iter()
            .all(|e| e.record.tenant == request.tenant.0)
    );
    if request.entries.iter().any(|e| e.record.data.is_empty()) {
        // An empty body decodes to an empty folded or pprof profile; storing it would
        // acknowledge nothing as if it were data.
        return Err(crate::Error::invalid(
            "the profile body is empty: send the profile's bytes",
        ));
    }
    let entries = if request
        .entries
        .iter()
        .any(|e| e.record.format.is_none_or(Format::is_multi))
    {
        let limits = store.config().decode;
        tokio::task::spawn_blocking(move || expand(request.entries, &limits))
            .await
            .map_err(crate::Error::internal)??
    } else {
        request.entries
    };
    let receipts = store.append_batch(entries).await?;
    Ok(IngestSummary {
        profiles: receipts.len() as u64,
        samples: receipts.iter().map(|r| r.samples).sum(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn aliases_fill_in_missing_canonical_labels() {
        let l = canonical_labels(pairs(&[
            ("service_name", "api"),
            ("service_version", "1.2"),
            ("region", "eu"),
        ]));
        assert!(l.contains(&("app".into(), "api".into())));
        assert!(l.contains(&("version".into(), "1.2".into())));
        assert!(l.contains(&("dc".into(), "eu".into())));
        assert!(
            l.contains(&("region".into(), "eu".into())),
            "originals stay"
        );
        let l = canonical_labels(pairs(&[("dc", "us"), ("region", "eu")]));
        assert_eq!(l.iter().filter(|(k, _)| k == "dc").count(), 1);
    }
}
