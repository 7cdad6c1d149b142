//! Integration tests of cohort-insight: profile features, segment rules,
//! quantile RFM, configuration, the compute job and random-history
//! properties.

mod behaviour;
mod compute;
mod config;
mod fixtures;
mod lifecycle;
mod profile;
mod props;
mod rfm;
mod tiers;
