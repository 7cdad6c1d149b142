//! L2-regularised logistic regression fitted by Newton's method (IRLS).
//!
//! With a few dozen features the Hessian is tiny, so each Newton step is
//! one pass over the rows plus a d×d Cholesky solve, and the fit converges
//! in well under ten steps to the exact optimum of
//! `Σ log-loss + λ/2·‖w‖²` (intercept unpenalised) — the objective
//! scikit-learn's `LogisticRegression(C = 1/λ)` minimises.

/// A fitted model in z-units.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticFit {
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub intercept: f64,
    /// Newton steps taken.
    pub iterations: usize,
    /// Whether the step size fell below the tolerance.
    pub converged: bool,
}

/// The logistic function, safe for large |t|.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

fn objective(x: &[f64], y: &[bool], d: usize, w: &[f64], b: f64, lambda: f64) -> f64 {
    let mut loss = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        let t = b + dot(&x[i * d..(i + 1) * d], w);
        // log(1 + e^t) − y·t, computed stably.
        let softplus = if t > 0.0 { t + (-t).exp().ln_1p() } else { t.exp().ln_1p() };
        loss += softplus - if yi { t } else { 0.0 };
    }
    loss + 0.5 * lambda * w.iter().map(|v| v * v).sum::<f64>()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Fits `y ~ x` (`x` row-major `n × d`, standardised) with L2 strength `lambda`.
pub fn fit(x: &[f64], y: &[bool], d: usize, lambda: f64, max_iterations: usize) -> LogisticFit {
    let n = y.len();
    let m = d + 1; // weights then intercept
    let mut beta = vec![0.0; m];
    let mut iterations = 0;
    let mut converged = false;
    let mut current = objective(x, y, d, &beta[..d], beta[d], lambda);
    while iterations < max_iterations {
        iterations += 1;
        let mut grad = vec![0.0; m];
        let mut hess = vec![0.0; m * m];
        let mut row = vec![0.0; m];
        for i in 0..n {
            row[..d].copy_from_slice(&x[i * d..(i + 1) * d]);
            row[d] = 1.0;
            let p = sigmoid(dot(&row, &beta));
            let r = p - if y[i] { 1.0 } else { 0.0 };
            let w = (p * (1.0 - p)).max(1e-12);
            for a in 0..m {
                grad[a] += r * row[a];
                let wa = w * row[a];
                // Lower triangle only, as slices (no bounds checks, vectorises).
                for (h, rc) in hess[a * m..=a * m + a].iter_mut().zip(&row[..=a]) {
                    *h += wa * rc;
                }
            }
        }
        for a in 0..m {
            for c in 0..a {
                hess[c * m + a] = hess[a * m + c];
            }
        }
        for j in 0..d {
            grad[j] += lambda * beta[j];
            hess[j * m + j] += lambda;
        }
        hess[d * m + d] += 1e-9;
        let Some(step) = cholesky_solve(&hess, &grad, m) else { break };
        // Damped step: halve until the objective does not increase.
        let mut t = 1.0;
        let mut next;
        loop {
            next = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect::<Vec<f64>>();
            let value = objective(x, y, d, &next[..d], next[d], lambda);
            if value <= current + 1e-12 || t < 1e-6 {
                current = value;
                break;
            }
            t *= 0.5;
        }
        let size = step.iter().fold(0.0f64, |a, s| a.max((t * s).abs()));
        beta = next;
        if size < 1e-9 {
            converged = true;
            break;
        }
    }
    LogisticFit { intercept: beta[d], weights: beta[..d].to_vec(), iterations, converged }
}

/// Solves `A·x = b` for symmetric positive definite `A` (`m × m`).
fn cholesky_solve(a: &[f64], b: &[f64], m: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * m + k] * l[j * m + k]).sum();
            if i == j {
                let v = a[i * m + i] - s;
                if v <= 0.0 {
                    return None;
                }
                l[i * m + i] = v.sqrt();
            } else {
                l[i * m + j] = (a[i * m + j] - s) / l[j * m + j];
            }
        }
    }
    let mut z = vec![0.0; m];
    for i in 0..m {
        z[i] = (b[i] - (0..i).map(|k| l[i * m + k] * z[k]).sum::<f64>()) / l[i * m + i];
    }
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        x[i] = (z[i] - (i + 1..m).map(|k| l[k * m + i] * x[k]).sum::<f64>()) / l[i * m + i];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the optimum the penalised gradient vanishes: Σ(p−y)·x + λw = 0
    /// and Σ(p−y) = 0.
    #[test]
    fn optimum_has_zero_gradient() {
        let x = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0];
        let y = [false, false, true, false, true, false, true, true];
        let f = fit(&x, &y, 1, 1.0, 50);
        assert!(f.converged);
        let (mut gw, mut gb) = (0.0, 0.0);
        for (xi, yi) in x.iter().zip(y) {
            let r = sigmoid(f.weights[0] * xi + f.intercept) - f64::from(u8::from(yi));
            gw += r * xi;
            gb += r;
        }
        assert!((gw + f.weights[0]).abs() < 1e-8, "{gw}");
        assert!(gb.abs() < 1e-8, "{gb}");
        assert!(f.weights[0] > 0.5, "{}", f.weights[0]);
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        // [[4,2],[2,3]]·[1,2] = [8,8]
        let x = cholesky_solve(&[4.0, 2.0, 2.0, 3.0], &[8.0, 8.0], 2).unwrap();
        assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12, "{x:?}");
    }
}
