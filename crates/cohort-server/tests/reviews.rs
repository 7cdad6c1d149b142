//! The review routes over real HTTP: 503 before a model is trained, a toy
//! model classifies and names topics, bad bodies are named, write keys are
//! refused, and the saved topic report is served.

use std::sync::Arc;

use cohort_mining::reviews::{LabelledReview, Segmenter, SentimentModel, TrainSettings, MODEL_FILE, TOPICS_FILE};
use cohort_model::ShopTime;
use cohort_server::{basic_auth, Server, ServerConfig, Services};
use cohort_store::{EventStore, MemoryStore};
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

async fn post(server: &Server, key: &str, body: Value) -> (u16, Value) {
    let url = format!("http://{}/v1/reviews/classify", server.addr());
    let r = reqwest::Client::new().post(url).header("authorization", basic_auth(key)).json(&body).send().await;
    let r = r.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn topics(server: &Server) -> (u16, Value) {
    let url = format!("http://{}/v1/reviews/topics", server.addr());
    let r = reqwest::Client::new().get(url).header("authorization", basic_auth(ADMIN_KEY)).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classify_and_topics_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let services = Services { reviews_dir: Some(dir.path().to_path_buf()), ..Services::default() };
    let server =
        Server::start_with(config, ShopTime::default(), store, services, std::future::pending()).await.unwrap();

    let (status, body) = post(&server, ADMIN_KEY, json!({"text": "很好"})).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("sentiment_disabled")), "{body}");
    assert_eq!(topics(&server).await.0, 503);

    let mut corpus = Vec::new();
    for i in 0..20 {
        corpus.push(LabelledReview::new("衣服", true, &format!("质量很好，很喜欢{i}")));
        corpus.push(LabelledReview::new("衣服", false, &format!("太差了，不喜欢{i}")));
    }
    let model = SentimentModel::train(&corpus, TrainSettings::default(), Segmenter::shared()).unwrap();
    model.save(&dir.path().join(MODEL_FILE)).unwrap();

    let (status, body) = post(&server, ADMIN_KEY, json!({"texts": ["质量很好，很喜欢", "太差了，物流太慢"]})).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["positive"], true);
    assert_eq!(results[1]["positive"], false);
    assert_eq!(results[1]["topics"], json!(["logistics"]));
    assert_eq!(results[0]["topics"], json!(["quality"]));

    let (status, body) = post(&server, ADMIN_KEY, json!({"text": "a", "texts": ["b"]})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("exactly one"), "{body}");
    let (status, body) = post(&server, ADMIN_KEY, json!({"texts": []})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&server, WRITE_KEY, json!({"text": "很好"})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_role")), "{body}");

    std::fs::write(dir.path().join(TOPICS_FILE), r#"{"negatives": 3, "topics": []}"#).unwrap();
    let (status, body) = topics(&server).await;
    assert_eq!((status, body["negatives"].as_u64()), (200, Some(3)), "{body}");
}
