//! Funnels on hand-built event sequences: every mode, window boundaries,
//! per-step windows, exclusions, breakdowns, filters, audiences, errors.

use cohort_analytics::{EventMatch, Exclusion, FunnelMode, FunnelResult, FunnelSpec, Property, Window};
use cohort_model::Platform;

use super::fixtures::{engine, Shop};

const BASE: &str = "2025-03-03T02:00:00Z";

fn spec(steps: &[&str], window: &str) -> FunnelSpec {
    let mut s = FunnelSpec::new(steps.iter().map(|n| EventMatch::parse(n).unwrap()));
    s.window = window.parse().unwrap();
    s
}

fn persons(r: &FunnelResult) -> Vec<u64> {
    r.steps.iter().map(|s| s.persons).collect()
}

fn run(shop: &Shop, spec: &FunnelSpec) -> FunnelResult {
    let store = shop.store();
    engine(&store).funnel(spec).unwrap()
}

#[test]
fn ordered_funnel_counts_conversion_drop_off_and_median_time() {
    let mut shop = Shop::default();
    shop.seq("a", BASE, &[("Product Viewed", 0), ("Product Added", 10), ("Order Completed", 30)]);
    shop.seq("b", BASE, &[("Product Viewed", 0), ("Product Added", 20)]);
    shop.seq("c", BASE, &[("Product Viewed", 0)]);
    shop.seq("d", BASE, &[("Product Added", 0), ("Order Completed", 5)]); // never viewed
    shop.seq("e", BASE, &[("Product Viewed", 0), ("Checked In", 1), ("Product Added", 40), ("Order Completed", 100)]);
    let mut s = spec(&["Product Viewed", "Product Added", "Order Completed"], "1d");
    s.dropped_at = Some(3);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [4, 3, 2]);
    let rates: Vec<_> = r.steps.iter().map(|s| (s.conversion_rate, s.step_conversion_rate, s.dropped_off)).collect();
    assert_eq!(rates, [(1.0, 1.0, 0), (0.75, 0.75, 1), (0.5, 2.0 / 3.0, 1)]);
    assert_eq!(r.steps[1].drop_off_rate, 0.25);
    assert_eq!(r.steps[0].median_seconds_from_previous, None);
    assert_eq!(r.steps[1].median_seconds_from_previous, Some(1200.0), "10, 20, 40 minutes");
    assert_eq!(r.steps[2].median_seconds_from_previous, Some(2400.0), "mean of 20 and 60 minutes");
    assert_eq!(r.dropped.as_ref().unwrap().persons, ["b"]);
    s.dropped_at = Some(2);
    assert_eq!(run(&shop, &s).dropped.unwrap().persons, ["c"]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["steps"][2]["persons"], 2);
    assert_eq!(json["mode"], "ordered");
}

#[test]
fn the_window_is_inclusive_and_a_later_start_can_convert() {
    let mut shop = Shop::default();
    shop.event("exact", "Product Viewed", "2025-03-03T10:00:00Z");
    shop.event("exact", "Product Added", "2025-03-03T11:00:00Z");
    shop.event("late", "Product Viewed", "2025-03-03T10:00:00Z");
    shop.event("late", "Product Added", "2025-03-03T11:00:01Z");
    shop.event("retry", "Product Viewed", "2025-03-03T10:00:00Z");
    shop.event("retry", "Product Viewed", "2025-03-03T10:30:00Z");
    shop.event("retry", "Product Added", "2025-03-03T11:25:00Z");
    let mut s = spec(&["Product Viewed", "Product Added"], "1h");
    s.dropped_at = Some(2);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [3, 2]);
    assert_eq!(r.dropped.unwrap().persons, ["late"]);
    assert_eq!(r.steps[1].median_seconds_from_previous, Some((3600.0 + 55.0 * 60.0) / 2.0));
    // 60m is 3600 s: the same in any unit
    s.window = Window::seconds(3600);
    assert_eq!(persons(&run(&shop, &s)), [3, 2]);
    s.window = Window::seconds(3599);
    assert_eq!(persons(&run(&shop, &s)), [3, 1]);
}

#[test]
fn per_step_windows_bound_the_gap_to_the_previous_step() {
    let mut shop = Shop::default();
    shop.seq("q1", BASE, &[("Product Viewed", 0), ("Product Added", 10), ("Order Completed", 500)]);
    shop.seq("q2", BASE, &[("Product Viewed", 0), ("Product Added", 11), ("Order Completed", 20)]);
    shop.seq(
        "q3",
        BASE,
        &[("Product Viewed", 0), ("Product Viewed", 5), ("Product Added", 12), ("Order Completed", 20)],
    );
    let mut s = spec(&["Product Viewed", "Product Added", "Order Completed"], "1d");
    s.steps[1].within = Some("10m".parse().unwrap());
    s.dropped_at = Some(2);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [3, 2, 2]);
    assert_eq!(r.dropped.unwrap().persons, ["q2"]);
}

