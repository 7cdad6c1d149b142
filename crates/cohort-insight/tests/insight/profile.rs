//! Every profile field on hand-computed fixtures.

use cohort_insight::{build_profile, Catalogue, CatalogueEntry, NEVER_SEEN_INACTIVE_DAYS};
use cohort_model::{
    BehaviourType, EventName, LifecycleStage, Money, OrderKind, Platform, PlatformMix, ProductId, ValueTier, Windowed,
};
use cohort_store::conformance;

use crate::fixtures::*;

fn pid(p: &str) -> ProductId {
    ProductId::new(p).unwrap()
}

fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    let entry = |category: &str, launched: Option<i64>| CatalogueEntry {
        category: Some(category.to_string()),
        launched_at: launched.map(|d| ago(d, 0)),
    };
    c.insert(pid("p1"), entry("snacks", Some(215)));
    c.insert(pid("p2"), entry("pet_food", Some(200)));
    c.insert(pid("p3"), entry("toys", Some(20)));
    c.insert(pid("p4"), entry("gifts", Some(20)));
    c.insert(pid("p6"), entry("snacks", None));
    c.insert(pid("p7"), entry("snacks", None));
    c
}

/// Alice: a registered buyer with every kind of record, some after `as_of`.
fn alice() -> cohort_store::PersonHistory {
    let mut h = history("alice");
    h.user = Some(user("alice", Some(ago(100, 9))));
    // 200 days ago: 2 × ¥50 snacks, web.
    h.orders.push(conformance::order("o1", Some("alice"), ago(200, 10), &[("p1", 2, 5000)]));
    // 100 days ago: ¥200 of p2 (category from the catalogue), with a coupon.
    let mut o2 = conformance::order("o2", Some("alice"), ago(100, 20), &[("p2", 1, 20000)]);
    o2.lines[0].category = None;
    o2.coupon = Some("SAVE".into());
    h.orders.push(o2);
    // 10 days ago: ¥30 snacks, plus a zero-quantity and a free line; discounted.
    let mut o3 =
        conformance::order("o3", Some("alice"), ago(10, 21), &[("p1", 1, 3000), ("p3", 0, 9999), ("p4", 1, 0)]);
    o3.lines[1].category = Some("toys".into());
    o3.lines[2].category = Some("gifts".into());
    o3.discount = Money::from_fen(500);
    o3.total = Money::from_fen(3000);
    h.orders.push(o3);
    // 5 days ago: a ¥15 refund in the app.
    let mut r1 = refund("r1", "alice", ago(5, 8), 1500);
    r1.platform = Some(Platform::App);
    h.orders.push(r1);
    // After as_of: ignored.
    h.orders.push(purchase("o4", "alice", as_of() + chrono::Duration::hours(1), 99900));

    h.events.push(view("e1", "alice", ago(95, 10), "p5", Some("toys")));
    h.events.push(view("e2", "alice", ago(3, 14), "p1", Some("snacks")));
    h.events.push(view("e3", "alice", ago(3, 15), "p6", None));
    h.events.push(view("e4", "alice", ago(3, 16), "p7", Some("")));
    h.events.push(ev("e5", "alice", EventName::ProductsSearched, ago(3, 14)));
    h.events.push(ev("e6", "alice", EventName::ProductAdded, ago(2, 14)));
    h.events.push(ev("e7", "alice", EventName::ProductShared, ago(2, 15)));
    h.events.push(ev("e8", "alice", EventName::ProductShared, ago(120, 10)));
    h.events.push(ev("e9", "alice", EventName::ProductReviewed, ago(1, 23)));
    h.events.push(ev("e10", "alice", EventName::Custom("Message Sent".into()), ago(0, 9)));
    h.events.push(ev("e11", "alice", EventName::PageViewed, as_of() + chrono::Duration::seconds(1)));
    sorted(h)
}

