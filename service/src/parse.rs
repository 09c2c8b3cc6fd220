//! Parsing of what callers write by hand, in one place for every front door: times,
//! steps, sizes and label names. Arithmetic is checked: a value out of range is an
//! [`ErrorKind::Invalid`](crate::ErrorKind) error, never a panic or a wrapped number.
//! Durations are read by `humantime`.

use crate::{Error, Result};

/// Parses a time (`from`, `until`) into ns since the epoch: unix seconds, or ms/us/ns by
/// digit count (13/16/19), `YYYYMMDD` (any eight digits; a date that does not exist
/// is an error), `now`, or `now-DURATION` / `now+DURATION`
/// (`now-1h`, `now-30m`, `now-2d`, `now-1week`; any `humantime` duration). `_`, `,` and
/// spaces are ignored.
pub fn parse_time(s: &str) -> Result<i64> {
    parse_time_at(s, chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0))
}

/// [`parse_time`] with `now` given.
pub fn parse_time_at(s: &str, now: i64) -> Result<i64> {
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '_' | ',' | ' '))
        .collect();
    let bad = || {
        Error::invalid(format!(
            "time {s:?}: use unix seconds (or ms/us/ns), YYYYMMDD, now or now-DURATION like now-1h"
        ))
    };
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        if s.len() == 8 {
            // Eight digits are a date (unix seconds of 1970-1973 are not a real use), so a
            // date that does not exist, such as 20240230, is an error, not seconds.
            let d = chrono::NaiveDate::parse_from_str(&s, "%Y%m%d").map_err(|_| {
                Error::invalid(format!(
                    "time {s:?}: eight digits are read as a date YYYYMMDD, and this one does not exist"
                ))
            })?;
            return d
                .and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_utc().timestamp_nanos_opt())
                .ok_or_else(bad);
        }
        let v: i64 = s.parse().map_err(|_| bad())?;
        let scale: i64 = match s.len() {
            13 => 1_000_000,
            16 => 1_000,
            19 => 1,
            _ => 1_000_000_000,
        };
        return v.checked_mul(scale).ok_or_else(bad);
    }
    let Some(offset) = s.strip_prefix("now") else {
        return Err(bad());
    };
    if offset.is_empty() {
        return Ok(now);
    }
    let (negative, rest) = match offset.as_bytes()[0] {
        b'-' => (true, &offset[1..]),
        b'+' => (false, &offset[1..]),
        _ => return Err(bad()),
    };
    let nanos = duration_nanos(rest).ok_or_else(bad)?;
    if negative {
        now.checked_sub(nanos)
    } else {
        now.checked_add(nanos)
    }
    .ok_or_else(bad)
}

/// A `humantime` duration (`1h`, `30m`, `2days`) in ns, `None` when it does not parse or
/// does not fit an `i64`.
fn duration_nanos(s: &str) -> Option<i64> {
    let d = humantime::parse_duration(s).ok()?;
    i64::try_from(d.as_nanos()).ok()
}

/// The longest step a series may have.
pub const MAX_STEP_SECS: i64 = 366 * 86_400;

/// A step such as `60s`, `5m`, `1h`, `1d` or `30` (seconds), in whole seconds, from 1 s to
/// [`MAX_STEP_SECS`].
pub fn parse_step(s: &str) -> Result<i64> {
    let s = s.trim();
    let secs = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else if s.contains('.') {
        // Fractions (`1.5m`) were never steps: whole units only.
        None
    } else {
        humantime::parse_duration(s)
            .ok()
            .filter(|d| d.subsec_nanos() == 0)
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    match secs {
        Some(n) if (1..=MAX_STEP_SECS).contains(&n) => Ok(n),
        _ => Err(Error::invalid(format!(
            "step {s:?}: use a whole number of seconds, or a duration such as 60s, 5m, 1h, 1d, \
             up to a year"
        ))),
    }
}

/// A size: bytes, or a number with `K`, `M`, `G`, `T` (powers of 1024; `KiB`, `KB`, `k`
/// and so on all accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, unit) = t.split_at(digits);
    let shift = match unit
        .trim()
        .to_ascii_lowercase()
        .trim_end_matches(['b', 'i'])
    {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{s:?}: use bytes or a size such as 512MiB or 2GiB")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s:?}: use bytes or a size such as 512MiB or 2GiB"))?;
    let bytes = n * (1u64 << shift) as f64;
    if !(1.0..=u64::MAX as f64).contains(&bytes) {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(bytes as u64)
}

/// Label names accepted in selections and group-bys: `[A-Za-z_][A-Za-z0-9_.-]*`, at most
/// 128 bytes.
pub fn check_label_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = name.len() <= 128
        && bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "label name {name:?}: use letters, digits, _ . - (starting with a letter or _)"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NOW: i64 = 1_764_300_000_000_000_000;

    #[test]
    fn times() {
        let t = |s: &str| parse_time_at(s, NOW).unwrap();
        assert_eq!(t("1764300000"), NOW);
        assert_eq!(t("1764300000000"), NOW);
        assert_eq!(t("1764300000000000"), NOW);
        assert_eq!(t("1764300000000000000"), NOW);
        assert_eq!(t("20251128"), 1_764_288_000_000_000_000);
        assert_eq!(t("now"), NOW);
        assert_eq!(t("now-1h"), NOW - 3_600_000_000_000);
        assert_eq!(t("now+30m"), NOW + 1_800_000_000_000);
        assert_eq!(t("now-2days"), NOW - 172_800_000_000_000);
        assert_eq!(t("now-1week"), NOW - 604_800_000_000_000);
        assert_eq!(t("1_764_300_000"), NOW);
        for bad in [
            "",
            "yesterday",
            "now-",
            "now*1h",
            "now-1parsec",
            "now-99999999999d",
            "now+99999999999d",
            "99999999999999999999",
            "9999999999999999999",
            "20240230",
            "20241301",
        ] {
            assert!(parse_time_at(bad, NOW).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps() {
        assert_eq!(parse_step("60s").unwrap(), 60);
        assert_eq!(parse_step("5m").unwrap(), 300);
        assert_eq!(parse_step("2h").unwrap(), 7200);
        assert_eq!(parse_step("1d").unwrap(), 86_400);
        assert_eq!(parse_step("90").unwrap(), 90);
        for bad in [
            "",
            "0s",
            "0",
            "-5s",
            "1.5m",
            "1500ms",
            "400d",
            "99999999999999999999",
        ] {
            assert!(parse_step(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5K").unwrap(), 1536);
        assert_eq!(parse_size("64 MB").unwrap(), 64 << 20);
        for bad in ["", "x", "1X", "0", "-1"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for good in ["pod", "_x", "a.b-c_1"] {
            assert!(check_label_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a b", "a'b", &"a".repeat(129)] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }
}
