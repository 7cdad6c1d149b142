//! Profiles, tags and audiences over real HTTP on a small DuckDB shop:
//! masked PII by role, tags following ingested events within seconds,
//! rule errors with line and column, audience pages with a cursor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use cohort_audience::{example_rules, parse_rules};
use cohort_duckdb::DuckDbStore;
use cohort_model::{Batch, Event, EventId, EventName, PersonId, ShopTime, SystemClock, User, UserId};
use cohort_server::keys::{self, Role};
use cohort_server::{basic_auth, AudienceService, Server, ServerConfig, Services};
use cohort_store::{EventStore, WriteSource};
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

/// u1 (phone, Shanghai) viewed mother-and-baby products 6 times in the last
/// days; u2 viewed them 5 times (one short); u3 only registered.
fn shop() -> Arc<DuckDbStore> {
    let now = Utc::now();
    let mut batch = Batch::default();
    for (person, views) in [("u1", 6), ("u2", 5)] {
        for i in 0..views {
            let mut e = Event::new(
                EventId::new(format!("{person}-{i}")).unwrap(),
                Some(PersonId::new(person).unwrap()),
                EventName::ProductViewed,
                now - Days::hours(i + 1),
            );
            e.category = Some("母婴".into());
            batch.events.push(e);
        }
    }
    for id in ["u1", "u2", "u3"] {
        let mut u = User::new(UserId::new(id).unwrap());
        u.phone = Some(format!("1381234567{}", &id[1..]));
        u.city = Some("上海".into());
        u.traits.insert("email".into(), format!("{id}@example.com").into());
        batch.users.push(u);
    }
    let store = DuckDbStore::open_in_memory().unwrap();
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(0).unwrap();
    Arc::new(store)
}

