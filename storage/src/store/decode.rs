//! Decoding a record: the profile, its series labels and its partition.

use super::{StoreConfig, now_nanos};
use crate::wal::{WalEntry, WalRecord};
use crate::{Error, Labels, PartitionKey, Result};
use flamedb_profile::{DecodeOptions, Profile};

/// Decodes a new request, filling in its time when not given (profile time, else now).
pub(super) fn prepare_new(
    config: &StoreConfig,
    entry: &mut WalEntry,
) -> Result<(Profile, Labels, PartitionKey)> {
    let profile = decode(config, &entry.record, entry.duration_nanos)?;
    let record = &mut entry.record;
    if record.time_nanos == 0 {
        record.time_nanos = if profile.time_nanos != 0 {
            profile.time_nanos
        } else {
            now_nanos()
        };
    }
    let (labels, key) = partition_of(config, record)?;
    crate::head::check_series(&labels, &profile, &config.append)?;
    Ok((profile, labels, key))
}

/// Decodes a replayed record.
pub(super) fn prepare(
    config: &StoreConfig,
    record: &WalRecord,
    duration_nanos: i64,
) -> Result<(Profile, Labels, PartitionKey)> {
    let profile = decode(config, record, duration_nanos)?;
    let (labels, key) = partition_of(config, record)?;
    Ok((profile, labels, key))
}

/// Decodes a record; `duration_nanos` (when not 0) is the profile's duration when the
/// profile carries none.
fn decode(config: &StoreConfig, record: &WalRecord, duration_nanos: i64) -> Result<Profile> {
    let options = DecodeOptions {
        limits: config.decode,
        perf_event: (!record.perf_event.is_empty()).then(|| record.perf_event.clone()),
    };
    let (_, mut profile) = flamedb_profile::decode(&record.data, record.format, &options)?;
    if profile.duration_nanos == 0 {
        profile.duration_nanos = duration_nanos;
    }
    Ok(profile)
}

/// Series labels and partition of a record: `app` is required; `version` and `dc` are
/// optional (empty when absent).
fn partition_of(config: &StoreConfig, record: &WalRecord) -> Result<(Labels, PartitionKey)> {
    let labels = Labels::new(record.labels.iter().cloned(), &config.append.label_limits)?;
    let app = labels
        .get("app")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Invalid("the label `app` (the application name) is required".into()))?
        .to_string();
    if record.tenant.is_empty() {
        return Err(Error::Invalid("tenant must not be empty".into()));
    }
    let key = PartitionKey {
        tenant: record.tenant.clone(),
        app,
        version: labels.get("version").unwrap_or("").to_string(),
        dc: labels.get("dc").unwrap_or("").to_string(),
        date: PartitionKey::date_of(record.time_nanos),
    };
    key.check()?;
    Ok((labels, key))
}
