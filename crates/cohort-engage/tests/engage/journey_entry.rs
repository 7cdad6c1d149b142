//! The paths into the segment- and prediction-driven playbooks, scripted
//! with the manual clock over a real (in-memory DuckDB) store: price drops,
//! birthdays at the shop-local midnight, wake-up tiers at their boundaries,
//! high-value and churn routing, replenishment, the entry job's keys and
//! cooldowns, a restart between entry and send, and a tick of more than one
//! batch.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cohort_duckdb::{DuckDbStore, ScoreRow};
use cohort_engage::campaign::{BoxFuture, Contact, NoIssuer, Offer, OfferIssuer};
use cohort_engage::channel::{ChannelKind, Vars};
use cohort_engage::clock::ManualClock;
use cohort_engage::journey::entry::{self, EntrySettings, EntrySources, PersonFacts};
use cohort_engage::journey::price_drop::{self, PriceChange};
use cohort_engage::journey::{playbooks, Directory, Entry, JourneyEngine, JourneyEvent, RunStatus};
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_engage::{EngageError, Result};
use cohort_model::Clock as _;
use cohort_model::{
    Batch, Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Product, ProductId,
    ShopTime, User, UserId,
};
use cohort_store::{AudienceStore, EventStore, WriteSource};

use crate::common::{env, t0};

fn pid(s: &str) -> PersonId {
    PersonId::new(s).unwrap()
}

/// Shanghai wall-clock time.
fn sh(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn directory() -> Arc<dyn Directory> {
    Arc::new(|person: &PersonId, _: ChannelKind| {
        let mut vars = Vars::new();
        vars.insert("name".into(), format!("会员{}", person.as_str()));
        Some(Contact { person: person.clone(), recipient: person.as_str().into(), vars, peak_hour: None })
    })
}

/// Records every issue; fails the first `fail` calls (a crash after the
/// message was stored, before the offer).
#[derive(Default)]
struct Issuer {
    issued: Mutex<Vec<String>>,
    fail: Mutex<u32>,
}

impl OfferIssuer for Issuer {
    fn issue<'a>(&'a self, key: &'a str, _: &'a PersonId, _: &'a Offer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut fail = self.fail.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                // The store failing (not refusing: a refusal withdraws the message).
                return Err(EngageError::Corrupt("loyalty: store down".into()));
            }
            let mut issued = self.issued.lock().unwrap();
            if !issued.iter().any(|k| k == key) {
                issued.push(key.to_string());
            }
            Ok(())
        })
    }
}

struct Shop {
    store: Arc<DuckDbStore>,
    batch: Batch,
    seq: u32,
}

impl Shop {
    fn new() -> Shop {
        Shop { store: Arc::new(DuckDbStore::open_in_memory().unwrap()), batch: Batch::default(), seq: 0 }
    }

    fn event(&mut self, person: &str, name: EventName, product: &str, at: DateTime<Utc>) {
        self.seq += 1;
        let mut e = Event::new(EventId::new(format!("e{}", self.seq)).unwrap(), Some(pid(person)), name, at);
        e.product_id = Some(ProductId::new(product).unwrap());
        self.batch.events.push(e);
    }

    fn order(&mut self, person: &str, product: &str, yuan: i64, at: DateTime<Utc>) {
        self.seq += 1;
        self.batch.orders.push(Order {
            id: OrderId::new(format!("o{}", self.seq)).unwrap(),
            kind: OrderKind::Purchase,
            person_id: Some(pid(person)),
            user_id: None,
            anonymous_id: None,
            placed_at: at,
            platform: None,
            channel: None,
            total: Money::from_yuan(yuan),
            discount: Money::ZERO,
            shipping: Money::ZERO,
            coupon: None,
            refund_of: None,
            properties: Default::default(),
            lines: vec![OrderLine {
                line_no: 1,
                product_id: ProductId::new(product).unwrap(),
                quantity: 1,
                unit_price: Money::from_yuan(yuan),
                category: None,
            }],
        });
    }