#[test]
fn every_feature_of_a_rich_history() {
    let p = build_profile(&alice(), &catalogue(), as_of(), &shop());
    assert_eq!(p.person_id.as_str(), "alice");
    assert_eq!(p.as_of, as_of());
    assert_eq!(p.registered_at, Some(ago(100, 9)));
    assert_eq!(p.registration_age_days, Some(100));
    assert_eq!(p.first_order_at, Some(ago(200, 10)));
    assert_eq!(p.last_order_at, Some(ago(10, 21)));
    assert_eq!(p.last_active_at, Some(ago(1, 23)), "custom events are not activity");
    assert_eq!(p.recency_days, Some(10));
    assert_eq!(p.inactive_days, 1);
    assert_eq!(p.visit_days_30d, 5, "days 10, 5, 3, 2, 1");
    assert_eq!(p.orders, Windowed { d30: 1, d90: 1, d180: 2, lifetime: 3 });
    let fen = Money::from_fen;
    assert_eq!(p.monetary, Windowed { d30: fen(3000), d90: fen(3000), d180: fen(23000), lifetime: fen(33000) });
    assert_eq!((p.value_orders, p.value_monetary), (3, fen(33000)));
    assert_eq!(p.aov, Some(fen(11000)));
    assert_eq!((p.refunds, p.refunded), (1, fen(1500)));
    assert_eq!(p.category_shares, vec![("pet_food".into(), 20000.0 / 33000.0), ("snacks".into(), 13000.0 / 33000.0)]);
    assert_eq!(p.top_category.as_deref(), Some("pet_food"));
    // p1 launched 215 days ago, first bought 200 days ago (15 ≤ 30); p2 100
    // days after launch; p3 / p4 lines have no quantity / price.
    assert_eq!(p.new_product_trial_rate, Some(0.5));
    assert_eq!(p.price_sensitivity, Some(2.0 / 3.0));
    // 9 app events + the app refund; 3 web purchases.
    assert_eq!(p.platform_mix, PlatformMix { app: 10.0 / 13.0, mini_program: 0.0, web: 3.0 / 13.0, store: 0.0 });
    let mut hours = [0u32; 24];
    for (h, n) in [(8, 1), (10, 3), (14, 3), (15, 2), (16, 1), (20, 1), (21, 1), (23, 1)] {
        hours[h] = n;
    }
    assert_eq!(p.active_hours, hours);
    assert_eq!(p.peak_hour, Some(10), "10:00 and 14:00 tie: the lower hour wins");
    // Saturdays: 1 day ago (review) and 120 days ago (share).
    assert_eq!(p.weekend_share, Some(2.0 / 13.0));
    assert_eq!((p.reviews, p.shares), (1, 2));
    assert_eq!((p.searches_90d, p.views_90d, p.carts_90d, p.shares_90d), (1, 3, 1, 1));
    assert_eq!(p.comparison_days_90d, 1, "p1, p6, p7 (snacks) viewed 3 days ago");
    // Default segments: 3 orders but < ¥500 → general; active; casual.
    assert_eq!(p.value_tier, ValueTier::General);
    assert_eq!(p.lifecycle, LifecycleStage::Active);
    assert_eq!(p.behaviour, BehaviourType::Casual);
    assert_eq!((p.rfm, p.rfm_segment), (None, None), "RFM needs the population");
}

#[test]
fn non_buyers_get_view_shares_and_empty_purchase_features() {
    let mut h = history("bob");
    h.events.push(view("b1", "bob", ago(40, 22), "p5", Some("toys")));
    for (i, p) in ["p1", "p6", "p7"].iter().enumerate() {
        h.events.push(view(&format!("b{}", i + 2), "bob", ago(3, 22), p, None));
    }
    let p = build_profile(&sorted(h), &catalogue(), as_of(), &shop());
    assert_eq!(p.category_shares, vec![("snacks".into(), 0.75), ("toys".into(), 0.25)]);
    assert_eq!(p.top_category.as_deref(), Some("snacks"));
    assert_eq!(p.registered_at, Some(ago(40, 22)), "no user record: first activity");
    assert_eq!(p.registration_age_days, Some(40));
    assert_eq!((p.first_order_at, p.last_order_at, p.recency_days, p.aov), (None, None, None, None));
    assert_eq!((p.new_product_trial_rate, p.price_sensitivity), (None, None));
    assert_eq!(p.orders, Windowed::default());
    assert_eq!(p.value_tier, ValueTier::Prospect);
    assert_eq!(p.inactive_days, 3);
    assert_eq!(p.weekend_share, Some(0.0));
    assert_eq!(p.platform_mix.app, 1.0);
}

#[test]
fn a_registered_user_with_nothing_known_is_never_seen() {
    let mut h = history("carol");
    h.user = Some(user("carol", None));
    let p = profile_of(&h);
    assert_eq!((p.registered_at, p.registration_age_days, p.last_active_at), (None, None, None));
    assert_eq!(p.inactive_days, NEVER_SEEN_INACTIVE_DAYS);
    assert_eq!(p.lifecycle, LifecycleStage::Churned);
    assert_eq!((p.peak_hour, p.weekend_share), (None, None));
    assert_eq!(p.platform_mix, PlatformMix::default());
    assert!(p.category_shares.is_empty() && p.top_category.is_none());
    assert_eq!(p.visit_days_30d, 0);
}

#[test]
fn never_active_users_are_inactive_since_registration() {
    let mut h = history("dan");
    h.user = Some(user("dan", Some(ago(50, 9))));
    h.events.push(ev("d1", "dan", EventName::Custom("Coupon Sent".into()), ago(1, 9)));
    let p = profile_of(&h);
    assert_eq!(p.inactive_days, 50);
    assert_eq!(p.last_active_at, None);
    assert_eq!(p.lifecycle, LifecycleStage::SilentMedium);
}

