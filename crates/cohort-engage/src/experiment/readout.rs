//! The read-out of an experiment from conversion counts per arm: each arm
//! against the control with a z-test and interval, Bayesian chance to win
//! and expected loss, Holm and Benjamini–Hochberg across the comparisons,
//! and the sample-ratio check. The CLI (`cohort experiment analyze`) and
//! `POST /v1/experiments/analyze` print the same thing.

use serde::{Deserialize, Serialize};

use super::bayes::{beta_binomial, BayesResult};
use super::stats::{benjamini_hochberg, holm, srm_check, two_proportion_z, SrmCheck, TestResult};
use crate::{EngageError, Result};

/// Conversions and units of one arm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmCounts {
    /// Arm name.
    pub name: String,
    /// Units that converted.
    pub conversions: u64,
    /// Units exposed.
    pub units: u64,
}

/// One arm compared with the control.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmReadout {
    /// Arm name.
    pub arm: String,
    /// Two-proportion z-test, treatment − control.
    pub test: TestResult,
    /// Beta-binomial posterior comparison.
    pub bayes: BayesResult,
    /// p adjusted by Holm across the arms.
    pub holm_p: f64,
    /// p adjusted by Benjamini–Hochberg across the arms.
    pub bh_p: f64,
}

/// The whole read-out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readout {
    /// The control arm (the first given).
    pub control: ArmCounts,
    /// Every other arm against it.
    pub arms: Vec<ArmReadout>,
    /// Arm sizes against the configured weights.
    pub srm: SrmCheck,
}

/// Reads out `arms` (the control first) against `weights` (equal when
/// empty) at `confidence`.
pub fn read_out(arms: &[ArmCounts], weights: &[f64], confidence: f64) -> Result<Readout> {
    if arms.len() < 2 {
        return Err(EngageError::invalid("arms", arms.len().to_string(), "need the control and at least one arm"));
    }
    if let Some(a) = arms.iter().find(|a| a.conversions > a.units) {
        return Err(EngageError::invalid(
            "arms",
            a.name.clone(),
            format!("{} conversions out of {} units", a.conversions, a.units),
        ));
    }
    let weights = if weights.is_empty() { vec![1.0; arms.len()] } else { weights.to_vec() };
    if weights.len() != arms.len() {
        return Err(EngageError::invalid(
            "weights",
            format!("{weights:?}"),
            format!("{} weights for {} arms", weights.len(), arms.len()),
        ));
    }
    let control = &arms[0];
    let c = (control.conversions, control.units);
    let mut compared = Vec::with_capacity(arms.len() - 1);
    for a in &arms[1..] {
        let test = two_proportion_z(c, (a.conversions, a.units), confidence)?;
        let bayes = beta_binomial(c, (a.conversions, a.units), (1.0, 1.0))?;
        compared.push((a.name.clone(), test, bayes));
    }
    let p: Vec<f64> = compared.iter().map(|r| r.1.p_value).collect();
    let (holm_p, bh_p) = (holm(&p), benjamini_hochberg(&p));
    let counts: Vec<u64> = arms.iter().map(|a| a.units).collect();
    let srm = srm_check(&counts, &weights)?;
    Ok(Readout {
        control: control.clone(),
        arms: compared
            .into_iter()
            .enumerate()
            .map(|(i, (arm, test, bayes))| ArmReadout { arm, test, bayes, holm_p: holm_p[i], bh_p: bh_p[i] })
            .collect(),
        srm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(name: &str, conversions: u64, units: u64) -> ArmCounts {
        ArmCounts { name: name.into(), conversions, units }
    }

    #[test]
    fn three_arms_are_adjusted_together() {
        let r = read_out(&[arm("control", 200, 2000), arm("a", 250, 2000), arm("b", 270, 2000)], &[], 0.95).unwrap();
        assert_eq!(r.arms.len(), 2);
        // scipy.stats.norm, pooled z: 250/2000 vs 200/2000 p = 0.0123509…, 270/2000: 0.000587986…
        assert!((r.arms[0].test.p_value - 0.012_350_948).abs() < 1e-8, "{}", r.arms[0].test.p_value);
        assert!((r.arms[1].test.p_value - 0.000_587_986).abs() < 1e-8, "{}", r.arms[1].test.p_value);
        // Holm: the smaller p × 2, the larger × 1 (kept monotone).
        assert!((r.arms[1].holm_p - 2.0 * r.arms[1].test.p_value).abs() < 1e-12);
        assert!((r.arms[0].holm_p - r.arms[0].test.p_value).abs() < 1e-12);
        assert!(!r.srm.mismatch);
    }

    #[test]
    fn impossible_counts_name_the_arm() {
        let e = read_out(&[arm("control", 5, 4), arm("t", 1, 4)], &[], 0.95).unwrap_err().to_string();
        assert!(e.contains("control") && e.contains("5 conversions out of 4 units"), "{e}");
        let e = read_out(&[arm("control", 1, 4)], &[], 0.95).unwrap_err().to_string();
        assert!(e.contains("at least one arm"), "{e}");
        let e = read_out(&[arm("c", 1, 4), arm("t", 1, 4)], &[1.0], 0.95).unwrap_err().to_string();
        assert!(e.contains("1 weights for 2 arms"), "{e}");
    }
}
