//! K-means (Lloyd) with k-means++ seeding and restarts, and the silhouette
//! score, on a dense row-major matrix of `f64`.
//!
//! Hand-written rather than taken from linfa-clustering: linfa pins rand 0.8
//! (the workspace is on 0.9, so a second copy), has no silhouette, and its
//! ndarray/argmin stack costs minutes of compile time on the build machine;
//! this is ~150 lines, deterministic for a seed, and faster than
//! scikit-learn on the same matrix (see `bench/predict.py`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One K-means solution.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// `k × d` centres, row-major.
    pub centroids: Vec<f64>,
    /// Cluster of every row.
    pub labels: Vec<usize>,
    /// Sum of squared distances of rows to their centre.
    pub inertia: f64,
    /// Lloyd iterations of the best restart.
    pub iterations: usize,
}

/// Settings of one K-means fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KMeansParams {
    /// Number of clusters.
    pub k: usize,
    /// Restarts (best inertia wins).
    pub restarts: usize,
    /// Lloyd iterations per restart, at most.
    pub max_iterations: usize,
    /// Stop when the centres move (squared distance, summed over centres)
    /// by at most this × the data's mean per-feature variance — the rule of
    /// scikit-learn's `tol` (1e-4 there) — or when no row changes cluster.
    pub tolerance: f64,
    /// Seed of the k-means++ draws.
    pub seed: u64,
}

/// Squared Euclidean distance, with four partial sums so the additions
/// pipeline (a plain fold is one dependent chain: ~2× slower at d = 12).
fn dist2(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Fits K-means to `data` (`n × d`, row-major). `k` is clamped to `n`.
pub fn kmeans(data: &[f64], d: usize, p: &KMeansParams) -> KMeansFit {
    let n = data.len() / d.max(1);
    let k = p.k.clamp(1, n.max(1));
    let mut master = ChaCha8Rng::seed_from_u64(p.seed);
    let mut best: Option<KMeansFit> = None;
    let tolerance = p.tolerance * mean_variance(data, d, n);
    for _ in 0..p.restarts.max(1) {
        let mut rng = ChaCha8Rng::seed_from_u64(master.random());
        let fit = lloyd(data, d, n, plus_plus(data, d, n, k, &mut rng), p.max_iterations, tolerance);
        if best.as_ref().is_none_or(|b| fit.inertia < b.inertia) {
            best = Some(fit);
        }
    }
    best.unwrap_or(KMeansFit { centroids: vec![0.0; k * d], labels: vec![0; n], inertia: 0.0, iterations: 0 })
}

fn mean_variance(data: &[f64], d: usize, n: usize) -> f64 {
    if n == 0 || d == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for j in 0..d {
        let mean = (0..n).map(|i| data[i * d + j]).sum::<f64>() / n as f64;
        total += (0..n).map(|i| (data[i * d + j] - mean).powi(2)).sum::<f64>() / n as f64;
    }
    total / d as f64
}

/// k-means++: the first centre uniformly, each next one with probability
/// proportional to the squared distance to the nearest centre so far.
fn plus_plus(data: &[f64], d: usize, n: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let mut centres = Vec::with_capacity(k * d);
    if n == 0 {
        return vec![0.0; k * d];
    }
    centres.extend_from_slice(row(rng.random_range(0..n)));
    let mut nearest: Vec<f64> = (0..n).map(|i| dist2(row(i), &centres[0..d])).collect();
    while centres.len() < k * d {
        let total: f64 = nearest.iter().sum();
        let pick = if total <= 0.0 {
            rng.random_range(0..n)
        } else {
            let mut target = rng.random::<f64>() * total;
            let mut chosen = n - 1;
            for (i, w) in nearest.iter().enumerate() {
                if target < *w {
                    chosen = i;
                    break;
                }
                target -= w;
            }
            chosen
        };
        let start = centres.len();
        centres.extend_from_slice(row(pick));
        for (i, near) in nearest.iter_mut().enumerate() {
            *near = near.min(dist2(row(i), &centres[start..start + d]));
        }
    }
    centres
}

fn lloyd(data: &[f64], d: usize, n: usize, mut centres: Vec<f64>, max_iterations: usize, tolerance: f64) -> KMeansFit {
    let k = centres.len() / d.max(1);
    let mut labels = vec![0usize; n];
    let mut dists = vec![0.0; n];
    let mut iterations = 0;
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    loop {
        iterations += 1;
        let mut changed = iterations == 1;
        for i in 0..n {
            let x = &data[i * d..(i + 1) * d];
            let (mut best, mut best_d) = (0, f64::INFINITY);
            for c in 0..k {
                let dd = dist2(x, &centres[c * d..(c + 1) * d]);
                if dd < best_d {
                    best = c;
                    best_d = dd;
                }
            }
            changed |= labels[i] != best;
            labels[i] = best;
            dists[i] = best_d;
        }
        if !changed || iterations > max_iterations {
            break;
        }
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0);
        for i in 0..n {
            let c = labels[i];
            counts[c] += 1;
            for j in 0..d {
                sums[c * d + j] += data[i * d + j];
            }
        }
        let mut shift = 0.0;
        for c in 0..k {
            let new: Vec<f64> = if counts[c] == 0 {
                // An empty cluster takes the row farthest from its centre.
                let far = (0..n).max_by(|&a, &b| dists[a].total_cmp(&dists[b])).unwrap_or(0);
                dists[far] = 0.0;
                data[far * d..(far + 1) * d].to_vec()
            } else {
                (0..d).map(|j| sums[c * d + j] / counts[c] as f64).collect()
            };
            shift += dist2(&new, &centres[c * d..(c + 1) * d]);
            centres[c * d..(c + 1) * d].copy_from_slice(&new);
        }
        if shift <= tolerance {
            // Final assignment against the settled centres.
            continue_assign(data, d, &centres, &mut labels, &mut dists);
            break;
        }
    }
    KMeansFit { inertia: dists.iter().sum(), centroids: centres, labels, iterations }
}

