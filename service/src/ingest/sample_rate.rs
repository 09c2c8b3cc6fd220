//! Sample counts at a sampling rate as time, as Grafana Pyroscope stores a folded CPU or
//! wall profile sent to `/ingest` with `sampleRate` (its `pkg/ingester/pyroscope`
//! ingest adapter; read, not copied): the period is `1e9 / rate` ns (integer division),
//! every value is multiplied by it, the sample type becomes `cpu/nanoseconds` (or
//! `wall/nanoseconds`) and the period type `cpu/nanoseconds`. `flamedb ingest
//! --sample-rate` applies the same conversion to files.
//!
//! Only a profile with one sample type in unit `count` (or `millicount`, a folded file
//! with fractional counts: thousandths) is converted: that is what folded text decodes
//! to; anything else is refused rather than mislabelled.

use flamedb_profile::{Profile, ValueType};

/// Why a profile could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SampleRateError {
    /// The rate is 0 or above 1e9 (the period would be 0 ns).
    #[error("sample rate {0} Hz: use 1 to 1000000000 samples per second")]
    Rate(u32),
    /// The profile is not a one-column count profile.
    #[error(
        "a sample rate applies to sample counts (folded text with one count column), not to a profile of {0}"
    )]
    NotCounts(String),
    /// A value times the period exceeds 64 bits.
    #[error("a sample count times the period ({period} ns) exceeds 64 bits")]
    Overflow {
        /// The period, ns.
        period: i64,
    },
}

/// The sample type a Pyroscope profile name stores its counts as, when a sample rate
/// converts them to time: `cpu` for `cpu` and `itimer` (and no name, Pyroscope's
/// default), `wall` for `wall`; `None` for every other profile (their counts stay).
pub fn time_kind(profile_name: Option<&str>) -> Option<&'static str> {
    match profile_name {
        None | Some("" | "cpu" | "itimer") => Some("cpu"),
        Some("wall") => Some("wall"),
        Some(_) => None,
    }
}

/// Converts `profile`'s sample counts at `rate_hz` to nanoseconds of `kind` (`cpu`,
/// `wall`) in place.
pub fn counts_to_nanos(
    profile: &mut Profile,
    kind: &str,
    rate_hz: u32,
) -> Result<(), SampleRateError> {
    if rate_hz == 0 || rate_hz > 1_000_000_000 {
        return Err(SampleRateError::Rate(rate_hz));
    }
    let period = 1_000_000_000 / i64::from(rate_hz);
    let divisor: i128 = match profile.sample_types.as_slice() {
        [vt] if profile.strings.get(vt.unit) == "count" => 1,
        [vt] if profile.strings.get(vt.unit) == "millicount" => 1000,
        types => {
            let names: Vec<String> = types
                .iter()
                .map(|&vt| profile.value_type_name(vt))
                .collect();
            return Err(SampleRateError::NotCounts(if names.is_empty() {
                "no sample type".into()
            } else {
                names.join(", ")
            }));
        }
    };
    for v in &mut profile.values {
        // Rounded half away from zero, as the folded decoder rounds thousandths.
        let scaled = i128::from(*v) * i128::from(period);
        let rounded = (scaled + scaled.signum() * (divisor / 2)) / divisor;
        *v = i64::try_from(rounded).map_err(|_| SampleRateError::Overflow { period })?;
    }
    let nanos = profile.strings.intern("nanoseconds");
    let cpu = profile.strings.intern("cpu");
    profile.sample_types = vec![ValueType {
        kind: profile.strings.intern(kind),
        unit: nanos,
    }];
    profile.period_type = Some(ValueType {
        kind: cpu,
        unit: nanos,
    });
    profile.period = period;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flamedb_profile::{DecodeLimits, folded};

    fn types(p: &Profile) -> Vec<String> {
        p.sample_types
            .iter()
            .map(|&vt| p.value_type_name(vt))
            .collect()
    }

    #[test]
    fn counts_become_nanoseconds_at_the_period() {
        let mut p = folded::decode(b"a;b 3\na 1\n", &DecodeLimits::default()).unwrap();
        counts_to_nanos(&mut p, "cpu", 100).unwrap();
        assert_eq!(types(&p), ["cpu/nanoseconds"]);
        assert_eq!(p.values, [30_000_000, 10_000_000]);
        assert_eq!(p.period, 10_000_000);
        assert_eq!(
            p.period_type.map(|vt| p.value_type_name(vt)).as_deref(),
            Some("cpu/nanoseconds")
        );
    }

    #[test]
    fn fractional_counts_are_thousandths() {
        let mut p = folded::decode(b"a 1.5\nb 0.0004\n", &DecodeLimits::default()).unwrap();
        counts_to_nanos(&mut p, "wall", 3).unwrap();
        // period 333333333 ns: 1.5 -> 499999999.5 -> 500000000; 0.0004 (0 thousandths) -> 0
        assert_eq!(types(&p), ["wall/nanoseconds"]);
        assert_eq!(p.values, [500_000_000, 0]);
    }

    #[test]
    fn other_profiles_rates_and_overflow_are_refused() {
        let mut two = folded::decode(b"a 1 2\n", &DecodeLimits::default()).unwrap();
        assert_eq!(
            counts_to_nanos(&mut two, "cpu", 100),
            Err(SampleRateError::NotCounts(
                "before/count, after/count".into()
            ))
        );
        let mut p = folded::decode(b"a 1\n", &DecodeLimits::default()).unwrap();
        assert_eq!(
            counts_to_nanos(&mut p, "cpu", 0),
            Err(SampleRateError::Rate(0))
        );
        let mut big = folded::decode(b"a 9223372036854775807\n", &DecodeLimits::default()).unwrap();
        assert_eq!(
            counts_to_nanos(&mut big, "cpu", 100),
            Err(SampleRateError::Overflow { period: 10_000_000 })
        );
    }

    #[test]
    fn profile_names_pick_the_time_kind() {
        assert_eq!(time_kind(None), Some("cpu"));
        assert_eq!(time_kind(Some("itimer")), Some("cpu"));
        assert_eq!(time_kind(Some("wall")), Some("wall"));
        assert_eq!(time_kind(Some("alloc_space")), None);
    }
}