struct Running {
    server: Server,
    client: reqwest::Client,
    pii_key: String,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.server.addr());
        let mut request = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        request = request.header("authorization", basic_auth(key));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn start(store: Arc<DuckDbStore>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(keys::KEYS_FILE);
    let (_, pii_key) = keys::create(&file, Role::AdminPii, Some("crm".into())).unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        commit_linger_ms: 5,
        ..Default::default()
    };
    let shop = ShopTime::default();
    let rules = parse_rules(&example_rules(), "test").unwrap();
    let events: Arc<dyn EventStore> = store.clone();
    let audience = AudienceService::start(events.clone(), store, rules, shop, Arc::new(SystemClock)).unwrap();
    let services = Services { audience: Some(audience), keys_file: Some(file), ..Services::default() };
    let server = Server::start_with(config, shop, events, services, std::future::pending()).await.unwrap();
    Running { server, client: reqwest::Client::new(), pii_key, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_show_tags_and_mask_pii_unless_the_role_allows() {
    let s = start(shop()).await;
    let (status, report) = s.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["persons"], 3);
    assert_eq!(report["counts"], json!([["new_parent", 1]]), "u2's 5 views are not more than 5");

    let (status, body) = s.call("GET", "/v1/profiles/u1?events=4", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["phone"], "138****5671");
    assert_eq!(body["user"]["traits"]["email"], "u***@example.com");
    assert_eq!(body["pii"], "masked");
    assert_eq!(body["tags"][0]["tag"], "new_parent");
    assert_eq!(body["tag_history"][0]["change"], "gained");
    assert_eq!(body["tag_history"][0]["source"], "batch");
    assert_eq!(body["recent_events"].as_array().unwrap().len(), 4);
    assert_eq!(body["recent_events"][0]["id"], "u1-0", "newest first");
    assert!(body["scores"].is_array());

    let (status, body) = s.call("GET", "/v1/profiles/u1", &s.pii_key, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["phone"], "13812345671");
    assert_eq!(body["user"]["traits"]["email"], "u1@example.com");
    assert_eq!(body["pii"], "shown");

    let (status, body) = s.call("GET", "/v1/profiles/u1", WRITE_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_role")));
    let (status, body) = s.call("GET", "/v1/profiles/nobody", ADMIN_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_follows_ingested_events_within_seconds() {
    let s = start(shop()).await;
    s.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
    // u2 has 5 views; the sixth arrives through the collector.
    let now = Utc::now().to_rfc3339();
    let batch = json!({"batch": [{"type": "track", "userId": "u2", "event": "Product Viewed", "messageId": "m-1",
        "timestamp": now, "properties": {"category": "母婴", "product_id": "sku9"}}]});
    let sent = Instant::now();
    let response = s
        .client
        .post(format!("http://{}/v1/batch", s.server.addr()))
        .header("authorization", basic_auth(WRITE_KEY))
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut tags = Value::Null;
    while sent.elapsed() < Duration::from_secs(10) {
        let (_, body) = s.call("GET", "/v1/profiles/u2", ADMIN_KEY, None).await;
        tags = body["tags"].clone();
        if tags.as_array().is_some_and(|t| !t.is_empty()) {
            assert_eq!(body["tag_history"].as_array().unwrap().last().unwrap()["source"], "incremental");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(tags[0]["tag"], "new_parent", "no tag after {:?}", sent.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_managed_and_errors_point_at_line_and_column() {
    let s = start(shop()).await;
    let (status, body) = s
        .call(
            "POST",
            "/v1/tags",
            ADMIN_KEY,
            Some(json!({"name": "shanghai", "when": "user.city = \"上海\" and\n  count(events, 7x) > 1"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_input");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("rule \"shanghai\" (api), line 2, column 17: unknown unit \"x\""), "{message}");

    let (status, body) = s
        .call(
            "POST",
            "/v1/tags",
            ADMIN_KEY,
            Some(json!({"name": "shanghai", "description": "lives in Shanghai", "when": "user.city = \"上海\""})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) =
        s.call("POST", "/v1/tags", ADMIN_KEY, Some(json!({"name": "new_parent", "when": "true"}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("rule_in_config")));
    let (_, body) =
        s.call("POST", "/v1/tags/test", ADMIN_KEY, Some(json!({"when": "user.city = \"上海\"", "sample": 2}))).await;
    assert_eq!(body["matched"], 3);
    assert_eq!(body["sample"], json!(["u1", "u2"]));
    let (_, report) = s.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
    assert_eq!(report["counts"], json!([["new_parent", 1], ["shanghai", 3]]));
    let (_, body) = s.call("GET", "/v1/tags", ADMIN_KEY, None).await;
    let shanghai = body["rules"].as_array().unwrap().iter().find(|r| r["name"] == "shanghai").unwrap().clone();
    assert_eq!((shanghai["origin"].as_str(), shanghai["holders"].as_u64()), (Some("api"), Some(3)));
    let (status, _) = s.call("DELETE", "/v1/tags/shanghai", ADMIN_KEY, None).await;
    assert_eq!(status, 200);
    let (_, report) = s.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
    assert_eq!((report["counts"].clone(), report["lost"].as_u64()), (json!([["new_parent", 1]]), Some(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_preview_save_and_page_with_a_cursor() {
    let s = start(shop()).await;
    s.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
    let filter = "user.city = \"上海\" and count(events where category = \"母婴\", 30d) >= 5";
    let (status, body) =
        s.call("POST", "/v1/audiences/preview", ADMIN_KEY, Some(json!({"filter": filter, "breakdown": "tag"}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["size"], 2);
    assert_eq!(body["breakdown"]["counts"], json!([{"value": "new_parent", "people": 1}]));
    assert_eq!(body["sample"][0]["phone"].as_str().unwrap().len(), "138****678x".len());

    let (status, body) = s
        .call("POST", "/v1/audiences", ADMIN_KEY, Some(json!({"id": "mums", "filter": filter, "kind": "static"})))
        .await;
    assert_eq!((status, body["size"].as_u64()), (201, Some(2)), "{body}");
    let (_, page1) = s.call("GET", "/v1/audiences/mums/members?limit=1", ADMIN_KEY, None).await;
    assert_eq!(page1["members"][0]["person_id"], "u1");
    assert_eq!(page1["members"][0]["phone"], "138****5671");
    assert_eq!(page1["next_cursor"], "u1");
    let (_, page2) = s.call("GET", "/v1/audiences/mums/members?limit=1&cursor=u1", &s.pii_key, None).await;
    assert_eq!(page2["members"][0]["person_id"], "u2");
    assert_eq!(page2["members"][0]["phone"], "13812345672");
    assert_eq!(page2["next_cursor"], Value::Null);
    let (status, body) = s.call("GET", "/v1/audiences/none/members", ADMIN_KEY, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) =
        s.call("POST", "/v1/audiences/preview", ADMIN_KEY, Some(json!({"filter": "tag(new_parent)"}))).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("line 1, column 5"), "{body}");
    let (_, body) = s.call("GET", "/openapi.json", ADMIN_KEY, None).await;
    for path in ["/v1/profiles/{user}", "/v1/audiences/{id}/members", "/v1/audiences/preview", "/v1/tags/{name}"] {
        assert!(body["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
}
