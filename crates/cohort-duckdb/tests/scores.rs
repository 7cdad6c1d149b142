//! `person_scores`: replace one model's rows atomically, read per person and
//! per model ordered by score.

use chrono::{DateTime, Utc};
use cohort_duckdb::{DuckDbStore, ScoreOrder, ScoreQuery, ScoreRow};
use cohort_model::PersonId;
use serde_json::json;

fn pid(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}

fn row(p: &str, score: f64, label: Option<&str>, detail: serde_json::Value) -> ScoreRow {
    ScoreRow { person_id: pid(p), score, label: label.map(str::to_string), detail }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

#[test]
fn replace_read_per_person_and_per_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = DuckDbStore::open(dir.path()).unwrap();
    let t1 = at("2026-01-02T03:04:05.123456Z");
    let churn = vec![
        row("alice", 91.5, Some("high"), json!({"top": [{"feature": "recency_days", "contribution": 1.25}]})),
        row("bob", 12.0, Some("low"), json!(null)),
        row("carol", 80.0, None, json!({"top": []})),
        row("dave", 80.0, Some("high"), json!({})),
    ];
    assert_eq!(store.replace_scores("churn", t1, &churn).unwrap(), 4);
    let cluster = vec![row("alice", 2.0, Some("night owls 22:00–02:00"), json!({"cluster": 2}))];
    store.replace_scores("cluster", t1, &cluster).unwrap();

    // Per person: every model, by model name.
    let alice = store.person_scores(&pid("alice")).unwrap();
    assert_eq!(alice.iter().map(|s| s.model.as_str()).collect::<Vec<_>>(), ["churn", "cluster"]);
    assert_eq!(alice[0].score, 91.5);
    assert_eq!(alice[0].computed_at, t1, "microsecond instant round-trips");
    assert_eq!(alice[0].detail["top"][0]["contribution"], json!(1.25));
    assert_eq!(alice[1].label.as_deref(), Some("night owls 22:00–02:00"));
    let bob = store.person_score(&pid("bob"), "churn").unwrap().unwrap();
    assert_eq!(bob.detail, serde_json::Value::Null);
    assert!(store.person_score(&pid("bob"), "cluster").unwrap().is_none());

    // Per model: ordered by score, ties by person id, floor and limit.
    let high = store.model_scores("churn", ScoreQuery { min_score: Some(80.0), ..Default::default() }).unwrap();
    assert_eq!(high.iter().map(|s| s.person_id.as_str()).collect::<Vec<_>>(), ["alice", "carol", "dave"]);
    let low = store
        .model_scores("churn", ScoreQuery { order: ScoreOrder::Ascending, limit: Some(2), min_score: None })
        .unwrap();
    assert_eq!(low.iter().map(|s| s.person_id.as_str()).collect::<Vec<_>>(), ["bob", "carol"]);
    assert_eq!(store.count_scores("churn").unwrap(), 4);

    // Replacing one model leaves the others alone, and survives a reopen.
    let t2 = at("2026-02-01T00:00:00Z");
    store.replace_scores("churn", t2, &[row("erin", 55.0, None, json!(null))]).unwrap();
    drop(store);
    let store = DuckDbStore::open(dir.path()).unwrap();
    assert_eq!(store.count_scores("churn").unwrap(), 1);
    assert_eq!(store.count_scores("cluster").unwrap(), 1);
    assert_eq!(store.person_score(&pid("erin"), "churn").unwrap().unwrap().computed_at, t2);
    assert!(store.person_score(&pid("alice"), "churn").unwrap().is_none());
}

#[test]
fn a_failed_replace_keeps_the_old_rows() {
    let store = DuckDbStore::open_in_memory().unwrap();
    let t = at("2026-01-01T00:00:00Z");
    store.replace_scores("clv", t, &[row("alice", 10.0, None, json!(null))]).unwrap();
    // The same person twice violates the primary key: nothing changes.
    let dup = [row("bob", 1.0, None, json!(null)), row("bob", 2.0, None, json!(null))];
    assert!(store.replace_scores("clv", t, &dup).is_err());
    let rows = store.model_scores("clv", ScoreQuery::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].person_id.as_str(), "alice");
    // Non-finite scores and blank model names are refused up front.
    let err = store.replace_scores("clv", t, &[row("bob", f64::NAN, None, json!(null))]).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    assert!(store.replace_scores(" ", t, &[]).is_err());
    assert_eq!(store.count_scores("clv").unwrap(), 1);
}
