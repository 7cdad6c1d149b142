//! The recommendation routes over real HTTP: a tiny trained model gives
//! known lists, bad placements are named, write keys are refused, and the
//! routes answer 503 until a model is trained and reloaded.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use cohort_model::{Money, OrderId, PersonId, Product, ProductId, ShopTime};
use cohort_recommend::{Interaction, InteractionKind, NoProgress, RecommendConfig, Recommender};
use cohort_server::{basic_auth, Server, ServerConfig, Services};
use cohort_store::{EventStore, MemoryStore};
use serde_json::Value;

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

fn interaction(person: &str, item: &str, kind: InteractionKind, day: i64, order: Option<&str>) -> Interaction {
    Interaction {
        person: PersonId::new(person).unwrap(),
        product: ProductId::new(item).unwrap(),
        kind,
        at: Utc.with_ymd_and_hms(2024, 3, 1, 2, 0, 0).unwrap() + Duration::days(day),
        order: order.map(|o| OrderId::new(o).unwrap()),
    }
}

fn product(id: &str, category: &str, price_yuan: i64, consumable: bool) -> Product {
    let mut p = Product::new(ProductId::new(id).unwrap());
    p.category = Some(category.into());
    p.price = Some(Money::from_fen(price_yuan * 100));
    p.consumable = consumable;
    p
}

/// Two communities: 20 people buy phone + case, 20 buy nappies + wipes;
/// half of each also viewed the charger or the bottle.
fn model() -> Recommender {
    use InteractionKind::{Purchase, View};
    let mut v = Vec::new();
    for u in 0..20 {
        for (who, a, b, extra) in [("tech", "phone", "case", "charger"), ("baby", "nappies", "wipes", "bottle")] {
            let p = format!("{who}{u}");
            let order = format!("{who}-o{u}");
            v.push(interaction(&p, a, Purchase, u % 5, Some(&order)));
            v.push(interaction(&p, b, Purchase, u % 5, Some(&order)));
            if u % 2 == 0 {
                v.push(interaction(&p, extra, View, 6, None));
            }
        }
    }
    let products = vec![
        product("phone", "数码", 3000, false),
        product("case", "数码", 50, false),
        product("charger", "数码", 80, false),
        product("nappies", "母婴", 120, true),
        product("wipes", "母婴", 30, true),
        product("bottle", "母婴", 90, false),
    ];
    Recommender::train(&v, &products, &RecommendConfig::default(), None, &NoProgress).unwrap()
}

struct Running {
    server: Server,
    client: reqwest::Client,
}