fn continue_assign(data: &[f64], d: usize, centres: &[f64], labels: &mut [usize], dists: &mut [f64]) {
    let k = centres.len() / d;
    for (i, (l, dd)) in labels.iter_mut().zip(dists.iter_mut()).enumerate() {
        let x = &data[i * d..(i + 1) * d];
        (*l, *dd) = (0..k)
            .map(|c| (c, dist2(x, &centres[c * d..(c + 1) * d])))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
    }
}

/// Nearest centre of one row: (cluster, squared distance).
pub fn nearest(x: &[f64], centroids: &[f64], d: usize) -> (usize, f64) {
    (0..centroids.len() / d.max(1))
        .map(|c| (c, dist2(x, &centroids[c * d..(c + 1) * d])))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, 0.0))
}

/// Mean silhouette of `labels` over at most `sample` rows drawn with `seed`
/// (exact, O(m²·d), over the sample). Clusters of one row score 0.
pub fn silhouette(data: &[f64], d: usize, labels: &[usize], k: usize, sample: usize, seed: u64) -> f64 {
    let n = labels.len();
    let mut idx: Vec<usize> = (0..n).collect();
    if n > sample {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in 0..sample {
            let j = rng.random_range(i..n);
            idx.swap(i, j);
        }
        idx.truncate(sample);
    }
    let m = idx.len();
    if m < 2 || k < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    let mut sum_by = vec![0.0; k];
    let mut count_by = vec![0usize; k];
    for &i in &idx {
        sum_by.iter_mut().for_each(|s| *s = 0.0);
        count_by.iter_mut().for_each(|c| *c = 0);
        let x = &data[i * d..(i + 1) * d];
        for &j in &idx {
            if j != i {
                sum_by[labels[j]] += dist2(x, &data[j * d..(j + 1) * d]).sqrt();
                count_by[labels[j]] += 1;
            }
        }
        let own = labels[i];
        if count_by[own] == 0 {
            continue;
        }
        let a = sum_by[own] / count_by[own] as f64;
        let b = (0..k)
            .filter(|&c| c != own && count_by[c] > 0)
            .map(|c| sum_by[c] / count_by[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() {
            total += (b - a) / a.max(b);
        }
    }
    total / m as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_obvious_groups() {
        let data = [0.0, 0.0, 0.1, 0.0, 0.0, 0.1, 5.0, 5.0, 5.1, 5.0, 5.0, 5.1];
        let p = KMeansParams { k: 2, restarts: 3, max_iterations: 50, tolerance: 1e-9, seed: 1 };
        let fit = kmeans(&data, 2, &p);
        assert_eq!(fit.labels[0], fit.labels[1]);
        assert_eq!(fit.labels[0], fit.labels[2]);
        assert_ne!(fit.labels[0], fit.labels[3]);
        // Each group: (0,0), (0.1,0), (0,0.1) around (1/30, 1/30): squared
        // distances 2/900 + 5/900 + 5/900 = 0.04/3 per group.
        assert!((fit.inertia - 2.0 * 0.04 / 3.0).abs() < 1e-12, "{}", fit.inertia);
        let s = silhouette(&data, 2, &fit.labels, 2, 100, 0);
        assert!(s > 0.95, "{s}");
    }
}
