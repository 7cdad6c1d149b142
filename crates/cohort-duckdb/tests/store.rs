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
