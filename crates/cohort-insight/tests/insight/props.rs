//! Properties over random histories: segments partition everyone, shares
//! sum to one, windows are monotone, records after `as_of` change nothing.

use chrono::Duration;
use cohort_insight::{assign_segments, build_profile, Catalogue, CatalogueEntry, InsightConfig};
use cohort_model::{EventName, LifecycleStage, Money, OrderKind, Platform, ProductId, Profile, ValueTier, Windowed};
use cohort_store::{conformance, PersonHistory};
use proptest::prelude::*;

use crate::fixtures::*;

const NAMES: [EventName; 8] = [
    EventName::PageViewed,
    EventName::ProductViewed,
    EventName::ProductViewed,
    EventName::ProductsSearched,
    EventName::ProductAdded,
    EventName::ProductShared,
    EventName::ProductReviewed,
    EventName::CheckedIn,
];

/// (name index or custom, minutes before as_of (negative: after), product, category, platform)
type EventSpec = (usize, i64, u8, Option<u8>, Option<u8>);
/// (refund?, minutes before as_of, [(product, quantity, unit fen, category)], discount fen, platform)
type OrderSpec = (bool, i64, Vec<(u8, i64, i64, Option<u8>)>, i64, Option<u8>);

fn platform(i: Option<u8>) -> Option<Platform> {
    i.map(|i| Platform::ALL[usize::from(i) % 4])
}

fn catalogue() -> Catalogue {
    let mut c = Catalogue::new();
    for i in 0..8u8 {
        let launched = (i % 2 == 0).then(|| ago(i64::from(i) * 40, 0));
        let category = (i < 6).then(|| format!("c{}", i % 3));
        c.insert(ProductId::new(format!("p{i}")).unwrap(), CatalogueEntry { category, launched_at: launched });
    }
    c
}

fn build(person: &str, registered: Option<i64>, events: &[EventSpec], orders: &[OrderSpec]) -> PersonHistory {
    let mut h = history(person);
    h.user = registered.map(|d| user(person, Some(ago(d, 9))));
    let when = |minutes: i64| as_of() - Duration::minutes(minutes);
    for (i, &(name, minutes, product, category, plat)) in events.iter().enumerate() {
        let name = NAMES.get(name).cloned().unwrap_or_else(|| EventName::Custom("Lottery Spun".into()));
        let mut e = conformance::event(&format!("{person}-e{i}"), person, name, when(minutes));
        e.product_id = Some(ProductId::new(format!("p{product}")).unwrap());
        e.category = category.map(|c| format!("c{c}"));
        e.platform = platform(plat);
        h.events.push(e);
    }
    for (i, (is_refund, minutes, lines, discount, plat)) in orders.iter().enumerate() {
        let specs: Vec<(String, i64, i64)> = lines.iter().map(|l| (format!("p{}", l.0), l.1, l.2)).collect();
        let refs: Vec<(&str, i64, i64)> = specs.iter().map(|(p, q, f)| (p.as_str(), *q, *f)).collect();
        let mut o = conformance::order(&format!("{person}-o{i}"), Some(person), when(*minutes), &refs);
        for (line, spec) in o.lines.iter_mut().zip(lines) {
            line.category = spec.3.map(|c| format!("c{c}"));
        }
        o.kind = if *is_refund { OrderKind::Refund } else { OrderKind::Purchase };
        o.discount = Money::from_fen(*discount);
        o.platform = platform(*plat);
        h.orders.push(o);
    }
    sorted(h)
}

fn event_spec() -> impl Strategy<Value = EventSpec> {
    (0usize..9, -2000i64..600_000, 0u8..8, proptest::option::of(0u8..3), proptest::option::of(0u8..4))
}

fn order_spec() -> impl Strategy<Value = OrderSpec> {
    let line = (0u8..8, -1i64..4, -100i64..50_000, proptest::option::of(0u8..3));
    (
        proptest::bool::weighted(0.15),
        -2000i64..600_000,
        proptest::collection::vec(line, 0..4),
        prop_oneof![Just(0i64), 1i64..500],
        proptest::option::of(0u8..4),
    )
}

fn person_spec() -> impl Strategy<Value = (Option<i64>, Vec<EventSpec>, Vec<OrderSpec>)> {
    (
        proptest::option::of(-3i64..400),
        proptest::collection::vec(event_spec(), 0..25),
        proptest::collection::vec(order_spec(), 0..8),
    )
}

fn monotone<T: PartialOrd + Copy + std::fmt::Debug>(w: &Windowed<T>) -> bool {
    w.d30 <= w.d90 && w.d90 <= w.d180 && w.d180 <= w.lifetime
}

