//! The collection service over real HTTP: a server started on loopback per
//! test, a real client, and the store checked afterwards.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use cohort_duckdb::DuckDbStore;
use cohort_model::{PersonId, ShopTime};
use cohort_server::{basic_auth, Server, ServerConfig, ROUTES};
use cohort_store::{EventStore, MemoryStore};
use serde_json::{json, Value};

const KEY: &str = "wk_test";

struct Running {
    server: Server,
    store: Arc<dyn EventStore>,
    client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response =
            self.client.post(self.url(path)).header("authorization", basic_auth(KEY)).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn events_of(&self, person: &str) -> Vec<String> {
        self.store
            .history(&PersonId::new(person).unwrap())
            .unwrap()
            .map(|h| h.events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>())
            .unwrap_or_default()
        // (same timestamps: the store orders ties by id)
    }
}

fn config() -> ServerConfig {
    ServerConfig { listen: "127.0.0.1:0".into(), write_keys: vec![KEY.into()], ..Default::default() }
}

async fn start_with(config: ServerConfig, store: Arc<dyn EventStore>, dir: Option<tempfile::TempDir>) -> Running {
    let server = Server::start(config, ShopTime::default(), store.clone(), std::future::pending()).await.unwrap();
    Running { server, store, client: reqwest::Client::new(), _dir: dir }
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(DuckDbStore::open(dir.path()).unwrap());
    start_with(config(), store, Some(dir)).await
}