impl Running {
    async fn call(&self, method: &str, path: &str, key: Option<&str>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.server.addr());
        let mut request = if method == "GET" { self.client.get(url) } else { self.client.post(url) };
        if let Some(key) = key {
            request = request.header("authorization", basic_auth(key));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, Some(ADMIN_KEY)).await
    }

    async fn call_json(&self, path: &str, body: Value) -> (u16, Value) {
        let url = format!("http://{}{path}", self.server.addr());
        let request = self.client.post(url).header("authorization", basic_auth(ADMIN_KEY)).json(&body);
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn start(services: Services) -> Running {
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let server =
        Server::start_with(config, ShopTime::default(), store, services, std::future::pending()).await.unwrap();
    Running { server, client: reqwest::Client::new() }
}

fn ids(body: &Value) -> Vec<&str> {
    body["items"].as_array().unwrap().iter().map(|i| i["product_id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trained_model_serves_known_lists() {
    let s = start(Services { recommender: Some(Arc::new(model())), ..Services::default() }).await;

    let (status, body) = s.get("/v1/recommendations/tech1?placement=home&n=3").await;
    assert_eq!(status, 200, "{body}");
    // The charger (viewed by half the tech people) by co-occurrence, then
    // popular fill; the bought phone and case never come back.
    assert_eq!(ids(&body), ["charger", "nappies", "wipes"], "{body}");
    assert_eq!((body["user_id"].as_str(), body["placement"].as_str()), (Some("tech1"), Some("home")));
    assert_eq!(body["known"], true);
    assert_eq!(body["items"][0]["source"], "co_occurrence", "{body}");
    assert_eq!(body["items"][0]["category"], "数码");

    // Home is the default placement and 10 the default length (six products,
    // the bought phone and case excluded).
    let (_, default) = s.get("/v1/recommendations/tech1").await;
    assert_eq!(ids(&default), ["charger", "nappies", "wipes", "bottle"], "{default}");

    let (_, cart) = s.get("/v1/recommendations/tech1?placement=cart&items=nappies&n=2").await;
    assert_eq!(ids(&cart), ["wipes", "charger"], "{cart}");
    assert_eq!(cart["items"][0]["source"], "bought_together");
    let (_, together) = s.get("/v1/recommendations/someone?placement=bought_together&product=phone&n=1").await;
    assert_eq!(ids(&together), ["case"], "{together}");
    assert_eq!(together["known"], false);

    let (status, similar) = s.get("/v1/items/nappies/similar?n=2").await;
    assert_eq!(status, 200, "{similar}");
    // Content (same category and price band) and behaviour (always bought together).
    assert_eq!(ids(&similar), ["bottle", "wipes"], "{similar}");
    assert_eq!(
        (similar["items"][0]["source"].as_str(), similar["items"][1]["source"].as_str()),
        (Some("content"), Some("co_occurrence"))
    );
    assert_eq!(similar["product_id"], "nappies");

    // The route answers what the engine answers.
    let direct = model().similar(&ProductId::new("nappies").unwrap(), 2);
    for (served, direct) in similar["items"].as_array().unwrap().iter().zip(&direct) {
        assert_eq!(served["product_id"], direct.product_id.as_str());
        assert!((served["score"].as_f64().unwrap() - f64::from(direct.score)).abs() < 1e-5);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_named_and_write_keys_refused() {
    let s = start(Services { recommender: Some(Arc::new(model())), ..Services::default() }).await;
    let (status, body) = s.get("/v1/recommendations/tech1?placement=checkout").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_input")), "{body}");
    assert!(body["message"].as_str().unwrap().starts_with("placement \"checkout\""), "{body}");
    let (status, body) = s.get("/v1/recommendations/tech1?placement=cart").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("items:"), "{body}");
    let (status, body) = s.get("/v1/recommendations/tech1?placement=similar").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("product:"), "{body}");
    let (status, body) = s.get("/v1/items/phone/similar?n=0").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("n \"0\""), "{body}");

    for path in ["/v1/recommendations/tech1", "/v1/items/phone/similar"] {
        let (status, body) = s.call("GET", path, Some(WRITE_KEY)).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("wrong_role")), "{path}");
        let (status, _) = s.call("GET", path, None).await;
        assert_eq!(status, 401, "{path}");
    }
    let (status, _) = s.call("POST", "/v1/recommendations/reload", Some(WRITE_KEY)).await;
    assert_eq!(status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_model_503_until_trained_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(cohort_recommend::MODEL_FILE);
    let s = start(Services { recommender_file: Some(file.clone()), ..Services::default() }).await;
    for path in ["/v1/recommendations/tech1", "/v1/items/phone/similar"] {
        let (status, body) = s.get(path).await;
        assert_eq!((status, body["code"].as_str()), (503, Some("recommendations_disabled")), "{path}: {body}");
    }
    let (status, body) = s.call("POST", "/v1/recommendations/reload", Some(ADMIN_KEY)).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("recommendations_disabled")), "{body}");

    std::fs::write(&file, "not a model").unwrap();
    let (status, body) = s.call("POST", "/v1/recommendations/reload", Some(ADMIN_KEY)).await;
    assert_eq!((status, body["code"].as_str()), (500, Some("model_unreadable")), "{body}");

    model().save(&file).unwrap();
    let (status, body) = s.call("POST", "/v1/recommendations/reload", Some(ADMIN_KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["summary"]["items"], 6);
    let (status, body) = s.get("/v1/items/nappies/similar?n=2").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["bottle", "wipes"]);

    // Without a model file at all, reload is disabled too.
    let bare = start(Services::default()).await;
    let (status, _) = bare.call("POST", "/v1/recommendations/reload", Some(ADMIN_KEY)).await;
    assert_eq!(status, 503);
}

