//! The statistics of regression analysis: a weighted median (the scale of unchanged work)
//! and Welch's unequal-variance t-test across replicates (the Student t distribution is
//! `statrs`'s).

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The weighted median of `(value, weight)` pairs: the smallest value at which the weights
/// of values at or below it reach half the total. `None` when no pair has a positive
/// weight and a finite value.
pub fn weighted_median(mut pairs: Vec<(f64, f64)>) -> Option<f64> {
    pairs.retain(|(v, w)| v.is_finite() && *w > 0.0 && w.is_finite());
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = pairs.iter().map(|p| p.1).sum::<f64>() / 2.0;
    let mut seen = 0.0;
    for (v, w) in &pairs {
        seen += w;
        if seen >= half {
            return Some(*v);
        }
    }
    pairs.last().map(|p| p.0)
}

/// The outcome of Welch's t-test of two samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Welch {
    /// The t statistic (positive when the second sample's mean is larger).
    pub t: f64,
    /// Welch-Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Mean and unbiased variance.
fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Welch's t-test of `b` against `a` (two-sided). `None` with fewer than two values on a
/// side. When both variances are zero the p-value is 0 if the means differ and 1 if not.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
    let se2 = sa + sb;
    if se2 <= 0.0 {
        let differ = ma != mb;
        return Some(Welch {
            t: if differ {
                f64::INFINITY.copysign(mb - ma)
            } else {
                0.0
            },
            df: (a.len() + b.len() - 2) as f64,
            p_value: if differ { 0.0 } else { 1.0 },
        });
    }
    let t = (mb - ma) / se2.sqrt();
    let df = se2 * se2
        / (sa * sa / (a.len() as f64 - 1.0) + sb * sb / (b.len() as f64 - 1.0))
            .max(f64::MIN_POSITIVE);
    let p_value = StudentsT::new(0.0, 1.0, df)
        .map(|d| 2.0 * d.sf(t.abs()))
        .unwrap_or(1.0)
        .clamp(0.0, 1.0);
    Some(Welch { t, df, p_value })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn weighted_median_by_weight() {
        assert_eq!(weighted_median(vec![]), None);
        assert_eq!(weighted_median(vec![(3.0, 1.0)]), Some(3.0));
        // 1.0 holds 10 of 13: it is the median whatever the other values.
        assert_eq!(
            weighted_median(vec![(5.0, 1.0), (1.0, 10.0), (0.2, 2.0)]),
            Some(1.0)
        );
        assert_eq!(
            weighted_median(vec![(f64::NAN, 100.0), (2.0, 1.0), (4.0, 0.0)]),
            Some(2.0)
        );
    }

    /// Against SciPy 1.x: `scipy.stats.ttest_ind([2,4,6,8,10], [1,2,3,4],
    /// equal_var=False)` gives t = 2.2514363, p = 0.0691336, df = 5.5207877.
    #[test]
    fn welch_matches_scipy() {
        let w = welch(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0, 10.0]).unwrap();
        assert!((w.t - 2.2514363).abs() < 1e-6, "{w:?}");
        assert!((w.df - 5.5207877).abs() < 1e-6, "{w:?}");
        assert!((w.p_value - 0.0691336).abs() < 1e-6, "{w:?}");
        assert!(welch(&[1.0], &[1.0, 2.0]).is_none());
        assert_eq!(welch(&[1.0, 1.0], &[1.0, 1.0]).unwrap().p_value, 1.0);
        assert_eq!(welch(&[1.0, 1.0], &[2.0, 2.0]).unwrap().p_value, 0.0);
    }
}
