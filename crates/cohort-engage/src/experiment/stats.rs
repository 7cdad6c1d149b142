//! Frequentist tests for experiments: the two-proportion z-test for
//! conversion rates, Welch's t-test for means (revenue per user), CUPED
//! variance reduction with a pre-period covariate, the sample-ratio-mismatch
//! check, and Holm / Benjamini–Hochberg corrections for many metrics.
//! Every difference is *treatment − control*. Distributions from `statrs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal, StudentsT};

use crate::EngageError;

/// A test's result.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Control's rate or mean.
    pub control: f64,
    /// Treatment's rate or mean.
    pub treatment: f64,
    /// Treatment − control.
    pub difference: f64,
    /// Standard error of the difference used for the interval.
    pub std_error: f64,
    /// z or t statistic.
    pub statistic: f64,
    /// Degrees of freedom (t-tests only).
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Lower end of the confidence interval of the difference.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// Confidence level of the interval (0.95).
    pub confidence: f64,
}

impl TestResult {
    /// Relative lift, difference / control (None when control is 0).
    pub fn lift(&self) -> Option<f64> {
        (self.control != 0.0).then(|| self.difference / self.control)
    }

    /// Whether the interval excludes zero.
    pub fn significant(&self) -> bool {
        self.ci_low > 0.0 || self.ci_high < 0.0
    }
}

fn check_confidence(confidence: f64) -> Result<(), EngageError> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(EngageError::invalid("confidence", confidence.to_string(), "must be between 0 and 1"))
    }
}

pub(crate) fn std_normal() -> Normal {
    Normal::new(0.0, 1.0).expect("standard normal")
}

/// Two-proportion z-test: `x` conversions out of `n` per group. The test
/// statistic uses the pooled rate (the null hypothesis says the rates are
/// equal); the interval uses the unpooled standard error (Wald).
pub fn two_proportion_z(
    control: (u64, u64),
    treatment: (u64, u64),
    confidence: f64,
) -> Result<TestResult, EngageError> {
    check_confidence(confidence)?;
    let ((xc, nc), (xt, nt)) = (control, treatment);
    for (what, x, n) in [("control", xc, nc), ("treatment", xt, nt)] {
        if n == 0 || x > n {
            return Err(EngageError::invalid(
                "conversions",
                format!("{what} {x}/{n}"),
                "need n > 0 and conversions <= n",
            ));
        }
    }
    let (nc, nt) = (nc as f64, nt as f64);
    let (pc, pt) = (xc as f64 / nc, xt as f64 / nt);
    let pooled = (xc + xt) as f64 / (nc + nt);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / nc + 1.0 / nt)).sqrt();
    let diff = pt - pc;
    let z = if se_pooled > 0.0 { diff / se_pooled } else { 0.0 };
    let n = std_normal();
    let p_value = (2.0 * n.sf(z.abs())).min(1.0);
    let se = (pc * (1.0 - pc) / nc + pt * (1.0 - pt) / nt).sqrt();
    let q = n.inverse_cdf(0.5 + confidence / 2.0);
    Ok(TestResult {
        control: pc,
        treatment: pt,
        difference: diff,
        std_error: se,
        statistic: z,
        df: None,
        p_value,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        confidence,
    })
}

/// Size, mean and unbiased variance of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Observations.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Unbiased variance (n − 1).
    pub variance: f64,
}

impl Sample {
    /// Summarises `values` (Welford's algorithm, stable for large sums).
    pub fn of(values: &[f64]) -> Sample {
        let (mut mean, mut m2) = (0.0, 0.0);
        for (i, &v) in values.iter().enumerate() {
            let d = v - mean;
            mean += d / (i + 1) as f64;
            m2 += d * (v - mean);
        }
        let n = values.len() as u64;
        Sample { n, mean, variance: if n > 1 { m2 / (n - 1) as f64 } else { 0.0 } }
    }
}

/// Welch's t-test (unequal variances) with the Welch–Satterthwaite degrees
/// of freedom and a t interval for the difference of means.
pub fn welch_t(control: &Sample, treatment: &Sample, confidence: f64) -> Result<TestResult, EngageError> {
    check_confidence(confidence)?;
    if control.n < 2 || treatment.n < 2 {
        return Err(EngageError::invalid(
            "sample sizes",
            format!("control {} treatment {}", control.n, treatment.n),
            "need at least 2 observations per group",
        ));
    }
    let vc = control.variance / control.n as f64;
    let vt = treatment.variance / treatment.n as f64;
    let se = (vc + vt).sqrt();
    let diff = treatment.mean - control.mean;
    if se == 0.0 {
        return Err(EngageError::invalid("samples", "variance 0", "both groups are constant"));
    }
    let df = (vc + vt).powi(2) / (vc * vc / (control.n - 1) as f64 + vt * vt / (treatment.n - 1) as f64);
    let t = diff / se;
    let dist = StudentsT::new(0.0, 1.0, df)
        .map_err(|e| EngageError::invalid("degrees of freedom", df.to_string(), e.to_string()))?;
    let p_value = (2.0 * dist.sf(t.abs())).min(1.0);
    let q = dist.inverse_cdf(0.5 + confidence / 2.0);
    Ok(TestResult {
        control: control.mean,
        treatment: treatment.mean,
        difference: diff,
        std_error: se,
        statistic: t,
        df: Some(df),
        p_value,
        ci_low: diff - q * se,
        ci_high: diff + q * se,
        confidence,
    })
}

