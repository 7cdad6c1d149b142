//! The analytics query routes over real HTTP on a small DuckDB shop: the
//! answers are exactly what the library returns, impossible specs name
//! their fields, admin keys are required, and a server without an analytics
//! store says so.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cohort_analytics::{Analytics, FunnelSpec, KpiSpec, KpiTargets, LifecycleSpec, PathSpec, RetentionSpec};
use cohort_duckdb::DuckDbStore;
use cohort_model::{Batch, Event, EventId, EventName, PersonId, ShopTime};
use cohort_server::{basic_auth, AnalyticsService, Server, ServerConfig, Services};
use cohort_store::{EventStore, WriteSource};
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// Five people over two March 2025 weeks (Shanghai time):
/// p1 views, carts and orders on Monday 3rd and comes back on the 11th;
/// p2 views and carts; p3 only views (and returns on the 12th);
/// p4 views on the 4th and orders 8 days later (outside a 7-day window);
/// p5 first appears on the 10th.
fn shop() -> Arc<DuckDbStore> {
    let rows: &[(&str, &str, &str)] = &[
        ("p1", "Product Viewed", "2025-03-03T02:00:00Z"),
        ("p1", "Product Added", "2025-03-03T02:05:00Z"),
        ("p1", "Order Completed", "2025-03-03T03:00:00Z"),
        ("p1", "Page Viewed", "2025-03-11T02:00:00Z"),
        ("p2", "Product Viewed", "2025-03-03T04:00:00Z"),
        ("p2", "Product Added", "2025-03-03T05:00:00Z"),
        ("p3", "Product Viewed", "2025-03-04T02:00:00Z"),
        ("p3", "Page Viewed", "2025-03-12T02:00:00Z"),
        ("p4", "Product Viewed", "2025-03-04T03:00:00Z"),
        ("p4", "Product Added", "2025-03-04T03:30:00Z"),
        ("p4", "Order Completed", "2025-03-12T03:00:00Z"),
        ("p5", "Product Viewed", "2025-03-10T02:00:00Z"),
    ];
    let mut batch = Batch::default();
    for (i, (person, name, time)) in rows.iter().enumerate() {
        batch.events.push(Event::new(
            EventId::new(format!("e{i:03}")).unwrap(),
            Some(PersonId::new(*person).unwrap()),
            EventName::parse(name),
            at(time),
        ));
    }
    let store = DuckDbStore::open_in_memory().unwrap();
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(rows.len() as u64).unwrap();
    Arc::new(store)
}

struct Running {
    server: Server,
    client: reqwest::Client,
}