#[test]
fn a_registration_after_as_of_falls_back_to_first_activity() {
    let mut h = history("erin");
    h.user = Some(user("erin", Some(as_of() + chrono::Duration::days(2))));
    h.events.push(ev("x1", "erin", EventName::PageViewed, ago(20, 9)));
    let p = profile_of(&h);
    assert_eq!(p.registered_at, Some(ago(20, 9)));
    assert_eq!(p.registration_age_days, Some(20));
}

#[test]
fn days_are_shanghai_calendar_days() {
    // as_of 2024-06-30 10:00 Shanghai. 23:59 on 05-30 is 31 days before;
    // 00:01 on 05-31 is 30 days before; both are 2024-05-30 in UTC.
    let as_of = sh(2024, 6, 30, 10, 0);
    let late = sh(2024, 5, 30, 23, 59);
    let early = sh(2024, 5, 31, 0, 1);
    assert_eq!(late.date_naive(), early.date_naive());
    let profile = |at| {
        let mut h = history("tz");
        h.orders.push(purchase("o", "tz", at, 1000));
        build_profile(&h, &Catalogue::new(), as_of, &shop())
    };
    let (p_late, p_early) = (profile(late), profile(early));
    assert_eq!((p_late.recency_days, p_late.orders.d30, p_late.visit_days_30d), (Some(31), 0, 0));
    assert_eq!((p_early.recency_days, p_early.orders.d30, p_early.visit_days_30d), (Some(30), 1, 1));
    assert_eq!(p_late.active_hours[23], 1);
    assert_eq!(p_early.active_hours[0], 1);
    // Read in UTC, both instants fall on the same day.
    let utc = cohort_model::ShopTime::new(chrono_tz::UTC);
    let recency_utc = |at| {
        let mut h = history("tz");
        h.orders.push(purchase("o", "tz", at, 1000));
        build_profile(&h, &Catalogue::new(), as_of, &utc).recency_days
    };
    assert_eq!(recency_utc(late), recency_utc(early));
}

#[test]
fn the_value_window_includes_its_last_day() {
    let p = buyer("w", &[(365, 1000), (366, 2000), (10, 400)]);
    assert_eq!((p.value_orders, p.value_monetary), (2, Money::from_fen(1400)));
    assert_eq!(p.orders.lifetime, 3);
}

#[test]
fn negative_purchase_totals_add_no_money() {
    let mut h = history("adj");
    let mut o = purchase("o", "adj", ago(2, 9), 500);
    o.total = Money::from_fen(-500);
    h.orders.push(o);
    let p = profile_of(&h);
    assert_eq!((p.orders.lifetime, p.monetary.lifetime, p.aov), (1, Money::ZERO, Some(Money::ZERO)));
}

#[test]
fn windows_count_whole_days_back() {
    let p = buyer("win", &[(0, 1), (30, 10), (31, 100), (90, 1000), (91, 10_000), (180, 100_000), (181, 1_000_000)]);
    assert_eq!(p.orders, Windowed { d30: 2, d90: 4, d180: 6, lifetime: 7 });
    assert_eq!(p.monetary.d30, Money::from_fen(11));
    assert_eq!(p.monetary.d90, Money::from_fen(1111));
    assert_eq!(p.monetary.d180, Money::from_fen(111_111));
    assert_eq!(p.monetary.lifetime, Money::from_fen(1_111_111));
    assert_eq!(p.recency_days, Some(0));
    assert_eq!(p.aov, Some(Money::from_fen(158_730)), "1,111,111 / 7 = 158,730.14");
}

#[test]
fn refunds_are_activity_but_not_purchases() {
    let mut h = history("r");
    h.orders.push(refund("r1", "r", ago(3, 9), 700));
    let p = profile_of(&h);
    assert_eq!(p.orders.lifetime, 0);
    assert_eq!((p.refunds, p.refunded), (1, Money::from_fen(700)));
    assert_eq!(p.last_active_at, Some(ago(3, 9)));
    assert_eq!(p.value_tier, ValueTier::Prospect);
    assert!(h.orders[0].kind == OrderKind::Refund);
}

#[test]
fn comparison_needs_three_distinct_products_of_one_category_on_one_day() {
    let mut h = history("c");
    let views = [
        (5, "a1", "shoes"),
        (5, "a2", "shoes"),
        (5, "a2", "shoes"),
        (5, "b1", "bags"),
        (6, "a3", "shoes"),
        (7, "c1", "hats"),
        (7, "c2", "hats"),
        (7, "c3", "hats"),
        (7, "d1", "cups"),
        (7, "d2", "cups"),
        (7, "d3", "cups"),
        (91, "e1", "pens"),
        (91, "e2", "pens"),
        (91, "e3", "pens"),
    ];
    for (i, (days, product, category)) in views.iter().enumerate() {
        h.events.push(view(&format!("v{i}"), "c", ago(*days, 10 + i as u32 % 10), product, Some(category)));
    }
    let p = profile_of(&sorted(h));
    assert_eq!(p.comparison_days_90d, 1, "day 7 counts once; days 5/6 fall short; day 91 is outside");
    assert_eq!(p.views_90d, 11);
}
