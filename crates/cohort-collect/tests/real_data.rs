//! Imports of the real public datasets into the reference store, checked
//! against the figures published for them (see each dataset's SOURCE.md).
//! Skipped with a notice when the data is missing, except under `CI=true`.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use cohort_collect::import::{import_file, ImportOptions, ImportOutcome, ImportReport, NoProgress, Source};
use cohort_model::{EventName, Money, OrderKind};
use cohort_store::{EventStore, MemoryStore};
use cohort_testkit::{dataset, ONLINE_RETAIL, TAOBAO};

fn import(store: &MemoryStore, source: &Source, path: &std::path::Path) -> ImportReport {
    let started = Instant::now();
    let outcome = import_file(store, source, path, &ImportOptions::default(), &NoProgress).unwrap();
    let ImportOutcome::Imported(report) = outcome else { panic!("a fresh store has no earlier import") };
    eprintln!("{}: imported in {:.2?}", path.display(), started.elapsed());
    report
}

#[test]
fn online_retail_imports_every_row() {
    let Some(path) = dataset(ONLINE_RETAIL) else { return };
    let store = MemoryStore::new();
    let report = import(&store, &Source::online_retail(), &path);
    let stats = store.stats().unwrap();
    eprintln!(
        "rows read {}, rejected {}, prices rounded {}; stored {} orders ({} lines), {} events, {} persons, {} users, \
         {} products",
        report.rows_read,
        report.rows_rejected,
        report.prices_rounded,
        stats.orders,
        stats.order_lines,
        stats.events,
        stats.persons,
        stats.users,
        stats.products
    );
    assert_eq!((report.rows_read, report.rows_rejected), (541_909, 0));
    assert_eq!(report.prices_rounded, 4, "the four 0.001 unit prices");
    assert_eq!(stats.orders, 25_900, "one order per distinct InvoiceNo");
    assert_eq!(stats.order_lines, 541_909, "duplicate rows stay distinct lines");
    assert_eq!(stats.persons, 4_372, "distinct CustomerID");
    assert_eq!(stats.users, 4_372);
    assert_eq!(stats.products, 4_070, "distinct StockCode");

    // The usual cleaning: purchases of known customers, lines with
    // quantity > 0 and unit price > 0.
    let mut customers = 0u64;
    let mut revenue = Money::ZERO;
    let mut refunds = 0u64;
    let mut events_by_name: BTreeMap<String, u64> = BTreeMap::new();
    store
        .scan_histories(&mut |history| {
            let mut bought = false;
            for order in &history.orders {
                match order.kind {
                    OrderKind::Refund => {
                        refunds += 1;
                        assert!(order.total >= Money::ZERO, "refund {} has a positive total", order.id);
                        assert!(order.lines.iter().all(|l| l.quantity >= 0));
                    }
                    OrderKind::Purchase => {
                        for line in order.lines.iter().filter(|l| l.quantity > 0 && l.unit_price > Money::ZERO) {
                            revenue += line.amount();
                            bought = true;
                        }
                    }
                }
            }
            customers += u64::from(bought);
            for event in &history.events {
                *events_by_name.entry(event.name.to_string()).or_default() += 1;
            }
            assert_eq!(history.events.len(), history.orders.len(), "one order event per invoice of a customer");
            Ok(())
        })
        .unwrap();
    eprintln!("cleaned: {customers} customers, revenue {revenue}; {refunds} refunds; events {events_by_name:?}");
    assert_eq!(customers, 4_338);
    assert_eq!(revenue, Money::from_fen(891_140_790));
    assert_eq!(stats.events, events_by_name.values().sum::<u64>());
}

#[test]
fn taobao_imports_every_behaviour() {
    let Some(path) = dataset(TAOBAO) else { return };
    let store = MemoryStore::new();
    let report = import(&store, &Source::Taobao, &path);
    let stats = store.stats().unwrap();
    assert_eq!((report.rows_read, report.rows_rejected), (84_475, 0));
    assert_eq!((stats.events, stats.persons, stats.orders), (84_475, 815, 1_750));
    assert_eq!(stats.products, 55_368, "distinct items");
    let mut by_name: BTreeMap<EventName, u64> = BTreeMap::new();
    let mut categories = HashSet::new();
    store
        .scan_histories(&mut |history| {
            for event in &history.events {
                *by_name.entry(event.name.clone()).or_default() += 1;
                categories.insert(event.category.clone().expect("every event has a category"));
                if event.name == EventName::OrderCompleted {
                    let order_id = event.order_id.as_ref().expect("buy events link their order");
                    assert!(history.orders.iter().any(|o| &o.id == order_id));
                }
            }
            Ok(())
        })
        .unwrap();
    eprintln!(
        "rows read {}, {} events, {} persons, {} orders, {} products, {} categories; {by_name:?}",
        report.rows_read,
        stats.events,
        stats.persons,
        stats.orders,
        stats.products,
        categories.len()
    );
    assert_eq!(by_name[&EventName::ProductViewed], 75_872);
    assert_eq!(by_name[&EventName::ProductAdded], 4_497);
    assert_eq!(by_name[&EventName::ProductAddedToWishlist], 2_356);
    assert_eq!(by_name[&EventName::OrderCompleted], 1_750);
    assert_eq!(categories.len(), 2_914);
}
