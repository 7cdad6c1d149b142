//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
//! while alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
//! after each purchase they drop out with probability p ~ Beta(a, b).
//!
//! Inputs per customer are the repeat frequency `x`, the recency `t_x` (time
//! of the last purchase since the first) and the age `T` (observation end
//! since the first purchase), all in the caller's time unit (days in Cohort).

use std::collections::HashMap;

use libm::lgamma;
use serde::{Deserialize, Serialize};

use super::optimize::minimize;
use super::{ClvError, Rfm};

/// BG/NBD parameters (`alpha` in the summary's time unit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate Gamma.
    pub r: f64,
    /// Rate (inverse scale) of the purchase-rate Gamma.
    pub alpha: f64,
    /// Beta shape `a` of the drop-out probability.
    pub a: f64,
    /// Beta shape `b` of the drop-out probability.
    pub b: f64,
}

/// `ln(e^x + e^y)` without overflow.
fn log_add_exp(x: f64, y: f64) -> f64 {
    let m = x.max(y);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((x - m).exp() + (y - m).exp()).ln()
}

/// Gauss hypergeometric ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1.
/// `None` when it has not converged after 200,000 terms.
pub(crate) fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..200_000 {
        let n = f64::from(n);
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-15 * sum.abs() {
            return sum.is_finite().then_some(sum);
        }
    }
    None
}

impl BgNbdParams {
    /// The parameters as their logarithms (the optimiser's coordinates).
    pub fn to_log(self) -> Vec<f64> {
        vec![self.r.ln(), self.alpha.ln(), self.a.ln(), self.b.ln()]
    }

    /// Parameters from logarithms.
    pub fn from_log(p: &[f64]) -> BgNbdParams {
        BgNbdParams { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() }
    }

    /// Log-likelihood of one customer (FHL 2005, eq. 6).
    pub fn log_likelihood(&self, x: f64, t_x: f64, t: f64) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *self;
        let a1 = lgamma(r + x) - lgamma(r) + r * alpha.ln();
        let a2 = lgamma(a + b) + lgamma(b + x) - lgamma(b) - lgamma(a + b + x);
        let a3 = -(r + x) * (alpha + t).ln();
        let a4 = if x > 0.0 { a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + t_x).ln() } else { f64::NEG_INFINITY };
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// Sum of the log-likelihoods of `customers`.
    pub fn total_log_likelihood(&self, customers: &[Rfm]) -> f64 {
        customers.iter().map(|c| self.log_likelihood(c.frequency, c.recency, c.age)).sum()
    }

    /// `a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)` for x > 0, else 0: the odds that
    /// the customer dropped out after the last purchase.
    fn dropout_odds(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        (a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + t).ln() - (alpha + t_x).ln())).exp()
    }

    /// Probability that the customer is still alive at `T` (FHL 2005, eq. 13).
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        1.0 / (1.0 + self.dropout_odds(x, t_x, t))
    }

    /// Expected purchases in the next `horizon` time units, given the
    /// customer's history (FHL 2005, eq. 10). `None` when the hypergeometric
    /// series does not converge.
    pub fn expected_purchases(&self, horizon: f64, x: f64, t_x: f64, t: f64) -> Option<f64> {
        if horizon <= 0.0 {
            return Some(0.0);
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let z = horizon / (alpha + t + horizon);
        let f = hyp2f1(r + x, b + x, a + b + x - 1.0, z)?;
        let lead = (a + b + x - 1.0) / (a - 1.0);
        let tail = 1.0 - ((alpha + t) / (alpha + t + horizon)).powf(r + x) * f;
        let e = lead * tail / (1.0 + self.dropout_odds(x, t_x, t));
        e.is_finite().then_some(e.max(0.0))
    }

    /// Expected purchases in `(0, t]` of a customer just acquired (eq. 9),
    /// the population curve used to sanity-check a fit.
    pub fn expected_purchases_new(&self, t: f64) -> Option<f64> {
        let BgNbdParams { r, alpha, a, b } = *self;
        let z = t / (alpha + t);
        let f = hyp2f1(r, b, a + b - 1.0, z)?;
        let e = (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * f);
        e.is_finite().then_some(e)
    }
}

