//! Market-basket analysis: which products (or categories) are bought
//! together, and what to do about it.
//!
//! [`Baskets`] gathers transactions from any [`cohort_store::EventStore`]
//! (one paid order or one person per basket, products or categories) or
//! from a transactions file, with items as dense `u32` ids. [`fp_growth`]
//! finds every frequent itemset with an FP-tree (header table, conditional
//! trees, single-path shortcut); [`association_rules`] turns them into
//! rules with support, confidence, lift, leverage and conviction;
//! [`also_bought`] and [`bundles`] rank what a shop shows ("customers who
//! bought A also bought B", bundle offers by lift and revenue).
//!
//! Thresholds follow arules and mlxtend exactly (support `≥ min_support`
//! over all baskets, itemsets of one item or more), so their published
//! counts on the Groceries data are reproduced. Everything is deterministic
//! and serde-ready; the crate holds no HTTP code. See `docs/mining.md`.

mod baskets;
mod error;
mod fpgrowth;
pub mod reviews;
mod rules;
mod suggest;

pub use baskets::{BasketLevel, BasketOptions, BasketUnit, Baskets};
pub use error::{MiningError, Result};
pub use fpgrowth::{fp_growth, min_count, FrequentItemsets, Itemset};
pub use rules::{association_rules, Rule};
pub use suggest::{also_bought, bundles, AlsoBought, Bundle};