    fn user(&mut self, id: &str, birthday: &str) {
        let mut u = User::new(UserId::new(id).unwrap());
        u.birthday = Some(date(birthday));
        self.batch.users.push(u);
    }

    fn product(&mut self, id: &str, name: &str) {
        let mut p = Product::new(ProductId::new(id).unwrap());
        p.name = Some(name.into());
        self.batch.products.push(p);
    }

    fn commit(&mut self) -> EntrySources {
        let mut tx = self.store.begin_write(WriteSource::default()).unwrap();
        tx.write(&self.batch).unwrap();
        tx.commit_stream().unwrap();
        self.batch = Batch::default();
        let events: Arc<dyn EventStore> = self.store.clone();
        let scores: Arc<dyn AudienceStore> = self.store.clone();
        EntrySources { events, scores }
    }
}

fn bodies(msgs: &[cohort_engage::outbox::MessageRecord]) -> Vec<(String, String)> {
    msgs.iter().map(|m| (m.person_id.clone(), m.body.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn price_drop_reaches_carted_or_wished_not_bought_and_the_order_ends_it() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::price_drop()], directory(), Arc::new(NoIssuer)).unwrap();
    let mut shop = Shop::new();
    shop.product("oat", "燕麦拿铁");
    let (added, removed, wished) =
        (EventName::ProductAdded, EventName::ProductRemoved, EventName::ProductAddedToWishlist);
    shop.event("a", added.clone(), "oat", sh(2024, 4, 28, 20, 0)); // carted: yes
    shop.event("b", added.clone(), "oat", sh(2024, 4, 28, 20, 0)); // carted, then bought: no
    shop.order("b", "oat", 40, sh(2024, 4, 29, 9, 0));
    shop.event("c", wished.clone(), "oat", sh(2024, 4, 25, 12, 0)); // wished: yes
    shop.event("d", added.clone(), "oat", sh(2024, 4, 16, 23, 59)); // 15 days ago, outside the window: no
    shop.event("d2", added.clone(), "oat", sh(2024, 4, 17, 0, 1)); // 14 days ago (shop days): yes
    shop.event("r", added.clone(), "oat", sh(2024, 4, 28, 20, 0)); // carted then removed: no
    shop.event("r", removed, "oat", sh(2024, 4, 28, 20, 5));
    shop.event("q", added.clone(), "tea", sh(2024, 4, 28, 20, 0)); // another product: no
    shop.order("g", "oat", 40, sh(2024, 4, 20, 9, 0)); // bought before, carted again after: yes
    shop.event("g", added, "oat", sh(2024, 4, 29, 9, 0));
    let sources = shop.commit();
    let change = |old: i64, new: i64| PriceChange {
        product: ProductId::new("oat").unwrap(),
        name: None,
        old_price: Money::from_fen(old),
        new_price: Money::from_fen(new),
    };
    let report =
        price_drop::on_price_changes(&engine, sources.events.clone(), vec![change(3990, 2990)], 14).await.unwrap();
    assert_eq!((report.events, report.entered), (4, 4));
    let msgs = e.outbox.messages_of("price_drop").await.unwrap();
    assert_eq!(
        bodies(&msgs),
        [("a", "¥39.90 → ¥29.90"), ("c", "¥39.90 → ¥29.90"), ("d2", "¥39.90 → ¥29.90"), ("g", "¥39.90 → ¥29.90")]
            .map(|(p, price)| (p.to_string(), format!("会员{p}，您关注的燕麦拿铁降价了：{price}")))
    );
    // The same change again: everyone is already in the journey.
    let again =
        price_drop::on_price_changes(&engine, sources.events.clone(), vec![change(3990, 2990)], 14).await.unwrap();
    assert_eq!((again.events, again.entered), (4, 0));
    // a orders: the run ends (goal); the others time out after 3 days.
    e.clock.advance(Duration::hours(5));
    let order = JourneyEvent {
        person: pid("a"),
        name: "Order Completed".into(),
        at: e.clock.now(),
        properties: Default::default(),
    };
    engine.on_event(&order).await.unwrap();
    e.clock.advance(Duration::days(3));
    assert_eq!(engine.tick().await.unwrap().woken, 3);
    let ends: Vec<(RunStatus, String)> = {
        let mut v = Vec::new();
        for p in ["a", "c", "d2", "g"] {
            let r = &engine.runs_of(&pid(p)).await.unwrap()[0];
            v.push((r.status, r.end_reason.clone()));
        }
        v
    };
    assert_eq!(ends[0], (RunStatus::Converted, "goal:Order Completed".to_string()));
    assert!(ends[1..].iter().all(|e| *e == (RunStatus::Exited, "timeout:Order Completed".to_string())));
    assert_eq!(e.outbox.messages_of("price_drop").await.unwrap().len(), 4, "no second message to anyone");
    // Not a drop: refused, naming the field.
    let err = price_drop::on_price_changes(&engine, sources.events, vec![change(2990, 2990)], 14).await.unwrap_err();
    assert!(err.to_string().contains("new_price") && err.to_string().contains("not a drop"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn birthday_coupon_is_entered_three_days_before_from_shop_local_midnight() {
    let e = env().await;
    let issuer = Arc::new(Issuer::default());
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::birthday()], directory(), issuer.clone()).unwrap();
    let mut shop = Shop::new();
    shop.user("b1", "1990-05-04");
    shop.user("b2", "1988-05-05");
    let sources = shop.commit();
    let shop_time = ShopTime::default();
    let settings = EntrySettings::default();
    // 23:59 on 30 April in Shanghai (15:59 UTC): 4 days before, nobody.
    e.clock.set(sh(2024, 4, 30, 23, 59));
    let today = shop_time.date(e.clock.now());
    assert_eq!(today, date("2024-04-30"));
    let r = entry::run_daily(&engine, &sources, shop_time, today, &settings).await.unwrap();
    assert_eq!((r.people, r.planned, r.total_entered()), (2, 0, 0));
    // Midnight in Shanghai (16:00 UTC, still 30 April in UTC): b1 is 3 days away.
    e.clock.set(sh(2024, 5, 1, 0, 0));
    let today = shop_time.date(e.clock.now());
    let r = entry::run_daily(&engine, &sources, shop_time, today, &settings).await.unwrap();
    assert_eq!((r.planned, r.total_entered()), (1, 1));
    let msgs = e.outbox.messages_of("birthday").await.unwrap();
    assert_eq!(bodies(&msgs), [("b1".to_string(), "会员b1，生日快乐！¥20生日券已到账，5月11日前有效".to_string())]);
    let run = &engine.runs_of(&pid("b1")).await.unwrap()[0];
    assert_eq!((run.entry_key.as_str(), run.entered_at), ("2024", sh(2024, 5, 1, 0, 0)));
    assert_eq!(*issuer.issued.lock().unwrap(), [format!("journey:birthday:{}:gift", run.id)]);
    // Again that day and the next: b1's key is used; b2 enters on 2 May.
    let again = entry::run_daily(&engine, &sources, shop_time, today, &settings).await.unwrap();
    assert_eq!((again.already_entered, again.total_entered()), (1, 0));
    e.clock.set(sh(2024, 5, 2, 9, 0));
    let next = entry::run_daily(&engine, &sources, shop_time, date("2024-05-02"), &settings).await.unwrap();
    assert_eq!((next.already_entered, next.entered.get("birthday").copied()), (1, Some(1)));
    assert_eq!(e.outbox.messages_of("birthday").await.unwrap().len(), 2);
    // 29 February falls on the 28th in other years; a passed birthday is next year's.
    assert_eq!(entry::next_birthday(date("2000-02-29"), date("2025-02-20")), Some(date("2025-02-28")));
    assert_eq!(entry::next_birthday(date("2000-02-29"), date("2024-02-20")), Some(date("2024-02-29")));
    assert_eq!(entry::next_birthday(date("1990-05-04"), date("2024-05-05")), Some(date("2025-05-04")));
}

#[test]
fn silence_tiers_split_at_45_46_and_60_61_days() {
    let s = EntrySettings::default();
    let tiers: Vec<(i64, Option<&str>)> = [29, 30, 45, 46, 60, 61, 400].map(|d| (d, entry::silent_tier(d, &s))).into();
    assert_eq!(
        tiers,
        [
            (29, None),
            (30, Some("wake_up_light")),
            (45, Some("wake_up_light")),
            (46, Some("wake_up_medium")),
            (60, Some("wake_up_medium")),
            (61, Some("wake_up_heavy")),
            (400, Some("wake_up_heavy")),
        ]
    );
    let capped = EntrySettings { heavy_max_days: Some(180), ..EntrySettings::default() };
    assert_eq!((entry::silent_tier(180, &capped), entry::silent_tier(181, &capped)), (Some("wake_up_heavy"), None));
    let bad = EntrySettings { medium_min_days: 30, churn_min_score: 120.0, ..EntrySettings::default() };
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("light_min_days < medium_min_days") && err.contains("churn_min_score"), "{err}");
    // The planner on plain facts: a high-risk person is recalled, not woken.
    let today = date("2024-05-01");
    let mut r = PersonFacts::new(pid("r"));
    r.last_order = Some(date("2024-02-20"));
    r.churn_score = Some(80.0);
    let mut w = PersonFacts::new(pid("w"));
    w.last_order = Some(date("2024-02-20"));
    w.churn_score = Some(79.9);
    let plan = entry::plan(today, &[r, w], &s);
    let got: Vec<(&str, &str, &str)> = plan.iter().map(|p| (p.person.as_str(), p.journey, p.key.as_str())).collect();
    assert_eq!(got, [("r", "recall", "2024-05-01"), ("w", "wake_up_heavy", "2024-02-20")]);
    assert_eq!(plan[0].context["churn_risk"], "80");
    assert_eq!(plan[1].context["silent_days"], "71");
}