/// A BG/NBD maximum-likelihood fit and its diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BgNbdFit {
    /// Fitted parameters.
    pub params: BgNbdParams,
    /// Log-likelihood at the fit (summed over customers).
    pub log_likelihood: f64,
    /// Nelder–Mead iterations over all starts.
    pub iterations: u64,
    /// Whether the optimiser met its tolerance.
    pub converged: bool,
    /// Starts tried.
    pub starts: usize,
    /// Customers fitted.
    pub customers: usize,
    /// Distinct `(x, t_x, T)` triples the likelihood was evaluated on.
    pub distinct_points: usize,
}

/// Customers with the same `(x, t_x, T)` share one likelihood term, and the
/// Gamma-function terms depend on `x` only: summaries in whole days repeat a
/// lot, so the likelihood is evaluated per distinct `x` and per distinct
/// triple, weighted by head count.
/// One distinct `x` and its `(t_x, T, weight)` points.
type Group = (f64, Vec<(f64, f64, f64)>);

pub(crate) struct Compressed {
    /// Per distinct `x`, ascending.
    groups: Vec<Group>,
    /// Distinct triples.
    pub(crate) points: usize,
    /// Customers.
    pub(crate) weight: f64,
}

impl Compressed {
    pub(crate) fn new(customers: &[Rfm]) -> Compressed {
        let mut triples: HashMap<(u64, u64, u64), f64> = HashMap::new();
        for c in customers {
            *triples.entry((c.frequency.to_bits(), c.recency.to_bits(), c.age.to_bits())).or_default() += 1.0;
        }
        let mut flat: Vec<(f64, f64, f64, f64)> = triples
            .into_iter()
            .map(|((x, tx, t), w)| (f64::from_bits(x), f64::from_bits(tx), f64::from_bits(t), w))
            .collect();
        // A fixed order keeps the sum, hence the fit, bit-for-bit reproducible.
        flat.sort_by(|p, q| p.partial_cmp(q).expect("finite summaries"));
        let points = flat.len();
        let mut groups: Vec<Group> = Vec::new();
        for (x, tx, t, w) in flat {
            match groups.last_mut() {
                Some((gx, g)) if *gx == x => g.push((tx, t, w)),
                _ => groups.push((x, vec![(tx, t, w)])),
            }
        }
        Compressed { groups, points, weight: customers.len() as f64 }
    }

    /// Total log-likelihood, as [`BgNbdParams::total_log_likelihood`].
    pub(crate) fn log_likelihood(&self, p: &BgNbdParams) -> f64 {
        let BgNbdParams { r, alpha, a, b } = *p;
        let base = lgamma(a + b) - lgamma(b) - lgamma(r) + r * alpha.ln();
        let mut total = 0.0;
        for (x, points) in &self.groups {
            let x = *x;
            let constant = base + lgamma(r + x) + lgamma(b + x) - lgamma(a + b + x);
            let odds = if x > 0.0 { a.ln() - (b + x - 1.0).ln() } else { f64::NEG_INFINITY };
            let mut group = 0.0;
            for &(tx, t, w) in points {
                let a3 = -(r + x) * (alpha + t).ln();
                let a4 = odds - (r + x) * (alpha + tx).ln();
                group += w * log_add_exp(a3, a4);
            }
            total += w_sum(points) * constant + group;
        }
        total
    }
}

fn w_sum(points: &[(f64, f64, f64)]) -> f64 {
    points.iter().map(|p| p.2).sum()
}

