//! Anytime-valid inference: the mixture sequential probability ratio test
//! (mSPRT, Johari et al. 2017/2022) for a difference of means or rates. With
//! a normal mixing distribution N(0, τ²) over the effect, the mixture
//! likelihood ratio of an estimate `d` with variance `v` is
//!
//! ```text
//! Λ = sqrt(v / (v + τ²)) · exp(τ² d² / (2 v (v + τ²)))
//! ```
//!
//! and the experiment may be stopped as soon as Λ ≥ 1/α: looking at the
//! result every day does not inflate the false-positive rate, unlike a fixed
//! horizon test that is peeked at. Inverting the test gives a confidence
//! sequence, an interval valid at every look simultaneously.

use serde::{Deserialize, Serialize};

use crate::EngageError;

/// The anytime-valid read-out at one look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialResult {
    /// Treatment − control.
    pub difference: f64,
    /// Mixture likelihood ratio Λ for "no difference".
    pub likelihood_ratio: f64,
    /// min(1, 1/Λ) at this look (the always-valid p-value is the running
    /// minimum over looks; see [`AlwaysValid`]).
    pub p_value: f64,
    /// Lower end of the confidence sequence at this look.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
}

/// One look: difference `d` with sampling variance `v` (s²_c/n_c + s²_t/n_t,
/// or p(1−p)/n summed for rates), mixing variance `tau2` (set it to the
/// square of an effect size you care about), level `alpha`.
pub fn msprt(d: f64, v: f64, tau2: f64, alpha: f64) -> Result<SequentialResult, EngageError> {
    if !(v > 0.0 && tau2 > 0.0 && alpha > 0.0 && alpha < 1.0) {
        return Err(EngageError::invalid(
            "sequential input",
            format!("v {v} tau2 {tau2} alpha {alpha}"),
            "need v > 0, tau2 > 0 and 0 < alpha < 1",
        ));
    }
    let log_lr = 0.5 * (v / (v + tau2)).ln() + tau2 * d * d / (2.0 * v * (v + tau2));
    let likelihood_ratio = log_lr.exp();
    let radius = ((v * (v + tau2) / tau2) * (2.0 * (1.0 / alpha).ln() + ((v + tau2) / v).ln())).sqrt();
    Ok(SequentialResult {
        difference: d,
        likelihood_ratio,
        p_value: (-log_lr).exp().min(1.0),
        ci_low: d - radius,
        ci_high: d + radius,
    })
}

/// Running state across looks: the always-valid p-value (running minimum)
/// and the intersection of the intervals so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlwaysValid {
    /// Running minimum p-value.
    pub p_value: f64,
    /// Highest lower bound seen.
    pub ci_low: f64,
    /// Lowest upper bound seen.
    pub ci_high: f64,
}

impl Default for AlwaysValid {
    fn default() -> Self {
        AlwaysValid { p_value: 1.0, ci_low: f64::NEG_INFINITY, ci_high: f64::INFINITY }
    }
}

impl AlwaysValid {
    /// Folds in one look.
    pub fn update(&mut self, look: &SequentialResult) {
        self.p_value = self.p_value.min(look.p_value);
        self.ci_low = self.ci_low.max(look.ci_low);
        self.ci_high = self.ci_high.min(look.ci_high);
    }

    /// Whether the effect is established (p below alpha / zero excluded).
    pub fn rejects(&self, alpha: f64) -> bool {
        self.p_value < alpha
    }
}
