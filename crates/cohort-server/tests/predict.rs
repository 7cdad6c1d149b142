//! Prediction routes on a real server over a DuckDB store on disk: the
//! high-risk churn list, the cluster model, one person's scores.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use cohort_analytics::KpiTargets;
use cohort_duckdb::{DuckDbStore, ScoreRow};
use cohort_model::{PersonId, ShopTime};
use cohort_server::{basic_auth, AnalyticsService, Server, ServerConfig, Services};
use cohort_store::EventStore;
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

async fn get(server: &Server, path: &str, key: &str) -> (u16, Value) {
    let url = format!("http://{}{path}", server.addr());
    let response = reqwest::Client::new().get(url).header("authorization", basic_auth(key)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn row(person: &str, score: f64, label: &str, detail: Value) -> ScoreRow {
    ScoreRow { person_id: PersonId::new(person).unwrap(), score, label: Some(label.into()), detail }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_risk_clusters_and_person_scores() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DuckDbStore::open(dir.path()).unwrap());
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let shop = ShopTime::default();
    let analytics = Some(Arc::new(AnalyticsService::new(store.clone(), shop, KpiTargets::default())));
    let events: Arc<dyn EventStore> = store.clone();
    let server =
        Server::start_with(config, shop, events, Services { analytics, ..Services::default() }, std::future::pending())
            .await
            .unwrap();

    // Before any model ran: 404 model_not_trained.
    let (status, body) = get(&server, "/v1/churn/high-risk", ADMIN_KEY).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("model_not_trained")), "{body}");
    let (status, body) = get(&server, "/v1/clusters", ADMIN_KEY).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("model_not_trained")), "{body}");

    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let top = json!({"top_features": [{"feature": "recency_days", "value": 4.2, "contribution": 1.1}]});
    let churn = [
        row("alice", 91.0, "high", top.clone()),
        row("bob", 85.5, "high", top.clone()),
        row("carol", 40.0, "medium", json!({"top_features": []})),
        row("dave", 80.0, "high", top),
    ];
    store.replace_scores("churn", at, &churn).unwrap();
    store.replace_scores("cluster", at, &[row("alice", 1.0, "night owls 22:00–02:00", json!({"cluster": 1}))]).unwrap();

    let (status, body) = get(&server, "/v1/churn/high-risk", ADMIN_KEY).await;
    assert_eq!(status, 200, "{body}");
    let people: Vec<&str> =
        body["people"].as_array().unwrap().iter().map(|p| p["person_id"].as_str().unwrap()).collect();
    assert_eq!(people, ["alice", "bob", "dave"], "riskiest first, >= 80 by default");
    assert_eq!(body["people"][0]["top_features"][0]["feature"], "recency_days");
    assert_eq!(body["people"][0]["band"], "high");
    let (_, body) = get(&server, "/v1/churn/high-risk?min_risk=30&limit=2", ADMIN_KEY).await;
    assert_eq!(body["count"], 2);
    let (status, body) = get(&server, "/v1/churn/high-risk?min_risk=120", ADMIN_KEY).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    let (status, _) = get(&server, "/v1/churn/high-risk", WRITE_KEY).await;
    assert_eq!(status, 403, "a write key cannot read risk scores");

    let (status, body) = get(&server, "/v1/people/alice/scores", ADMIN_KEY).await;
    assert_eq!(status, 200, "{body}");
    let models: Vec<&str> = body["scores"].as_array().unwrap().iter().map(|s| s["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["churn", "cluster"]);
    assert_eq!(body["scores"][1]["label"], "night owls 22:00–02:00");

    // A saved cluster model beside the store is served as it is.
    let model = json!({
        "fitted_on": null, "settings": {}, "k": 2, "chosen_by": "fixed", "silhouette_by_k": [[2, 0.5]],
        "features": ["night_share"], "standardiser": {"mean": [0.2], "std": [0.1]},
        "centroids": [[1.5], [-0.5]], "inertia": 3.0,
        "clusters": [
            {"id": 0, "name": "night owls 22:00–02:00", "size": 30, "share": 0.3, "peak_window": "22:00–02:00",
             "distinguishing": [{"feature": "night_share", "value": 0.35, "z": 1.5}], "centroid": []},
            {"id": 1, "name": "typical buyers", "size": 70, "share": 0.7, "peak_window": "12:00–16:00",
             "distinguishing": [], "centroid": []}
        ]
    });
    std::fs::write(dir.path().join(cohort_predict::cluster::MODEL_FILE), model.to_string()).unwrap();
    let (status, body) = get(&server, "/v1/clusters", ADMIN_KEY).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["k"], 2);
    assert_eq!(body["clusters"][0]["name"], "night owls 22:00–02:00");
    assert_eq!(body["clusters"][1]["size"], 70);
}