impl Running {
    async fn post(&self, path: &str, key: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.client.post(format!("http://{}{path}", self.server.addr())).json(&body);
        if let Some(key) = key {
            request = request.header("authorization", basic_auth(key));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn start(store: Option<Arc<DuckDbStore>>) -> Running {
    let config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        ..Default::default()
    };
    let shop = ShopTime::default();
    let analytics = store.as_ref().map(|s| Arc::new(AnalyticsService::new(s.clone(), shop, KpiTargets::default())));
    let events: Arc<dyn EventStore> = match store {
        Some(s) => s,
        None => Arc::new(DuckDbStore::open_in_memory().unwrap()),
    };
    let services = Services { analytics, ..Services::default() };
    let server = Server::start_with(config, shop, events, services, std::future::pending()).await.unwrap();
    Running { server, client: reqwest::Client::new() }
}

fn funnel_spec() -> Value {
    json!({"steps": [{"event": "Product Viewed"}, {"event": "Product Added"}, {"event": "Order Completed"}],
           "window": "7d"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_funnel_over_http_is_the_library_result() {
    let store = shop();
    let s = start(Some(store.clone())).await;
    let (status, body) = s.post("/v1/query/funnel", Some(ADMIN_KEY), funnel_spec()).await;
    assert_eq!(status, 200, "{body}");
    let people: Vec<u64> = body["steps"].as_array().unwrap().iter().map(|s| s["persons"].as_u64().unwrap()).collect();
    assert_eq!(people, [5, 3, 1], "p4's order is 8 days after the view: outside the 7-day window");
    let spec: FunnelSpec = serde_json::from_value(funnel_spec()).unwrap();
    let library = Analytics::new(&store, ShopTime::default()).funnel(&spec).unwrap();
    assert_eq!(body, serde_json::to_value(&library).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retention_grid_over_http_is_the_library_result() {
    let store = shop();
    let s = start(Some(store.clone())).await;
    let spec = json!({"period": "week", "periods": 2});
    let (status, body) = s.post("/v1/query/retention", Some(ADMIN_KEY), spec.clone()).await;
    assert_eq!(status, 200, "{body}");
    // Week of 3 March: p1–p4, of whom p1, p3 and p4 come back the next week;
    // week of 10 March: p5 alone. The data ends on the 12th, so weeks from
    // 17 March are not observed yet (null).
    let grid: Vec<(String, Vec<Value>)> = body["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["cohort"].as_str().unwrap().to_string(), c["retained"].as_array().unwrap().clone()))
        .collect();
    assert_eq!(
        grid,
        [
            ("2025-03-03".to_string(), vec![json!(4), json!(3), Value::Null]),
            ("2025-03-10".to_string(), vec![json!(1), Value::Null, Value::Null]),
        ]
    );
    let spec: RetentionSpec = serde_json::from_value(spec).unwrap();
    let library = Analytics::new(&store, ShopTime::default()).retention(&spec).unwrap();
    assert_eq!(body, serde_json::to_value(&library).unwrap());
    // Lifecycle, the KPI board and paths answer their library results too.
    let (status, body) = s.post("/v1/query/lifecycle", Some(ADMIN_KEY), json!({"period": "week"})).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<[u64; 4]> = body["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ["new", "returning", "resurrected", "dormant"].map(|k| p[k].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [[4, 0, 0, 0], [1, 3, 0, 1]], "p2 dormant in the week of 10 March");
    let library = Analytics::new(&store, ShopTime::default()).lifecycle(&LifecycleSpec::default()).unwrap();
    assert_eq!(body, serde_json::to_value(&library).unwrap());
    let (status, kpi) = s.post("/v1/query/kpi", Some(ADMIN_KEY), json!({})).await;
    assert_eq!(status, 200, "{kpi}");
    let board = Analytics::new(&store, ShopTime::default()).kpi(&KpiSpec::default(), &KpiTargets::default()).unwrap();
    assert_eq!(kpi, serde_json::to_value(&board).unwrap());
    let paths = json!({"start": {"event": "Product Viewed"}, "length": 3});
    let (status, body) = s.post("/v1/query/paths", Some(ADMIN_KEY), paths.clone()).await;
    assert_eq!(status, 200, "{body}");
    let spec: PathSpec = serde_json::from_value(paths).unwrap();
    let library = Analytics::new(&store, ShopTime::default()).paths(&spec).unwrap();
    assert_eq!(body, serde_json::to_value(&library).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impossible_spec_is_400_naming_every_field() {
    let s = start(Some(shop())).await;
    let spec = json!({"steps": [{"event": "Product Viewed"}, {"event": "Teleported"}], "window": "0d"});
    let (status, body) = s.post("/v1/query/funnel", Some(ADMIN_KEY), spec).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_spec");
    assert_eq!(body["type"], "invalid_request");
    let fields: Vec<&str> = body["issues"].as_array().unwrap().iter().map(|i| i["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"steps[1].event") && fields.contains(&"window"), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("unknown event \"Teleported\""), "{message}");
    assert!(body["issues"].as_array().unwrap().iter().all(|i| !i["reason"].as_str().unwrap().is_empty()));
    // A body that is not a spec at all names the body.
    let (status, body) = s.post("/v1/query/retention", Some(ADMIN_KEY), json!({"periodz": 3})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_spec")));
    assert_eq!(body["issues"][0]["field"], "body");
    assert!(body["issues"][0]["reason"].as_str().unwrap().contains("periodz"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_routes_need_an_admin_key_and_an_analytics_store() {
    let s = start(Some(shop())).await;
    for path in ["/v1/query/funnel", "/v1/query/retention", "/v1/query/lifecycle", "/v1/query/kpi", "/v1/query/paths"] {
        let (status, body) = s.post(path, None, json!({})).await;
        assert_eq!((status, body["code"].as_str()), (401, Some("missing_write_key")), "{path}");
        let (status, _) = s.post(path, Some(WRITE_KEY), json!({})).await;
        assert_eq!(status, 403, "{path}: a public write key never opens a query route");
    }
    let without = start(None).await;
    let (status, body) = without.post("/v1/query/kpi", Some(ADMIN_KEY), json!({})).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("analytics_disabled")));
}
