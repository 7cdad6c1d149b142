//! The tag and audience storage contract, run against the DuckDB store and
//! the in-memory reference with the same assertions.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cohort_duckdb::DuckDbStore;
use cohort_model::{Batch, Event, EventId, EventName, PersonId};
use cohort_store::{
    AudienceStore, EventStore, MemoryAudienceStore, MemoryStore, StoredAudience, StoredTagRule, TagChange,
    TagChangeKind, WriteSource,
};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn p(id: &str) -> PersonId {
    PersonId::new(id).unwrap()
}

fn change(person: &str, tag: &str, kind: TagChangeKind, when: DateTime<Utc>) -> TagChange {
    TagChange { person_id: p(person), tag: tag.into(), change: kind, at: when, source: "test".into() }
}

fn seed(events: &dyn EventStore) {
    let mut batch = Batch::default();
    for i in 0..5 {
        batch.events.push(Event::new(
            EventId::new(format!("e{i}")).unwrap(),
            Some(p("p1")),
            EventName::ProductViewed,
            at("2025-03-01T00:00:00Z") + Duration::hours(i),
        ));
    }
    let mut txn = events.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(5).unwrap();
}

fn contract(store: &dyn AudienceStore) {
    let t0 = at("2025-03-01T00:00:00Z");
    let t1 = t0 + Duration::days(1);
    store
        .apply_tag_changes(&[
            change("p1", "new_parent", TagChangeKind::Gained, t0),
            change("p2", "app_first", TagChangeKind::Gained, t0),
            change("p1", "app_first", TagChangeKind::Gained, t0),
        ])
        .unwrap();
    store.apply_tag_changes(&[change("p1", "app_first", TagChangeKind::Lost, t1)]).unwrap();
    let tags: Vec<(String, String)> =
        store.person_tags(None).unwrap().into_iter().map(|t| (t.person_id.into_string(), t.tag)).collect();
    assert_eq!(tags, [("p1".to_string(), "new_parent".to_string()), ("p2".into(), "app_first".into())]);
    let mine = store.person_tags(Some(&p("p1"))).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].since, t0);
    let history = store.tag_history(Some(&p("p1")), 10).unwrap();
    let kinds: Vec<(&str, TagChangeKind)> = history.iter().map(|c| (c.tag.as_str(), c.change)).collect();
    assert_eq!(
        kinds,
        [
            ("new_parent", TagChangeKind::Gained),
            ("app_first", TagChangeKind::Gained),
            ("app_first", TagChangeKind::Lost)
        ]
    );
    assert_eq!(store.tag_history(None, 2).unwrap().len(), 2, "the two most recent");
    assert_eq!(store.tag_history(None, 2).unwrap()[1].at, t1);

    let rule = StoredTagRule {
        name: "vip".into(),
        description: "d".into(),
        condition: "count(orders) > 3".into(),
        updated_at: t0,
    };
    store.put_tag_rule(&rule).unwrap();
    store.put_tag_rule(&StoredTagRule { condition: "count(orders) > 4".into(), ..rule.clone() }).unwrap();
    assert_eq!(store.tag_rules().unwrap().len(), 1);
    assert_eq!(store.tag_rules().unwrap()[0].condition, "count(orders) > 4");
    assert!(store.delete_tag_rule("vip").unwrap());
    assert!(!store.delete_tag_rule("vip").unwrap());

    let audience = StoredAudience {
        id: "parents".into(),
        name: "Parents".into(),
        description: String::new(),
        filter: "tag(\"new_parent\")".into(),
        kind: "static".into(),
        created_at: t1,
    };
    store.put_audience(&audience, Some(&[p("p3"), p("p1")])).unwrap();
    assert_eq!(store.audiences().unwrap(), std::slice::from_ref(&audience));
    assert_eq!(store.audience_snapshot("parents").unwrap(), [p("p1"), p("p3")]);
    store.put_audience(&audience, Some(&[p("p2")])).unwrap();
    assert_eq!(store.audience_snapshot("parents").unwrap(), [p("p2")], "a new snapshot replaces the old");
    assert!(store.delete_audience("parents").unwrap());
    assert!(store.audience_snapshot("parents").unwrap().is_empty());

    let recent = store.recent_events(&p("p1"), 2).unwrap();
    let ids: Vec<&str> = recent.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e4", "e3"], "newest first");
}

#[test]
fn duckdb_keeps_tags_history_rules_and_audiences() {
    let store = DuckDbStore::open_in_memory().unwrap();
    seed(&store);
    contract(&store);
    assert!(AudienceStore::person_scores(&store, &p("p1")).unwrap().iter().all(|row| row["person_id"] == "p1"));
}

#[test]
fn memory_reference_passes_the_same_contract() {
    let events = Arc::new(MemoryStore::default());
    seed(events.as_ref());
    contract(&MemoryAudienceStore::new(events));
}

#[test]
fn person_scores_rows_come_back_whole_when_the_table_exists() {
    let store = DuckDbStore::open_in_memory().unwrap();
    let conn = store.connection().unwrap();
    // Whatever the scores table holds (its owner may add columns), rows come back as objects.
    conn.execute_batch(
        "DROP TABLE IF EXISTS person_scores;
         CREATE TABLE person_scores (person_id VARCHAR NOT NULL, model VARCHAR NOT NULL, score DOUBLE NOT NULL);
         INSERT INTO person_scores (person_id, model, score) VALUES ('p1', 'churn', 0.25), ('p1', 'clv', 1200.5), ('p2', 'churn', 0.9);",
    )
    .unwrap();
    let rows = AudienceStore::person_scores(&store, &p("p1")).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["model"], "churn");
    assert_eq!(rows[0]["score"], 0.25);
    assert_eq!(rows[1]["score"], 1200.5);
}
