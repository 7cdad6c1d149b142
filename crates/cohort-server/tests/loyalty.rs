//! The loyalty routes over real HTTP: admin-key authentication, earning
//! with idempotent retries, stable error codes for refused requests, and
//! coupons issued and redeemed against a paid order.

use std::sync::Arc;

use cohort_loyalty::{Audience, CouponTemplate, Loyalty, LoyaltyConfig, Offer, TemplateId, Validity};
use cohort_model::{Money, ShopTime, SystemClock};
use cohort_server::{basic_auth, Server, ServerConfig};
use cohort_store::{EventStore, MemoryStore};
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

struct Running {
    server: Server,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.server.addr());
        let mut request = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        if let Some(key) = key {
            request = request.header("authorization", basic_auth(key));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, Some(ADMIN_KEY), body).await
    }
}

async fn start(with_loyalty: bool) -> (Running, Option<Arc<Loyalty>>) {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let loyalty = if with_loyalty {
        let path = dir.path().join("loyalty.sqlite");
        let l = Loyalty::open_sqlite(&path, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock));
        Some(Arc::new(l.await.unwrap()))
    } else {
        None
    };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let server =
        Server::start_with_loyalty(config, ShopTime::default(), store, loyalty.clone(), std::future::pending())
            .await
            .unwrap();
    (Running { server, client: reqwest::Client::new(), _dir: dir }, loyalty)
}

fn paid(key: &str, order: &str, fen: i64) -> Value {
    json!({"idempotency_key": key, "user_id": "alice", "type": "order_paid", "order_id": order, "amount_fen": fen})
}

#[tokio::test]
async fn admin_routes_need_the_admin_key_not_a_write_key() {
    let (s, _) = start(true).await;
    let (status, body) = s.call("GET", "/v1/loyalty/members/alice", None, None).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("missing_write_key")));
    let (status, body) = s.call("GET", "/v1/loyalty/members/alice", Some(WRITE_KEY), None).await;
    assert_eq!(status, 403, "a public write key never opens admin routes");
    assert_eq!(
        body,
        json!({"message": "a write key cannot call this route: it needs the admin role", "code": "wrong_role",
               "type": "auth", "link": format!("{}-wrong_role", cohort_server::ERRORS_DOC)})
    );
    let (status, _) = s.admin("GET", "/v1/loyalty/members/alice", None).await;
    assert_eq!(status, 200);
    // The admin key opens writes too.
    let (status, _) = s.admin("POST", "/v1/loyalty/events", Some(paid("k", "o1", 100))).await;
    assert_eq!(status, 200);

    let (plain, _) = start(false).await;
    let (status, body) = plain.admin("POST", "/v1/loyalty/events", Some(paid("k", "o1", 100))).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("loyalty_disabled")));
}

