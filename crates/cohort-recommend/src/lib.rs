//! Recommendations: what to show each person, on each page of the shop.
//!
//! The engine reads interactions (person, product, view / wishlist / cart /
//! purchase, time) from any [`cohort_store::EventStore`] and trains four
//! candidate sources:
//! - item-to-item co-occurrence over people ("bought A also bought B",
//!   cosine / Jaccard / lift, time-decayed) and over orders ("bought
//!   together");
//! - implicit-feedback ALS with confidence weighting, its `k × k` solves by
//!   a hand-written Cholesky factorisation;
//! - content similarity from category, price band and name words;
//! - popularity and trending, overall and per category (cold start).
//!
//! [`BasketIndex`] keeps the "bought together" lists up to date as orders
//! arrive, without retraining ([`Recommender::refresh_bought_together`]).
//!
//! [`Recommender::recommend`] blends them per [`Placement`] and applies the
//! business rules (no out-of-stock items, no bought durables, consumables
//! back near their replenishment date, category diversity, operators'
//! pins). [`evaluate`] measures every source and the hybrid against a
//! popularity baseline on a time split. The crate holds no HTTP code: a
//! server wraps [`Recommender::recommend`] and [`Recommender::similar`],
//! whose results are serde-ready.

mod config;
mod data;
mod error;
mod eval;
mod incremental;
mod model;
mod placement;
mod rank;
mod sources;
mod split;

pub use config::{AlsConfig, HybridWeights, InteractionWeights, Pin, RecommendConfig, Similarity};
pub use data::{interactions_from_store, Interaction, InteractionKind};
pub use error::{RecommendError, Result};
pub use eval::{evaluate, EvalOptions, EvalReport, SourceMetrics};
pub use incremental::BasketIndex;
pub use model::{ModelSummary, NoProgress, Recommender, TrainProgress};
pub use placement::{Placement, PlacementKind, Recommendation, Source};
pub use split::{benchmark_split, BenchPerson, BenchSplit};

/// The model file's name inside the store directory.
pub const MODEL_FILE: &str = "recommend.model.json";
