//! Item-to-item co-occurrence: "people who bought (or viewed) A also bought
//! B". Rows are people (each a set of items with decayed interest weights)
//! or baskets (the items of one order, weight 1); two items co-occur when a
//! row holds both.
//!
//! Similarities ([`Similarity`]):
//! - cosine: `Σ w_a·w_b / (‖a‖·‖b‖)` over the rows' decayed weights, so
//!   recent interest counts more (time decay);
//! - Jaccard: `rows(a ∧ b) / rows(a ∨ b)`;
//! - lift: `rows(a ∧ b) · N / (rows(a) · rows(b))`, only for pairs seen in
//!   at least `min_support` rows (lift over-rates rare pairs otherwise).
//!
//! Cost is `Σ_rows |row|²`; each row keeps its `max_items` heaviest items.

use super::{parallel_ranges, top_k, Neighbours};
use crate::Similarity;

/// How to build one co-occurrence table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoOccurrence {
    pub similarity: Similarity,
    pub k: usize,
    pub min_support: u32,
    pub max_items: usize,
}

impl CoOccurrence {
    /// The top-k neighbours of each of `n_items` items over `rows`.
    pub fn build(&self, rows: &[Vec<(u32, f32)>], n_items: usize) -> Neighbours {
        let rows: Vec<Vec<(u32, f32)>> = rows
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if r.len() > self.max_items {
                    r.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                    r.truncate(self.max_items);
                }
                r
            })
            .filter(|r| !r.is_empty())
            .collect();
        // Inverted index: item → (row, weight).
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n_items];
        let mut norm = vec![0f64; n_items];
        for (r, row) in rows.iter().enumerate() {
            for &(item, w) in row {
                postings[item as usize].push((r as u32, w));
                norm[item as usize] += f64::from(w) * f64::from(w);
            }
        }
        let n_rows = rows.len() as f64;
        let lists = parallel_ranges(n_items, |range| {
            let mut acc_w = vec![0f64; n_items];
            let mut acc_c = vec![0u32; n_items];
            let mut touched: Vec<u32> = Vec::new();
            let mut out = Vec::with_capacity(range.len());
            for a in range {
                for &(r, wa) in &postings[a] {
                    for &(b, wb) in &rows[r as usize] {
                        if b as usize == a {
                            continue;
                        }
                        if acc_c[b as usize] == 0 {
                            touched.push(b);
                        }
                        acc_c[b as usize] += 1;
                        acc_w[b as usize] += f64::from(wa) * f64::from(wb);
                    }
                }
                let count_a = postings[a].len() as f64;
                let mut cands: Vec<(u32, f32)> = Vec::with_capacity(touched.len());
                for &b in &touched {
                    let (c, w) = (acc_c[b as usize], acc_w[b as usize]);
                    let count_b = postings[b as usize].len() as f64;
                    let sim = match self.similarity {
                        Similarity::Cosine => w / (norm[a] * norm[b as usize]).sqrt().max(f64::MIN_POSITIVE),
                        Similarity::Jaccard => f64::from(c) / (count_a + count_b - f64::from(c)),
                        Similarity::Lift if c >= self.min_support => f64::from(c) * n_rows / (count_a * count_b),
                        Similarity::Lift => 0.0,
                    };
                    if sim > 0.0 && sim.is_finite() {
                        cands.push((b, sim as f32));
                    }
                    acc_c[b as usize] = 0;
                    acc_w[b as usize] = 0.0;
                }
                touched.clear();
                out.push(top_k(cands, self.k));
            }
            out
        });
        Neighbours::from_lists(lists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Vec<(u32, f32)>> {
        // Items 0 and 1 always together; 2 with 0 once; 3 alone.
        vec![vec![(0, 1.0), (1, 1.0)], vec![(0, 1.0), (1, 1.0), (2, 1.0)], vec![(0, 1.0), (1, 1.0)], vec![(3, 1.0)]]
    }

    #[test]
    fn nearest_neighbour_is_the_constant_companion_under_every_similarity() {
        for similarity in [Similarity::Cosine, Similarity::Jaccard, Similarity::Lift] {
            let n = CoOccurrence { similarity, k: 5, min_support: 1, max_items: 10 }.build(&rows(), 4);
            let of0: Vec<(u32, f32)> = n.of(0).collect();
            assert_eq!(of0[0].0, 1, "{similarity:?}: {of0:?}");
            assert!(n.of(3).next().is_none(), "an item bought alone has no neighbour");
        }
        let jaccard = CoOccurrence { similarity: Similarity::Jaccard, k: 5, min_support: 1, max_items: 10 };
        let n = jaccard.build(&rows(), 4);
        assert_eq!(n.of(0).collect::<Vec<_>>(), vec![(1, 1.0), (2, 1.0 / 3.0)]);
    }

    #[test]
    fn lift_needs_minimum_support() {
        let lift = CoOccurrence { similarity: Similarity::Lift, k: 5, min_support: 2, max_items: 10 };
        let n = lift.build(&rows(), 4);
        assert!(n.of(2).next().is_none(), "2 co-occurs with 0 and 1 once only");
        // rows(0∧1) = 3, N = 4, rows(0) = rows(1) = 3 → lift 4/3.
        let (b, sim) = n.of(0).next().unwrap();
        assert_eq!(b, 1);
        assert!((sim - 4.0 / 3.0).abs() < 1e-6);
    }
}
