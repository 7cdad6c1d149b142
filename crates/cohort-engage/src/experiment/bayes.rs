//! Bayesian read-out for conversion rates: Beta-Binomial posteriors
//! (uniform Beta(1, 1) prior unless told otherwise), the chance that
//! treatment beats control, and the expected loss of choosing each arm.
//! Computed by numeric integration (composite Simpson over where the
//! posteriors have mass), so the answer is deterministic, needs no random
//! draws and is accurate to about 1e-6.

use serde::{Deserialize, Serialize};
use statrs::distribution::{Beta, Continuous, ContinuousCDF};

use crate::EngageError;

/// The Bayesian comparison of two conversion rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BayesResult {
    /// P(treatment rate > control rate).
    pub chance_to_win: f64,
    /// E[max(control − treatment, 0)]: what choosing treatment risks, in rate units.
    pub expected_loss_treatment: f64,
    /// E[max(treatment − control, 0)]: what keeping control risks.
    pub expected_loss_control: f64,
    /// Posterior mean of the control rate.
    pub control_mean: f64,
    /// Posterior mean of the treatment rate.
    pub treatment_mean: f64,
}

/// Compares `x` conversions of `n` per arm with a Beta(`prior_a`, `prior_b`) prior.
pub fn beta_binomial(
    control: (u64, u64),
    treatment: (u64, u64),
    prior: (f64, f64),
) -> Result<BayesResult, EngageError> {
    let post = |what: &str, (x, n): (u64, u64)| -> Result<(f64, f64), EngageError> {
        if x > n || prior.0 <= 0.0 || prior.1 <= 0.0 {
            return Err(EngageError::invalid(
                "conversions",
                format!("{what} {x}/{n} prior {prior:?}"),
                "need conversions <= n and a positive prior",
            ));
        }
        Ok((prior.0 + x as f64, prior.1 + (n - x) as f64))
    };
    let (ac, bc) = post("control", control)?;
    let (at, bt) = post("treatment", treatment)?;
    let beta = |a: f64, b: f64| Beta::new(a, b).expect("positive shapes");
    let (c, t, c_plus, t_plus) = (beta(ac, bc), beta(at, bt), beta(ac + 1.0, bc), beta(at + 1.0, bt));
    let (mc, mt) = (ac / (ac + bc), at / (at + bt));
    let sd = |a: f64, b: f64| (a * b / ((a + b).powi(2) * (a + b + 1.0))).sqrt();
    let lo = (mc - 14.0 * sd(ac, bc)).min(mt - 14.0 * sd(at, bt)).max(0.0);
    let hi = (mc + 14.0 * sd(ac, bc)).max(mt + 14.0 * sd(at, bt)).min(1.0);
    // P(T > C) = ∫ f_T(x) F_C(x) dx.
    let chance_to_win = simpson(lo, hi, |x| t.pdf(x) * c.cdf(x));
    // E[max(C − T, 0)] = ∫ f_T(x) ∫_x^1 (c − x) f_C(c) dc dx, and
    // ∫_x^1 c f_C(c) dc = mean_C · (1 − F_{C+}(x)) with C+ = Beta(a+1, b).
    let loss_t = simpson(lo, hi, |x| t.pdf(x) * (mc * c_plus.sf(x) - x * c.sf(x)));
    let loss_c = simpson(lo, hi, |x| c.pdf(x) * (mt * t_plus.sf(x) - x * t.sf(x)));
    Ok(BayesResult {
        chance_to_win: chance_to_win.clamp(0.0, 1.0),
        expected_loss_treatment: loss_t.max(0.0),
        expected_loss_control: loss_c.max(0.0),
        control_mean: mc,
        treatment_mean: mt,
    })
}

/// Composite Simpson's rule with 20 000 intervals.
fn simpson(lo: f64, hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    const N: usize = 20_000;
    if hi <= lo {
        return 0.0;
    }
    let h = (hi - lo) / N as f64;
    let mut sum = f(lo) + f(hi);
    for i in 1..N {
        let x = lo + i as f64 * h;
        sum += if i % 2 == 1 { 4.0 * f(x) } else { 2.0 * f(x) };
    }
    let v = sum * h / 3.0;
    if v.is_finite() {
        v
    } else {
        0.0
    }
}