#[tokio::test]
async fn earning_is_idempotent_and_refusals_have_stable_codes() {
    let (s, _) = start(true).await;
    // ¥123.45 paid → 123 points (1 per whole yuan); the retry returns the
    // same receipt and earns nothing more.
    let (status, first) = s.admin("POST", "/v1/loyalty/events", Some(paid("pay-o1", "o1", 12_345))).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = s.admin("POST", "/v1/loyalty/events", Some(paid("pay-o1", "o1", 12_345))).await;
    assert_eq!((status, &again), (200, &first));
    let review = json!({"idempotency_key": "rev-1", "user_id": "alice", "type": "review"});
    assert_eq!(s.admin("POST", "/v1/loyalty/events", Some(review)).await.0, 200);
    let (_, member) = s.admin("GET", "/v1/loyalty/members/alice", None).await;
    assert_eq!(member["balance"]["available"], 128, "{member}");

    // The same key for a different request is a conflict.
    let (status, body) = s.admin("POST", "/v1/loyalty/events", Some(paid("pay-o1", "o2", 500))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("idempotency_key_reused")), "{body}");

    // Bad input names the field.
    let missing = json!({"idempotency_key": "x", "type": "order_paid", "order_id": "o3", "amount_fen": 1});
    let (status, body) = s.admin("POST", "/v1/loyalty/events", Some(missing)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("user_id"), "{body}");
    let negative = paid("neg", "o4", -1);
    let (status, body) = s.admin("POST", "/v1/loyalty/events", Some(negative)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("amount_fen"), "{body}");

    // Spending more than the balance is refused by the rules.
    let exchange = json!({"idempotency_key": "spend-1", "points": 500, "item": "mug"});
    let (status, body) = s.admin("POST", "/v1/loyalty/members/alice/redeem", Some(exchange)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("insufficient_points")), "{body}");
    let exchange = json!({"idempotency_key": "spend-2", "points": 100, "item": "mug"});
    assert_eq!(s.admin("POST", "/v1/loyalty/members/alice/redeem", Some(exchange)).await.0, 200);

    // A refund claws back what the refunded order earned.
    let refund = json!({"idempotency_key": "ref-o1", "user_id": "alice", "type": "order_refunded",
                        "order_id": "o1", "amount_fen": 12_345});
    let (status, body) = s.admin("POST", "/v1/loyalty/events", Some(refund)).await;
    assert_eq!(status, 200, "{body}");
    let (_, history) = s.admin("GET", "/v1/loyalty/members/alice/history", None).await;
    let sum: i64 = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["account"] == "member:alice:available")
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    let (_, member) = s.admin("GET", "/v1/loyalty/members/alice", None).await;
    assert_eq!(member["balance"]["available"].as_i64().unwrap(), sum, "balance = ledger sum: {history}");
}

#[tokio::test]
async fn coupons_are_issued_and_redeemed_once_against_the_threshold() {
    let (s, loyalty) = start(true).await;
    let template = CouponTemplate {
        id: TemplateId::new("199-50").unwrap(),
        name: "满199减50".into(),
        offer: Offer::Threshold { min_spend: Money::from_fen(19_900), off: Money::from_fen(5_000) },
        categories: vec![],
        audience: Audience::Everyone,
        validity: Validity::DaysAfterIssue { days: 7 },
        per_user_limit: 1,
        quantity_cap: None,
        budget: None,
    };
    loyalty.unwrap().create_template(template).await.unwrap();

    let issue = json!({"idempotency_key": "issue-1", "user_id": "alice"});
    let (status, coupon) = s.admin("POST", "/v1/coupons/199-50/issue", Some(issue)).await;
    assert_eq!(status, 201, "{coupon}");
    let code = coupon["id"].as_i64().unwrap();
    let again = json!({"idempotency_key": "issue-2", "user_id": "alice"});
    let (status, body) = s.admin("POST", "/v1/coupons/199-50/issue", Some(again)).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("per_user_limit")), "{body}");
    let unknown = json!({"idempotency_key": "issue-3", "user_id": "alice"});
    assert_eq!(s.admin("POST", "/v1/coupons/nope/issue", Some(unknown)).await.0, 404);

    // ¥198.99 of goods: one fen below the threshold.
    let order = |key: &str, order: &str, fen: i64| {
        json!({"idempotency_key": key, "user_id": "alice", "order_id": order,
               "lines": [{"product_id": "p1", "amount_fen": fen}], "shipping_fen": 0})
    };
    let (status, body) = s.admin("POST", &format!("/v1/coupons/{code}/redeem"), Some(order("r1", "o1", 19_899))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("threshold_not_met")), "{body}");
    let (status, body) = s.admin("POST", &format!("/v1/coupons/{code}/redeem"), Some(order("r2", "o2", 19_900))).await;
    assert_eq!(status, 200, "{body}");
    // Retrying the same request answers the same; another order cannot use it again.
    let (status, retry) = s.admin("POST", &format!("/v1/coupons/{code}/redeem"), Some(order("r2", "o2", 19_900))).await;
    assert_eq!((status, &retry), (200, &body));
    let (status, body) = s.admin("POST", &format!("/v1/coupons/{code}/redeem"), Some(order("r3", "o3", 30_000))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("coupon_not_available")), "{body}");
    let (status, _) = s.admin("POST", "/v1/coupons/abc/redeem", Some(order("r4", "o4", 30_000))).await;
    assert_eq!(status, 400, "a code that is not a coupon number");
}
