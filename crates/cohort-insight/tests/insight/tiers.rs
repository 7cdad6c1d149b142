//! Value tier boundaries (defaults: window 365 days).

use cohort_insight::{assign_segments, value_tier, InsightConfig};
use cohort_model::ValueTier::{self, *};

use crate::fixtures::*;

fn tier(purchases: &[(i64, i64)]) -> ValueTier {
    value_tier(&buyer("t", purchases), &InsightConfig::default().value)
}

#[test]
fn high_value_needs_recent_frequent_and_big_spend() {
    // Last order exactly 30 days ago, 3 orders, exactly ¥500.
    assert_eq!(tier(&[(30, 20000), (100, 20000), (200, 10000)]), HighValue);
    // 31 days: no longer recent (and 3 orders is not potential).
    assert_eq!(tier(&[(31, 20000), (100, 20000), (200, 10000)]), General);
    // One fen short of ¥500.
    assert_eq!(tier(&[(30, 19999), (100, 20000), (200, 10000)]), General);
    // Two orders with ¥500: not high (F < 3), not potential (M ≥ ¥500).
    assert_eq!(tier(&[(30, 30000), (100, 20000)]), General);
    // Four orders, well over.
    assert_eq!(tier(&[(0, 90000), (1, 1), (2, 1), (3, 1)]), HighValue);
}

#[test]
fn potential_is_recent_with_one_or_two_orders_between_200_and_500_yuan() {
    assert_eq!(tier(&[(30, 20000)]), Potential, "exactly ¥200, exactly 30 days");
    assert_eq!(tier(&[(30, 19999)]), General, "one fen short of ¥200");
    assert_eq!(tier(&[(31, 20000)]), General, "31 days");
    assert_eq!(tier(&[(5, 25000), (60, 24999)]), Potential, "2 orders, ¥499.99");
    assert_eq!(tier(&[(5, 25000), (60, 25000)]), General, "2 orders, exactly ¥500");
    assert_eq!(tier(&[(5, 10000), (60, 10000), (70, 10000)]), General, "3 orders, ¥300");
}

#[test]
fn low_value_is_one_small_order_at_least_90_days_ago() {
    assert_eq!(tier(&[(90, 19999)]), LowValue, "exactly 90 days");
    assert_eq!(tier(&[(89, 19999)]), General, "89 days");
    assert_eq!(tier(&[(90, 20000)]), General, "exactly ¥200");
    assert_eq!(tier(&[(90, 5000), (200, 5000)]), General, "2 orders");
    assert_eq!(tier(&[(365, 100)]), LowValue, "the window's last day");
}

#[test]
fn never_buyers_are_prospects_and_lapsed_buyers_general() {
    let mut h = history("p");
    h.user = Some(user("p", Some(ago(3, 9))));
    assert_eq!(profile_of(&h).value_tier, Prospect);
    // Bought only before the 365-day window: not a prospect, no RFM.
    let mut lapsed = vec![buyer("l", &[(366, 100)])];
    assign_segments(&mut lapsed, &InsightConfig::default());
    assert_eq!(lapsed[0].value_tier, General);
    assert_eq!(lapsed[0].rfm, None);
}

#[test]
fn thresholds_follow_the_config() {
    let mut cfg = InsightConfig::default();
    cfg.value.high_min_orders = 1;
    cfg.value.high_min_monetary_fen = cohort_model::Money::from_yuan(100);
    let mut p = vec![buyer("c", &[(1, 10000)])];
    assign_segments(&mut p, &cfg);
    assert_eq!(p[0].value_tier, HighValue);
}
