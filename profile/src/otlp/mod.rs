//! OpenTelemetry profiles (OTLP `ExportProfilesServiceRequest`, `v1development`).
//!
//! ```text
//!   protobuf ─► prost ──┐
//!                       ├─► request ─► Dictionary::new (once) ─► Builder::profile (each) ─► Vec<OtlpProfile>
//!   JSON ──► serde ─────┘
//! ```
//!
//! The messages are in [`proto`] (hand-written after open-telemetry/opentelemetry-proto
//! v1.10.0, commit `ca839c51f706f5d53bfb46f06c3e90c3af3a52c6`, the revision with the
//! request-level `ProfilesDictionary` including `stack_table`, and `Sample.values` in
//! field 4; see [`proto`] for the versions it does not read). Both encodings give the same
//! request struct, so one conversion serves both.
//!
//! A request carries many profiles (one per process and sample type for the eBPF
//! profiler) that index one shared dictionary. The dictionary is checked and prepared
//! once per request (every index of every table, strings converted once, attribute
//! values rendered once; `dictionary.rs`); each profile then copies only the strings,
//! mappings, functions, locations and stacks its samples reference (`build.rs`), so a
//! profile costs in proportion to what it uses, not to the dictionary. (Cloning one
//! fully interned dictionary into every profile would cost profiles × dictionary, and
//! so would the store importing each copy.)
//!
//! Measured with `cargo run --release -p flamedb-profile --example otlp_speed` (200k
//! samples, 4.8M frames over 20k locations; a shared 2-core machine, so ratios within one
//! run): pprof decode 309 ms (0.65 M samples/s); the same samples as one OTLP profile
//! 385 ms (0.52 M/s, of which prost parsing 91 ms); split into 100 profiles of one
//! request 599 ms (0.33 M/s: each profile references most of the 20k locations, a worst
//! case for the per-profile copy); the one-profile request as JSON (42 MB) 552 ms.
//!
//! Mapping to the model, per OTLP `Profile`:
//! - one sample type, `sample_type`'s type/unit; `period_type`, `period`, `duration_nano`
//!   as they are; the time is `time_unix_nano`, or the earliest sample timestamp when 0;
//! - one model sample per OTLP sample: its value is the sum of `values`, or without
//!   values the number of timestamps (the spec's "1 per timestamp"); its time the
//!   earliest of its timestamps; its stack `stack_table[stack_index]` reversed to root
//!   first; its labels its attributes with a non-empty key and value (values rendered
//!   as strings: numbers in decimal,
//!   booleans as `true`/`false`, arrays and lists as JSON, bytes in base64) plus
//!   `span_id` / `trace_id` (hex) of its link;
//! - a location's `profile.frame.type` `kernel` gives [`FrameKind::Kernel`]; a mapping's
//!   `process.executable.build_id.gnu` (else `.go`) attribute is its build id.
//!
//! Errors: malformed protobuf or JSON (a binary request's sample counts are checked
//! against the limit from its framing before prost allocates anything; `scan.rs`), any index out of range (naming the field, e.g.
//! `dictionary.stack_table[3].location_indices[1]`), a sample with neither values nor
//! timestamps, a value sum that overflows, and the [`DecodeLimits`] (input size, samples
//! per profile, stack depth, labels per sample). The zero entries of the tables are not
//! required to be present: index 0 is "none" for mappings, functions, links and strings.
//!
//! [`FrameKind::Kernel`]: crate::FrameKind::Kernel

mod build;
mod dictionary;
mod json;
pub mod proto;
mod scan;

use crate::{DecodeLimits, Error, Profile, Result};
use build::Builder;
use dictionary::{Dictionary, bad};
use prost::Message;

/// One profile of a request with the attributes of its resource, scope and own.
#[derive(Debug, Clone)]
pub struct OtlpProfile {
    /// The profile.
    pub profile: Profile,
    /// The resource's attributes (`service.name`, `process.pid`, ...), values as strings.
    pub resource_attributes: Vec<(String, String)>,
    /// The instrumentation scope's name (the profiler).
    pub scope_name: String,
    /// The instrumentation scope's version.
    pub scope_version: String,
    /// The instrumentation scope's attributes.
    pub scope_attributes: Vec<(String, String)>,
    /// The profile's own attributes (`Profile.attribute_indices`).
    pub profile_attributes: Vec<(String, String)>,
}

impl OtlpProfile {
    /// The value of attribute `key`, the most specific first: the profile's own, then the
    /// scope's, then the resource's.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        [
            &self.profile_attributes,
            &self.scope_attributes,
            &self.resource_attributes,
        ]
        .into_iter()
        .flat_map(|attrs| attrs.iter())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
    }

    /// Turns a `samples/count` profile sampled every `period` `cpu` `nanoseconds` (the
    /// eBPF profiler's on-CPU profile) into `cpu/nanoseconds`, each count times the
    /// period, as Pyroscope does on ingest; returns whether it did. Other profiles are
    /// left as they are. A product that overflows saturates.
    pub fn samples_as_cpu_time(&mut self) -> bool {
        let p = &mut self.profile;
        let name = |p: &Profile, vt: crate::ValueType| p.value_type_name(vt);
        let is_counts = p.sample_types.len() == 1 && name(p, p.sample_types[0]) == "samples/count";
        let cpu_period = p
            .period_type
            .is_some_and(|vt| name(p, vt) == "cpu/nanoseconds");
        if !is_counts || !cpu_period || p.period <= 0 {
            return false;
        }
        let (kind, unit) = (p.intern("cpu"), p.intern("nanoseconds"));
        p.sample_types[0] = crate::ValueType { kind, unit };
        let period = p.period;
        for v in &mut p.values {
            *v = v.saturating_mul(period);
        }
        true
    }
}