fn track(id: &str, user: Option<&str>, anon: Option<&str>, event: &str) -> Value {
    let mut m = json!({"type": "track", "messageId": id, "event": event, "timestamp": "2024-05-01T10:00:00Z",
                       "properties": {"product_id": "p1", "price": 19.9}});
    if let Some(u) = user {
        m["userId"] = json!(u);
    }
    if let Some(a) = anon {
        m["anonymousId"] = json!(a);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_commits_before_answering() {
    let s = start().await;
    let t = "2024-05-01T10:00:00Z";
    let calls = [
        ("/v1/track", track("t1", Some("u1"), None, "Product Viewed")),
        (
            "/v1/page",
            json!({"messageId": "p1", "anonymousId": "web-1", "name": "首页", "timestamp": t,
                            "context": {"library": {"name": "analytics.js"}}}),
        ),
        ("/v1/screen", json!({"messageId": "s1", "userId": "u1", "name": "Home", "timestamp": t})),
        (
            "/v1/identify",
            json!({"messageId": "i1", "userId": "u1", "traits": {"city": "杭州", "phone": "13800138000"}}),
        ),
        ("/v1/alias", json!({"messageId": "a1", "userId": "u2", "previousId": "u9"})),
        (
            "/v1/batch",
            json!({"batch": [track("b1", Some("u1"), None, "Checked In"), track("b2", Some("u1"), None, "Product Added")]}),
        ),
    ];
    for (path, body) in calls {
        let (status, answer) = s.post(path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer["success"], true);
        assert!(answer["rejected"].as_array().unwrap().is_empty(), "{path}: {answer}");
    }
    // Answered 200 = already in the store, no waiting.
    assert_eq!(s.events_of("u1"), ["b1", "b2", "s1", "t1"]);
    assert_eq!(s.events_of("web-1"), ["p1"]);
    let history = s.store.history(&PersonId::new("u1").unwrap()).unwrap().unwrap();
    assert_eq!(history.user.unwrap().city.as_deref(), Some("杭州"), "identify traits stored");
    let page = &s.store.history(&PersonId::new("web-1").unwrap()).unwrap().unwrap().events[0];
    assert_eq!(page.platform, Some(cohort_model::Platform::Web));
    assert_eq!(page.properties.get("name").and_then(Value::as_str), Some("首页"));
    assert_eq!(s.store.merges(None).unwrap().len(), 1, "the alias is recorded");
    s.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_accepted_and_bad_gzip_is_refused() {
    let s = start().await;
    let body = json!({"batch": [track("g1", Some("u1"), None, "Checked In")]}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let send = |bytes: Vec<u8>| {
        s.client
            .post(s.url("/v1/batch"))
            .header("authorization", basic_auth(KEY))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(bytes)
            .send()
    };
    let ok = send(gz.finish().unwrap()).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(s.events_of("u1"), ["g1"]);
    let bad = send(b"not gzip".to_vec()).await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["code"], "malformed_body");
    // A gzip bomb stops at the limit.
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    bomb.write_all(&vec![b' '; 2 * 1024 * 1024]).unwrap();
    let too_big = send(bomb.finish().unwrap()).await.unwrap();
    assert_eq!(too_big.status().as_u16(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_keys_get_401_with_the_error_shape() {
    let s = start().await;
    let body = json!({"batch": [track("x", Some("u"), None, "Checked In")]});
    let missing = s.client.post(s.url("/v1/batch")).json(&body).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    assert!(missing.headers().contains_key("www-authenticate"));
    let error: Value = missing.json().await.unwrap();
    assert_eq!(
        error,
        json!({"message": "missing write key: send it as the Basic-auth user name", "code": "missing_write_key",
               "type": "auth", "link": format!("{}-missing_write_key", cohort_server::ERRORS_DOC)})
    );
    let wrong =
        s.client.post(s.url("/v1/batch")).header("authorization", basic_auth("nope")).json(&body).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["code"], "invalid_write_key");
    assert!(s.events_of("u").is_empty(), "nothing stored without a key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_name_field_and_reason_and_become_dead_letters() {
    let s = start().await;
    // A single bad call: 400 with the field.
    let (status, error) = s.post("/v1/track", json!({"userId": "u1", "messageId": "no-event"})).await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invalid_messages");
    assert_eq!(
        error["rejected"],
        json!([{"index": 0, "messageId": "no-event", "field": "event",
                                            "reason": "missing: a track call needs an event name"}])
    );
    // A batch with bad messages among good ones: the good ones are stored.
    let (status, answer) = s
        .post(
            "/v1/batch",
            json!({"batch": [
                track("ok-1", Some("u1"), None, "Checked In"),
                {"type": "track", "event": "x", "userId": "u1", "timestamp": "1999-01-01T00:00:00Z"},
                {"type": "track", "event": "x"},
                {"type": "track", "event": "x", "userId": "u1", "properties": {"price": "cheap"}},
                {"type": "teleport", "userId": "u1"},
                {"type": "track", "event": "x", "userId": "u1", "properties": {"blob": "y".repeat(33 * 1024)}},
                track("ok-2", Some("u1"), None, "Checked In"),
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let fields: Vec<(u64, &str)> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [(1, "timestamp"), (2, "userId"), (3, "properties.price"), (4, "type"), (5, "message")],
        "{answer}"
    );
    assert_eq!(s.events_of("u1"), ["ok-1", "ok-2"]);
    let dead = s.store.rejected_rows(100).unwrap();
    assert_eq!(dead.len(), 6, "every refused message is a dead letter");
    assert_eq!((dead[0].file.as_str(), dead[0].line), ("POST /v1/track", 1));
    assert!(dead[0].reason.contains("field \"event\""), "{:?}", dead[0]);
    assert_eq!((dead[2].file.as_str(), dead[2].line), ("POST /v1/batch", 3));
    // Whole-body problems.
    let too_big = json!({"batch": [], "pad": "z".repeat(600 * 1024)});
    assert_eq!(s.post("/v1/batch", too_big).await.0, 413);
    let (status, error) = s.post("/v1/batch", json!({"messages": []})).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("malformed_body")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_message_ids_are_stored_once() {
    let s = start().await;
    for _ in 0..3 {
        let (status, _) = s.post("/v1/batch", json!({"batch": [track("dup-1", Some("u1"), None, "Checked In")]})).await;
        assert_eq!(status, 200);
    }
    let (status, _) = s.post("/v1/track", track("dup-1", Some("u1"), None, "Checked In")).await;
    assert_eq!(status, 200);
    assert_eq!(s.events_of("u1"), ["dup-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_id_window_survives_a_restart_and_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn EventStore> = Arc::new(DuckDbStore::open(dir.path()).unwrap());
    let windowed = || ServerConfig { dedupe_window_secs: 2, ..config() };
    let s = start_with(windowed(), store.clone(), None).await;
    let twice =
        json!({"batch": [track("w-1", Some("u1"), None, "Checked In"), track("w-1", Some("u1"), None, "Checked In")]});
    assert_eq!(s.post("/v1/batch", twice).await.0, 200);
    assert_eq!(s.events_of("u1"), ["w-1"], "an id repeated in one batch is stored once");
    s.server.shutdown().await.unwrap();
    // A new server reloads the window from the store.
    let s = start_with(windowed(), store.clone(), Some(dir)).await;
    assert_eq!(s.post("/v1/track", track("w-1", Some("u1"), None, "Checked In")).await.0, 200);
    assert_eq!(s.events_of("u1"), ["w-1"], "a retry after a restart, within the window, is stored once");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = s.post("/v1/track", track("w-1", Some("u1"), None, "Checked In")).await;
    assert_eq!((status, &body["accepted"]), (200, &json!(1)));
    assert_eq!(s.events_of("u1"), ["w-1", "w-1"], "beyond the window a retry is a new event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identify_and_alias_stitch_events_before_and_after_login() {
    let s = start().await;
    // Browsing anonymously on the web and in the app.
    let mut before = track("w1", None, Some("web-dev"), "Product Viewed");
    before["context"] = json!({"library": {"name": "analytics.js"}});
    let mut app = track("m1", None, Some("app-dev"), "Product Viewed");
    app["context"] = json!({"os": {"name": "iOS"}});
    assert_eq!(s.post("/v1/batch", json!({"batch": [before, app]})).await.0, 200);
    assert_eq!(s.events_of("web-dev"), ["w1"]);
    // Login on both devices.
    for dev in ["web-dev", "app-dev"] {
        let id = format!("login-{dev}");
        let (status, _) = s.post("/v1/identify", json!({"messageId": id, "userId": "alice", "anonymousId": dev})).await;
        assert_eq!(status, 200);
    }
    assert!(s.events_of("web-dev").is_empty(), "the visitor's events moved to alice");
    // After login the SDK still sends the anonymous id alone sometimes.
    assert_eq!(s.post("/v1/track", track("w2", None, Some("web-dev"), "Product Added")).await.0, 200);
    assert_eq!(s.post("/v1/track", track("w3", Some("alice"), Some("web-dev"), "Order Completed")).await.0, 200);
    assert_eq!(s.events_of("alice"), ["m1", "w1", "w2", "w3"], "before and after login, one person");
    // A new account id: alias merges alice into alice-2 with every device.
    let (status, _) =
        s.post("/v1/alias", json!({"messageId": "al-1", "userId": "alice-2", "previousId": "alice"})).await;
    assert_eq!(status, 200);
    assert_eq!(s.post("/v1/track", track("m2", None, Some("app-dev"), "Checked In")).await.0, 200);
    assert_eq!(s.events_of("alice-2"), ["m1", "m2", "w1", "w2", "w3"]);
    assert!(s.events_of("alice").is_empty());
    let history = s.store.history(&PersonId::new("alice-2").unwrap()).unwrap().unwrap();
    let platforms: std::collections::BTreeSet<_> = history.events.iter().filter_map(|e| e.platform).collect();
    assert_eq!(platforms.len(), 2, "app and web both in the person's platform mix: {platforms:?}");
    let merges: Vec<(String, String, String)> =
        s.store.merges(None).unwrap().into_iter().map(|m| (m.from.to_string(), m.into.to_string(), m.via)).collect();
    let expected = [("web-dev", "alice", "identify"), ("app-dev", "alice", "identify"), ("alice", "alice-2", "alias")];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(merges, expected);
    // A restart reloads the graph from the store.
    let store = s.store.clone();
    s.server.shutdown().await.unwrap();
    let again = start_with(config(), store, None).await;
    assert_eq!(again.post("/v1/track", track("w4", None, Some("web-dev"), "Checked In")).await.0, 200);
    assert_eq!(again.events_of("alice-2").len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_routes() {
    let s = start().await;
    let doc: Value = s.client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    documented.sort();
    let mut routed: Vec<(String, String)> = ROUTES.iter().map(|r| (r.method.into(), r.path.into())).collect();
    routed.sort();
    assert_eq!(documented, routed);
    // Every documented operation is really served (no 404 / 405), and an
    // undocumented path is not.
    for (method, path) in &documented {
        let request = match method.as_str() {
            "GET" => s.client.get(s.url(path)),
            "POST" => s.client.post(s.url(path)).header("authorization", basic_auth(KEY)).body("{}"),
            "DELETE" => s.client.delete(s.url(path)),
            other => panic!("unexpected method {other}"),
        };
        let status = request.send().await.unwrap().status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path} answered {status}");
    }
    assert_eq!(s.client.post(s.url("/v1/group")).send().await.unwrap().status().as_u16(), 404);
    assert_eq!(s.client.get(s.url("/v1/track")).send().await.unwrap().status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let s = start().await;
    assert_eq!(s.client.get(s.url("/healthz")).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(s.client.get(s.url("/readyz")).send().await.unwrap().status().as_u16(), 200);
    s.post(
        "/v1/batch",
        json!({"batch": [track("m1", Some("u"), None, "Checked In"), {"type": "track", "userId": "u"}]}),
    )
    .await;
    s.client.post(s.url("/v1/batch")).json(&json!({})).send().await.unwrap();
    let text = s.client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        "cohort_messages_accepted_total{call=\"track\"} 1",
        "cohort_messages_rejected_total{reason=\"event\"} 1",
        "cohort_messages_rejected_total{reason=\"auth\"} 1",
        "cohort_queue_depth 0",
        "cohort_commit_seconds_count",
        "cohort_request_seconds_bucket",
    ] {
        assert!(text.contains(line), "metrics lack {line:?}:\n{text}");
    }
}

/// A store whose writes take 300 ms: the writer falls behind on purpose.
struct SlowStore(MemoryStore);

impl EventStore for SlowStore {
    fn begin_write(
        &self,
        source: cohort_store::WriteSource,
    ) -> cohort_store::Result<Box<dyn cohort_store::WriteTxn + '_>> {
        std::thread::sleep(Duration::from_millis(300));
        self.0.begin_write(source)
    }
    fn find_import(&self, checksum: &str) -> cohort_store::Result<Option<cohort_store::ImportRecord>> {
        self.0.find_import(checksum)
    }
    fn imports(&self) -> cohort_store::Result<Vec<cohort_store::ImportRecord>> {
        self.0.imports()
    }
    fn rejected_rows(&self, limit: usize) -> cohort_store::Result<Vec<cohort_store::RejectedRow>> {
        self.0.rejected_rows(limit)
    }
    fn identity_links(&self, person: Option<&PersonId>) -> cohort_store::Result<Vec<cohort_store::IdentityLink>> {
        self.0.identity_links(person)
    }
    fn seen_event_ids(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> cohort_store::Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        self.0.seen_event_ids(since)
    }
    fn forget_seen_event_ids(&self, before: chrono::DateTime<chrono::Utc>) -> cohort_store::Result<u64> {
        self.0.forget_seen_event_ids(before)
    }
    fn merges(&self, person: Option<&PersonId>) -> cohort_store::Result<Vec<cohort_store::PersonMerge>> {
        self.0.merges(person)
    }
    fn stats(&self) -> cohort_store::Result<cohort_store::StoreStats> {
        self.0.stats()
    }
    fn products(&self) -> cohort_store::Result<Vec<cohort_model::Product>> {
        self.0.products()
    }
    fn scan_histories(
        &self,
        visit: &mut dyn FnMut(cohort_store::PersonHistory) -> cohort_store::Result<()>,
    ) -> cohort_store::Result<()> {
        self.0.scan_histories(visit)
    }
    fn history(&self, person: &PersonId) -> cohort_store::Result<Option<cohort_store::PersonHistory>> {
        self.0.history(person)
    }
    fn replace_profiles(&self, profiles: &[cohort_model::Profile]) -> cohort_store::Result<()> {
        self.0.replace_profiles(profiles)
    }
    fn profile(&self, person: &PersonId) -> cohort_store::Result<Option<cohort_model::Profile>> {
        self.0.profile(person)
    }
    fn scan_profiles(
        &self,
        visit: &mut dyn FnMut(cohort_model::Profile) -> cohort_store::Result<()>,
    ) -> cohort_store::Result<()> {
        self.0.scan_profiles(visit)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after_and_nothing_is_lost() {
    let config = ServerConfig { queue_messages: 10, retry_after_secs: 2, ..config() };
    let s = Arc::new(start_with(config, Arc::new(SlowStore(MemoryStore::new())), None).await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let batch: Vec<Value> =
                (0..4).map(|j| track(&format!("q{i}-{j}"), Some("u1"), None, "Checked In")).collect();
            let response = s
                .client
                .post(s.url("/v1/batch"))
                .header("authorization", basic_auth(KEY))
                .json(&json!({ "batch": batch }))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (status, retry, (0..4).map(|j| format!("q{i}-{j}")).collect::<Vec<_>>())
        }));
    }
    let mut acked = Vec::new();
    let mut throttled = 0;
    for t in tasks {
        let (status, retry, ids) = t.await.unwrap();
        match status {
            200 => acked.extend(ids),
            429 => {
                throttled += 1;
                assert_eq!(retry.as_deref(), Some("2"));
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(throttled > 0, "10 queued messages with 32 sent at once must throttle");
    let mut stored = s.events_of("u1");
    stored.sort();
    acked.sort();
    assert_eq!(stored, acked, "exactly the acknowledged messages are stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_roles_open_their_routes_and_revocation_needs_no_restart() {
    use cohort_server::keys::{self, Role};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(keys::KEYS_FILE);
    let (write, write_secret) = keys::create(&file, Role::Write, Some("web".into())).unwrap();
    let (_, admin_secret) = keys::create(&file, Role::Admin, None).unwrap();
    let loyalty = cohort_loyalty::Loyalty::open_sqlite(
        &dir.path().join("loyalty.sqlite"),
        cohort_loyalty::LoyaltyConfig::default(),
        ShopTime::default(),
        Arc::new(cohort_model::SystemClock),
    )
    .await
    .unwrap();
    // No key in the config: only the key file's.
    let config = ServerConfig { listen: "127.0.0.1:0".into(), ..Default::default() };
    let services = cohort_server::Services {
        loyalty: Some(Arc::new(loyalty)),
        keys_file: Some(file.clone()),
        ..Default::default()
    };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let server =
        Server::start_with(config, ShopTime::default(), store, services, std::future::pending()).await.unwrap();
    let client = reqwest::Client::new();
    let call = |path: &str, key: &str| {
        let request = if path.starts_with("/v1/loyalty") {
            client.get(format!("http://{}{path}", server.addr()))
        } else {
            let body = json!({"batch": [track(&format!("m-{key}"), Some("u"), None, "Checked In")]});
            client.post(format!("http://{}{path}", server.addr())).json(&body)
        };
        let request = request.header("authorization", basic_auth(key));
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(call("/v1/batch", &write_secret).await.0, 200, "a write key sends events");
    assert_eq!(call("/v1/batch", &admin_secret).await.0, 200, "an admin key sends events too");
    let (status, body) = call("/v1/loyalty/members/alice", &write_secret).await;
    assert_eq!(status, 403, "a write key never opens an admin route");
    assert_eq!(
        body,
        json!({"message": "a write key cannot call this route: it needs the admin role", "code": "wrong_role",
               "type": "auth", "link": format!("{}-wrong_role", cohort_server::ERRORS_DOC)})
    );
    assert_eq!(call("/v1/loyalty/members/alice", &admin_secret).await.0, 200);
    let (status, body) = call("/v1/loyalty/members/alice", "ck_admin_unknown").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_write_key")));
    keys::revoke(&file, &write.id).unwrap();
    let (status, body) = call("/v1/batch", &write_secret).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_write_key")), "revoked without a restart");
    assert_eq!(call("/v1/batch", &admin_secret).await.0, 200, "other keys still work");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_authorization_header_the_body_write_key_is_used() {
    let s = start().await;
    let send = |body: Value| {
        let request = s.client.post(s.url("/v1/batch")).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = send(json!({"batch": [track("bk1", Some("wk"), None, "Checked In")], "writeKey": KEY})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        send(json!({"batch": [track("bk2", Some("wk"), None, "Checked In")], "writeKey": "nope"})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("invalid_write_key")));
    let (status, body) = send(json!({"batch": [track("bk3", Some("wk"), None, "Checked In")]})).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("missing_write_key")));
    // A single call carries it as a top-level field too.
    let mut single = track("bk4", Some("wk"), None, "Checked In");
    single["writeKey"] = json!(KEY);
    let response = s.client.post(s.url("/v1/track")).json(&single).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(s.events_of("wk"), ["bk1", "bk4"], "only the messages with a valid key are stored");
}
