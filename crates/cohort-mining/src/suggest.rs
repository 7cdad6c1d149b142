//! What the shop shows: "customers who bought A also bought B" lists and
//! bundle suggestions, from frequent itemsets.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Baskets, FrequentItemsets};

/// One entry of an "also bought" list for an item A.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsoBought {
    /// Item B.
    pub item: u32,
    /// Baskets holding A and B.
    pub count: u64,
    /// `P(B | A)`.
    pub confidence: f64,
    /// `P(B | A) / P(B)`.
    pub lift: f64,
}

/// Items bought in the same baskets as `item` (frequent pairs only) with a
/// confidence of at least `min_confidence`, ranked by lift, then
/// confidence; at most `top`.
pub fn also_bought(sets: &FrequentItemsets, item: u32, min_confidence: f64, top: usize) -> Vec<AlsoBought> {
    let singles = single_counts(sets);
    let Some(&own) = singles.get(&item) else {
        return Vec::new();
    };
    let mut list: Vec<AlsoBought> = sets
        .itemsets
        .iter()
        .filter(|s| s.items.len() == 2 && s.items.contains(&item))
        .filter_map(|s| {
            let other = if s.items[0] == item { s.items[1] } else { s.items[0] };
            let confidence = s.count as f64 / own as f64;
            let lift = confidence / sets.support(singles[&other]);
            (confidence >= min_confidence).then_some(AlsoBought { item: other, count: s.count, confidence, lift })
        })
        .collect();
    list.sort_by(|a, b| {
        b.lift.total_cmp(&a.lift).then(b.confidence.total_cmp(&a.confidence)).then(a.item.cmp(&b.item))
    });
    list.truncate(top);
    list
}

/// A set of items to sell together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// Item ids, ascending (two or more).
    pub items: Vec<u32>,
    /// Baskets holding every item.
    pub count: u64,
    /// Share of baskets holding every item.
    pub support: f64,
    /// `support(items) / Π support(item)`: how much more often they are
    /// bought together than if chosen independently.
    pub lift: f64,
    /// Sum of the items' mean unit prices, fen (`None` without prices).
    pub price_fen: Option<i64>,
    /// `count × price_fen`: revenue of the baskets that already hold the
    /// bundle, fen (0 without prices).
    pub revenue_fen: i64,
    /// The ranking score: `lift × revenue_fen` with prices, `lift × count`
    /// without.
    pub score: f64,
}

/// Bundles of two or more items bought together more often than by chance
/// (lift ≥ `min_lift`), ranked by lift weighted by revenue; at most `top`.
pub fn bundles(sets: &FrequentItemsets, baskets: &Baskets, min_lift: f64, top: usize) -> Vec<Bundle> {
    let singles = single_counts(sets);
    let mut out: Vec<Bundle> = sets
        .itemsets
        .iter()
        .filter(|s| s.items.len() >= 2)
        .filter_map(|s| {
            let expected: f64 = s.items.iter().map(|i| sets.support(singles[i])).product();
            let support = sets.support(s.count);
            let lift = support / expected;
            if lift < min_lift {
                return None;
            }
            let prices: Option<Vec<i64>> = s.items.iter().map(|&i| baskets.mean_price_fen(i)).collect();
            let price_fen = prices.map(|p| p.iter().sum::<i64>());
            let revenue_fen = price_fen.map_or(0, |p| p * s.count as i64);
            let score = if price_fen.is_some() { lift * revenue_fen as f64 } else { lift * s.count as f64 };
            Some(Bundle { items: s.items.clone(), count: s.count, support, lift, price_fen, revenue_fen, score })
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.lift.total_cmp(&a.lift)).then_with(|| a.items.cmp(&b.items)));
    out.truncate(top);
    out
}

fn single_counts(sets: &FrequentItemsets) -> HashMap<u32, u64> {
    sets.itemsets.iter().filter(|s| s.items.len() == 1).map(|s| (s.items[0], s.count)).collect()
}
