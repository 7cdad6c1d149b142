//! Popularity and trending, the cold-start fallback and the baseline every
//! other source is measured against.
//!
//! - popularity: people who touched the item, each counting at most 1 and
//!   less as their interest ages (decayed weight capped at 1), so one
//!   wholesaler's 500 orders count as one person;
//! - trending: people whose latest touch of the item falls in the last
//!   `trending_days`, times the log-ratio of that count to what the item's
//!   long-run rate predicts (items rising now, not merely big);
//! - per category: both scaled by the person's share of interest in the
//!   item's category.

use serde::{Deserialize, Serialize};

use crate::data::Indexed;

/// Per-item popularity figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Popularity {
    /// Decayed distinct people.
    pub overall: Vec<f32>,
    /// Trending score.
    pub trending: Vec<f32>,
    /// Distinct people who touched the item (for novelty).
    pub people: Vec<u32>,
}

pub(crate) fn build(ix: &Indexed, trending_days: f32) -> Popularity {
    let n = ix.items.len();
    let mut p = Popularity { overall: vec![0.0; n], trending: vec![0.0; n], people: vec![0; n] };
    let as_of = ix.as_of.timestamp();
    let window = (f64::from(trending_days) * 86_400.0) as i64;
    let first = ix.user_items.iter().flatten().map(|u| u.last_at).min().unwrap_or(as_of);
    let span_windows = ((as_of - first) as f64 / window as f64).max(1.0) as f32;
    let mut recent = vec![0f32; n];
    for items in &ix.user_items {
        for u in items {
            let i = u.item as usize;
            p.overall[i] += u.weight.min(1.0);
            p.people[i] += 1;
            if as_of - u.last_at <= window {
                recent[i] += 1.0;
            }
        }
    }
    for ((trend, &people), &recent) in p.trending.iter_mut().zip(&p.people).zip(&recent) {
        let expected = people as f32 / span_windows;
        *trend = recent * ((recent + 1.0) / (expected + 1.0)).ln().max(0.0);
    }
    p
}