/// Tiers straight from the documented definitions (defaults), without
/// precedence: exactly one must hold.
fn tiers_matching(p: &Profile) -> Vec<ValueTier> {
    let r = p.recency_days.unwrap_or(i64::MAX);
    let (f, m) = (p.value_orders, p.value_monetary.fen());
    let in_window = f > 0;
    let high = in_window && r <= 30 && f >= 3 && m >= 50_000;
    let potential = in_window && r <= 30 && (1..=2).contains(&f) && (20_000..50_000).contains(&m);
    let low = in_window && r >= 90 && f == 1 && m < 20_000;
    let bought = p.orders.lifetime > 0;
    [
        (high, ValueTier::HighValue),
        (potential, ValueTier::Potential),
        (low, ValueTier::LowValue),
        (bought && !high && !potential && !low, ValueTier::General),
        (!bought, ValueTier::Prospect),
    ]
    .into_iter()
    .filter_map(|(ok, t)| ok.then_some(t))
    .collect()
}

/// Stages straight from the documented definitions (defaults).
fn stages_matching(p: &Profile) -> Vec<LifecycleStage> {
    let new = p.registration_age_days.is_some_and(|d| d <= 7);
    let d = p.inactive_days;
    [
        (new, LifecycleStage::New),
        (!new && d < 30, LifecycleStage::Active),
        (!new && (30..=45).contains(&d), LifecycleStage::SilentLight),
        (!new && (46..=60).contains(&d), LifecycleStage::SilentMedium),
        (!new && (61..=90).contains(&d), LifecycleStage::SilentHeavy),
        (!new && d > 90, LifecycleStage::Churned),
    ]
    .into_iter()
    .filter_map(|(ok, s)| ok.then_some(s))
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn profiles_and_segments_are_consistent(people in proptest::collection::vec(person_spec(), 1..12)) {
        let catalogue = catalogue();
        let histories: Vec<PersonHistory> = people
            .iter()
            .enumerate()
            .map(|(i, (reg, events, orders))| build(&format!("u{i}"), *reg, events, orders))
            .collect();
        let mut profiles: Vec<Profile> =
            histories.iter().map(|h| build_profile(h, &catalogue, as_of(), &shop())).collect();
        assign_segments(&mut profiles, &InsightConfig::default());
        for (p, h) in profiles.iter().zip(&histories) {
            prop_assert_eq!(tiers_matching(p), vec![p.value_tier]);
            prop_assert_eq!(stages_matching(p), vec![p.lifecycle]);
            prop_assert!(monotone(&p.orders), "{:?}", p.orders);
            prop_assert!(monotone(&p.monetary), "{:?}", p.monetary);
            prop_assert!(p.value_orders <= p.orders.lifetime);
            if !p.category_shares.is_empty() {
                let sum: f64 = p.category_shares.iter().map(|(_, s)| s).sum();
                prop_assert!((sum - 1.0).abs() <= 1e-9, "category shares sum to {}", sum);
                prop_assert!(p.category_shares.windows(2).all(|w| w[0].1 >= w[1].1));
                prop_assert_eq!(p.top_category.as_ref(), Some(&p.category_shares[0].0));
            }
            let mix = p.platform_mix;
            let mix_sum = mix.app + mix.mini_program + mix.web + mix.store;
            let activity: u32 = p.active_hours.iter().sum();
            let tagged = h.events.iter().filter(|e| e.timestamp <= as_of() && e.name.is_activity() && e.platform.is_some()).count()
                + h.orders.iter().filter(|o| o.placed_at <= as_of() && o.platform.is_some()).count();
            if tagged > 0 {
                prop_assert!((mix_sum - 1.0).abs() <= 1e-9, "platform mix sums to {}", mix_sum);
            } else {
                prop_assert_eq!(mix_sum, 0.0);
            }
            prop_assert_eq!(p.peak_hour.is_some(), activity > 0);
            prop_assert_eq!(p.weekend_share.is_some(), activity > 0);
            prop_assert!(p.visit_days_30d <= 31);
            prop_assert!(p.views_90d <= activity && p.searches_90d <= activity);
            prop_assert_eq!(p.rfm.is_some(), p.value_orders > 0);
            if let Some(s) = p.rfm {
                prop_assert!([s.recency, s.frequency, s.monetary].iter().all(|x| (1..=5).contains(x)));
                prop_assert_eq!(p.rfm_segment, Some(s.segment()));
            }
            for rate in [p.new_product_trial_rate, p.price_sensitivity, p.weekend_share].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&rate));
            }
        }
    }

    #[test]
    fn records_after_as_of_change_nothing((reg, events, orders) in person_spec()) {
        let catalogue = catalogue();
        let full = build("x", reg, &events, &orders);
        let mut past = full.clone();
        past.events.retain(|e| e.timestamp <= as_of());
        past.orders.retain(|o| o.placed_at <= as_of());
        prop_assert_eq!(
            build_profile(&full, &catalogue, as_of(), &shop()),
            build_profile(&past, &catalogue, as_of(), &shop())
        );
    }
}
