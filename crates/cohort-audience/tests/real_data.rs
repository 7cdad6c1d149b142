//! Audience sizes on the real Online Retail import, each asserted against a
//! hand-written loop over the same histories (no rule language involved).
//! Skipped with a notice when the data is missing, except under `CI=true`.

use std::sync::Arc;

use cohort_audience::{Filter, Members, Pii};
use cohort_collect::import::{import_file, ImportOptions, NoProgress, Source};
use cohort_model::{OrderKind, ShopTime};
use cohort_store::{EventStore, MemoryAudienceStore, MemoryStore};
use cohort_testkit::{dataset, ONLINE_RETAIL};

#[test]
fn online_retail_audience_sizes_match_independent_counts() {
    let Some(path) = dataset(ONLINE_RETAIL) else { return };
    let store = Arc::new(MemoryStore::new());
    import_file(store.as_ref(), &Source::online_retail(), &path, &ImportOptions::default(), &NoProgress).unwrap();
    let as_of = store.stats().unwrap().last_at.unwrap();
    let shop = ShopTime::new(chrono_tz::Europe::London);

    // Independent counts: plain loops over the histories.
    let mut expected = [0usize; 5];
    store
        .scan_histories(&mut |h| {
            let purchases: Vec<_> =
                h.orders.iter().filter(|o| o.kind == OrderKind::Purchase && o.placed_at <= as_of).collect();
            let refunds = h.orders.iter().filter(|o| o.kind == OrderKind::Refund && o.placed_at <= as_of).count();
            let recent = purchases.iter().filter(|o| shop.days_between(o.placed_at, as_of) <= 90).count();
            let country = h.user.as_ref().and_then(|u| u.traits.get("country")).and_then(|c| c.as_str());
            let spend: i64 = purchases.iter().map(|o| o.total.fen()).sum();
            // The data ends on 2011-12-09: the last three complete months.
            let in_month = |m: u32| {
                purchases.iter().any(|o| {
                    let d = shop.date(o.placed_at);
                    chrono::Datelike::year(&d) == 2011 && chrono::Datelike::month(&d) == m
                })
            };
            expected[0] += usize::from(recent >= 2);
            expected[1] += usize::from(country == Some("Germany") && purchases.len() >= 5);
            expected[2] += usize::from(spend >= 500_000);
            expected[3] += usize::from(refunds >= 1 && purchases.len() >= 10);
            expected[4] += usize::from(in_month(9) && in_month(10) && in_month(11));
            Ok(())
        })
        .unwrap();

    let tags = MemoryAudienceStore::new(store.clone());
    let members = Members::new(store.as_ref(), &tags, shop, as_of, Pii::Masked);
    let size = |filter: &str| members.matching(&Filter::parse("test", filter).unwrap()).unwrap().len();
    let sizes = [
        size("count(orders, 90d) >= 2"),
        size(r#"user.traits.country = "Germany" and count(orders) >= 5"#),
        size("sum(orders.total) >= ¥5000"),
        size("count(refunds) >= 1 and count(orders) >= 10"),
        size("each_month(3, count(orders) >= 1)"),
    ];
    eprintln!("as of {as_of}: sizes {sizes:?}, expected {expected:?}");
    assert_eq!(sizes, expected);
    assert_eq!(sizes, [1387, 29, 275, 327, 329], "figures of the full file as of its last invoice");
}