/// Serve → impressions stored → clicks ingested over Segment → CTR on the
/// KPI board, per placement, with exact numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_lists_and_their_clicks_give_the_ctr_on_the_kpi_board() {
    use cohort_analytics::KpiTargets;
    use cohort_duckdb::DuckDbStore;
    use cohort_server::AnalyticsService;

    let duck = Arc::new(DuckDbStore::open_in_memory().unwrap());
    let shop = ShopTime::default();
    let analytics = Arc::new(AnalyticsService::new(duck.clone(), shop, KpiTargets::default()));
    let services = Services { recommender: Some(Arc::new(model())), analytics: Some(analytics), ..Services::default() };
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let store: Arc<dyn EventStore> = duck.clone();
    let server = Server::start_with(config, shop, store, services, std::future::pending()).await.unwrap();
    let s = Running { server, client: reqwest::Client::new() };

    // Seven recorded lists: four at home, two cart pages, one anonymous
    // "similar items"; a preview with record=false is not recorded.
    let mut rec = Vec::new();
    for path in [
        "/v1/recommendations/tech1?n=3",
        "/v1/recommendations/tech2?n=3",
        "/v1/recommendations/tech3?n=3",
        "/v1/recommendations/baby1?n=3",
        "/v1/recommendations/tech1?placement=cart&items=nappies&n=2",
        "/v1/recommendations/baby2?placement=cart&items=nappies&n=2",
        "/v1/items/nappies/similar?n=2",
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let id = body["recommendation_id"].as_str().unwrap_or_else(|| panic!("{path}: {body}")).to_string();
        assert!(id.starts_with("rec_") && id.len() == 36, "{id}");
        rec.push(id);
    }
    let (_, preview) = s.get("/v1/recommendations/tech4?record=false").await;
    assert_eq!(preview["recommendation_id"], Value::Null);
    let (status, body) = s.get("/v1/recommendations/tech4?record=maybe").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().starts_with("record \"maybe\""), "{body}");

    // Clicks through the normal Segment ingest: the first home list twice
    // (counts once), the first cart list, the similar list (as a
    // `Recommendation Clicked`), plus a click naming an unknown id and a
    // plain product click (both ignored).
    let click = |n: usize, user: Option<&str>, event: &str, product: &str, id: Option<&str>| {
        let mut properties = serde_json::json!({"product_id": product});
        if let Some(id) = id {
            properties["recommendation_id"] = id.into();
        }
        let mut m = serde_json::json!({"type": "track", "messageId": format!("click{n}"), "event": event,
                                        "properties": properties});
        match user {
            Some(u) => m["userId"] = u.into(),
            None => m["anonymousId"] = "visitor9".into(),
        }
        m
    };
    let batch = serde_json::json!({"batch": [
        click(1, Some("tech1"), "Product Clicked", "charger", Some(&rec[0])),
        click(2, Some("tech1"), "Product Clicked", "nappies", Some(&rec[0])),
        click(3, Some("tech1"), "Product Clicked", "wipes", Some(&rec[4])),
        click(4, None, "Recommendation Clicked", "bottle", Some(&rec[6])),
        click(5, Some("baby1"), "Product Clicked", "phone", Some("rec_unknown")),
        click(6, Some("baby2"), "Product Clicked", "wipes", None),
    ]});
    let response = s
        .client
        .post(format!("http://{}/v1/batch", s.server.addr()))
        .header("authorization", basic_auth(WRITE_KEY))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    // The impressions are stored as person-less events carrying the list.
    let conn = duck.connection().unwrap();
    let (shown, people, first): (i64, i64, String) = conn
        .query_row(
            "SELECT count(*), count(person_id), min(CASE WHEN event_id = ? THEN properties END) \
             FROM events WHERE event = 'Recommendation Shown'",
            [&rec[0]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((shown, people), (7, 0));
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!((first["placement"].as_str(), first["user_id"].as_str()), (Some("home"), Some("tech1")));
    let shown_ids: Vec<&str> =
        first["products"].as_array().unwrap().iter().map(|p| p["product_id"].as_str().unwrap()).collect();
    assert_eq!(shown_ids, ["charger", "nappies", "wipes"]);

    let (status, board) = s.call_json("/v1/query/kpi", serde_json::json!({})).await;
    assert_eq!(status, 200, "{board}");
    let kpi = |key: &str| {
        let k = board["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key);
        k.unwrap_or_else(|| panic!("{key} missing: {board}")).clone()
    };
    let overall = kpi("recommendation_ctr");
    assert_eq!(overall["value"].as_f64(), Some(3.0 / 7.0));
    assert_eq!(overall["note"], "3 of 7 served lists clicked");
    assert_eq!((overall["target"]["op"].as_str(), overall["target"]["value"].as_f64()), (Some(">="), Some(0.08)));
    assert_eq!(overall["met"], true);
    assert_eq!(kpi("recommendation_ctr_home")["value"].as_f64(), Some(0.25));
    assert_eq!(kpi("recommendation_ctr_cart")["value"].as_f64(), Some(0.5));
    assert_eq!(kpi("recommendation_ctr_similar_items")["value"].as_f64(), Some(1.0));
    // Impressions make no one active: only the four clicking people (and
    // the anonymous visitor) are.
    assert_eq!(kpi("active_users")["value"].as_f64(), Some(4.0), "{board}");
}
