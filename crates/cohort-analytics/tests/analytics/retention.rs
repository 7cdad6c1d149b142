//! Retention grids on hand-built shops, cell by cell.

use cohort_analytics::{Activity, Analytics, Period, RetentionMode, RetentionSpec};
use cohort_model::ShopTime;

use super::fixtures::{engine, Shop};

fn weekly_shop() -> Shop {
    let mut shop = Shop::default();
    shop.event("r1", "Page Viewed", "2025-03-03T02:00:00Z"); // Mon 10:00 Shanghai
    shop.event("r1", "Page Viewed", "2025-03-11T02:00:00Z");
    shop.event("r1", "Page Viewed", "2025-03-24T02:00:00Z");
    shop.event("r2", "Page Viewed", "2025-03-09T15:30:00Z"); // Sun 23:30 Shanghai
    shop.event("r2", "Page Viewed", "2025-03-09T16:30:00Z"); // Mon 00:30 Shanghai: the next week
    shop.event("r3", "Page Viewed", "2025-03-11T02:00:00Z");
    shop.event("r3", "Page Viewed", "2025-03-24T01:00:00Z");
    shop.event("r4", "Page Viewed", "2025-03-04T02:00:00Z");
    shop
}

fn grid(r: &cohort_analytics::RetentionResult) -> Vec<(String, Vec<Option<u64>>)> {
    r.cohorts.iter().map(|c| (c.cohort.to_string(), c.retained.clone())).collect()
}

#[test]
fn weekly_bounded_and_unbounded_grids_in_shop_time() {
    let store = weekly_shop().store();
    let mut spec = RetentionSpec { periods: 4, ..RetentionSpec::default() };
    let r = engine(&store).retention(&spec).unwrap();
    assert_eq!(
        grid(&r),
        [
            ("2025-03-03".into(), vec![Some(3), Some(2), Some(0), Some(1), None]),
            ("2025-03-10".into(), vec![Some(1), Some(0), Some(1), None, None]),
        ]
    );
    assert_eq!(r.cohorts[0].rates[1], Some(2.0 / 3.0));
    assert_eq!(r.average, [Some(1.0), Some(0.5), Some(0.25), Some(1.0 / 3.0), None]);
    spec.mode = RetentionMode::Unbounded;
    let r = engine(&store).retention(&spec).unwrap();
    assert_eq!(
        grid(&r),
        [
            ("2025-03-03".into(), vec![Some(3), Some(2), Some(1), Some(1), None]),
            ("2025-03-10".into(), vec![Some(1), Some(1), Some(1), None, None]),
        ]
    );
    // In UTC, r2's two visits are the same Sunday: no return in week 1.
    spec.mode = RetentionMode::Bounded;
    let utc = Analytics::new(&store, ShopTime::new(chrono_tz::UTC)).retention(&spec).unwrap();
    assert_eq!(utc.cohorts[0].retained[1], Some(1));
    // Cohort range and daily periods.
    spec.range.from = Some("2025-03-10".parse().unwrap());
    spec.period = Period::Day;
    spec.periods = 14;
    let r = engine(&store).retention(&spec).unwrap();
    let cohorts: Vec<String> = r.cohorts.iter().map(|c| c.cohort.to_string()).collect();
    assert_eq!(cohorts, ["2025-03-11"]);
    assert_eq!(r.cohorts[0].retained[13], Some(1), "r3 back 13 days later");
    assert_eq!(r.cohorts[0].retained.iter().flatten().sum::<u64>(), 2);
}

#[test]
fn monthly_first_order_cohorts_returning_on_orders() {
    let mut shop = Shop::default();
    shop.order("m1", "2025-01-15T02:00:00Z", 100);
    shop.order("m1", "2025-02-01T02:00:00Z", 100);
    shop.order("m1", "2025-04-10T02:00:00Z", 100);
    shop.order("m2", "2025-01-31T15:30:00Z", 100); // Jan 31 23:30 Shanghai
    shop.order("m2", "2025-02-28T17:00:00Z", 100); // Mar 1 01:00 Shanghai
    shop.event("m3", "Page Viewed", "2025-01-10T02:00:00Z");
    shop.order("m4", "2025-02-14T02:00:00Z", 100);
    let store = shop.store();
    let spec = RetentionSpec {
        cohort: Activity::Order,
        returning: Activity::Order,
        period: Period::Month,
        periods: 3,
        ..RetentionSpec::default()
    };
    let r = engine(&store).retention(&spec).unwrap();
    assert_eq!(
        grid(&r),
        [
            ("2025-01-01".into(), vec![Some(2), Some(1), Some(1), Some(1)]),
            ("2025-02-01".into(), vec![Some(1), Some(0), Some(0), None]),
        ]
    );
    // Returning on a chosen event: page views never came back.
    let spec = RetentionSpec { returning: Activity::event("Page Viewed"), ..spec };
    let r = engine(&store).retention(&spec).unwrap();
    assert_eq!(r.cohorts[0].retained, [Some(2), Some(0), Some(0), Some(0)]);
    assert_eq!(r.returning, "Page Viewed");
    assert!(engine(&store)
        .retention(&RetentionSpec { periods: 0, ..spec })
        .unwrap_err()
        .to_string()
        .contains("periods"));
}
