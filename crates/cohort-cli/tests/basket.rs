//! `cohort basket` with the real binary: a transactions file with
//! hand-computed rules, then a generated shop at product and category level,
//! per order and per person.

mod common;
use common::{cohort, ok};

#[test]
fn basket_rules_from_a_file_and_a_generated_shop() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");

    // The textbook baskets: at support 0.6, confidence 0.8 only beer ⇒ diapers (3/3, lift 1.25).
    let file = dir.path().join("baskets.csv");
    std::fs::write(
        &file,
        "bread,milk\nbread,diapers,beer,eggs\nmilk,diapers,beer,cola\nbread,milk,diapers,beer\nbread,milk,diapers,cola\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let json = ok(&store, &["basket", "--file", file, "--min-support", "0.6", "--min-confidence", "0.8", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((report["baskets"].as_u64(), report["itemsets"].as_u64()), (Some(5), Some(8)), "{json}");
    assert_eq!(report["rules_total"], 1);
    let rule = &report["rules"][0];
    assert_eq!((rule["antecedent"][0].as_str(), rule["consequent"][0].as_str()), (Some("beer"), Some("diapers")));
    assert!((rule["lift"].as_f64().unwrap() - 1.25).abs() < 1e-12);
    assert!(rule["conviction"].is_null(), "confidence 1: infinite conviction");
    let text =
        ok(&store, &["basket", "--file", file, "--min-support", "0.6", "--min-confidence", "0.5", "--item", "diapers"]);
    assert!(text.contains("beer ⇒ diapers") && text.contains("customers who bought diapers also bought"), "{text}");

    let bad = cohort(&store, &["basket", "--file", file, "--min-support", "1.5"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1.5"));

    ok(&store, &["generate", "--users", "2000", "--days", "90"]);
    let mut seen = Vec::new();
    for (level, per) in [("product", "order"), ("category", "order"), ("product", "user")] {
        let args = [
            "basket",
            "--min-support",
            "0.002",
            "--min-confidence",
            "0.05",
            "--level",
            level,
            "--per",
            per,
            "--top",
            "5",
            "--json",
        ];
        let json = ok(&store, &args);
        let report: serde_json::Value = serde_json::from_str(&json).unwrap();
        let baskets = report["baskets"].as_u64().unwrap();
        assert!(baskets > 0, "{level}/{per}: {json}");
        assert!(report["itemsets"].as_u64().unwrap() > 0);
        let rules = report["rules"].as_array().unwrap();
        assert!(rules.len() <= 5);
        for pair in rules.windows(2) {
            assert!(pair[0]["lift"].as_f64() >= pair[1]["lift"].as_f64(), "ranked by lift: {json}");
        }
        for rule in rules {
            assert!(rule["confidence"].as_f64().unwrap() >= 0.05);
            assert!(rule["support"].as_f64().unwrap() >= 0.002);
        }
        if level == "product" && per == "order" {
            let bundles = report["bundles"].as_array().unwrap();
            assert!(bundles.iter().all(|b| b["lift"].as_f64().unwrap() >= 1.0 && b["price_fen"].as_i64().is_some()));
        }
        let mut again: serde_json::Value = serde_json::from_str(&ok(&store, &args)).unwrap();
        again["mining_ms"] = report["mining_ms"].clone();
        assert_eq!(again, report, "deterministic");
        seen.push(baskets);
    }
    assert_eq!(seen[0], seen[1], "every order has a category");
    assert!(seen[2] < seen[0], "fewer people than orders");
}
