//! `cohort clv` and `cohort replenish` with the real binary on a generated
//! shop (seed 42, 1,500 users, 240 days): scores stored and read back, the
//! model file beside the store, formula milk found as a consumable.

mod common;
use common::{cohort, ok};

#[test]
fn clv_and_replenishment_on_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&store, &["generate", "--users", "1500", "--days", "240"]);

    let bad = cohort(&store, &["clv", "top"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cohort clv fit"));

    let json = ok(&store, &["clv", "fit", "--json"]);
    let fit: serde_json::Value = serde_json::from_str(&json).unwrap();
    let model = &fit["model"];
    assert_eq!(model["as_of"], "2025-08-28", "{json}");
    assert_eq!(model["bgnbd"]["customers"], 618);
    assert_eq!(model["gamma_gamma"]["customers"], 243);
    assert_eq!(fit["scored"], 618);
    assert_eq!(model["bgnbd"]["converged"], true);
    assert_eq!(model["holdout"]["actual_total"], 230);
    assert!(store.join("clv.model.json").exists());

    let json = ok(&store, &["clv", "top", "-n", "3", "--json"]);
    let top: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(top.len(), 3);
    let first = top[0]["person_id"].as_str().unwrap();
    assert!(top[0]["clv_fen"].as_f64().unwrap() >= top[1]["clv_fen"].as_f64().unwrap());
    let p = top[0]["detail"]["p_alive"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&p));
    let shown: serde_json::Value = serde_json::from_str(&ok(&store, &["clv", "show", first, "--json"])).unwrap();
    assert_eq!(shown["clv_fen"], top[0]["clv_fen"]);
    assert!(!cohort(&store, &["clv", "show", "nobody"]).status.success());

    let json = ok(&store, &["replenish", "--as-of", "2025-08-28", "--due-within", "30", "--json"]);
    let r: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(r["consumables"], 2, "{json}");
    assert_eq!(r["people_stored"], 28);
    assert_eq!(r["items"][0]["item"], "p00073", "formula milk");
    assert_eq!(r["items"][0]["interval_days"], 31.5);
    assert_eq!(r["due"].as_array().unwrap().len(), 8);
    let person = r["due"][0]["person_id"].as_str().unwrap();
    let mine: serde_json::Value =
        serde_json::from_str(&ok(&store, &["replenish", "--as-of", "2025-08-28", "--user", person, "--json"])).unwrap();
    assert!(mine["items"].as_array().unwrap().iter().any(|i| i["run_out"] == r["due"][0]["run_out"]), "{mine}");
}
