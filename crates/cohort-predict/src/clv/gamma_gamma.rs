//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV";
//! Fader & Hardie, "The Gamma-Gamma model of monetary value", 2013): each
//! transaction value is Gamma(p, ν) around a customer's mean, and ν varies
//! across customers as Gamma(q, γ). Fitted on repeat customers only (their
//! mean repeat-transaction value `m̄` over `x` transactions), and valid only
//! when spend is independent of frequency — checked as a diagnostic.

use libm::lgamma;
use serde::{Deserialize, Serialize};

use super::optimize::minimize;
use super::{ClvError, Rfm};

/// Gamma-Gamma parameters (`gamma` in the summary's money unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of a transaction's value.
    pub p: f64,
    /// Shape of the customers' ν.
    pub q: f64,
    /// Scale of the customers' ν (lifetimes calls it `v`).
    pub gamma: f64,
}

impl GammaGammaParams {
    /// Log-likelihood of one repeat customer with `x` transactions of mean `m`.
    pub fn log_likelihood(&self, x: f64, m: f64) -> f64 {
        let GammaGammaParams { p, q, gamma } = *self;
        lgamma(p * x + q) - lgamma(p * x) - lgamma(q) + q * gamma.ln() + (p * x - 1.0) * m.ln() + p * x * x.ln()
            - (p * x + q) * (x * m + gamma).ln()
    }

    /// Expected mean transaction value of a customer with `x` repeat
    /// transactions of mean `m` (eq. 5 of the 2013 note); for `x = 0` the
    /// population mean `pγ/(q−1)`. `None` when `q ≤ 1` (infinite mean).
    pub fn expected_spend(&self, x: f64, m: f64) -> Option<f64> {
        let GammaGammaParams { p, q, gamma } = *self;
        if q <= 1.0 {
            return None;
        }
        let v = if x > 0.0 { p * (gamma + x * m) / (p * x + q - 1.0) } else { p * gamma / (q - 1.0) };
        v.is_finite().then_some(v)
    }
}

/// A Gamma-Gamma fit and its diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaFit {
    /// Fitted parameters.
    pub params: GammaGammaParams,
    /// Log-likelihood at the fit.
    pub log_likelihood: f64,
    /// Nelder–Mead iterations over all starts.
    pub iterations: u64,
    /// Whether the optimiser met its tolerance.
    pub converged: bool,
    /// Repeat customers fitted.
    pub customers: usize,
    /// Pearson correlation of frequency and mean spend among them: the model
    /// assumes independence; above 0.3 in absolute value its spend
    /// predictions are biased.
    pub frequency_spend_correlation: f64,
}

/// Pearson correlation (0 when either side is constant).
pub(crate) fn correlation(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        0.0
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Maximum-likelihood Gamma-Gamma fit over the repeat customers (`x > 0`,
/// positive mean spend) of `customers`.
///
/// # Errors
/// [`ClvError::NotEnoughData`] for fewer than 10 repeat customers;
/// [`ClvError::FitFailed`] when the optimiser finds nothing finite or the
/// fit has `q ≤ 1` (no finite mean spend).
pub fn fit_gamma_gamma(customers: &[Rfm]) -> Result<GammaGammaFit, ClvError> {
    let repeat: Vec<(f64, f64)> =
        customers.iter().filter(|c| c.frequency > 0.0 && c.monetary > 0.0).map(|c| (c.frequency, c.monetary)).collect();
    if repeat.len() < 10 {
        return Err(ClvError::NotEnoughData {
            model: "gamma-gamma",
            need: "at least 10 repeat customers with positive spend",
            got: repeat.len(),
        });
    }
    let n = repeat.len() as f64;
    // Grouped by x (the Gamma-function terms depend on x only), with ln m
    // computed once: one logarithm per customer and evaluation remains.
    let mut sorted = repeat.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("finite summaries"));
    let mut groups: Vec<(f64, Vec<(f64, f64)>)> = Vec::new();
    for (x, m) in sorted {
        match groups.last_mut() {
            Some((gx, g)) if *gx == x => g.push((m, m.ln())),
            _ => groups.push((x, vec![(m, m.ln())])),
        }
    }
    let objective = |lp: &[f64]| -> f64 {
        if lp.iter().any(|v| !(-30.0..=30.0).contains(v)) {
            return f64::INFINITY;
        }
        let (p, q, gamma) = (lp[0].exp(), lp[1].exp(), lp[2].exp());
        let mut total = 0.0;
        for (x, ms) in &groups {
            let x = *x;
            let k = ms.len() as f64;
            total += k * (lgamma(p * x + q) - lgamma(p * x) - lgamma(q) + q * lp[2] + p * x * x.ln());
            for &(m, ln_m) in ms {
                total += (p * x - 1.0) * ln_m - (p * x + q) * (x * m + gamma).ln();
            }
        }
        -total / n
    };
    let mean_m = repeat.iter().map(|r| r.1).sum::<f64>() / n;
    let starts: Vec<Vec<f64>> = [(1.0, 1.0, 1.0), (4.0, 3.0, 1.0), (1.0, 5.0, 4.0), (10.0, 2.0, 0.1)]
        .iter()
        .map(|&(p, q, g): &(f64, f64, f64)| vec![p.ln(), q.ln(), (g * mean_m).ln()])
        .collect();
    let min = minimize(&objective, &starts, 4000)
        .ok_or(ClvError::FitFailed { model: "gamma-gamma", reason: "no start gave a finite likelihood".into() })?;
    let params = GammaGammaParams { p: min.point[0].exp(), q: min.point[1].exp(), gamma: min.point[2].exp() };
    if params.q <= 1.0 || !params.p.is_finite() || !params.gamma.is_finite() {
        return Err(ClvError::FitFailed {
            model: "gamma-gamma",
            reason: format!("q = {:.4} ≤ 1: mean spend is not finite under this fit", params.q),
        });
    }
    let (xs, ms): (Vec<f64>, Vec<f64>) = repeat.iter().copied().unzip();
    Ok(GammaGammaFit {
        params,
        log_likelihood: -min.value * n,
        iterations: min.iterations,
        converged: min.converged,
        customers: repeat.len(),
        frequency_spend_correlation: correlation(&xs, &ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_shrinks_towards_the_population_mean() {
        let g = GammaGammaParams { p: 6.25, q: 3.74, gamma: 15.44 };
        let population = g.expected_spend(0.0, 0.0).unwrap();
        assert!((population - 6.25 * 15.44 / 2.74).abs() < 1e-9);
        // One purchase of 100 is pulled towards ~35; ten purchases much less.
        let one = g.expected_spend(1.0, 100.0).unwrap();
        let ten = g.expected_spend(10.0, 100.0).unwrap();
        assert!(population < one && one < ten && ten < 100.0, "{population} {one} {ten}");
        assert!(GammaGammaParams { q: 0.9, ..g }.expected_spend(1.0, 1.0).is_none());
    }
}