/// Decodes a binary (protobuf) `ExportProfilesServiceRequest` into its profiles, in
/// request order. See the module docs for the mapping and the errors.
pub fn decode_request(data: &[u8], limits: &DecodeLimits) -> Result<Vec<OtlpProfile>> {
    check_size(data, limits)?;
    scan::check_samples(data, limits)?;
    scan::check_tables(data, limits)?;
    let request = proto::ExportProfilesServiceRequest::decode(data).map_err(|e| {
        // v1.9.0 and older put `Sample.attribute_indices` (packed) in field 3, the
        // `link_index` of v1.10.0: name the likely cause.
        let old = if e.to_string().contains("Sample.link_index") {
            " (a Sample in the wire format of opentelemetry-proto v1.9.0 or older, \
             which this decoder does not read: it reads v1.10.0)"
        } else {
            ""
        };
        bad(format!("protobuf: {e}{old}"))
    })?;
    from_request(&request, limits)
}

/// Decodes an OTLP/JSON `ExportProfilesServiceRequest` (the proto3 JSON mapping with the
/// OTLP rules: lowerCamelCase names, 64-bit integers as strings or numbers, hex trace and
/// span ids) into its profiles, in request order.
pub fn decode_request_json(data: &[u8], limits: &DecodeLimits) -> Result<Vec<OtlpProfile>> {
    check_size(data, limits)?;
    scan::check_json(data, limits)?;
    let request: proto::ExportProfilesServiceRequest =
        serde_json::from_slice(data).map_err(|e| bad(format!("JSON: {e}")))?;
    from_request(&request, limits)
}

fn check_size(data: &[u8], limits: &DecodeLimits) -> Result<()> {
    if data.len() as u64 > limits.max_decompressed_bytes {
        return Err(Error::DecompressedTooLarge {
            limit: limits.max_decompressed_bytes,
        });
    }
    Ok(())
}

/// Converts a parsed request into its profiles.
pub fn from_request(
    request: &proto::ExportProfilesServiceRequest,
    limits: &DecodeLimits,
) -> Result<Vec<OtlpProfile>> {
    let empty = proto::ProfilesDictionary::default();
    let dict = Dictionary::new(request.dictionary.as_ref().unwrap_or(&empty), limits)?;
    let mut builder = Builder::new(&dict, limits);
    let mut out = Vec::new();
    for (r, rp) in request.resource_profiles.iter().enumerate() {
        let resource = rp.resource.as_ref().map_or(&[][..], |r| &r.attributes);
        let resource_attributes = key_values(&dict, resource);
        for (s, sp) in rp.scope_profiles.iter().enumerate() {
            let scope = sp.scope.clone().unwrap_or_default();
            let scope_attributes = key_values(&dict, &scope.attributes);
            for (i, msg) in sp.profiles.iter().enumerate() {
                let at = format!("resource_profiles[{r}].scope_profiles[{s}].profiles[{i}]");
                let profile = builder.profile(msg, &at)?;
                let profile_attributes = profile_attributes(&dict, msg, &at)?;
                out.push(OtlpProfile {
                    profile,
                    resource_attributes: resource_attributes.clone(),
                    scope_name: scope.name.clone(),
                    scope_version: scope.version.clone(),
                    scope_attributes: scope_attributes.clone(),
                    profile_attributes,
                });
            }
        }
    }
    Ok(out)
}

/// Resource or scope attributes as strings (a key given by string index is resolved;
/// an index out of range gives an empty key rather than failing the request).
fn key_values(dict: &Dictionary<'_>, kvs: &[proto::KeyValue]) -> Vec<(String, String)> {
    let lookup = |i: i32| dict.lookup(i);
    kvs.iter()
        .map(|kv| {
            let key = if kv.key.is_empty() {
                lookup(kv.key_strindex).unwrap_or_default()
            } else {
                kv.key.clone()
            };
            let value = kv
                .value
                .as_ref()
                .and_then(|v| v.value.as_ref())
                .map_or_else(String::new, |v| json::render_value(v, &lookup));
            (key, value)
        })
        .collect()
}

fn profile_attributes(
    dict: &Dictionary<'_>,
    msg: &proto::Profile,
    at: &str,
) -> Result<Vec<(String, String)>> {
    let mut out = Vec::with_capacity(msg.attribute_indices.len());
    for (j, &a) in msg.attribute_indices.iter().enumerate() {
        let i = dictionary::position(a, dict.attributes.len(), || {
            format!("{at}.attribute_indices[{j}]")
        })?;
        let attr = &dict.attributes[i];
        let text = |id| dict.texts.get(id).to_string();
        out.push((text(attr.key), text(attr.value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
