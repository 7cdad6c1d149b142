//! Association rules `A ⇒ B` from frequent itemsets, with support,
//! confidence, lift, leverage and conviction.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{FrequentItemsets, MiningError, Result};

/// One rule: baskets holding the antecedent also hold the consequent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Left-hand side, item ids ascending (never empty).
    pub antecedent: Vec<u32>,
    /// Right-hand side, item ids ascending (never empty).
    pub consequent: Vec<u32>,
    /// Baskets holding both sides.
    pub count: u64,
    /// `P(A ∪ B)`: share of baskets holding both sides.
    pub support: f64,
    /// `P(B | A) = support(A ∪ B) / support(A)`.
    pub confidence: f64,
    /// `confidence / support(B)`: how much more often B comes with A than
    /// by chance (1 = independent).
    pub lift: f64,
    /// `support(A ∪ B) − support(A) · support(B)`.
    pub leverage: f64,
    /// `(1 − support(B)) / (1 − confidence)`; `None` (infinite) when the
    /// confidence is 1.
    pub conviction: Option<f64>,
}

/// Every rule with a confidence of at least `min_confidence` whose
/// consequent has at most `max_consequent` items (arules' default and
/// the usual "A ⇒ b" form is 1), ranked by lift, then confidence, then
/// support (ties by item ids).
pub fn association_rules(sets: &FrequentItemsets, min_confidence: f64, max_consequent: usize) -> Result<Vec<Rule>> {
    if !(0.0..=1.0).contains(&min_confidence) {
        return Err(MiningError::InvalidThreshold {
            field: "min_confidence",
            value: min_confidence,
            reason: "expected a share in [0, 1]",
        });
    }
    let counts: HashMap<&[u32], u64> = sets.itemsets.iter().map(|s| (s.items.as_slice(), s.count)).collect();
    let mut rules = Vec::new();
    let mut antecedent = Vec::new();
    let mut consequent = Vec::new();
    for set in sets.itemsets.iter().filter(|s| s.items.len() >= 2) {
        let n = set.items.len();
        assert!(n < 64, "itemsets of 64 items or more are not supported");
        // Each proper, non-empty subset as the consequent.
        for mask in 1u64..(1u64 << n) - 1 {
            if mask.count_ones() as usize > max_consequent {
                continue;
            }
            antecedent.clear();
            consequent.clear();
            for (i, &item) in set.items.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    consequent.push(item);
                } else {
                    antecedent.push(item);
                }
            }
            let a = counts[antecedent.as_slice()];
            if (set.count as f64) < min_confidence * a as f64 {
                continue;
            }
            let b = counts[consequent.as_slice()];
            rules.push(rule(sets, &antecedent, &consequent, set.count, a, b));
        }
    }
    rules.sort_by(rank);
    Ok(rules)
}

fn rule(sets: &FrequentItemsets, antecedent: &[u32], consequent: &[u32], both: u64, a: u64, b: u64) -> Rule {
    let support = sets.support(both);
    let support_a = sets.support(a);
    let support_b = sets.support(b);
    let confidence = both as f64 / a as f64;
    Rule {
        antecedent: antecedent.to_vec(),
        consequent: consequent.to_vec(),
        count: both,
        support,
        confidence,
        lift: confidence / support_b,
        leverage: support - support_a * support_b,
        conviction: (both < a).then(|| (1.0 - support_b) / (1.0 - confidence)),
    }
}

fn rank(x: &Rule, y: &Rule) -> Ordering {
    y.lift
        .total_cmp(&x.lift)
        .then(y.confidence.total_cmp(&x.confidence))
        .then(y.count.cmp(&x.count))
        .then_with(|| x.antecedent.cmp(&y.antecedent))
        .then_with(|| x.consequent.cmp(&y.consequent))
}
