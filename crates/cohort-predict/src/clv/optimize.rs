//! Multi-start Nelder–Mead (argmin) over log-parameters.
//!
//! Likelihood surfaces of BG/NBD and Gamma-Gamma are flat along ridges and
//! have far-away local optima for bad starts, so every fit runs Nelder–Mead
//! from several starts, restarts the best simplex until the optimum stops
//! moving (the standard cure for Nelder–Mead's premature collapse), and
//! reports whether it converged instead of returning a silent answer.

use argmin::core::{CostFunction, Error, Executor, State, TerminationReason};
use argmin::solver::neldermead::NelderMead;

/// Objective as argmin sees it: a closure over log-parameters.
struct Objective<'a> {
    f: &'a (dyn Fn(&[f64]) -> f64 + Sync),
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, p: &Self::Param) -> Result<f64, Error> {
        let v = (self.f)(p);
        // Nelder–Mead only compares values: a huge finite number keeps the
        // simplex away from overflowing regions without NaN comparisons.
        Ok(if v.is_finite() { v } else { f64::MAX / 4.0 })
    }
}

/// The best point found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// Log-parameters at the minimum.
    pub point: Vec<f64>,
    /// Objective there.
    pub value: f64,
    /// Nelder–Mead iterations, all starts and restarts together.
    pub iterations: u64,
    /// Whether the best run ended by the simplex tolerance (not the
    /// iteration cap) and a restart from it moved nothing.
    pub converged: bool,
}

/// One Nelder–Mead run from `start`; returns (point, value, iterations, converged).
fn run_once(
    f: &(dyn Fn(&[f64]) -> f64 + Sync),
    start: &[f64],
    step: f64,
    tolerance: f64,
    max_iters: u64,
) -> Option<(Vec<f64>, f64, u64, bool)> {
    let mut simplex = vec![start.to_vec()];
    for i in 0..start.len() {
        let mut v = start.to_vec();
        v[i] += step;
        simplex.push(v);
    }
    let solver = NelderMead::new(simplex).with_sd_tolerance(tolerance).ok()?;
    let result = Executor::new(Objective { f }, solver).configure(|s| s.max_iters(max_iters)).run().ok()?;
    let state = result.state();
    let point = state.get_best_param()?.clone();
    let value = state.get_best_cost();
    let converged = matches!(state.get_termination_reason(), Some(TerminationReason::SolverConverged));
    value.is_finite().then_some((point, value, state.get_iter(), converged))
}

/// Minimises `f` from each of `starts`, keeps the best, and restarts it
/// until the value improves by less than `tolerance` (at most 8 times).
/// `None` when no start reached a finite value.
pub(crate) fn minimize(f: &(dyn Fn(&[f64]) -> f64 + Sync), starts: &[Vec<f64>], max_iters: u64) -> Option<Minimum> {
    let mut best: Option<Minimum> = None;
    let mut iterations = 0;
    for start in starts {
        let f0 = f(start);
        if !f0.is_finite() {
            continue;
        }
        // The simplex stops when its values agree to ~1e-10 relative.
        let tolerance = 1e-10 * f0.abs().max(1.0);
        let Some((mut point, mut value, iters, mut converged)) = run_once(f, start, 0.5, tolerance, max_iters) else {
            continue;
        };
        iterations += iters;
        for _ in 0..8 {
            let Some((p, v, iters, c)) = run_once(f, &point, 0.1, tolerance, max_iters) else { break };
            iterations += iters;
            let moved = value - v;
            if v < value {
                (point, value) = (p, v);
            }
            converged = c;
            if moved.abs() <= tolerance * 10.0 {
                break;
            }
        }
        if best.as_ref().is_none_or(|b| value < b.value) {
            best = Some(Minimum { point, value, iterations: 0, converged });
        }
    }
    best.map(|b| Minimum { iterations, ..b })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rosenbrock_minimum() {
        let f = |p: &[f64]| (1.0 - p[0]).powi(2) + 100.0 * (p[1] - p[0] * p[0]).powi(2);
        let m = minimize(&f, &[vec![-1.2, 1.0], vec![2.0, 2.0]], 5000).unwrap();
        assert!((m.point[0] - 1.0).abs() < 1e-4 && (m.point[1] - 1.0).abs() < 1e-4, "{m:?}");
        assert!(m.converged);
    }

    #[test]
    fn no_finite_start_is_none() {
        let f = |_: &[f64]| f64::NAN;
        assert!(minimize(&f, &[vec![0.0]], 100).is_none());
    }
}
