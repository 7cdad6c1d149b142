//! The routes behind the console's segments, basket, audience export and
//! jobs pages, on a real server over a hand-built DuckDB shop of four
//! buyers and five orders:
//!
//! | order | person | day (before now) | products | total (fen) |
//! |---|---|---|---|---|
//! | o1 | p1 | 30 | A, B | 10,000 |
//! | o2 | p2 | 10 | A, B, C | 12,345 |
//! | o3 | p3 | 10 | A, C | 6,789 |
//! | o4 | p4 | 40 | B | 2,500 |
//! | o5 | p1 | 2 | A, B | 5,000 |
//!
//! Supports: A 4/5, B 4/5, C 2/5, AB 3/5, AC 2/5, BC 1/5. At support ≥ 0.4
//! the rules are C ⇒ A (confidence 1, lift 1 / 0.8 = 1.25), A ⇒ C (0.5,
//! 1.25), A ⇒ B and B ⇒ A (0.75, 0.75 / 0.8 = 0.9375).
//!
//! RFM among the four buyers (score = 1 + ⌊5 × worse / 4⌋): p1 (2 days,
//! 2 orders) R4 F4; p2 and p3 (10 days, 1 order) R2 F1; p4 (40 days) R1 F1.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use cohort_analytics::KpiTargets;
use cohort_duckdb::DuckDbStore;
use cohort_insight::{compute_profiles, InsightConfig};
use cohort_model::{
    Batch, Money, Order, OrderId, OrderKind, OrderLine, PersonId, ProductId, ShopTime, SystemClock, User, UserId,
};
use cohort_server::keys::{self, Role};
use cohort_server::{basic_auth, AnalyticsService, AudienceService, Server, ServerConfig, Services};
use cohort_store::{EventStore, WriteSource};
use serde_json::{json, Value};

const ADMIN_KEY: &str = "ak_secret";
const WRITE_KEY: &str = "wk_public";

fn order(id: &str, person: &str, days_ago: i64, products: &[&str], total: i64) -> Order {
    Order {
        id: OrderId::new(id).unwrap(),
        kind: OrderKind::Purchase,
        person_id: Some(PersonId::new(person).unwrap()),
        user_id: Some(UserId::new(person).unwrap()),
        anonymous_id: None,
        placed_at: Utc::now() - Days::days(days_ago),
        platform: None,
        channel: None,
        total: Money::from_fen(total),
        discount: Money::ZERO,
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties: Default::default(),
        lines: products
            .iter()
            .enumerate()
            .map(|(i, p)| OrderLine {
                line_no: i as u32,
                product_id: ProductId::new(*p).unwrap(),
                quantity: 1,
                unit_price: Money::from_fen(total / products.len() as i64),
                category: None,
            })
            .collect(),
    }
}

struct Running {
    server: Server,
    client: reqwest::Client,
    pii_key: String,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = self.raw(method, path, key, body).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn raw(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, String) {
        let url = format!("http://{}{path}", self.server.addr());
        let mut request = if method == "GET" { self.client.get(url) } else { self.client.post(url) };
        request = request.header("authorization", basic_auth(key));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Polls a job until it stops running.
    async fn finished(&self, id: u64) -> Value {
        for _ in 0..600 {
            let (status, job) = self.call("GET", &format!("/v1/jobs/{id}"), ADMIN_KEY, None).await;
            assert_eq!(status, 200, "{job}");
            if job["state"] != "running" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("job {id} still running after 30 s");
    }
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DuckDbStore::open(dir.path()).unwrap());
    let mut batch = Batch {
        orders: vec![
            order("o1", "p1", 30, &["A", "B"], 10_000),
            order("o2", "p2", 10, &["A", "B", "C"], 12_345),
            order("o3", "p3", 10, &["A", "C"], 6_789),
            order("o4", "p4", 40, &["B"], 2_500),
            order("o5", "p1", 2, &["A", "B"], 5_000),
        ],
        ..Batch::default()
    };
    for (i, id) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
        let mut u = User::new(UserId::new(*id).unwrap());
        u.phone = Some(format!("1381234567{}", i + 1));
        u.city = Some("上海".into());
        batch.users.push(u);
    }
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(0).unwrap();
    compute_profiles(store.as_ref(), Utc::now(), &InsightConfig::default(), &mut |_| {}).unwrap();