/// CUPED result: the θ used, the share of variance removed, and the Welch
/// test on the adjusted metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cuped {
    /// θ = cov(x, y) / var(x), pooled over both groups.
    pub theta: f64,
    /// 1 − var(adjusted) / var(raw), pooled: about ρ².
    pub variance_reduction: f64,
    /// Welch's test on y − θ (x − mean x).
    pub test: TestResult,
}

/// CUPED (Deng et al., 2013): the metric `y` adjusted with a pre-period
/// covariate `x` (the same metric before the experiment), which removes the
/// part of the variance the past explains without biasing the difference
/// (x cannot be affected by the treatment). Pairs are (y, x) per unit.
pub fn cuped(control: &[(f64, f64)], treatment: &[(f64, f64)], confidence: f64) -> Result<Cuped, EngageError> {
    let all: Vec<&(f64, f64)> = control.iter().chain(treatment).collect();
    let n = all.len() as f64;
    if control.len() < 2 || treatment.len() < 2 {
        return Err(EngageError::invalid(
            "sample sizes",
            format!("control {} treatment {}", control.len(), treatment.len()),
            "need at least 2 observations per group",
        ));
    }
    let mx = all.iter().map(|p| p.1).sum::<f64>() / n;
    let my = all.iter().map(|p| p.0).sum::<f64>() / n;
    let cov = all.iter().map(|p| (p.1 - mx) * (p.0 - my)).sum::<f64>() / (n - 1.0);
    let var_x = all.iter().map(|p| (p.1 - mx).powi(2)).sum::<f64>() / (n - 1.0);
    let var_y = all.iter().map(|p| (p.0 - my).powi(2)).sum::<f64>() / (n - 1.0);
    let theta = if var_x > 0.0 { cov / var_x } else { 0.0 };
    let adjust = |g: &[(f64, f64)]| g.iter().map(|(y, x)| y - theta * (x - mx)).collect::<Vec<f64>>();
    let (ac, at) = (adjust(control), adjust(treatment));
    let test = welch_t(&Sample::of(&ac), &Sample::of(&at), confidence)?;
    let var_adj = var_y - cov * cov / var_x.max(f64::MIN_POSITIVE);
    let variance_reduction = if var_y > 0.0 { 1.0 - var_adj / var_y } else { 0.0 };
    Ok(Cuped { theta, variance_reduction, test })
}

/// Sample-ratio-mismatch check: Pearson's chi-square of the observed arm
/// sizes against the configured shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrmCheck {
    /// Chi-square statistic.
    pub chi_square: f64,
    /// Degrees of freedom (arms − 1).
    pub df: u32,
    /// p-value.
    pub p_value: f64,
    /// p < 0.001: the split is broken and the results must not be trusted.
    pub mismatch: bool,
}

/// The p-value under which a split counts as mismatched.
pub const SRM_THRESHOLD: f64 = 0.001;

/// Checks observed arm sizes against expected shares (which are normalised).
pub fn srm_check(observed: &[u64], shares: &[f64]) -> Result<SrmCheck, EngageError> {
    if observed.len() != shares.len() || observed.len() < 2 {
        return Err(EngageError::invalid(
            "srm input",
            format!("{} counts, {} shares", observed.len(), shares.len()),
            "need one share per arm and at least two arms",
        ));
    }
    let total: u64 = observed.iter().sum();
    let share_sum: f64 = shares.iter().sum();
    if total == 0 || share_sum <= 0.0 || shares.iter().any(|s| *s <= 0.0) {
        return Err(EngageError::invalid("srm input", format!("total {total}"), "need units and positive shares"));
    }
    let chi_square: f64 = observed
        .iter()
        .zip(shares)
        .map(|(&o, &s)| {
            let e = total as f64 * s / share_sum;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let df = (observed.len() - 1) as u32;
    let p_value = ChiSquared::new(f64::from(df)).expect("df >= 1").sf(chi_square);
    Ok(SrmCheck { chi_square, df, p_value, mismatch: p_value < SRM_THRESHOLD })
}

/// Holm's step-down adjusted p-values (controls the family-wise error
/// rate), in the input order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Benjamini–Hochberg adjusted p-values (controls the false discovery
/// rate), in the input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        adjusted[i] = running;
    }
    adjusted
}
