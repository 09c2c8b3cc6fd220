//! Series labels: the label set that identifies one series of profiles.

use crate::{Error, Result};

/// Limits on series labels, checked at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLimits {
    /// Most labels per series (app, version and dc included). Default 32.
    pub max_labels: usize,
    /// Longest label name in bytes. Default 128.
    pub max_name_len: usize,
    /// Longest label value in bytes. Default 1024.
    pub max_value_len: usize,
}

impl Default for LabelLimits {
    fn default() -> Self {
        LabelLimits {
            max_labels: 32,
            max_name_len: 128,
            max_value_len: 1024,
        }
    }
}

/// A set of labels sorted by name, names unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Labels from pairs; a later pair wins over an earlier one with the same name. Names
    /// must be non-empty and match `[A-Za-z_][A-Za-z0-9_.]*` (Prometheus and Pyroscope
    /// names, plus `.`).
    pub fn new(
        pairs: impl IntoIterator<Item = (String, String)>,
        limits: &LabelLimits,
    ) -> Result<Self> {
        let mut v: Vec<(String, String)> = Vec::new();
        for (k, val) in pairs {
            check_name(&k, limits)?;
            if val.len() > limits.max_value_len {
                return Err(Error::Invalid(format!(
                    "label {k:?}: value is {} bytes, the limit is {}",
                    val.len(),
                    limits.max_value_len
                )));
            }
            match v.iter_mut().find(|(name, _)| *name == k) {
                Some(slot) => slot.1 = val,
                None => v.push((k, val)),
            }
        }
        if v.len() > limits.max_labels {
            return Err(Error::Invalid(format!(
                "{} labels on one series, the limit is {}",
                v.len(),
                limits.max_labels
            )));
        }
        v.sort();
        Ok(Labels(v))
    }

    /// Labels already known to be valid (read back from the store), sorted here.
    pub fn from_stored(mut pairs: Vec<(String, String)>) -> Self {
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels(pairs)
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The pairs, sorted by name.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These labels plus `extra` (which win on conflicts), checked against `limits`.
    pub fn merged(
        &self,
        extra: impl IntoIterator<Item = (String, String)>,
        limits: &LabelLimits,
    ) -> Result<Self> {
        Labels::new(self.0.iter().cloned().chain(extra), limits)
    }
}

fn check_name(k: &str, limits: &LabelLimits) -> Result<()> {
    let ok_first = k
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    let ok_rest = k
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
    if !ok_first || !ok_rest {
        return Err(Error::Invalid(format!(
            "label name {k:?} is not valid: use letters, digits, '_' and '.', not starting with a digit"
        )));
    }
    if k.len() > limits.max_name_len {
        return Err(Error::Invalid(format!(
            "label name {k:?} is longer than {} bytes",
            limits.max_name_len
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Result<Labels> {
        Labels::new(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            &LabelLimits::default(),
        )
    }

    #[test]
    fn sorted_unique_and_checked() {
        let labels = l(&[("pod", "a"), ("app", "x"), ("pod", "b")]).unwrap();
        assert_eq!(
            labels.pairs(),
            &[("app".into(), "x".into()), ("pod".into(), "b".into())]
        );
        assert_eq!(labels.get("pod"), Some("b"));
        assert_eq!(labels.get("dc"), None);
        assert!(l(&[("1x", "a")]).is_err());
        assert!(l(&[("", "a")]).is_err());
        assert!(l(&[("a-b", "a")]).is_err());
        let many: Vec<(String, String)> = (0..33).map(|i| (format!("k{i}"), "v".into())).collect();
        let err = Labels::new(many, &LabelLimits::default()).unwrap_err();
        assert!(err.to_string().contains("limit is 32"), "{err}");
    }
}
