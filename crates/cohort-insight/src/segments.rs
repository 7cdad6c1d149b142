//! Segmentation rules: value tiers, lifecycle stages and behaviour types
//! (per person), and the population-level quantile RFM scores.
//!
//! Each rule reads only profile features, so a stored profile always
//! explains its own segments. `docs/segments.md` states every boundary.

use cohort_model::{BehaviourType, LifecycleStage, Profile, RfmScore, ValueTier};

use crate::config::{BehaviourConfig, LifecycleConfig, ValueTierConfig};
use crate::InsightConfig;

/// Assigns every segment to every profile: value tier, lifecycle stage and
/// behaviour type per person, and quantile RFM scores (with their classic
/// segment) among the buyers of the value window.
///
/// `value_orders` / `value_monetary` must have been computed for
/// `cfg.value.window_days` (as [`crate::compute_profiles`] does).
pub fn assign_segments(profiles: &mut [Profile], cfg: &InsightConfig) {
    for profile in profiles.iter_mut() {
        classify(profile, cfg);
    }
    assign_rfm(profiles);
}

/// The per-person segments (everything but RFM).
pub(crate) fn classify(profile: &mut Profile, cfg: &InsightConfig) {
    profile.value_tier = value_tier(profile, &cfg.value);
    profile.lifecycle = lifecycle_stage(profile, &cfg.lifecycle);
    profile.behaviour = behaviour_type(profile, &cfg.behaviour);
}

/// The value tier. Tried in order: prospect (never bought up to `as_of`),
/// general for buyers with no purchase in the value window, then high
/// value, potential and low value; a buyer matching none is general.
pub fn value_tier(p: &Profile, cfg: &ValueTierConfig) -> ValueTier {
    if p.orders.lifetime == 0 {
        return ValueTier::Prospect;
    }
    if p.value_orders == 0 {
        return ValueTier::General;
    }
    let recency = p.recency_days.unwrap_or(i64::MAX);
    let (orders, money) = (p.value_orders, p.value_monetary);
    if recency <= i64::from(cfg.high_max_recency_days)
        && orders >= cfg.high_min_orders
        && money >= cfg.high_min_monetary_fen
    {
        ValueTier::HighValue
    } else if recency <= i64::from(cfg.potential_max_recency_days)
        && (cfg.potential_min_orders..=cfg.potential_max_orders).contains(&orders)
        && money >= cfg.potential_min_monetary_fen
        && money < cfg.potential_max_monetary_fen
    {
        ValueTier::Potential
    } else if recency >= i64::from(cfg.low_min_recency_days)
        && orders <= cfg.low_max_orders
        && money < cfg.low_max_monetary_fen
    {
        ValueTier::LowValue
    } else {
        ValueTier::General
    }
}

/// The lifecycle stage: new by registration age, else by days without
/// activity against the inclusive upper bounds of each stage.
pub fn lifecycle_stage(p: &Profile, cfg: &LifecycleConfig) -> LifecycleStage {
    if p.registration_age_days.is_some_and(|d| d <= i64::from(cfg.new_max_registration_days)) {
        return LifecycleStage::New;
    }
    let d = p.inactive_days;
    if d <= i64::from(cfg.active_max_inactive_days) {
        LifecycleStage::Active
    } else if d <= i64::from(cfg.silent_light_max_inactive_days) {
        LifecycleStage::SilentLight
    } else if d <= i64::from(cfg.silent_medium_max_inactive_days) {
        LifecycleStage::SilentMedium
    } else if d <= i64::from(cfg.silent_heavy_max_inactive_days) {
        LifecycleStage::SilentHeavy
    } else {
        LifecycleStage::Churned
    }
}

/// The behaviour type: social sharer, price comparer, searcher, browser,
/// first match wins; else casual.
pub fn behaviour_type(p: &Profile, cfg: &BehaviourConfig) -> BehaviourType {
    let searches = u64::from(p.searches_90d);
    let views = u64::from(p.views_90d);
    if p.shares_90d >= cfg.sharer_min_shares_90d {
        BehaviourType::SocialSharer
    } else if p.comparison_days_90d >= cfg.comparer_min_comparison_days_90d {
        BehaviourType::PriceComparer
    } else if p.searches_90d >= cfg.searcher_min_searches_90d
        && searches * 100 >= u64::from(cfg.searcher_min_search_percent_of_views) * views
    {
        BehaviourType::Searcher
    } else if p.views_90d >= cfg.browser_min_views_90d
        && u64::from(p.orders.d90) * u64::from(cfg.browser_min_views_per_order) <= views
    {
        BehaviourType::Browser
    } else {
        BehaviourType::Casual
    }
}

/// The quantile score of a value: `1 + floor(5 × worse / n)`, where `worse`
/// is how many of the `n` scored people have a strictly worse value. Equal
/// values always share a score; the best value scores 5 when `n` ≥ 5.
pub fn quantile_score(worse: usize, n: usize) -> u8 {
    debug_assert!(worse < n.max(1));
    if n == 0 {
        return 1;
    }
    (1 + (5 * worse as u128 / n as u128)) as u8
}

/// Scores R, F and M among people with at least one purchase in the value
/// window (R: fewer days since the last purchase is better; F: more
/// purchases; M: more money), and sets `rfm` and `rfm_segment`. Everyone
/// else gets `None`.
pub fn assign_rfm(profiles: &mut [Profile]) {
    let is_buyer = |p: &Profile| p.value_orders > 0 && p.recency_days.is_some();
    let mut recency = Vec::new();
    let mut frequency = Vec::new();
    let mut monetary = Vec::new();
    for p in profiles.iter().filter(|p| is_buyer(p)) {
        recency.push(p.recency_days.unwrap_or(i64::MAX));
        frequency.push(p.value_orders);
        monetary.push(p.value_monetary.fen());
    }
    recency.sort_unstable();
    frequency.sort_unstable();
    monetary.sort_unstable();
    let n = recency.len();
    for p in profiles.iter_mut() {
        if !is_buyer(p) {
            p.rfm = None;
            p.rfm_segment = None;
            continue;
        }
        let r = p.recency_days.unwrap_or(i64::MAX);
        let older = n - recency.partition_point(|&x| x <= r);
        let fewer = frequency.partition_point(|&x| x < p.value_orders);
        let less = monetary.partition_point(|&x| x < p.value_monetary.fen());
        let score = RfmScore {
            recency: quantile_score(older, n),
            frequency: quantile_score(fewer, n),
            monetary: quantile_score(less, n),
        };
        p.rfm = Some(score);
        p.rfm_segment = Some(score.segment());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_scores_span_one_to_five() {
        assert_eq!((0..10).map(|w| quantile_score(w, 10)).collect::<Vec<_>>(), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        assert_eq!(quantile_score(0, 1), 1);
        assert_eq!(quantile_score(1, 2), 3);
    }
}