fn all_manual() -> Vec<cohort_engage::journey::JourneySpec> {
    use playbooks::SilentTier::*;
    vec![
        playbooks::wake_up(Light),
        playbooks::wake_up(Medium),
        playbooks::wake_up(Heavy),
        playbooks::wake_up_high_value(),
        playbooks::recall(true),
        playbooks::recall(false),
        playbooks::replenishment(),
        playbooks::birthday(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entry_job_routes_by_silence_value_risk_and_run_out_once_per_key() {
    let e = env().await;
    let engine = JourneyEngine::new(e.outbox.clone(), all_manual(), directory(), Arc::new(NoIssuer)).unwrap();
    let mut shop = Shop::new();
    shop.product("litter", "猫砂");
    // Today is 1 May 2024 in Shanghai (t0, 10:00).
    shop.order("a29", "x", 100, sh(2024, 4, 2, 12, 0)); // 29 days: not silent
    shop.order("l45", "x", 100, sh(2024, 3, 17, 0, 30)); // 45 shop days (46 UTC days): light
    shop.order("m46", "x", 100, sh(2024, 3, 16, 12, 0)); // 46: medium
    shop.order("m60", "x", 100, sh(2024, 3, 2, 23, 59)); // 60: medium
    shop.order("h61", "x", 100, sh(2024, 3, 1, 8, 0)); // 61: heavy
    for (d, yuan) in [(1, 200), (10, 200), (12, 200)] {
        shop.order("hv", "x", yuan, sh(2024, 3, d, 12, 0)); // 3 orders, ¥600; 50 days: high-value wake-up
        shop.order("rv", "x", yuan + 100, sh(2024, 2, d, 12, 0)); // ¥900, churn 90: high-value recall
    }
    shop.order("r1", "x", 80, sh(2024, 2, 21, 12, 0)); // 70 days, churn 85: recall
    shop.order("r2", "x", 80, sh(2024, 2, 21, 12, 0)); // 70 days, churn 50: heavy
    shop.order("rp1", "litter", 60, sh(2024, 3, 25, 12, 0)); // every 20 days: runs out 4 May
    shop.order("rp1", "litter", 60, sh(2024, 4, 14, 12, 0));
    shop.order("rp2", "litter", 60, sh(2024, 3, 21, 12, 0)); // ran out 30 April: too late
    shop.order("rp2", "litter", 60, sh(2024, 4, 10, 12, 0));
    let sources = shop.commit();
    let score =
        |p: &str, s: f64| ScoreRow { person_id: pid(p), score: s, label: None, detail: serde_json::Value::Null };
    shop.store.replace_scores("churn", t0(), &[score("rv", 90.0), score("r1", 85.0), score("r2", 50.0)]).unwrap();
    let mut settings = EntrySettings::default();
    settings.replenish.min_repeat_buyers = 2;
    let shop_time = ShopTime::default();
    let today = date("2024-05-01");
    let first = entry::run_daily(&engine, &sources, shop_time, today, &settings).await.unwrap();
    let entered: Vec<(&str, u64)> = first.entered.iter().map(|(j, n)| (j.as_str(), *n)).collect();
    assert_eq!(
        entered,
        [
            ("recall", 1),
            ("recall_high_value", 1),
            ("replenishment", 1),
            ("wake_up_heavy", 2),
            ("wake_up_high_value", 1),
            ("wake_up_light", 1),
            ("wake_up_medium", 2),
        ]
    );
    assert_eq!((first.people, first.planned, first.already_entered, first.not_allowed), (11, 9, 0, 0));
    let texts = |journey: &'static str| {
        let outbox = e.outbox.clone();
        async move { bodies(&outbox.messages_of(journey).await.unwrap()) }
    };
    let pair = |p: &str, b: &str| (p.to_string(), b.to_string());
    assert_eq!(texts("wake_up_light").await, [pair("l45", "会员l45，好久不见！送您¥10无门槛券")]);
    assert_eq!(
        texts("wake_up_medium").await,
        [
            pair("m46", "会员m46，您常买的品类上新了，送您¥20品类券"),
            pair("m60", "会员m60，您常买的品类上新了，送您¥20品类券")
        ]
    );
    assert_eq!(
        texts("wake_up_heavy").await,
        [
            pair("h61", "会员h61，专属回归礼：¥50券，5月11日前有效"),
            pair("r2", "会员r2，专属回归礼：¥50券，5月11日前有效")
        ]
    );
    assert_eq!(texts("recall").await, [pair("r1", "会员r1，送您¥15回归券，5月8日前有效")]);
    assert_eq!(texts("recall_high_value").await, [pair("rv", "会员rv，我们想念您：¥60专属券，5月15日前有效")]);
    assert_eq!(texts("replenishment").await, [pair("rp1", "会员rp1，您的猫砂预计5月4日用完，现在下单次日达")]);
    let calls: Vec<String> = engine.tasks("service_calls").await.unwrap().into_iter().map(|t| t.note).collect();
    assert_eq!(
        calls,
        ["会员hv：高价值沉默会员，已50天未购买，累计消费¥600，请电话回访", "会员rv：高价值流失风险（90），请回访"]
    );
    // Twice the same day: nobody enters twice.
    let second = entry::run_daily(&engine, &sources, shop_time, today, &settings).await.unwrap();
    assert_eq!((second.total_entered(), second.already_entered, second.planned), (0, 9, 9));
    // Next day everyone is one day more silent: a29 turns light (30), l45
    // medium (46), m60 heavy (61); the others' keys are used; the recalls
    // are refused by the journey's rule (a new day is a new key, but the
    // run is still active).
    e.clock.set(t0() + Duration::days(1));
    let next = entry::run_daily(&engine, &sources, shop_time, date("2024-05-02"), &settings).await.unwrap();
    assert_eq!(
        next.entered.iter().map(|(j, n)| (j.as_str(), *n)).collect::<Vec<_>>(),
        [("wake_up_heavy", 1), ("wake_up_light", 1), ("wake_up_medium", 1)]
    );
    assert_eq!((next.planned, next.not_allowed, next.already_entered), (10, 2, 5));
    assert_eq!(texts("wake_up_heavy").await[2], pair("m60", "会员m60，专属回归礼：¥50券，5月12日前有效"));
    // The recall runs end after their 14-day window; the 60-day cooldown
    // counts from entry: refused on day 59, entered on day 60.
    e.clock.set(t0() + Duration::days(15));
    engine.tick().await.unwrap();
    assert_eq!(engine.runs_of(&pid("r1")).await.unwrap()[0].status, RunStatus::Exited);
    e.clock.set(t0() + Duration::days(59));
    let before = engine.enter_once("recall", &pid("r1"), "2024-06-29", Vars::new()).await.unwrap();
    assert!(matches!(before, Entry::NotAllowed { .. }), "{before:?}");
    e.clock.set(t0() + Duration::days(60));
    let after = engine.enter_once("recall", &pid("r1"), "2024-06-30", Vars::new()).await.unwrap();
    assert!(matches!(after, Entry::Entered(_)), "{after:?}");
    // A job whose journeys the engine does not run skips them, counted.
    let only_birthday =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::birthday()], directory(), Arc::new(NoIssuer)).unwrap();
    let r = entry::run_daily(&only_birthday, &sources, shop_time, date("2024-05-03"), &settings).await.unwrap();
    assert_eq!((r.unconfigured, r.total_entered()), (r.planned, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_entry_and_send_sends_once() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    // Process 1 has no SMS channel yet: the run is stored, its send fails.
    let bare = Outbox::open_sqlite(
        &dir.path().join("engage.db"),
        ShopTime::default(),
        clock.clone(),
        OutboxOptions::default(),
    )
    .await
    .unwrap();
    let issuer = Arc::new(Issuer::default());
    let engine = JourneyEngine::new(bare.clone(), vec![playbooks::birthday()], directory(), issuer.clone()).unwrap();
    let err = engine.enter_once("birthday", &pid("b1"), "2024", Vars::new()).await.unwrap_err();
    assert!(err.to_string().contains("channel sms is not configured"), "{err}");
    let run = engine.runs_of(&pid("b1")).await.unwrap().remove(0);
    assert_eq!((run.status, run.step, run.wake_at), (RunStatus::Active, 0, Some(t0())));
    drop(engine);
    drop(bare);
    // Process 2: channels configured, and the loyalty store fails once —
    // after the message is stored, before the coupon and the position.
    clock.advance(Duration::minutes(1));
    let (url, _) = crate::common::receiver().await;
    let outbox = crate::common::open(&dir, &url, clock.clone()).await;
    *issuer.fail.lock().unwrap() = 1;
    let engine = JourneyEngine::new(outbox.clone(), vec![playbooks::birthday()], directory(), issuer.clone()).unwrap();
    assert!(engine.tick().await.is_err());
    assert_eq!(outbox.messages_of("birthday").await.unwrap().len(), 1);
    assert_eq!(engine.run(run.id).await.unwrap().step, 0, "position not written before the offer");
    // Process 3 (or the next tick): the message is found by its key, the
    // coupon issued under it, the run moves on; a later tick does nothing.
    let t = engine.tick().await.unwrap();
    assert_eq!((t.woken, t.sent), (1, 0));
    let msgs = outbox.messages_of("birthday").await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].dedupe_key, format!("journey:birthday:{}:gift", run.id));
    assert_eq!(*issuer.issued.lock().unwrap(), [format!("journey:birthday:{}:gift", run.id)]);
    let r = engine.run(run.id).await.unwrap();
    assert_eq!(
        (r.step, r.waiting_event.as_str(), r.wake_at),
        (1, "Order Completed", Some(t0() + Duration::minutes(1) + Duration::days(10)))
    );
    assert_eq!(engine.tick().await.unwrap(), Default::default());
    // The key still holds after all this: the job cannot enter b1 again for 2024.
    let again = engine.enter_once("birthday", &pid("b1"), "2024", Vars::new()).await.unwrap();
    assert_eq!(again, Entry::AlreadyEntered { run: run.id });
    assert_eq!(outbox.drain(10).await.unwrap().delivered, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tick_wakes_more_than_a_batch_and_sends_each_reminder_once() {
    let e = env().await;
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::cart_abandonment(4)], directory(), Arc::new(NoIssuer))
            .unwrap();
    for i in 0..620 {
        let ev = JourneyEvent {
            person: pid(&format!("p{i:03}")),
            name: "Product Added".into(),
            at: t0(),
            properties: serde_json::json!({"product": "挂耳咖啡"}).as_object().cloned().unwrap(),
        };
        engine.on_event(&ev).await.unwrap();
    }
    // Quiet hours hold marketing until 08:00; 14:00 is outside them.
    e.clock.advance(Duration::hours(4));
    let t = engine.tick().await.unwrap();
    assert_eq!((t.woken, t.sent), (620, 620));
    let msgs = e.outbox.messages_of("cart_abandonment").await.unwrap();
    assert_eq!(msgs.len(), 620);
    assert_eq!(msgs[619].body, "会员p619，您购物车里的挂耳咖啡还在等您，库存有限哦");
    assert_eq!(msgs[619].dedupe_key, "journey:cart_abandonment:620:remind");
    let r = engine.runs_of(&pid("p619")).await.unwrap().remove(0);
    assert_eq!((r.step, r.waiting_event.as_str()), (2, "Order Completed"));
    assert_eq!(engine.tick().await.unwrap(), Default::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_be_rendered_ends_without_blocking_the_tick() {
    let e = env().await;
    // "anon" has an address but no name: the reminder's {{name}} cannot be filled.
    let directory: Arc<dyn Directory> = Arc::new(|person: &PersonId, _: ChannelKind| {
        let mut vars = Vars::new();
        if person.as_str() != "anon" {
            vars.insert("name".into(), format!("会员{}", person.as_str()));
        }
        Some(Contact { person: person.clone(), recipient: person.as_str().into(), vars, peak_hour: None })
    });
    let engine =
        JourneyEngine::new(e.outbox.clone(), vec![playbooks::cart_abandonment(4)], directory, Arc::new(NoIssuer))
            .unwrap();
    for p in ["anon", "p1"] {
        let ev = JourneyEvent {
            person: pid(p),
            name: "Product Added".into(),
            at: t0(),
            properties: serde_json::json!({"product": "冷萃"}).as_object().cloned().unwrap(),
        };
        engine.on_event(&ev).await.unwrap();
    }
    e.clock.advance(Duration::hours(4));
    assert_eq!(engine.tick().await.unwrap().sent, 1);
    assert_eq!(
        bodies(&e.outbox.messages_of("cart_abandonment").await.unwrap()),
        [("p1".to_string(), "会员p1，您购物车里的冷萃还在等您，库存有限哦".to_string())]
    );
    let anon = engine.runs_of(&pid("anon")).await.unwrap().remove(0);
    assert_eq!(anon.status, RunStatus::Exited);
    assert!(
        anon.end_reason.starts_with("error: template") && anon.end_reason.contains("{{name}}"),
        "{}",
        anon.end_reason
    );
    assert_eq!(engine.tick().await.unwrap(), Default::default());
}
