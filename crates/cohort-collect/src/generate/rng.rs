//! Seeding and the few sampling helpers the generator needs.
//!
//! Every user gets its own ChaCha8 stream seeded from `(seed, user index)`,
//! so a user's records never depend on how users are chunked or on which
//! thread generates them.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator's random source.
pub(crate) type ShopRng = ChaCha8Rng;

/// SplitMix64 finaliser: a cheap, well-mixed bijection on `u64`.
pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The stream for one user. The seed is mixed before the index so that
/// `(seed 1, user 0)` and `(seed 0, user 1)` get unrelated streams.
pub(crate) fn user_rng(seed: u64, index: u64) -> ShopRng {
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed) ^ index))
}

/// The stream for shop-wide draws (catalogue), separate from every user's.
pub(crate) fn shop_rng(seed: u64, purpose: u64) -> ShopRng {
    ChaCha8Rng::seed_from_u64(splitmix(splitmix(seed).rotate_left(17) ^ splitmix(purpose ^ 0xC0_4011)))
}

/// Index drawn in proportion to `weights` (which must not all be zero).
pub(crate) fn pick_weighted(rng: &mut ShopRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// A uniformly chosen element.
pub(crate) fn pick<'a, T>(rng: &mut ShopRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A Poisson count with mean `mean` (inversion; the generator's means are
/// small, a few units at most).
pub(crate) fn poisson(rng: &mut ShopRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    let limit = (-mean).exp();
    let mut product = rng.random::<f64>();
    let mut n = 0;
    while product > limit && n < 64 {
        product *= rng.random::<f64>();
        n += 1;
    }
    n
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut ShopRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw with the given median and log-scale spread.
pub(crate) fn lognormal(rng: &mut ShopRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * normal(rng)).exp()
}

/// An exponential draw with the given mean.
pub(crate) fn exponential(rng: &mut ShopRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Cumulative weights for repeated draws from the same distribution.
#[derive(Debug, Clone)]
pub(crate) struct Cumulative {
    cumulative: Vec<f64>,
}

impl Cumulative {
    /// The table for `weights`.
    pub(crate) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w.max(0.0);
                total
            })
            .collect();
        Cumulative { cumulative }
    }

    /// An index drawn in proportion to its weight (binary search).
    pub(crate) fn sample(&self, rng: &mut ShopRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_rng_streams_differ_by_seed_and_index() {
        let a: u64 = user_rng(1, 0).random();
        let b: u64 = user_rng(0, 1).random();
        let c: u64 = user_rng(1, 0).random();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn generate_poisson_and_cumulative_have_the_right_means() {
        let mut rng = user_rng(7, 7);
        let n = 20_000;
        let mean = (0..n).map(|_| f64::from(poisson(&mut rng, 1.5))).sum::<f64>() / f64::from(n);
        assert!((mean - 1.5).abs() < 0.05, "{mean}");
        let table = Cumulative::new([1.0, 0.0, 3.0]);
        let picks: Vec<usize> = (0..4_000).map(|_| table.sample(&mut rng)).collect();
        assert!(!picks.contains(&1));
        let threes = picks.iter().filter(|&&i| i == 2).count();
        assert!((2_800..3_200).contains(&threes), "{threes}");
    }
}
