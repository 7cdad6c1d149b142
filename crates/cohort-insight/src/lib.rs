//! Understanding users: the 360° profile of every person and the segments
//! built on it.
//!
//! The engine sits between the store and everything that acts on people
//! (audiences, journeys, predictions). It reads each person's history once
//! ([`cohort_store::EventStore::scan_histories`]), derives the features of a
//! [`Profile`] ([`build_profile`]), then assigns segments
//! ([`assign_segments`]):
//!
//! - **value tier** — the business plan's high value / potential / low value
//!   tiers, plus general and prospect so that everyone has one;
//! - **quantile RFM** — 1–5 scores among buyers, tie-safe, mapped to the
//!   classic RFM segments;
//! - **lifecycle stage** — new, active, silent (light / medium / heavy),
//!   churned;
//! - **behaviour type** — social sharer, price comparer, searcher, browser,
//!   casual.
//!
//! Every threshold lives in [`InsightConfig`] (the `[segments]` table of
//! `cohort.toml`), defaulting to the plan's figures; `docs/segments.md`
//! states each definition with its exact boundaries. Days are shop-local
//! calendar days ([`cohort_model::ShopTime`]), so results are deterministic
//! for a given `as_of`.
//!
//! [`Profile`]: cohort_model::Profile

mod catalogue;
mod compute;
mod config;
mod error;
mod features;
mod segments;
mod summary;

pub use catalogue::{Catalogue, CatalogueEntry};
pub use compute::{compute_profiles, default_as_of, ComputeReport, ComputeTimings, PROGRESS_EVERY};
pub use config::{BehaviourConfig, InsightConfig, LifecycleConfig, ValueTierConfig, SECTION};
pub use error::{ConfigIssue, InsightError};
pub use features::{
    build_profile, build_profile_with, COMPARISON_MIN_PRODUCTS, NEVER_SEEN_INACTIVE_DAYS, NEW_PRODUCT_TRIAL_DAYS,
};
pub use segments::{assign_rfm, assign_segments, behaviour_type, lifecycle_stage, quantile_score, value_tier};
pub use summary::{SegmentCount, SegmentSummary};
