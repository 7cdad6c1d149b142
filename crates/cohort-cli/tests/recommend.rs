//! `cohort recommend` with the real binary on a generated shop: train saves
//! a model beside the store, `for` and `similar` serve from it, `eval`
//! prints every source against the popularity baseline.

mod common;
use common::{cohort, ok};

#[test]
fn train_serve_and_evaluate_on_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out = cohort(&store, &["recommend", "for", "u00000001"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cohort recommend train"), "asks to train first");

    ok(&store, &["generate", "--users", "800", "--days", "90"]);
    let trained = ok(&store, &["recommend", "train"]);
    assert!(trained.contains("model saved to"), "{trained}");
    assert!(store.join(cohort_recommend::MODEL_FILE).exists(), "model file beside the store");

    // The first generated user with a recommendation list.
    let json = ok(&store, &["recommend", "for", "u00000001", "--placement", "home", "-n", "10", "--json"]);
    let list: Vec<cohort_recommend::Recommendation> = serde_json::from_str(&json).unwrap();
    assert_eq!(list.len(), 10, "{json}");
    let first = list[0].product_id.to_string();
    let table = ok(&store, &["recommend", "for", "u00000001", "-n", "5"]);
    assert!(table.contains(&first) && table.contains("source"), "{table}");
    let similar = ok(&store, &["recommend", "similar", &first, "-n", "5", "--json"]);
    let similar: Vec<cohort_recommend::Recommendation> = serde_json::from_str(&similar).unwrap();
    assert!(!similar.is_empty() && similar.iter().all(|r| r.product_id.as_str() != first));
    let cart = ok(&store, &["recommend", "for", "u00000001", "--placement", "cart", "--items", &first, "--json"]);
    assert!(!cart.contains(&format!("\"{first}\"")), "cart items never come back: {cart}");
    let bad = cohort(&store, &["recommend", "for", "u00000001", "--placement", "basement"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("basement"));

    let eval = ok(&store, &["recommend", "eval", "--test-days", "20", "-k", "10"]);
    for source in ["popularity_baseline", "co_occurrence", "als", "content", "hybrid", "NDCG@10"] {
        assert!(eval.contains(source), "{eval}");
    }
    let json = ok(&store, &["recommend", "eval", "--test-days", "20", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["rows"].as_array().unwrap().len(), 6);
    assert!(report["people"].as_u64().unwrap() > 0);
}