#[test]
fn strict_mode_allows_no_other_event_between_steps() {
    let mut shop = Shop::default();
    shop.seq("s1", BASE, &[("Product Viewed", 0), ("Product Added", 1), ("Order Completed", 2)]);
    shop.seq("s2", BASE, &[("Product Viewed", 0), ("Checked In", 1), ("Product Added", 2), ("Order Completed", 3)]);
    shop.seq("s3", BASE, &[("Product Viewed", 0), ("Product Added", 1), ("Cart Viewed", 2), ("Order Completed", 3)]);
    let mut s = spec(&["Product Viewed", "Product Added", "Order Completed"], "1d");
    assert_eq!(persons(&run(&shop, &s)), [3, 3, 3]);
    s.mode = FunnelMode::Strict;
    s.dropped_at = Some(3);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [3, 2, 1]);
    assert_eq!(r.dropped.unwrap().persons, ["s3"]);
}

#[test]
fn strict_increase_needs_a_later_timestamp_ordered_takes_ties_in_step_order() {
    let mut shop = Shop::default();
    // stored with the add first (lower event id) at the same instant
    shop.event("tie", "Product Added", "2025-03-03T10:00:00Z");
    shop.event("tie", "Product Viewed", "2025-03-03T10:00:00Z");
    shop.seq("later", BASE, &[("Product Viewed", 0), ("Product Added", 1)]);
    let mut s = spec(&["Product Viewed", "Product Added"], "1d");
    assert_eq!(persons(&run(&shop, &s)), [2, 2]);
    assert_eq!(run(&shop, &s).steps[1].median_seconds_from_previous, Some(30.0));
    s.mode = FunnelMode::StrictIncrease;
    s.dropped_at = Some(2);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [2, 1]);
    assert_eq!(r.dropped.unwrap().persons, ["tie"]);
}

#[test]
fn any_order_counts_people_who_did_any_k_steps_within_the_window() {
    let mut shop = Shop::default();
    shop.seq("u1", BASE, &[("Order Completed", 0), ("Product Added", 5), ("Product Viewed", 10)]);
    shop.seq("u2", BASE, &[("Product Added", 0)]);
    shop.seq("u3", BASE, &[("Product Viewed", 0), ("Order Completed", 2 * 24 * 60)]);
    let mut s = spec(&["Product Viewed", "Product Added", "Order Completed"], "1d");
    assert_eq!(persons(&run(&shop, &s)), [2, 0, 0], "ordered: u1 viewed last, u3 paid too late");
    s.mode = FunnelMode::AnyOrder;
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [3, 1, 1]);
    assert_eq!(r.steps[1].median_seconds_from_previous, Some(300.0));
}

#[test]
fn exclusions_discard_attempts_with_the_event_between_their_steps() {
    let mut shop = Shop::default();
    let steps = |s: &mut Shop, p: &str, seq: &[(&str, i64)]| s.seq(p, BASE, seq);
    steps(
        &mut shop,
        "x1",
        &[("Product Viewed", 0), ("Product Added", 5), ("Product Removed", 10), ("Order Completed", 20)],
    );
    steps(
        &mut shop,
        "x2",
        &[("Product Viewed", 0), ("Product Added", 5), ("Order Completed", 20), ("Product Removed", 30)],
    );
    steps(&mut shop, "x3", &[("Product Viewed", 0), ("Product Added", 5), ("Product Removed", 10)]);
    steps(
        &mut shop,
        "x4",
        &[
            ("Product Viewed", 0),
            ("Product Added", 5),
            ("Product Removed", 10),
            ("Order Completed", 20),
            ("Product Viewed", 1000),
            ("Product Added", 1005),
            ("Order Completed", 1010),
        ],
    );
    steps(
        &mut shop,
        "x5",
        &[("Product Viewed", 0), ("Product Removed", 2), ("Product Added", 5), ("Order Completed", 20)],
    );
    let mut s = spec(&["Product Viewed", "Product Added", "Order Completed"], "1d");
    assert_eq!(persons(&run(&shop, &s)), [5, 5, 4]);
    s.exclusions.push(Exclusion { event: "Product Removed".into(), filters: vec![], from_step: 2, to_step: 3 });
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [3, 3, 3], "x1 and x3 excluded, x4's second attempt counts");
    assert_eq!(r.excluded_persons, 2);
    // from step 1: x5's removal between view and add now excludes it too
    s.exclusions[0].from_step = 1;
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [2, 2, 2]);
    assert_eq!(r.excluded_persons, 3);
}

