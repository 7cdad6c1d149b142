//! Profiles, tags and audiences over real HTTP on a small DuckDB shop:
//! masked PII by role, tags following ingested events within seconds,
//! rule errors with line and column, audience pages with a cursor, tag
//! recomputes as jobs, and the profile read model answering exactly what
//! the stores do on a generated shop, after new events and merges too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use cohort_analytics::KpiTargets;
use cohort_audience::{example_rules, parse_rules, Pii};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_duckdb::DuckDbStore;
use cohort_model::{Batch, Event, EventId, EventName, PersonId, ShopTime, SystemClock, User, UserId};
use cohort_server::keys::{self, Role};
use cohort_server::{basic_auth, AnalyticsService, AudienceService, Server, ServerConfig, Services};
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
    audience: Arc<AudienceService>,
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

    /// `POST /v1/tags/compute` (202 and a job), then polls the job until it
    /// ends; its final view.
    async fn compute(&self) -> Value {
        let (status, job) = self.call("POST", "/v1/tags/compute", ADMIN_KEY, None).await;
        assert_eq!(
            (status, job["kind"].as_str(), job["state"].as_str()),
            (202, Some("tags"), Some("running")),
            "{job}"
        );
        let path = format!("/v1/jobs/{}", job["id"]);
        let waited = Instant::now();
        loop {
            let (_, job) = self.call("GET", &path, ADMIN_KEY, None).await;
            if job["state"] != "running" {
                assert_eq!(job["state"], "done", "{job}");
                return job;
            }
            assert!(waited.elapsed() < Duration::from_secs(60), "the tag job never ended: {job}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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
    let analytics = Arc::new(AnalyticsService::new(store.clone(), shop, KpiTargets::default()));
    let audience = AudienceService::start(events.clone(), store, rules, shop, Arc::new(SystemClock)).unwrap();
    let services = Services {
        audience: Some(audience.clone()),
        analytics: Some(analytics),
        keys_file: Some(file),
        ..Services::default()
    };
    let server = Server::start_with(config, shop, events, services, std::future::pending()).await.unwrap();
    Running { server, audience, client: reqwest::Client::new(), pii_key, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_show_tags_and_mask_pii_unless_the_role_allows() {
    let s = start(shop()).await;
    let job = s.compute().await;
    let message = job["message"].as_str().unwrap();
    assert!(message.starts_with("recomputed the tags of 3 persons as of "), "{message}");
    assert!(message.ends_with(": 1 gained, 0 lost; holders: new_parent 1"), "u2's 5 views are not 6: {message}");
    assert_eq!((job["done"].as_u64(), job["total"].as_u64()), (Some(3), Some(3)));
    assert_eq!(job["stage"], "evaluating tag rules");

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
    s.compute().await;
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
    let job = s.compute().await;
    assert!(job["message"].as_str().unwrap().ends_with("holders: new_parent 1, shanghai 3"), "{job}");
    let (_, body) = s.call("GET", "/v1/tags", ADMIN_KEY, None).await;
    let shanghai = body["rules"].as_array().unwrap().iter().find(|r| r["name"] == "shanghai").unwrap().clone();
    assert_eq!((shanghai["origin"].as_str(), shanghai["holders"].as_u64()), (Some("api"), Some(3)));
    let (status, _) = s.call("DELETE", "/v1/tags/shanghai", ADMIN_KEY, None).await;
    assert_eq!(status, 200);
    let job = s.compute().await;
    assert!(job["message"].as_str().unwrap().ends_with(": 0 gained, 3 lost; holders: new_parent 1"), "{job}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audiences_preview_save_and_page_with_a_cursor() {
    let s = start(shop()).await;
    s.compute().await;
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

/// Every person of the store (histories and stored profiles), sorted.
fn everyone(store: &DuckDbStore) -> Vec<PersonId> {
    let mut ids = Vec::new();
    store
        .scan_histories(&mut |h| {
            ids.push(h.person_id);
            Ok(())
        })
        .unwrap();
    store
        .scan_profiles(&mut |p| {
            ids.push(p.person_id);
            Ok(())
        })
        .unwrap();
    ids.sort();
    ids.dedup();
    ids
}

/// Asserts the book's answer equals the stores' for every person (both
/// masks, the default 20 events and 3), and that the book answered it.
fn assert_book_is_the_store(audience: &AudienceService, people: &[PersonId]) {
    assert!(audience.wait_idle(Duration::from_secs(60)), "the tag thread never caught up");
    assert_eq!(audience.profiles_held(), people.len(), "one view a person");
    for person in people {
        for n in [20, 3] {
            let book = audience.profile_view(person, n).unwrap().expect("in the book");
            let store = audience.profile_view_from_store(person, n).unwrap().expect("in the store");
            for pii in [Pii::Masked, Pii::Shown] {
                assert_eq!(book.render(pii, n), store.render(pii, n), "{person} differs (events={n}, {pii:?})");
                let bytes: Value = serde_json::from_slice(&book.render_bytes(pii, n)).unwrap();
                assert_eq!(bytes, store.render(pii, n), "{person}'s cached JSON differs (events={n}, {pii:?})");
            }
        }
    }
    let nobody = PersonId::new("nobody-at-all").unwrap();
    assert!(audience.profile_view(&nobody, 20).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_book_answers_what_the_store_does_after_events_and_merges() {
    let store = DuckDbStore::open_in_memory().unwrap();
    let generator =
        Generator::new(GeneratorConfig { users: 120, days: 60, seed: 7, ..GeneratorConfig::default() }).unwrap();
    generator
        .run(|batch| {
            let mut txn = store.begin_write(WriteSource { kind: "generate".into(), ..Default::default() })?;
            txn.write(&batch)?;
            txn.commit(0).map(|_| ())
        })
        .unwrap();
    let as_of = store.stats().unwrap().last_at.unwrap();
    cohort_insight::compute_profiles(&store, as_of, &cohort_insight::InsightConfig::default(), &mut |_| {}).unwrap();
    let store = Arc::new(store);
    let s = start(store.clone()).await;
    s.compute().await;
    let people = everyone(&store);
    assert!(people.len() >= 120, "{} people", people.len());
    assert_book_is_the_store(&s.audience, &people);

    // New events for known people (six mother-and-baby views: a tag), a
    // new visitor, then the visitor identifies as a known user: a merge.
    let known = people[5].as_str().to_string();
    let now = Utc::now();
    let mut batch: Vec<Value> = (0..6)
        .map(|k| {
            json!({"type": "track", "userId": known, "event": "Product Viewed", "messageId": format!("v-{k}"),
                   "timestamp": (now - Days::minutes(10 - k)).to_rfc3339(),
                   "properties": {"category": "母婴", "product_id": "sku1", "email": "x@example.com"}})
        })
        .collect();
    for k in 0..25 {
        batch.push(json!({"type": "page", "anonymousId": "visitor-9", "name": "home", "messageId": format!("p-{k}"),
                          "timestamp": (now - Days::minutes(40 - k)).to_rfc3339()}));
    }
    let post = |body: Value| {
        s.client
            .post(format!("http://{}/v1/batch", s.server.addr()))
            .header("authorization", basic_auth(WRITE_KEY))
            .json(&body)
            .send()
    };
    assert_eq!(post(json!({"batch": batch})).await.unwrap().status().as_u16(), 200);
    let people_now = everyone(&store);
    assert_eq!(people_now.len(), people.len() + 1, "the visitor is a new person");
    assert_book_is_the_store(&s.audience, &people_now);
    let (_, body) = s.call("GET", &format!("/v1/profiles/{known}?events=6"), ADMIN_KEY, None).await;
    assert_eq!(body["tags"].as_array().unwrap().iter().filter(|t| t["tag"] == "new_parent").count(), 1, "{body}");
    assert_eq!(body["recent_events"][0]["properties"]["email"], "x***@example.com");

    let other = people[9].as_str().to_string();
    let identify = json!({"batch": [{"type": "identify", "userId": other, "anonymousId": "visitor-9",
        "messageId": "id-1", "timestamp": now.to_rfc3339(), "traits": {"phone": "13900001111", "vip": true}}]});
    assert_eq!(post(identify).await.unwrap().status().as_u16(), 200);
    assert_book_is_the_store(&s.audience, &everyone(&store));
    let (_, body) = s.call("GET", &format!("/v1/profiles/{other}?events=20"), &s.pii_key, None).await;
    assert_eq!(body["recent_events"].as_array().unwrap().len(), 20);
    assert_eq!(body["recent_events"][0]["anonymous_id"], "visitor-9", "the visitor's pages moved over: {body}");
    assert_eq!(body["user"]["traits"]["vip"], true);

    // More events than the book keeps are read from the store.
    let (_, body) = s.call("GET", &format!("/v1/profiles/{other}?events=30"), ADMIN_KEY, None).await;
    let stored = s.audience.profile_view_from_store(&PersonId::new(other.clone()).unwrap(), 30).unwrap().unwrap();
    assert_eq!(body, stored.render(Pii::Masked, 30));
    assert_eq!(body["recent_events"].as_array().unwrap().len(), 30);

    // A profile compute rewrites the stored profiles: the book reloads.
    let as_of = store.stats().unwrap().last_at.unwrap();
    cohort_insight::compute_profiles(store.as_ref(), as_of, &cohort_insight::InsightConfig::default(), &mut |_| {})
        .unwrap();
    let people_now = everyone(&store);
    let waited = Instant::now();
    loop {
        let p = &people_now[0];
        let (book, stored) =
            (s.audience.profile_view(p, 20).unwrap(), s.audience.profile_view_from_store(p, 20).unwrap());
        if book.map(|b| b.render(Pii::Masked, 20)) == stored.map(|v| v.render(Pii::Masked, 20)) {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(30), "the book never reloaded the new profiles");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_book_is_the_store(&s.audience, &people_now);
}