/// Maximum-likelihood BG/NBD fit over `customers`.
///
/// # Errors
/// [`ClvError::NotEnoughData`] for fewer than 10 customers or no repeat
/// purchase at all (the drop-out process is then unidentified);
/// [`ClvError::FitFailed`] when no start gives a finite likelihood or the
/// optimum is degenerate.
pub fn fit_bgnbd(customers: &[Rfm]) -> Result<BgNbdFit, ClvError> {
    if customers.len() < 10 {
        return Err(ClvError::NotEnoughData { model: "bg/nbd", need: "at least 10 customers", got: customers.len() });
    }
    if !customers.iter().any(|c| c.frequency > 0.0) {
        return Err(ClvError::NotEnoughData { model: "bg/nbd", need: "at least one repeat purchase", got: 0 });
    }
    let data = Compressed::new(customers);
    let n = data.weight;
    let objective = |lp: &[f64]| -> f64 {
        if lp.iter().any(|v| !(-30.0..=30.0).contains(v)) {
            return f64::INFINITY;
        }
        // Mean negative log-likelihood, so the tolerance does not depend on n.
        -data.log_likelihood(&BgNbdParams::from_log(lp)) / n
    };
    // Starts: the rate around 1/mean inter-purchase time, a and b spread over
    // low and high drop-out.
    let mean_age = customers.iter().map(|c| c.age).sum::<f64>() / n;
    let mean_freq = customers.iter().map(|c| c.frequency).sum::<f64>() / n;
    let alpha0 = (mean_age / mean_freq.max(0.1)).max(1e-3);
    let starts: Vec<Vec<f64>> =
        [(1.0, 1.0, 1.0, 1.0), (0.5, 1.0, 0.5, 2.0), (1.0, 0.1, 2.0, 4.0), (0.25, 3.0, 0.8, 2.5)]
            .iter()
            .map(|&(r, am, a, b)| BgNbdParams { r, alpha: alpha0 * am, a, b }.to_log())
            .collect();
    let min = minimize(&objective, &starts, 4000)
        .ok_or(ClvError::FitFailed { model: "bg/nbd", reason: "no start gave a finite likelihood".into() })?;
    let params = BgNbdParams::from_log(&min.point);
    let log_likelihood = -min.value * n;
    if !log_likelihood.is_finite() || [params.r, params.alpha, params.a, params.b].iter().any(|v| !v.is_finite()) {
        return Err(ClvError::FitFailed { model: "bg/nbd", reason: format!("degenerate optimum {params:?}") });
    }
    Ok(BgNbdFit {
        params,
        log_likelihood,
        iterations: min.iterations,
        converged: min.converged,
        starts: starts.len(),
        customers: customers.len(),
        distinct_points: data.points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypergeometric_matches_closed_forms() {
        // 2F1(1,1;2;z) = -ln(1-z)/z
        let z: f64 = 0.6;
        assert!((hyp2f1(1.0, 1.0, 2.0, z).unwrap() - (-(1.0 - z).ln() / z)).abs() < 1e-12);
        // 2F1(a,b;b;z) = (1-z)^-a
        assert!((hyp2f1(2.5, 3.0, 3.0, 0.3).unwrap() - 0.7f64.powf(-2.5)).abs() < 1e-12);
    }

    #[test]
    fn p_alive_is_one_without_repeat_and_falls_with_silence() {
        let p = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        assert_eq!(p.p_alive(0.0, 0.0, 30.0), 1.0);
        let recent = p.p_alive(5.0, 29.0, 30.0);
        let silent = p.p_alive(5.0, 5.0, 30.0);
        assert!(recent > 0.85 && silent < 0.3, "{recent} {silent}");
    }

    #[test]
    fn cdnow_published_figures() {
        // FHL 2005 on CDNOW (weeks): r=0.243, α=4.414, a=0.793, b=2.426. Their
        // worked example (also in Fader & Hardie's note "Implementing the
        // BG/NBD model in Excel"): x=2, t_x=30.43, T=38.86 expects 1.226
        // purchases in the next 39 weeks.
        let p = BgNbdParams { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let e = p.expected_purchases(39.0, 2.0, 30.43, 38.86).unwrap();
        assert!((e - 1.226).abs() < 0.001, "{e}");
        let (e1, e2) = (p.expected_purchases_new(39.0).unwrap(), p.expected_purchases_new(78.0).unwrap());
        assert!(0.0 < e1 && e1 < e2, "{e1} {e2}");
    }

    #[test]
    fn compressed_likelihood_equals_the_plain_sum() {
        let p = BgNbdParams { r: 0.5, alpha: 12.0, a: 0.7, b: 3.0 };
        let customers: Vec<Rfm> = (0..50)
            .map(|i| {
                let x = f64::from(i % 4);
                Rfm {
                    frequency: x,
                    recency: if x > 0.0 { f64::from(i % 7) * 3.0 } else { 0.0 },
                    age: 30.0,
                    monetary: 0.0,
                }
            })
            .collect();
        let plain = p.total_log_likelihood(&customers);
        let fast = Compressed::new(&customers).log_likelihood(&p);
        assert!((plain - fast).abs() < 1e-9 * plain.abs(), "{plain} {fast}");
    }
}