#[test]
fn breakdown_uses_the_first_steps_value_and_adds_up() {
    let mut shop = Shop::default();
    shop.on("b1", "Product Viewed", "2025-03-03T10:00:00Z", Platform::App);
    shop.event("b1", "Order Completed", "2025-03-03T10:10:00Z");
    shop.on("b2", "Product Viewed", "2025-03-03T10:00:00Z", Platform::Web);
    shop.on("b3", "Product Viewed", "2025-03-03T10:00:00Z", Platform::Web);
    shop.on("b3", "Product Viewed", "2025-03-03T10:05:00Z", Platform::App);
    shop.event("b3", "Order Completed", "2025-03-03T10:10:00Z");
    shop.event("b4", "Product Viewed", "2025-03-03T10:00:00Z");
    let mut s = spec(&["Product Viewed", "Order Completed"], "1d");
    s.breakdown = Some(Property::Platform);
    let r = run(&shop, &s);
    assert_eq!(persons(&r), [4, 2]);
    let by: Vec<(String, Vec<u64>)> =
        r.breakdowns.iter().map(|b| (b.value.clone(), b.steps.iter().map(|s| s.persons).collect())).collect();
    assert_eq!(
        by,
        [("web".to_string(), vec![2, 1]), ("(none)".to_string(), vec![1, 0]), ("app".to_string(), vec![1, 1])]
    );
    assert_eq!(r.breakdowns[0].steps[1].conversion_rate, 0.5);
}

#[test]
fn step_filters_on_columns_and_free_properties() {
    let mut shop = Shop::default();
    shop.event("f1", "Product Viewed", "2025-03-03T10:00:00Z").category = Some("零食".into());
    shop.event("f1", "Product Added", "2025-03-03T10:01:00Z");
    shop.event("f2", "Product Viewed", "2025-03-03T10:00:00Z").category = Some("服装".into());
    shop.event("f2", "Product Added", "2025-03-03T10:01:00Z");
    shop.event("f3", "Product Viewed", "2025-03-03T10:00:00Z").properties.insert("campaign".into(), "618".into());
    shop.event("f3", "Product Added", "2025-03-03T10:01:00Z").price = Some(cohort_model::Money::from_fen(1990));
    let r = run(&shop, &spec(&["Product Viewed[category=零食]", "Product Added"], "1d"));
    assert_eq!(persons(&r), [1, 1]);
    assert_eq!(r.steps[0].label, "Product Viewed[category=零食]");
    assert_eq!(persons(&run(&shop, &spec(&["Product Viewed[campaign=618]", "Product Added"], "1d"))), [1, 1]);
    assert_eq!(persons(&run(&shop, &spec(&["Product Viewed", "Product Added[price_fen>=1990]"], "1d"))), [3, 1]);
    assert_eq!(persons(&run(&shop, &spec(&["Product Viewed[category in 零食|服装]", "pv"], "1d"))), [2, 0]);
    // the date range bounds the first step (shop-local dates: 10:00 UTC is 18:00 in Shanghai)
    let mut s = spec(&["Product Viewed", "Product Added"], "1d");
    s.range.from = Some("2025-03-04".parse().unwrap());
    assert_eq!(persons(&run(&shop, &s)), [0, 0]);
    s.range.from = Some("2025-03-03".parse().unwrap());
    s.range.to = Some("2025-03-03".parse().unwrap());
    assert_eq!(persons(&run(&shop, &s)), [3, 3]);
}

#[test]
fn impossible_specs_are_refused_naming_field_and_reason() {
    let mut shop = Shop::default();
    shop.event("a", "Product Viewed", "2025-03-03T10:00:00Z");
    let store = shop.store();
    let analytics = engine(&store);
    let mut s = spec(&["Product Viewed", "Teleported"], "0d");
    s.steps[0].within = Some(Window::hours(1));
    let err = analytics.funnel(&s).unwrap_err();
    assert!(err.is_user_error());
    let text = err.to_string();
    assert!(text.contains("steps[1].event: unknown event \"Teleported\""), "{text}");
    assert!(text.contains("window: window must be positive, got 0d"), "{text}");
    assert!(text.contains("steps[0].within: the first step has no previous step"), "{text}");
    let many = spec(&["Product Viewed"; 33], "1d");
    let err = analytics.funnel(&many).unwrap_err().to_string();
    assert!(err.contains("steps: at most 32 steps, got 33"), "{err}");
    assert!(analytics.funnel(&spec(&["Product Viewed"; 32], "1d")).is_ok(), "32 steps are fine");
    let mut s = spec(&["Product Viewed", "Product Added"], "-2h");
    s.mode = FunnelMode::AnyOrder;
    s.exclusions.push(Exclusion { event: "Product Removed".into(), filters: vec![], from_step: 2, to_step: 2 });
    let issues: Vec<String> = analytics.funnel(&s).unwrap_err().issues().iter().map(|i| i.field.clone()).collect();
    assert_eq!(issues, ["window", "exclusions[0]", "exclusions[0]"]);
    // a custom event present in the store is known
    shop.event("a", "Lottery Spun", "2025-03-03T10:00:00Z");
    let store = shop.store();
    assert!(engine(&store).funnel(&spec(&["Lottery Spun", "Product Viewed"], "1d")).is_ok());
    // the JSON form refuses unknown fields
    let bad = serde_json::from_str::<FunnelSpec>(r#"{"steps":[{"event":"pv"}],"windw":"1d"}"#).unwrap_err();
    assert!(bad.to_string().contains("windw"), "{bad}");
}
