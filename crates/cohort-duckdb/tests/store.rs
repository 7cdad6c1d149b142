//! The DuckDB store against the shared conformance suite, plus the
//! guarantees that need a real file: durability across reopen and crash
//! safety of an uncommitted write.

use cohort_duckdb::DuckDbStore;
use cohort_store::{conformance, EventStore, WriteSource};

#[test]
fn in_memory_store_conforms() {
    conformance::run_all(|| DuckDbStore::open_in_memory().unwrap());
}

#[test]
fn on_disk_store_conforms() {
    let dirs: Vec<tempfile::TempDir> = Vec::new();
    let dirs = std::cell::RefCell::new(dirs);
    conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = DuckDbStore::open(dir.path()).unwrap();
        dirs.borrow_mut().push(dir);
        store
    });
}

#[test]
fn committed_writes_survive_reopen_and_dropped_ones_vanish() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = DuckDbStore::open(dir.path()).unwrap();
        let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
        txn.write(&cohort_model::Batch {
            events: vec![conformance::event("e1", "alice", cohort_model::EventName::CheckedIn, chrono::Utc::now())],
            ..Default::default()
        })
        .unwrap();
        txn.commit(1).unwrap();
        let mut open = store.begin_write(WriteSource::default()).unwrap();
        open.write(&cohort_model::Batch {
            events: vec![conformance::event("e2", "bob", cohort_model::EventName::CheckedIn, chrono::Utc::now())],
            ..Default::default()
        })
        .unwrap();
        // dropped without commit; the crash case (SIGKILL mid-import) is
        // tested with the real binary in cohort-cli's tests.
    }
    let store = DuckDbStore::open(dir.path()).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.events, 1, "only the committed event survives");
    assert_eq!(store.imports().unwrap().len(), 1);
}

/// A write bigger than DuckDB's row groups (122,880 rows), staged through the
/// appender in many batches inside one transaction, arrives whole.
#[test]
fn a_write_spanning_several_row_groups_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path()).unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().to_utc();
    let total = 300_000u64;
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    for chunk in 0..total / 150_000 {
        let events = (0..150_000)
            .map(|i| {
                let n = chunk * 150_000 + i;
                let ts = start + chrono::Duration::seconds(n as i64);
                conformance::event(
                    &format!("generated-event-{n:012}"),
                    &format!("person-{:08}", n % 5_000),
                    cohort_model::EventName::ProductViewed,
                    ts,
                )
            })
            .collect();
        // Orders interleaved with events, as the generator writes them.
        let orders = (0..7_500)
            .map(|i| {
                let ts = start + chrono::Duration::seconds((chunk * 7_500 + i) as i64);
                conformance::order(&format!("o{chunk}-{i}"), Some("p1"), ts, &[("sku1", 1, 990)])
            })
            .collect();
        txn.write(&cohort_model::Batch { events, orders, ..Default::default() }).unwrap();
    }
    let record = txn.commit(total).unwrap();
    assert_eq!(record.summary.events_new, total);
    assert_eq!(record.summary.orders_new, total / 20);
    let stats = store.stats().unwrap();
    assert_eq!((stats.events, stats.orders), (total, total / 20));
}

/// A full scan walks the persons in slices; every person arrives exactly
/// once, in id order, with all of their history, across slice boundaries.
#[test]
fn a_full_scan_visits_every_person_once_in_order_across_slices() {
    let store = DuckDbStore::open_in_memory().unwrap();
    let start = chrono::DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().to_utc();
    let persons = 45_001u64;
    let events = (0..persons * 2)
        .map(|n| {
            let ts = start + chrono::Duration::seconds(n as i64);
            conformance::event(
                &format!("e{n}"),
                &format!("p{:06}", n % persons),
                cohort_model::EventName::CheckedIn,
                ts,
            )
        })
        .collect();
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&cohort_model::Batch { events, ..Default::default() }).unwrap();
    txn.commit(persons * 2).unwrap();

    let mut seen = Vec::new();
    store
        .scan_histories(&mut |h| {
            assert_eq!(h.events.len(), 2, "{} has both of their events", h.person_id);
            assert!(h.events.iter().all(|e| e.person_id.as_ref() == Some(&h.person_id)));
            seen.push(h.person_id.to_string());
            Ok(())
        })
        .unwrap();
    assert_eq!(seen.len() as u64, persons);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "strictly increasing person ids");
}
