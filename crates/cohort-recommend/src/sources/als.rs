//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky,
//! "Collaborative Filtering for Implicit Feedback Datasets", 2008).
//!
//! Every person–item pair has a preference `p` (1 if touched, else 0) and a
//! confidence `c = 1 + alpha · ln(1 + r / epsilon)` grown from the decayed
//! interaction weight `r`. ALS alternates exact solves of
//! `x_u = (YᵀY + Yᵀ(C_u − I)Y + λI)⁻¹ Yᵀ C_u p_u` for people and the same
//! for items, each a `k × k` symmetric positive-definite system solved by a
//! hand-written Cholesky factorisation; `YᵀY` is computed once per sweep so
//! a solve costs `O(|items of u| · k² + k³)`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::parallel_ranges;
use crate::AlsConfig;

/// Trained factors, row-major (`k` floats per person / item).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Factors {
    pub k: usize,
    pub users: Vec<f32>,
    pub items: Vec<f32>,
}

impl Factors {
    /// The factor row of person `u`.
    pub fn user(&self, u: usize) -> &[f32] {
        &self.users[u * self.k..(u + 1) * self.k]
    }

    /// `x_u · y_i` for every item, into `scores`.
    pub fn score_all(&self, x: &[f32], scores: &mut [f32]) {
        for (i, s) in scores.iter_mut().enumerate() {
            *s = dot(x, &self.items[i * self.k..(i + 1) * self.k]);
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Trains factors for `rows` (one list of `(item, weight)` per person) over
/// `n_items`; `progress(done_sweeps)` is called after every sweep.
pub(crate) fn train(
    rows: &[Vec<(u32, f32)>],
    n_items: usize,
    config: &AlsConfig,
    progress: &mut dyn FnMut(usize),
) -> Factors {
    let k = config.factors;
    let conf = |r: f32| config.alpha * (1.0 + r / config.epsilon).ln();
    // Person rows as (item, c − 1) and their transpose.
    let user_rows: Vec<Vec<(u32, f32)>> = rows.iter().map(|r| r.iter().map(|&(i, w)| (i, conf(w))).collect()).collect();
    let mut item_rows: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_items];
    for (u, row) in user_rows.iter().enumerate() {
        for &(i, c) in row {
            item_rows[i as usize].push((u as u32, c));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let scale = 0.1 / (k as f32).sqrt();
    let mut init = |n: usize| (0..n * k).map(|_| rng.random::<f32>() * scale).collect::<Vec<f32>>();
    let mut f = Factors { k, users: init(rows.len()), items: init(n_items) };
    for sweep in 0..config.iterations {
        f.users = solve_side(&user_rows, &f.items, k, config.regularization);
        f.items = solve_side(&item_rows, &f.users, k, config.regularization);
        progress(sweep + 1);
    }
    f
}

/// Solves every row of one side against the fixed factors `y` of the other.
fn solve_side(rows: &[Vec<(u32, f32)>], y: &[f32], k: usize, lambda: f32) -> Vec<f32> {
    let yty = gram(y, k);
    parallel_ranges(rows.len(), |range| {
        let mut a = vec![0f64; k * k];
        let mut b = vec![0f64; k];
        let mut out = Vec::with_capacity(range.len() * k);
        for r in range {
            let row = &rows[r];
            if row.is_empty() {
                out.extend(std::iter::repeat_n(0.0, k));
                continue;
            }
            a.copy_from_slice(&yty);
            for d in 0..k {
                a[d * k + d] += f64::from(lambda);
            }
            b.iter_mut().for_each(|v| *v = 0.0);
            for &(j, c_minus_1) in row {
                let yj = &y[j as usize * k..(j as usize + 1) * k];
                let c = f64::from(c_minus_1);
                for p in 0..k {
                    let cp = c * f64::from(yj[p]);
                    b[p] += (c + 1.0) * f64::from(yj[p]);
                    for q in 0..=p {
                        a[p * k + q] += cp * f64::from(yj[q]);
                    }
                }
            }
            // Only the lower triangle was updated: mirror it.
            for p in 0..k {
                for q in 0..p {
                    a[q * k + p] = a[p * k + q];
                }
            }
            let x = cholesky_solve(&mut a, &b, k);
            out.extend(x.iter().map(|&v| v as f32));
        }
        out
    })
}

/// `YᵀY` (k × k, full).
fn gram(y: &[f32], k: usize) -> Vec<f64> {
    let mut g = vec![0f64; k * k];
    for row in y.chunks_exact(k) {
        for p in 0..k {
            let yp = f64::from(row[p]);
            for q in 0..=p {
                g[p * k + q] += yp * f64::from(row[q]);
            }
        }
    }
    for p in 0..k {
        for q in 0..p {
            g[q * k + p] = g[p * k + q];
        }
    }
    g
}

/// Solves `A x = b` for symmetric positive-definite `A` (row-major, k × k,
/// overwritten by its Cholesky factor `L`). A pivot that is not positive
/// (rounding on a near-singular system) is clamped to a tiny value, which
/// amounts to adding ridge regularisation in that direction.
pub(crate) fn cholesky_solve(a: &mut [f64], b: &[f64], k: usize) -> Vec<f64> {
    for j in 0..k {
        let mut d = a[j * k + j];
        for p in 0..j {
            d -= a[j * k + p] * a[j * k + p];
        }
        let d = d.max(1e-12).sqrt();
        a[j * k + j] = d;
        for i in j + 1..k {
            let mut s = a[i * k + j];
            for p in 0..j {
                s -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = s / d;
        }
    }
    // L z = b, then Lᵀ x = z.
    let mut z = b.to_vec();
    for i in 0..k {
        for p in 0..i {
            z[i] -= a[i * k + p] * z[p];
        }
        z[i] /= a[i * k + i];
    }
    for i in (0..k).rev() {
        for p in i + 1..k {
            z[i] -= a[p * k + i] * z[p];
        }
        z[i] /= a[i * k + i];
    }
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2, 0.4], [2, 5, 1], [0.4, 1, 3]], x = [1, -2, 3].
        let a0 = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let x = [1.0, -2.0, 3.0];
        let b: Vec<f64> = (0..3).map(|i| (0..3).map(|j| a0[i * 3 + j] * x[j]).sum()).collect();
        let mut a = a0.to_vec();
        let got = cholesky_solve(&mut a, &b, 3);
        for (g, w) in got.iter().zip(x) {
            assert!((g - w).abs() < 1e-10, "{got:?}");
        }
    }

    #[test]
    fn factorisation_separates_two_communities_and_fills_the_gap() {
        // People 0–5 like items 0–3, people 6–11 like items 4–7; person 0
        // never touched item 3, person 6 never touched item 7.
        let mut rows: Vec<Vec<(u32, f32)>> = Vec::new();
        for u in 0..12u32 {
            let base = if u < 6 { 0 } else { 4 };
            let row = (base..base + 4).filter(|&i| !((u == 0 && i == 3) || (u == 6 && i == 7))).map(|i| (i, 3.0));
            rows.push(row.collect());
        }
        let config = AlsConfig { factors: 2, iterations: 15, regularization: 0.1, ..AlsConfig::default() };
        let f = train(&rows, 8, &config, &mut |_| {});
        let mut s = vec![0f32; 8];
        f.score_all(f.user(0), &mut s);
        let in_group = s[3];
        let best_other = s[4..8].iter().copied().fold(f32::MIN, f32::max);
        assert!(in_group > 0.5, "the missing item of the own community scores high: {s:?}");
        assert!(in_group > best_other + 0.3, "own community beats the other: {s:?}");
        f.score_all(f.user(6), &mut s);
        assert!(s[7] > s[0..4].iter().copied().fold(f32::MIN, f32::max) + 0.3, "{s:?}");
        // Training is deterministic.
        assert_eq!(train(&rows, 8, &config, &mut |_| {}), f);
    }
}
