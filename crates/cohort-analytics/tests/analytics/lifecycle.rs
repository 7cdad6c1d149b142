//! Lifecycle movement on hand-built shops, cell by cell.

use cohort_analytics::{Activity, Analytics, LifecycleResult, LifecycleSpec, Period};
use cohort_model::ShopTime;

use super::fixtures::{engine, Shop};

/// Four Shanghai weeks from Monday 3 March 2025 (W1 3rd, W2 10th, W3 17th,
/// W4 24th):
/// a: W1, W2, W4 · b: W1 · c: W2, W3 · d: W3, W4 ·
/// e: Sunday 9th 23:30 (W1) and Monday 10th 00:30 (W2) Shanghai time —
/// the same Sunday in UTC.
fn weekly_shop() -> Shop {
    let mut shop = Shop::default();
    shop.event("a", "Page Viewed", "2025-03-03T02:00:00Z");
    shop.event("a", "Product Viewed", "2025-03-04T02:00:00Z");
    shop.event("a", "Page Viewed", "2025-03-12T02:00:00Z");
    shop.event("a", "Page Viewed", "2025-03-24T02:00:00Z");
    shop.event("b", "Page Viewed", "2025-03-05T02:00:00Z");
    shop.event("c", "Page Viewed", "2025-03-11T02:00:00Z");
    shop.event("c", "Page Viewed", "2025-03-18T02:00:00Z");
    shop.event("d", "Page Viewed", "2025-03-19T02:00:00Z");
    shop.event("d", "Page Viewed", "2025-03-25T02:00:00Z");
    shop.event("e", "Page Viewed", "2025-03-09T15:30:00Z");
    shop.event("e", "Page Viewed", "2025-03-09T16:30:00Z");
    shop
}

/// `(period, new, returning, resurrected, dormant)` per row.
fn cells(r: &LifecycleResult) -> Vec<(String, u64, u64, u64, u64)> {
    r.periods.iter().map(|p| (p.period.to_string(), p.new, p.returning, p.resurrected, p.dormant)).collect()
}

fn row(period: &str, new: u64, returning: u64, resurrected: u64, dormant: u64) -> (String, u64, u64, u64, u64) {
    (period.to_string(), new, returning, resurrected, dormant)
}

#[test]
fn weekly_movement_cell_by_cell_in_shop_time() {
    let store = weekly_shop().store();
    let spec = LifecycleSpec::default();
    let r = engine(&store).lifecycle(&spec).unwrap();
    assert_eq!(
        cells(&r),
        [
            row("2025-03-03", 3, 0, 0, 0), // a, b, e new
            row("2025-03-10", 1, 2, 0, 1), // c new; a, e returning; b dormant
            row("2025-03-17", 1, 1, 0, 2), // d new; c returning; a, e dormant
            row("2025-03-24", 0, 1, 1, 1), // d returning; a resurrected; c dormant
        ]
    );
    let active: Vec<u64> = r.periods.iter().map(|p| p.active).collect();
    assert_eq!(active, [3, 3, 2, 2]);
    let quick: Vec<Option<f64>> = r.periods.iter().map(|p| p.quick_ratio).collect();
    assert_eq!(quick, [None, Some(1.0), Some(0.5), Some(1.0)]);

    // In UTC e's two visits are one Sunday: W2 has one returning, two dormant.
    let utc = Analytics::new(&store, ShopTime::new(chrono_tz::UTC)).lifecycle(&spec).unwrap();
    assert_eq!(cells(&utc)[1], row("2025-03-10", 1, 1, 0, 2));
    assert_eq!(cells(&utc)[2], row("2025-03-17", 1, 1, 0, 1));

    // A range reports fewer periods; status still sees the whole history.
    let ranged = LifecycleSpec {
        range: cohort_analytics::DateRange {
            from: Some("2025-03-12".parse().unwrap()),
            to: Some("2025-03-17".parse().unwrap()),
        },
        ..LifecycleSpec::default()
    };
    let r = engine(&store).lifecycle(&ranged).unwrap();
    assert_eq!(cells(&r), [row("2025-03-10", 1, 2, 0, 1), row("2025-03-17", 1, 1, 0, 2)]);

    // Daily: a is active on the 3rd and 4th, gone on the 5th.
    let daily = LifecycleSpec { period: Period::Day, ..LifecycleSpec::default() };
    let r = engine(&store).lifecycle(&daily).unwrap();
    assert_eq!(r.periods.len(), 23, "3 to 25 March");
    assert_eq!(
        cells(&r)[..3],
        [row("2025-03-03", 1, 0, 0, 0), row("2025-03-04", 0, 1, 0, 0), row("2025-03-05", 1, 0, 0, 1)]
    );
}

#[test]
fn monthly_movement_on_paid_orders() {
    let mut shop = Shop::default();
    shop.order("p1", "2025-01-10T02:00:00Z", 1000);
    shop.order("p1", "2025-03-02T02:00:00Z", 1000);
    shop.order("p2", "2025-02-10T02:00:00Z", 1000);
    shop.order("p2", "2025-03-05T02:00:00Z", 1000);
    shop.event("p3", "Page Viewed", "2025-02-11T02:00:00Z"); // browses, never buys
    let store = shop.store();
    let spec = LifecycleSpec { activity: Activity::Order, period: Period::Month, ..LifecycleSpec::default() };
    let r = engine(&store).lifecycle(&spec).unwrap();
    assert_eq!(r.activity, "order");
    assert_eq!(
        cells(&r),
        [row("2025-01-01", 1, 0, 0, 0), row("2025-02-01", 1, 0, 0, 1), row("2025-03-01", 0, 1, 1, 0)]
    );
}

#[test]
fn an_unknown_activity_is_named() {
    let store = weekly_shop().store();
    let spec = LifecycleSpec { activity: Activity::event("Teleported"), ..LifecycleSpec::default() };
    let err = engine(&store).lifecycle(&spec).unwrap_err();
    assert_eq!(err.issues()[0].field, "activity.event");
}
