//! `cohort clusters` and `cohort churn` with the real binary on a generated
//! shop: models saved beside the store and reloaded, scores stored and
//! listed.

mod common;
use common::{cohort, ok};

#[test]
fn clusters_and_churn_on_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&store, &["generate", "--users", "1500", "--days", "240"]);
    ok(&store, &["compute"]);

    // Clusters: fitted once, saved, then loaded with the same names.
    let json = ok(&store, &["clusters", "--json"]);
    let model: serde_json::Value = serde_json::from_str(&json).unwrap();
    let k = model["k"].as_u64().unwrap();
    assert!((2..=8).contains(&k), "{json}");
    let names: Vec<String> =
        model["clusters"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len() as u64, k);
    assert!(store.join("clusters.model.json").exists());
    let text = ok(&store, &["clusters"]);
    assert!(names.iter().all(|n| text.contains(n.as_str())), "{text}");

    // Churn: nothing to list before scoring; train, score, list.
    let bad = cohort(&store, &["churn", "list"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cohort churn score"));
    let json = ok(&store, &["churn", "train", "--horizon-days", "60", "--json"]);
    let trained: serde_json::Value = serde_json::from_str(&json).unwrap();
    let auc = trained["evaluation"]["auc"].as_f64().unwrap();
    assert!(auc > 0.6, "generated-shop AUC {auc}");
    assert!(store.join("churn.model.json").exists());
    let text = ok(&store, &["churn", "score"]);
    assert!(text.contains("people scored"), "{text}");
    let json = ok(&store, &["churn", "list", "--min-risk", "0", "-n", "5", "--json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.len(), 5, "{json}");
    let risks: Vec<f64> = rows.iter().map(|r| r["risk"].as_f64().unwrap()).collect();
    assert!(risks.windows(2).all(|w| w[0] >= w[1]), "riskiest first: {risks:?}");
    assert!(rows[0]["detail"]["top_features"].is_array());
    // The high-risk list as an audience: the same people as `churn list`.
    let json = ok(&store, &["churn", "list", "--min-risk", "80", "-n", "100000", "--json"]);
    let high: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    ok(&store, &["audience", "create", "high-risk", "--filter", r#"score("churn") >= 80"#]);
    assert_eq!(ok(&store, &["audience", "size", "high-risk"]).trim(), high.len().to_string());
    let json = ok(&store, &["churn", "list", "--min-risk", "50", "-n", "100000", "--json"]);
    let some: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    ok(&store, &["audience", "create", "watch", "--filter", r#"score("churn") >= 50 and score("churn") < 80"#]);
    assert_eq!(ok(&store, &["audience", "size", "watch"]).trim(), (some.len() - high.len()).to_string());
    assert!(some.len() > high.len() && !high.is_empty(), "{} ≥ 50, {} ≥ 80", some.len(), high.len());
    let eval = ok(&store, &["churn", "eval", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&eval).unwrap();
    assert_eq!(report["threshold"], 80.0);
}
