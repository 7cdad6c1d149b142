//! Training and ranking settings (`[recommend]`), every field documented and
//! defaulted; unknown fields are refused.

use cohort_model::ProductId;
use serde::{Deserialize, Serialize};

use crate::{RecommendError, Result};

/// How much each kind of interaction says about interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InteractionWeights {
    /// A product detail view.
    pub view: f32,
    /// A product added to the wishlist (favourite).
    pub wishlist: f32,
    /// A product added to the cart.
    pub cart: f32,
    /// A purchased order line.
    pub purchase: f32,
}

impl Default for InteractionWeights {
    fn default() -> Self {
        InteractionWeights { view: 1.0, wishlist: 2.0, cart: 3.0, purchase: 5.0 }
    }
}

/// Implicit-feedback ALS (Hu, Koren & Volinsky 2008).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlsConfig {
    /// Latent factors per user and item.
    pub factors: usize,
    /// Alternating sweeps.
    pub iterations: usize,
    /// L2 regularisation λ.
    pub regularization: f32,
    /// Confidence slope: `c = 1 + alpha · ln(1 + r / epsilon)`.
    pub alpha: f32,
    /// Scale of the log confidence.
    pub epsilon: f32,
    /// Seed of the factor initialisation (training is deterministic).
    pub seed: u64,
}

impl Default for AlsConfig {
    fn default() -> Self {
        AlsConfig { factors: 32, iterations: 12, regularization: 0.1, alpha: 10.0, epsilon: 1.0, seed: 7 }
    }
}

/// How co-occurrence counts become a similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// Weighted cosine of the two items' (decayed) user vectors.
    Cosine,
    /// Users of both / users of either.
    Jaccard,
    /// `P(a and b) / (P(a) · P(b))`, with a minimum support.
    Lift,
}

/// Weights of each candidate source in the hybrid score (each source's
/// scores are first scaled to 0..1 per request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HybridWeights {
    /// Item-to-item co-occurrence.
    pub co_occurrence: f32,
    /// ALS.
    pub als: f32,
    /// Content-based.
    pub content: f32,
    /// Popularity and trending in the user's categories.
    pub popularity: f32,
}

impl Default for HybridWeights {
    fn default() -> Self {
        HybridWeights { co_occurrence: 1.0, als: 1.0, content: 0.3, popularity: 0.2 }
    }
}

/// An operator's pinned item: shown at `position` (0-based) of a placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// Placement name (`home`, `cart`, `order`, `similar`, `bought_together`).
    pub placement: String,
    /// The product.
    pub product: ProductId,
    /// Slot, 0-based.
    pub position: usize,
}

/// Every setting of the recommender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendConfig {
    /// Interaction weights.
    pub weights: InteractionWeights,
    /// Half-life of an interaction's weight, days (time decay).
    pub half_life_days: f32,
    /// Similarity used by user-level item-to-item co-occurrence.
    pub similarity: Similarity,
    /// Neighbours kept per item.
    pub neighbours: usize,
    /// Most recent distinct items per user (or basket) used for
    /// co-occurrence; bounds the quadratic cost of wholesalers' histories.
    pub max_items_per_user: usize,
    /// Minimum co-occurring users for a lift neighbour.
    pub min_support: u32,
    /// ALS settings.
    pub als: AlsConfig,
    /// Hybrid weights.
    pub hybrid: HybridWeights,
    /// At most this many items of one category in a list (uncategorised
    /// items are not limited); filled past the limit only when the list
    /// would otherwise be short.
    pub max_per_category: usize,
    /// Replenishment interval of a consumable when its buyers give no
    /// estimate, days.
    pub default_replenish_days: f32,
    /// A consumable comes back from this share of its interval after the
    /// last purchase…
    pub replenish_from: f32,
    /// …until this multiple of it (then the customer has likely moved on).
    pub replenish_until: f32,
    /// Days counted as "recent" by trending.
    pub trending_days: f32,
    /// Products never recommended and left out of training (postage,
    /// fees, hidden items).
    pub hidden: Vec<ProductId>,
    /// Operators' pinned items.
    pub pins: Vec<Pin>,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        RecommendConfig {
            weights: InteractionWeights::default(),
            half_life_days: 120.0,
            similarity: Similarity::Cosine,
            neighbours: 50,
            max_items_per_user: 300,
            min_support: 2,
            als: AlsConfig::default(),
            hybrid: HybridWeights::default(),
            max_per_category: 3,
            default_replenish_days: 30.0,
            replenish_from: 0.8,
            replenish_until: 3.0,
            trending_days: 7.0,
            hidden: Vec::new(),
            pins: Vec::new(),
        }
    }
}

impl RecommendConfig {
    /// Checks ranges, reporting every bad field at once.
    pub fn validate(&self) -> Result<()> {
        let mut bad: Vec<(&'static str, String)> = Vec::new();
        let positive = |v: f32| v.is_finite() && v > 0.0;
        if !positive(self.half_life_days) {
            bad.push(("half_life_days", format!("must be > 0, got {}", self.half_life_days)));
        }
        if self.neighbours == 0 {
            bad.push(("neighbours", "must be at least 1".into()));
        }
        if self.max_items_per_user < 2 {
            bad.push(("max_items_per_user", "must be at least 2".into()));
        }
        if self.als.factors == 0 || self.als.factors > 512 {
            bad.push(("als.factors", format!("must be 1..=512, got {}", self.als.factors)));
        }
        if !(self.als.regularization.is_finite() && self.als.regularization >= 0.0) {
            bad.push(("als.regularization", format!("must be >= 0, got {}", self.als.regularization)));
        }
        if !positive(self.als.alpha) || !positive(self.als.epsilon) {
            bad.push(("als.alpha", "alpha and epsilon must be > 0".into()));
        }
        let w = &self.weights;
        if [w.view, w.wishlist, w.cart, w.purchase].iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            bad.push(("weights", "interaction weights must be >= 0".into()));
        }
        if !positive(self.default_replenish_days) || !positive(self.trending_days) {
            bad.push(("default_replenish_days", "replenishment and trending days must be > 0".into()));
        }
        if !(self.replenish_from >= 0.0 && self.replenish_until > self.replenish_from) {
            bad.push(("replenish_until", "must be greater than replenish_from >= 0".into()));
        }
        for pin in &self.pins {
            if crate::PlacementKind::parse(&pin.placement).is_none() {
                bad.push(("pins.placement", format!("unknown placement {:?}", pin.placement)));
            }
        }
        match bad.len() {
            0 => Ok(()),
            1 => {
                let (field, reason) = bad.remove(0);
                Err(RecommendError::InvalidConfig { field, reason })
            }
            _ => Err(RecommendError::InvalidConfig {
                field: bad[0].0,
                reason: bad.iter().map(|(f, r)| format!("{f}: {r}")).collect::<Vec<_>>().join("; "),
            }),
        }
    }
}
