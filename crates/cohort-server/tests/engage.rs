//! Engagement inside the server, over real HTTP: journeys fed by the
//! collector's commits and woken by the scheduler (with a manual clock, so
//! hours pass at once), campaigns launched, listed and relaunched,
//! contact preferences, provider callbacks, sticky experiment assignment
//! and the experiment read-out, and the admin gate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use cohort_engage::campaign::NoIssuer;
use cohort_engage::channel::{ChannelKind, Sink};
use cohort_engage::clock::ManualClock;
use cohort_engage::config::EngageConfig;
use cohort_engage::experiment::Assignment;
use cohort_engage::journey::entry::EntrySources;
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_model::ShopTime;
use cohort_model::{
    Batch, Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, ProductId, User, UserId,
};
use cohort_server::{basic_auth, EngageService, Server, ServerConfig, Services, StoreDirectory};
use cohort_store::{AudienceStore, EventStore, MemoryAudienceStore, MemoryStore, WriteSource};
use serde_json::{json, Value};

const WRITE_KEY: &str = "wk_public";
const ADMIN_KEY: &str = "ak_secret";

struct Running {
    server: Server,
    engage: Arc<EngageService>,
    clock: Arc<ManualClock>,
    client: reqwest::Client,
    sent_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("http://{}{path}", self.server.addr());
        let mut request = if method == "GET" { self.client.get(url) } else { self.client.post(url) };
        request = request.header("authorization", basic_auth(key));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Every message the file sink received, as JSON.
    fn sent(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.sent_file)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Polls `check` until it holds (the scheduler runs every second).
    async fn eventually(&self, what: &str, mut check: impl FnMut(&Running) -> bool) {
        let started = Instant::now();
        while !check(self) {
            assert!(started.elapsed() < Duration::from_secs(30), "never happened: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn runs(&self) -> Value {
        let (status, body) = self.call("GET", "/v1/journeys", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn runs_of(journeys: &Value, id: &str, status: &str) -> u64 {
    let j = journeys["journeys"].as_array().unwrap().iter().find(|j| j["journey"]["id"] == id).unwrap();
    j["runs"][status].as_u64().unwrap_or(0)
}

/// 10:00 in Shanghai: outside quiet hours.
fn morning() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap()
}

async fn start() -> Running {
    let config = EngageConfig {
        playbooks: vec!["cart_abandonment".into(), "post_first_order".into()],
        ..EngageConfig::default()
    };
    start_with(config, Arc::new(MemoryStore::new()), false).await
}

async fn start_with(config: EngageConfig, store: Arc<dyn EventStore>, sources: bool) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let sent_file = dir.path().join("sent.jsonl");
    let clock = Arc::new(ManualClock::new(morning()));
    let shop = ShopTime::default();
    let sinks = ChannelKind::ALL.into_iter().map(|c| (c, Sink::File { path: sent_file.clone() })).collect();
    let url = cohort_engage::sqlite_url(&dir.path().join("engage.sqlite"));
    let outbox =
        Outbox::open(&url, shop, clock.clone(), OutboxOptions { sinks, ..OutboxOptions::default() }).await.unwrap();
    let config = EngageConfig { tick_every_s: 1, dispatch_every_s: 1, ..config };
    let sources = sources.then(|| EntrySources {
        events: store.clone(),
        scores: Arc::new(MemoryAudienceStore::new(store.clone())) as Arc<dyn AudienceStore>,
    });
    let directory = Arc::new(StoreDirectory(store.clone()));
    let engage = EngageService::start(outbox, config, directory, Arc::new(NoIssuer), sources).unwrap();
    let server_config = ServerConfig {
        listen: "127.0.0.1:0".into(),
        write_keys: vec![WRITE_KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        commit_linger_ms: 5,
        ..Default::default()
    };
    let services = Services { engage: Some(engage.clone()), ..Services::default() };
    let server = Server::start_with(server_config, shop, store, services, std::future::pending()).await.unwrap();
    Running { server, engage, clock, client: reqwest::Client::new(), sent_file, _dir: dir }
}

fn identify(user: &str, name: &str) -> Value {
    json!({"type": "identify", "userId": user, "traits": {"name": name, "phone": format!("139000000{}", &user[1..])}})
}

fn track(user: &str, event: &str, at: DateTime<Utc>, properties: Value) -> Value {
    json!({"type": "track", "userId": user, "event": event, "timestamp": at.to_rfc3339(), "properties": properties})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_follow_ingested_events_and_the_scheduler() {
    let s = start().await;
    let t0 = morning();
    let cart = json!({"product_id": "p1", "product": "婴儿奶粉"});
    let batch = json!({"batch": [
        identify("u1", "小明"), identify("u2", "小红"), identify("u3", "小刚"),
        track("u1", "Product Added", t0, cart.clone()),
        track("u2", "Product Added", t0, cart),
    ]});
    let (status, body) = s.call("POST", "/v1/batch", WRITE_KEY, Some(batch)).await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    while runs_of(&s.runs().await, "cart_abandonment", "active") < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "the carts never entered the journey");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // u2 orders an hour later: the goal ends the run before the reminder.
    s.clock.advance(Span::hours(1));
    let order = track("u2", "Order Completed", t0 + Span::hours(1), json!({"order_id": "o-2", "total": 199}));
    assert_eq!(s.call("POST", "/v1/batch", WRITE_KEY, Some(json!({"batch": [order]}))).await.0, 200);
    let started = Instant::now();
    while runs_of(&s.runs().await, "cart_abandonment", "converted") < 1 {
        assert!(started.elapsed() < Duration::from_secs(30), "u2's order never reached the journey");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(s.sent().is_empty(), "nothing is due in the first four hours: {:?}", s.sent());

    // Four hours after the cart: the scheduler wakes u1's run, the outbox
    // delivers the reminder; u2 gets nothing.
    s.clock.advance(Span::hours(3) + Span::minutes(1));
    s.eventually("u1's cart reminder", |s| !s.sent().is_empty()).await;
    let sent = s.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["person_id"], "u1");
    assert_eq!(sent[0]["recipient"], "1390000001");
    assert_eq!(sent[0]["channel"], "sms");
    assert_eq!(sent[0]["body"], "小明，您购物车里的婴儿奶粉还在等您，库存有限哦");

    // A first order starts the care journey: the confirmation goes at once.
    let first = track("u3", "Order Completed", s.clock_now(), json!({"order_id": "o-3", "first_order": true}));
    assert_eq!(s.call("POST", "/v1/batch", WRITE_KEY, Some(json!({"batch": [first]}))).await.0, 200);
    s.eventually("u3's order confirmation", |s| s.sent().len() == 2).await;
    assert_eq!(s.sent()[1]["body"], "小刚，订单o-3已确认，我们会尽快发货");

    let (status, body) = s.call("GET", "/v1/journeys/cart_abandonment/runs?status=converted", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    let runs = body["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["person_id"], "u2");
    assert_eq!(runs[0]["end_reason"], "goal:Order Completed");
    let (status, body) = s.call("GET", "/v1/journeys/cart_abandonment/runs?status=asleep", ADMIN_KEY, None).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("asleep"), "{body}");
    assert_eq!(s.call("GET", "/v1/journeys/nope/runs", ADMIN_KEY, None).await.0, 404);

    // Entered by hand: refused a second time while the first run is active.
    let enter = json!({"person": "u9", "vars": {"product": "尿不湿"}});
    let (status, body) = s.call("POST", "/v1/journeys/cart_abandonment/enter", ADMIN_KEY, Some(enter.clone())).await;
    assert_eq!((status, body["entered"].as_bool()), (200, Some(true)), "{body}");
    let (_, body) = s.call("POST", "/v1/journeys/cart_abandonment/enter", ADMIN_KEY, Some(enter)).await;
    assert_eq!(body["entered"], false, "{body}");
}

impl Running {
    fn clock_now(&self) -> DateTime<Utc> {
        use cohort_model::Clock;
        self.clock.now()
    }
}

fn spec(id: &str, control_bp: u64) -> Value {
    json!({
        "id": id,
        "channel": "sms",
        "template": {"name": id, "body": "{{name}}，好久不见，回来看看新品"},
        "offer": {"kind": "none"},
        "send": {"kind": "now"},
        "control_bp": control_bp,
        "message_cost": 5,
        "targets": {"min_conversion_rate": 0.08, "min_revenue_to_cost": 3.0},
    })
}

fn contacts(people: &[&str]) -> Value {
    people
        .iter()
        .map(|p| json!({"person_id": p, "recipient": format!("phone-{p}"), "vars": {"name": p}}))
        .collect::<Vec<_>>()
        .into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_preferences_and_experiments() {
    let s = start().await;
    let people: Vec<String> = (0..40).map(|i| format!("c{i:02}")).collect();
    let refs: Vec<&str> = people.iter().map(String::as_str).collect();
    let launch = json!({"spec": spec("wake_1120", 2500), "contacts": contacts(&refs)});
    let (status, first) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(launch.clone())).await;
    assert_eq!(status, 201, "{first}");
    let report = &first["launch"];
    let (treatment, control) = (report["treatment"].as_u64().unwrap(), report["control"].as_u64().unwrap());
    assert_eq!(treatment + control, 40);
    assert_eq!(report["scheduled"].as_u64(), Some(treatment), "{report}");
    // The arms are the hashed ones, whoever launches.
    let experiment =
        cohort_engage::campaign::CampaignSpec::experiment(&serde_json::from_value(spec("wake_1120", 2500)).unwrap())
            .unwrap();
    let expected_control = refs
        .iter()
        .filter(|p| experiment.assign(None, p) == cohort_engage::experiment::Assignment::Arm("control".into()))
        .count() as u64;
    assert_eq!(control, expected_control);

    // Launching again sends nothing twice; another spec under the id is refused.
    let (status, again) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(launch)).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["launch"]["already_launched"].as_u64(), Some(40), "{again}");
    let clash = json!({"spec": spec("wake_1120", 1000), "contacts": contacts(&refs)});
    let (status, body) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(clash)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("campaign id"), "{body}");
    let bad = json!({"spec": spec("x", 2500), "contacts": [{"person_id": "", "recipient": "r"}]});
    let (status, body) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(bad)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("contacts[0].person_id"), "{body}");

    // Delivered: written by the file sink, then recorded (a moment later).
    s.eventually("the campaign's messages delivered", |s| s.sent().len() as u64 == treatment).await;
    let started = Instant::now();
    let c = loop {
        let (status, c) = s.call("GET", "/v1/campaigns/wake_1120", ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{c}");
        if c["delivery"]["delivered"].as_u64() == Some(treatment) {
            break c;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "deliveries never recorded: {c}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(c["members"], 40);
    assert_eq!(c["outcomes"]["scheduled"].as_u64(), Some(treatment));
    assert_eq!(c["outcomes"]["control"].as_u64(), Some(control));
    assert_eq!(c["delivery"]["delivered"].as_u64(), Some(treatment));
    assert_eq!(c["campaign"]["spec"]["control_bp"], 2500);
    assert_eq!(s.call("GET", "/v1/campaigns/nope", ADMIN_KEY, None).await.0, 404);

    // A provider reports a click: counted once.
    let messages = s.engage.outbox().messages_of("wake_1120").await.unwrap();
    let path = format!("/v1/messages/{}/engagement", messages[0].id);
    for _ in 0..2 {
        assert_eq!(s.call("POST", &path, ADMIN_KEY, Some(json!({"kind": "clicked"}))).await.0, 200);
    }
    let (_, c) = s.call("GET", "/v1/campaigns/wake_1120", ADMIN_KEY, None).await;
    assert_eq!(c["delivery"]["clicked"], 1, "{c}");
    let (status, body) = s.call("POST", &path, ADMIN_KEY, Some(json!({"kind": "liked"}))).await;
    assert_eq!(status, 400, "{body}");

    // Do-not-contact blocks the next campaign's message to that person.
    let (status, body) =
        s.call("POST", "/v1/contacts/d1/preferences", ADMIN_KEY, Some(json!({"preference": "do_not_contact"}))).await;
    assert_eq!((status, body["set"].as_bool()), (200, Some(true)), "{body}");
    let launch = json!({"spec": spec("news_1120", 1), "contacts": contacts(&["d1", "d2"])});
    let (status, body) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(launch)).await;
    assert_eq!(status, 201, "{body}");
    let (_, c) = s.call("GET", "/v1/campaigns/news_1120", ADMIN_KEY, None).await;
    let outcomes = c["outcomes"].as_object().unwrap();
    assert_eq!(outcomes.get("scheduled"), Some(&json!(1)), "{c}");
    assert!(outcomes.keys().any(|k| k.starts_with("suppressed:") && k.contains("contact")), "{c}");
    let (_, list) = s.call("GET", "/v1/campaigns", ADMIN_KEY, None).await;
    let ids: Vec<&str> =
        list["campaigns"].as_array().unwrap().iter().map(|c| c["spec"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&"wake_1120") && ids.contains(&"news_1120"), "{list}");

    // Sticky assignment: re-weighting never moves an assigned unit.
    let units: Vec<String> = (0..200).map(|i| format!("v{i}")).collect();
    let assign = |control: u32, treatment: u32| {
        json!({"experiment": "banner", "arms": [{"name": "control", "weight": control},
               {"name": "treatment", "weight": treatment}], "units": units})
    };
    let (status, first) = s.call("POST", "/v1/experiments/assign", ADMIN_KEY, Some(assign(1, 1))).await;
    assert_eq!(status, 200, "{first}");
    let treated = first["assignments"].as_array().unwrap().iter().filter(|a| a["arm"] == "treatment").count();
    assert!((70..=130).contains(&treated), "{treated} of 200 in a 50/50 split");
    let (_, second) = s.call("POST", "/v1/experiments/assign", ADMIN_KEY, Some(assign(1, 9))).await;
    assert_eq!(first["assignments"], second["assignments"]);

    // The read-out: scipy.stats.norm, pooled z for 250/2000 vs 200/2000: p = 0.0123509…
    let counts = json!({"arms": [{"name": "control", "conversions": 200, "units": 2000},
                                  {"name": "treatment", "conversions": 250, "units": 2000}]});
    let (status, r) = s.call("POST", "/v1/experiments/analyze", ADMIN_KEY, Some(counts)).await;
    assert_eq!(status, 200, "{r}");
    assert!((r["arms"][0]["test"]["p_value"].as_f64().unwrap() - 0.012_350_948).abs() < 1e-8, "{r}");
    assert!((r["arms"][0]["test"]["difference"].as_f64().unwrap() - 0.025).abs() < 1e-12);
    assert_eq!(r["srm"]["mismatch"], false);
    let skewed = json!({"arms": [{"name": "control", "conversions": 10, "units": 5}, {"name": "t", "conversions": 1, "units": 5}]});
    let (status, body) = s.call("POST", "/v1/experiments/analyze", ADMIN_KEY, Some(skewed)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("10 conversions out of 5 units"), "{body}");

    // Admin only.
    assert_eq!(s.call("GET", "/v1/campaigns", WRITE_KEY, None).await.0, 403);
    assert_eq!(s.call("GET", "/v1/journeys", "nope", None).await.0, 401);
}

fn purchase(id: &str, person: &str, at: DateTime<Utc>, product: &str, fen: i64) -> Order {
    Order {
        id: OrderId::new(id).unwrap(),
        kind: OrderKind::Purchase,
        person_id: Some(PersonId::new(person).unwrap()),
        user_id: Some(UserId::new(person).unwrap()),
        anonymous_id: None,
        placed_at: at,
        platform: None,
        channel: None,
        total: Money::from_fen(fen),
        discount: Money::ZERO,
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties: Default::default(),
        lines: vec![OrderLine {
            line_no: 0,
            product_id: ProductId::new(product).unwrap(),
            quantity: 1,
            unit_price: Money::from_fen(fen),
            category: None,
        }],
    }
}

/// s1, s2, s3 last bought 35, 50 and 70 days ago (light, medium, heavy
/// silence), h1 40 days ago through a collected event; c1 carted p9 two
/// days ago and c2 bought it after carting.
fn silent_shop() -> Arc<dyn EventStore> {
    let t0 = morning();
    let mut batch = Batch::default();
    for (person, days) in [("s1", 35), ("s2", 50), ("s3", 70)] {
        batch.orders.push(purchase(&format!("o-{person}"), person, t0 - Span::days(days), "p1", 9_900));
    }
    for person in ["c1", "c2"] {
        let mut e = Event::new(
            EventId::new(format!("cart-{person}")).unwrap(),
            Some(PersonId::new(person).unwrap()),
            EventName::ProductAdded,
            t0 - Span::days(2),
        );
        e.product_id = Some(ProductId::new("p9").unwrap());
        batch.events.push(e);
    }
    batch.orders.push(purchase("o-c2", "c2", t0 - Span::days(1), "p9", 19_900));
    // h1's only order was collected over HTTP: an `Order Completed` event, 40 days ago.
    let mut e = Event::new(
        EventId::new("order-h1").unwrap(),
        Some(PersonId::new("h1").unwrap()),
        EventName::OrderCompleted,
        t0 - Span::days(40),
    );
    e.order_id = Some(OrderId::new("o-h1").unwrap());
    e.revenue = Some(Money::from_fen(5_900));
    batch.events.push(e);
    for person in ["s1", "s2", "s3", "c1", "c2", "h1"] {
        let mut u = User::new(UserId::new(person).unwrap());
        u.phone = Some(format!("1380000{person}"));
        u.traits.insert("name".into(), person.to_uppercase().into());
        batch.users.push(u);
    }
    let store = MemoryStore::new();
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(0).unwrap();
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_entry_job_and_price_drops_enter_the_right_people() {
    let s = start_with(EngageConfig::default(), silent_shop(), true).await;
    let (status, body) = s.call("POST", "/v1/journeys/entry/run?date=2026-11-20", ADMIN_KEY, None).await;
    assert_eq!(status, 200, "{body}");
    let runs = s.runs().await;
    for (journey, n) in [("wake_up_light", 2), ("wake_up_medium", 1), ("wake_up_heavy", 1), ("recall", 0)] {
        assert_eq!(runs_of(&runs, journey, "active"), n, "{journey}: {runs}");
    }
    let (_, light) = s.call("GET", "/v1/journeys/wake_up_light/runs", ADMIN_KEY, None).await;
    let mut light: Vec<&str> =
        light["runs"].as_array().unwrap().iter().map(|r| r["person_id"].as_str().unwrap()).collect();
    light.sort();
    assert_eq!(light, ["h1", "s1"]);
    // Again the same day: nobody twice.
    let (_, again) = s.call("POST", "/v1/journeys/entry/run?date=2026-11-20", ADMIN_KEY, None).await;
    assert_eq!(
        again["report"]["entered"].as_object().map(|m| m.values().filter_map(Value::as_u64).sum::<u64>()),
        Some(0),
        "{again}"
    );
    let (status, body) = s.call("POST", "/v1/journeys/entry/run?date=20-11-2026", ADMIN_KEY, None).await;
    assert_eq!(status, 400, "{body}");

    // p9 drops from ¥199 to ¥159: c1 carted it and did not buy; c2 bought it.
    let change = json!({"changes": [{"product": "p9", "name": "婴儿推车", "old_price": 19_900, "new_price": 15_900}]});
    let (status, report) = s.call("POST", "/v1/catalogue/price-changes", ADMIN_KEY, Some(change)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!((report["events"].as_u64(), report["entered"].as_u64()), (Some(1), Some(1)), "{report}");
    let (_, drops) = s.call("GET", "/v1/journeys/price_drop/runs", ADMIN_KEY, None).await;
    assert_eq!(drops["runs"][0]["person_id"], "c1", "{drops}");
    let rise = json!({"changes": [{"product": "p9", "old_price": 15_900, "new_price": 19_900}]});
    let (status, body) = s.call("POST", "/v1/catalogue/price-changes", ADMIN_KEY, Some(rise)).await;
    assert_eq!(status, 400, "{body}");

    // A wake-up campaign to a filter over the store, then s1 orders: the
    // effect is measured from the store. The id is one whose hash puts s1
    // in treatment and s2 in control.
    let id = (0..)
        .map(|i| format!("wake_{i}"))
        .find(|id| {
            let e = cohort_engage::campaign::CampaignSpec::experiment(&serde_json::from_value(spec(id, 5000)).unwrap())
                .unwrap();
            let arm = |p: &str| e.assign(None, p);
            arm("s1") == Assignment::Arm("treatment".into()) && arm("s2") == Assignment::Arm("control".into())
        })
        .unwrap();
    let filter = "count(orders) >= 1 and count(orders, 30d) = 0";
    let launch = json!({"spec": spec(&id, 5000), "audience": {"kind": "filter", "value": filter}});
    let (status, body) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(launch)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["audience"], format!("filter:{filter}"));
    assert_eq!(body["launch"]["audience"], 3, "{body}");
    let order = track("s1", "Order Completed", morning() + Span::hours(2), json!({"order_id": "o-back", "total": 88}));
    assert_eq!(s.call("POST", "/v1/batch", WRITE_KEY, Some(json!({"batch": [order]}))).await.0, 200);
    let path = format!("/v1/campaigns/{id}/effect?window_days=30");
    let started = Instant::now();
    let effect = loop {
        let (status, effect) = s.call("GET", &path, ADMIN_KEY, None).await;
        assert_eq!(status, 200, "{effect}");
        if effect["store"]["treatment"]["converted"] == 1 {
            break effect;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "s1's order never counted: {effect}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (t, c) = (effect["treatment"].as_u64().unwrap(), effect["control"].as_u64().unwrap());
    assert_eq!(t + c, 3, "{effect}");
    assert!((effect["uplift"]["treatment"].as_f64().unwrap() - 1.0 / t as f64).abs() < 1e-12, "{effect}");
    assert_eq!(effect["uplift"]["control"], 0.0);
    let bad = json!({"spec": spec("both", 5000), "audience": {"kind": "filter", "value": filter}, "contacts": []});
    let (status, body) = s.call("POST", "/v1/campaigns", ADMIN_KEY, Some(bad)).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("exactly one"), "{body}");
    let (status, body) = s.call("GET", "/v1/campaigns/nope/effect", ADMIN_KEY, None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn without_an_engage_store_the_routes_say_so() {
    let config =
        ServerConfig { listen: "127.0.0.1:0".into(), admin_keys: vec![ADMIN_KEY.into()], ..Default::default() };
    let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
    let server = Server::start_with(config, ShopTime::default(), store, Services::default(), std::future::pending())
        .await
        .unwrap();
    let response = reqwest::Client::new()
        .get(format!("http://{}/v1/campaigns", server.addr()))
        .header("authorization", basic_auth(ADMIN_KEY))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "engage_disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbook_coupons_exist_in_the_loyalty_store_and_a_refused_offer_withdraws_its_message() {
    use cohort_engage::journey::{playbooks, JourneyEngine};
    use cohort_loyalty::{Loyalty, LoyaltyConfig};
    use cohort_server::LoyaltyIssuer;

    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(morning()));
    let shop = ShopTime::default();
    let loyalty_url = cohort_loyalty::sqlite_url(&dir.path().join("loyalty.sqlite"));
    let loyalty = Loyalty::open(&loyalty_url, LoyaltyConfig::default(), shop, clock.clone()).await.unwrap();
    let issuer = Arc::new(LoyaltyIssuer(Arc::new(loyalty)));
    // Nine distinct coupon templates among the shipped playbooks; the second call creates none.
    assert_eq!(issuer.ensure_templates(&playbooks::all()).await.unwrap(), 9);
    assert_eq!(issuer.ensure_templates(&playbooks::all()).await.unwrap(), 0);

    let sent_file = dir.path().join("sent.jsonl");
    let sinks = ChannelKind::ALL.into_iter().map(|c| (c, Sink::File { path: sent_file.clone() })).collect();
    let url = cohort_engage::sqlite_url(&dir.path().join("engage.sqlite"));
    let outbox =
        Outbox::open(&url, shop, clock.clone(), OutboxOptions { sinks, ..OutboxOptions::default() }).await.unwrap();
    // The light wake-up offers WAKE-10 (now in the store); a copy offering a
    // template nobody defined has its message withdrawn, and its run goes on.
    let light = playbooks::wake_up(playbooks::SilentTier::Light);
    let mut broken = light.clone();
    broken.id = "wake_broken".into();
    for step in &mut broken.steps {
        if let cohort_engage::journey::Action::Send {
            offer: cohort_engage::campaign::Offer::Coupon { template, .. },
            ..
        } = &mut step.action
        {
            *template = "NO-SUCH-COUPON".into();
        }
    }
    let store: Arc<dyn EventStore> = silent_shop();
    let engine =
        JourneyEngine::new(outbox.clone(), vec![light, broken], Arc::new(StoreDirectory(store)), issuer.clone())
            .unwrap();
    let s1 = PersonId::new("s1").unwrap();
    assert!(engine.enter("wake_up_light", &s1, Default::default()).await.unwrap().is_some());
    let s2 = PersonId::new("s2").unwrap();
    let broken_run = engine.enter("wake_broken", &s2, Default::default()).await.unwrap().unwrap();
    let coupons = issuer.0.coupons(&UserId::new("s1").unwrap()).await.unwrap();
    assert_eq!(coupons.len(), 1);
    assert_eq!(coupons[0].template.as_str(), "WAKE-10");
    assert!(issuer.0.coupons(&UserId::new("s2").unwrap()).await.unwrap().is_empty());
    let broken_messages = outbox.messages_of("wake_broken").await.unwrap();
    assert_eq!(broken_messages.len(), 1);
    assert_eq!(broken_messages[0].status, cohort_engage::outbox::MessageStatus::Suppressed);
    let run = engine.run(broken_run).await.unwrap();
    assert!(run.step > 0 && run.status == cohort_engage::journey::RunStatus::Active, "{run:?}");

    // A points bonus is a ledger credit, once per key; a silly amount is refused.
    use cohort_engage::campaign::{Offer, OfferIssuer};
    let bonus = Offer::PointsBonus { points: 500, cost: Money::from_yuan(5) };
    for _ in 0..2 {
        issuer.issue("campaign:bonus:s3", &PersonId::new("s3").unwrap(), &bonus).await.unwrap();
    }
    let balance = issuer.0.balance(&UserId::new("s3").unwrap()).await.unwrap();
    assert_eq!(balance.available.get(), 500, "{balance:?}");
    let verified = issuer.0.verify().await.unwrap();
    assert_eq!(verified.problem_count, 0, "{:?}", verified.problems);
    let huge = Offer::PointsBonus { points: 10_000_000, cost: Money::ZERO };
    let refused = issuer.issue("campaign:huge:s3", &PersonId::new("s3").unwrap(), &huge).await.unwrap_err();
    assert!(refused.to_string().contains("bonus points"), "{refused}");
}
