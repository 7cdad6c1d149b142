//! `cohort reviews` with the real binary: train on a small labelled file
//! (model saved beside the store), evaluate, classify texts, then score the
//! people of a generated shop and save its topic report.

mod common;
use common::ok;

#[test]
fn reviews_train_classify_score_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let file = dir.path().join("labelled.csv");
    let mut csv = String::from("cat,label,review\n");
    for i in 0..20 {
        csv.push_str(&format!("衣服,1,质量很好，很喜欢，推荐{i}\n衣服,0,太差了，不喜欢，失望{i}\n"));
    }
    std::fs::write(&file, csv).unwrap();
    let file = file.to_str().unwrap();

    let json = ok(&store, &["reviews", "train", "--data", file, "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    // 20 per (category, label) stratum, 20% held out: 4 + 4.
    assert_eq!(report["train_reviews"], 32, "{json}");
    assert_eq!(report["evaluation"]["reviews"], 8, "{json}");
    assert_eq!(report["evaluation"]["accuracy"], 1.0, "{json}");
    assert!(store.join("sentiment.model.json.gz").exists());
    let eval: serde_json::Value =
        serde_json::from_str(&ok(&store, &["reviews", "eval", "--data", file, "--json"])).unwrap();
    assert_eq!(eval["accuracy"], 1.0);

    let json = ok(&store, &["reviews", "classify", "质量很好，很喜欢", "太差了，物流太慢", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((out[0]["positive"].as_bool(), out[1]["positive"].as_bool()), (Some(true), Some(false)), "{json}");
    assert_eq!(out[1]["topics"], serde_json::json!(["logistics"]));

    ok(&store, &["generate", "--users", "2000", "--days", "90"]);
    let score: serde_json::Value = serde_json::from_str(&ok(&store, &["reviews", "score", "--json"])).unwrap();
    assert!(score["people"].as_u64().unwrap() > 20, "{score}");
    assert!(score["reviews"].as_u64().unwrap() >= score["people"].as_u64().unwrap());
    let topics: serde_json::Value = serde_json::from_str(&ok(&store, &["reviews", "topics", "--json"])).unwrap();
    let total = topics["negatives"].as_u64().unwrap() + topics["positives"].as_u64().unwrap();
    assert_eq!(total, score["reviews"].as_u64().unwrap(), "every scored review is in the topic report");
    assert!(store.join("sentiment.topics.json").exists());
    let text = ok(&store, &["reviews", "topics", "--data", file]);
    assert!(text.contains("20 bad and 20 good reviews"), "{text}");
}