    let file = dir.path().join(keys::KEYS_FILE);
    let (_, pii_key) = keys::create(&file, Role::AdminPii, Some("crm".into())).unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let shop = ShopTime::default();
    let events: Arc<dyn EventStore> = store.clone();
    let analytics = Arc::new(AnalyticsService::new(store.clone(), shop, KpiTargets::default()));
    let audience = AudienceService::start(events.clone(), store, Vec::new(), shop, Arc::new(SystemClock)).unwrap();
    let services =
        Services { analytics: Some(analytics), audience: Some(audience), keys_file: Some(file), ..Services::default() };
    let server = Server::start_with(config, shop, events, services, std::future::pending()).await.unwrap();
    Running { server, client: reqwest::Client::new(), pii_key, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basket_rules_match_the_hand_counts() {
    let s = start().await;
    let (status, body) =
        s.call("GET", "/v1/basket/rules?min_support=0.4&min_confidence=0.5&min_lift=1", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["baskets"].as_u64(), body["items"].as_u64()), (Some(5), Some(3)));
    assert_eq!(body["min_count"], 2);
    assert_eq!(body["itemsets"], 5, "A, B, C, AB, AC");
    assert_eq!(body["itemsets_by_size"], json!([3, 2]));
    assert_eq!(body["rules_total"], 2, "C ⇒ A and A ⇒ C pass lift 1; A ⇔ B (lift 0.9375) do not");
    let r = &body["rules"];
    assert_eq!((r[0]["antecedent"].clone(), r[0]["consequent"].clone()), (json!(["C"]), json!(["A"])));
    assert_eq!((r[0]["count"].as_u64(), r[0]["support"].as_f64()), (Some(2), Some(0.4)));
    assert_eq!((r[0]["confidence"].as_f64(), r[0]["conviction"].clone()), (Some(1.0), Value::Null));
    assert!((r[0]["lift"].as_f64().unwrap() - 1.25).abs() < 1e-12, "{body}");
    assert_eq!((r[1]["antecedent"].clone(), r[1]["consequent"].clone()), (json!(["A"]), json!(["C"])));
    assert_eq!(r[1]["confidence"], 0.5);
    assert!((r[1]["conviction"].as_f64().unwrap() - 1.2).abs() < 1e-12, "(1 − 0.4) / (1 − 0.5): {body}");

    // Without a lift floor, confidence ≥ 0.6 keeps C ⇒ A, A ⇒ B and B ⇒ A; top 1 lists the first.
    let (_, body) = s.call("GET", "/v1/basket/rules?min_support=0.4&min_confidence=0.6&top=1", ADMIN_KEY, None).await;
    assert_eq!(body["rules_total"], 3, "{body}");
    assert_eq!(body["rules"].as_array().unwrap().len(), 1);
    let (_, body) = s.call("GET", "/v1/basket/rules?min_support=0.4&min_confidence=0.7", ADMIN_KEY, None).await;
    assert!((body["rules"][1]["lift"].as_f64().unwrap() - 0.9375).abs() < 1e-12, "{body}");

    for (query, field) in
        [("min_support=0", "min_support"), ("min_confidence=2", "min_confidence"), ("top=x", "top"), ("lift=1", "lift")]
    {
        let (status, body) = s.call("GET", &format!("/v1/basket/rules?{query}"), ADMIN_KEY, None).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{query}: {body}");
        assert!(body["message"].as_str().unwrap().contains(field), "{query}: {body}");
    }
    let (status, _) = s.call("GET", "/v1/basket/rules", WRITE_KEY, None).await;
    assert_eq!(status, 403, "a write key cannot mine orders");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_carry_the_rfm_grid() {
    let s = start().await;
    let (status, body) = s.call("GET", "/v1/segments", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rfm_scored"], 4);
    let grid = body["rfm_grid"].as_array().unwrap();
    assert_eq!(grid.len(), 25);
    assert_eq!((grid[0]["recency"].as_u64(), grid[0]["frequency"].as_u64()), (Some(5), Some(1)), "R5 first");
    let cell = |r: u64, f: u64| grid.iter().find(|c| c["recency"] == r && c["frequency"] == f).unwrap().clone();
    assert_eq!(cell(4, 4)["persons"], 1);
    assert_eq!(cell(4, 4)["avg_monetary_fen"], 15_000, "p1: 10,000 + 5,000");
    assert_eq!(cell(4, 4)["segment"], "loyal_customers");
    assert_eq!(cell(2, 1)["persons"], 2);
    assert_eq!(cell(2, 1)["avg_monetary_fen"], 9_567, "(12,345 + 6,789) / 2");
    assert_eq!(cell(1, 1)["avg_monetary_fen"], 2_500);
    assert_eq!(cell(5, 5)["persons"], 0);
    assert_eq!(cell(5, 5)["avg_monetary_fen"], Value::Null);
    assert_eq!(grid.iter().map(|c| c["persons"].as_u64().unwrap()).sum::<u64>(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_count_who_moved_between_two_days() {
    // Lifecycle 20 days ago → today (no registration dates: registered = first activity):
    // p1 active (10 days idle) → active (2); p2, p3 known but never active → churned, then
    // active (10 days); p4 active (20 days) → silent_light (40 days).
    let s = start().await;
    let today = ShopTime::default().date(Utc::now());
    let from = today - Days::days(20);
    let path = format!("/v1/segments/transitions?from={from}&to={today}&dimension=lifecycle");
    let (status, body) = s.call("GET", &path, ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["persons"].as_u64(), body["stayed"].as_u64()), (Some(4), Some(1)), "{body}");
    assert_eq!(
        body["cells"],
        json!([
            {"from": "active", "to": "active", "persons": 1},
            {"from": "active", "to": "silent_light", "persons": 1},
            {"from": "churned", "to": "active", "persons": 2},
        ]),
        "{body}"
    );
    assert_eq!(body["from_segments"][0], "not_known");
    // Value tiers: the four are counted once each on the later day.
    let (_, body) = s.call("GET", &format!("/v1/segments/transitions?from={from}&to={today}"), ADMIN_KEY, None).await;
    let total: u64 = body["cells"].as_array().unwrap().iter().map(|c| c["persons"].as_u64().unwrap()).sum();
    assert_eq!((body["dimension"].as_str(), total), (Some("value_tier"), 4), "{body}");
    let (status, body) =
        s.call("GET", &format!("/v1/segments/transitions?from={today}&to={from}"), ADMIN_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("must be before to"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_export_as_csv_and_ndjson_with_pii_by_role() {
    let s = start().await;
    let filter = "count(orders, 90d) >= 1 and user.city = \"上海\"";
    let (status, body) = s
        .call("POST", "/v1/audiences", ADMIN_KEY, Some(json!({"id": "buyers", "filter": filter, "kind": "static"})))
        .await;
    assert_eq!((status, body["size"].as_u64()), (201, Some(4)), "{body}");

    let (status, csv) = s.raw("GET", "/v1/audiences/buyers/export?format=csv", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{csv}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "a header and four members: {csv}");
    assert_eq!(lines[0], "person_id,phone,city,gender,value_tier,lifecycle,behaviour,tags");
    assert!(lines[1].starts_with("p1,138****5671,上海,"), "{csv}");
    assert!(lines[4].starts_with("p4,138****5674,"), "{csv}");

    let (status, ndjson) = s.raw("GET", "/v1/audiences/buyers/export?format=ndjson", &s.pii_key, None).await;
    assert_eq!(status, 200);
    let rows: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4);
    assert_eq!((rows[1]["person_id"].as_str(), rows[1]["phone"].as_str()), (Some("p2"), Some("13812345672")));

    let url = format!("http://{}/v1/audiences/buyers/export", s.server.addr());
    let response = s.client.get(url).header("authorization", basic_auth(ADMIN_KEY)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8", "CSV by default");
    assert_eq!(response.headers()["content-disposition"], "attachment; filename=\"audience-buyers.csv\"");
    let (status, body) = s.call("GET", "/v1/audiences/buyers/export?format=xml", ADMIN_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    let (status, body) = s.call("GET", "/v1/audiences/nobody/export", ADMIN_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_jobs_report_stages_and_finish() {
    let s = start().await;
    let (status, job) = s.call("POST", "/v1/jobs/train", ADMIN_KEY, Some(json!({"model": "clusters", "k": 2}))).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!((job["kind"].as_str(), job["steps"].as_u64()), (Some("train_clusters"), Some(4)));
    // Four buyers are too few to cluster: the job fails at its second stage with the engine's reason.
    let job = s.finished(job["id"].as_u64().unwrap()).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!((job["step"].as_u64(), job["stage"].as_str()), (Some(2), Some("fitting")), "{job}");
    assert_eq!(
        job["message"], "clustering needs at least 10 buyers with profiles (got 4); run `cohort compute` first",
        "{job}"
    );
    let (status, model) = s.call("GET", "/v1/clusters", ADMIN_KEY, None).await;
    assert_eq!((status, model["code"].as_str()), (404, Some("model_not_trained")), "no model saved: {model}");

    // Replenishment on four one-off buyers: no consumables, an empty table, done.
    let body = json!({"model": "replenishment", "as_of": "2025-08-20"});
    let (status, job) = s.call("POST", "/v1/jobs/train", ADMIN_KEY, Some(body)).await;
    assert_eq!(status, 202, "{job}");
    let job = s.finished(job["id"].as_u64().unwrap()).await;
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["message"], "0 consumables; 0 people stored as of 2025-08-20");
    assert_eq!((job["step"].as_u64(), job["steps"].as_u64()), (Some(2), Some(2)));
    assert_eq!(job["stage"], "storing scores");

    // Churn at a given cut-off: four buyers are too few, and the reason names that cut-off.
    let body = json!({"model": "churn", "cut_off": "2025-03-01", "horizon_days": 30});
    let (status, job) = s.call("POST", "/v1/jobs/train", ADMIN_KEY, Some(body)).await;
    assert_eq!(status, 202, "{job}");
    let job = s.finished(job["id"].as_u64().unwrap()).await;
    assert_eq!((job["state"].as_str(), job["step"].as_u64()), (Some("failed"), Some(2)), "{job}");
    // Midnight of 2025-03-01 in Shanghai is 2025-02-28 16:00 UTC, the date the engine prints.
    assert!(job["message"].as_str().unwrap().starts_with("churn training set at 2025-02-28: 0 eligible"), "{job}");

    let (_, list) = s.call("GET", "/v1/jobs", ADMIN_KEY, None).await;
    let kinds: Vec<&str> = list["jobs"].as_array().unwrap().iter().map(|j| j["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["train_churn", "train_replenishment", "train_clusters"], "newest first");

    for (body, field) in [
        (json!({"model": "lda"}), "model"),
        (json!({"model": "clv", "k": 3}), "k"),
        (json!({"model": "churn", "horizon_days": 0}), "horizon_days"),
        (json!({"model": "clv", "as_of": "20 Aug"}), "body"),
    ] {
        let (status, answer) = s.call("POST", "/v1/jobs/train", ADMIN_KEY, Some(body.clone())).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_input")), "{body}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(field), "{body}: {answer}");
    }
    let (status, _) = s.call("POST", "/v1/jobs/train", WRITE_KEY, Some(json!({"model": "churn"}))).await;
    assert_eq!(status, 403);
    let (_, doc) = s.call("GET", "/openapi.json", ADMIN_KEY, None).await;
    for path in
        ["/v1/jobs/train", "/v1/jobs", "/v1/basket/rules", "/v1/audiences/{id}/export", "/v1/segments/transitions"]
    {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
}
