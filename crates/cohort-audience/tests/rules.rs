//! The business plan's example rules on hand-built people, at their
//! boundaries (exactly 5 views, a missing month, 60 % exactly…), and the
//! incremental update agreeing with the batch recompute on the generated
//! shop under random event streams.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Duration, Utc};
use cohort_audience::{example_rules, parse_rules, Subject, TagEngine, TagRule};
use cohort_collect::generate::{Generator, GeneratorConfig};
use cohort_model::{
    Batch, Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Platform, ProductId,
    ShopTime, User, UserId,
};
use cohort_store::{
    AudienceStore, EventStore, MemoryAudienceStore, MemoryStore, PersonHistory, TagChangeKind, WriteSource,
};
use proptest::prelude::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn rule(name: &str) -> TagRule {
    let rules = parse_rules(&example_rules(), "test").unwrap();
    rules.into_iter().find(|r| r.name == name).unwrap()
}

fn person() -> PersonHistory {
    PersonHistory { person_id: PersonId::new("p1").unwrap(), user: None, events: Vec::new(), orders: Vec::new() }
}

fn event(name: EventName, when: DateTime<Utc>, category: Option<&str>) -> Event {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut e = Event::new(EventId::new(format!("e{n}")).unwrap(), Some(PersonId::new("p1").unwrap()), name, when);
    e.category = category.map(str::to_string);
    e
}

fn order(id: &str, when: DateTime<Utc>, category: &str, platform: Platform, discount_fen: i64) -> Order {
    Order {
        id: OrderId::new(id).unwrap(),
        kind: OrderKind::Purchase,
        person_id: Some(PersonId::new("p1").unwrap()),
        user_id: None,
        anonymous_id: None,
        placed_at: when,
        platform: Some(platform),
        channel: None,
        total: Money::from_yuan(100),
        discount: Money::from_fen(discount_fen),
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties: Default::default(),
        lines: vec![OrderLine {
            line_no: 1,
            product_id: ProductId::new("sku1").unwrap(),
            quantity: 1,
            unit_price: Money::from_yuan(100),
            category: Some(category.to_string()),
        }],
    }
}

fn matches(rule: &TagRule, h: &PersonHistory, as_of: DateTime<Utc>) -> bool {
    Subject::new(h, None, None, as_of, ShopTime::default()).matches(&rule.expr)
}

#[test]
fn new_parent_needs_more_than_five_views_within_thirty_days() {
    let r = rule("new_parent");
    // as_of 2025-04-30 12:00 Shanghai; 30 shop days back is 2025-03-31.
    let as_of = at("2025-04-30T04:00:00Z");
    let mut h = person();
    for day in 0..5 {
        h.events.push(event(EventName::ProductViewed, as_of - Duration::days(day), Some("母婴")));
    }
    h.events.push(event(EventName::ProductViewed, as_of, Some("零食")));
    h.events.push(event(EventName::ProductAdded, as_of, Some("母婴")));
    assert!(!matches(&r, &h, as_of), "exactly 5 mother-and-baby views is not more than 5");
    // A sixth view on 2025-03-31 23:59 Shanghai (30 days back) counts…
    let mut six = h.clone();
    six.events.push(event(EventName::ProductViewed, at("2025-03-31T15:59:00Z"), Some("母婴")));
    assert!(matches(&r, &six, as_of));
    // …one a minute earlier (2025-03-30 Shanghai, 31 days back) does not.
    h.events.push(event(EventName::ProductViewed, at("2025-03-30T15:59:00Z"), Some("母婴")));
    assert!(!matches(&r, &h, as_of));
    // Views after the as-of instant are not seen.
    h.events.push(event(EventName::ProductViewed, as_of + Duration::minutes(1), Some("母婴")));
    assert!(!matches(&r, &h, as_of));
}

#[test]
fn pet_owner_needs_each_of_the_last_three_complete_months() {
    let r = rule("pet_owner");
    let as_of = at("2025-04-15T04:00:00Z");
    let mut h = person();
    h.orders.push(order("o1", at("2025-01-10T04:00:00Z"), "宠物食品", Platform::App, 0));
    h.orders.push(order("o2", at("2025-02-10T04:00:00Z"), "宠物食品", Platform::App, 0));
    // 2025-03-31 23:30 Shanghai is still March.
    h.orders.push(order("o3", at("2025-03-31T15:30:00Z"), "宠物食品", Platform::App, 0));
    assert!(matches(&r, &h, as_of));
    // A missing February fails, whatever April holds.
    let mut gap = h.clone();
    gap.orders.remove(1);
    gap.orders.push(order("o4", at("2025-04-02T04:00:00Z"), "宠物食品", Platform::App, 0));
    assert!(!matches(&r, &gap, as_of));
    // March bought only after midnight Shanghai on the 31st's UTC evening is April.
    let mut late = h.clone();
    late.orders[2].placed_at = at("2025-03-31T16:30:00Z");
    assert!(!matches(&r, &late, as_of));
    // Another category does not count.
    let mut other = h.clone();
    other.orders[1].lines[0].category = Some("零食".into());
    assert!(!matches(&r, &other, as_of));
}

#[test]
fn price_sensitive_is_sixty_percent_of_orders_discounted() {
    let r = rule("price_sensitive");
    let as_of = at("2025-04-15T04:00:00Z");
    let mut h = person();
    assert!(!matches(&r, &h, as_of), "no orders: no share, no tag");
    for (i, discount) in [500, 0, 300, 0, 100].iter().enumerate() {
        h.orders.push(order(
            &format!("o{i}"),
            at("2025-03-01T04:00:00Z") + Duration::days(i as i64),
            "服饰",
            Platform::Web,
            *discount,
        ));
    }
    assert!(matches(&r, &h, as_of), "3 of 5 = 60 %");
    h.orders[4].discount = Money::ZERO;
    assert!(!matches(&r, &h, as_of), "2 of 5 = 40 %");
    h.orders[4].coupon = Some("SPRING".into());
    assert!(matches(&r, &h, as_of), "a coupon counts as a discount");
    // Refunds are not orders.
    let mut refund = order("r1", at("2025-03-20T04:00:00Z"), "服饰", Platform::Web, 0);
    refund.kind = OrderKind::Refund;
    h.orders.push(refund);
    assert!(matches(&r, &h, as_of));
}

#[test]
fn ugc_creator_needs_three_good_picture_reviews_every_month() {
    let r = rule("ugc_creator");
    let as_of = at("2025-04-15T04:00:00Z");
    let review = |when: &str, rating: u8, images: i64| {
        let mut e = event(EventName::ProductReviewed, at(when), None);
        e.rating = Some(rating);
        e.properties.insert("images".into(), images.into());
        e
    };
    let mut h = person();
    for month in ["01", "02", "03"] {
        for day in ["05", "12", "20"] {
            h.events.push(review(&format!("2025-{month}-{day}T04:00:00Z"), 5, 2));
        }
    }
    assert!(matches(&r, &h, as_of));
    let mut three_stars = h.clone();
    three_stars.events[4].rating = Some(3);
    assert!(!matches(&r, &three_stars, as_of), "a 3-star review is not good: February has 2");
    let mut no_pictures = h.clone();
    no_pictures.events[8].properties.insert("images".into(), 0.into());
    assert!(!matches(&r, &no_pictures, as_of), "March has 2 with pictures");
}

#[test]
fn app_first_is_eighty_percent_of_orders_in_the_app() {
    let r = rule("app_first");
    let as_of = at("2025-04-15T04:00:00Z");
    let mut h = person();
    for (i, p) in [Platform::App, Platform::App, Platform::MiniProgram, Platform::App].iter().enumerate() {
        h.orders.push(order(&format!("o{i}"), at("2025-03-01T04:00:00Z") + Duration::days(i as i64), "服饰", *p, 0));
    }
    assert!(!matches(&r, &h, as_of), "3 of 4 = 75 %");
    h.orders.push(order("o9", at("2025-03-09T04:00:00Z"), "服饰", Platform::App, 0));
    assert!(matches(&r, &h, as_of), "4 of 5 = 80 %");
}

#[test]
fn cart_abandoner_waits_the_whole_24_hours() {
    let r = rule("cart_abandoner");
    let as_of = at("2025-04-15T04:00:00Z");
    let added = at("2025-04-12T04:00:00Z");
    let mut h = person();
    h.events.push(event(EventName::ProductAdded, added, None));
    assert!(matches(&r, &h, as_of), "no order in the 24 hours after");
    let mut ordered = h.clone();
    ordered.orders.push(order("o1", added + Duration::hours(24), "服饰", Platform::App, 0));
    assert!(!matches(&r, &ordered, as_of), "an order exactly 24 h later is within 24 h");
    let mut late = h.clone();
    late.orders.push(order("o1", added + Duration::hours(24) + Duration::seconds(1), "服饰", Platform::App, 0));
    assert!(matches(&r, &late, as_of));
    // Added an hour ago: the 24 hours have not passed yet.
    let mut recent = person();
    recent.events.push(event(EventName::ProductAdded, as_of - Duration::hours(1), None));
    assert!(!matches(&r, &recent, as_of));
    // Added 8 shop days ago: outside the 7-day window.
    let mut old = person();
    old.events.push(event(EventName::ProductAdded, as_of - Duration::days(8), None));
    assert!(!matches(&r, &old, as_of));
}

#[test]
fn profile_user_fields_sums_and_boolean_combinations() {
    let as_of = at("2025-04-15T04:00:00Z");
    let mut h = person();
    let mut user = User::new(UserId::new("p1").unwrap());
    user.city = Some("上海".into());
    user.traits.insert("vip".into(), true.into());
    h.user = Some(user);
    h.orders.push(order("o1", at("2025-04-01T04:00:00Z"), "服饰", Platform::App, 0));
    h.orders.push(order("o2", at("2025-04-02T04:00:00Z"), "服饰", Platform::Web, 0));
    let check = |cond: &str| {
        let e = cohort_audience::lang::parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
        Subject::new(&h, None, None, as_of, ShopTime::default()).matches(&e)
    };
    assert!(check(r#"user.city in ["上海", "杭州"] and user.traits.vip = true"#));
    assert!(check("sum(orders.total, 30d) >= ¥200 and sum(orders.total, 30d) < 200.01"));
    assert!(check(r#"sum(orders.total where platform = "app") = ¥100"#));
    assert!(check("avg(orders.total) = 100 and max(lines.quantity) = 1 and distinct(orders.platform) = 2"));
    assert!(check(r#"not (user.gender != null) and user.phone = null"#));
    assert!(!check(r#"value_tier = "high_value" or lifecycle = "active""#), "no stored profile: no segment");
    assert!(check("count(orders, 24h) = 0 and count(orders, 14d) = 2 and count(refunds) = 0"));
    assert!(check("sum(orders.total) / count(orders) = ¥100"));
}

#[test]
fn scores_of_prediction_models_in_audience_filters_only() {
    let as_of = at("2025-04-15T04:00:00Z");
    let h = person();
    let scores = std::collections::BTreeMap::from([("churn".to_string(), 80.0), ("clv".to_string(), 12_345.0)]);
    let check = |cond: &str, scores: &std::collections::BTreeMap<String, f64>| {
        let e = cohort_audience::lang::parse(cond).unwrap_or_else(|e| panic!("{cond}: {e}"));
        Subject::new(&h, None, None, as_of, ShopTime::default()).with_scores(scores).matches(&e)
    };
    assert!(check(r#"score("churn") >= 80"#, &scores), "exactly the high-risk threshold");
    assert!(!check(r#"score("churn") > 80"#, &scores));
    assert!(check(r#"score("churn") >= 80 and score("clv") < 20000"#, &scores));
    assert!(!check(r#"score("sentiment") < 0.5"#, &scores), "no score: null, never matches");
    assert!(check(r#"score("sentiment") = null"#, &scores));
    assert!(!check(r#"score("churn") >= 80"#, &Default::default()));
    let err = cohort_audience::lang::parse("score(churn) >= 80").unwrap_err();
    assert!(err.message.contains("model name"), "{}", err.message);
    let spec = cohort_audience::RuleSpec {
        name: "at_risk".into(),
        description: String::new(),
        when: r#"score("churn") >= 80"#.into(),
    };
    let err = parse_rules(&[spec], "test").map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("cannot read model scores"), "{err}");
}

fn generated() -> &'static Vec<Batch> {
    static SHOP: OnceLock<Vec<Batch>> = OnceLock::new();
    SHOP.get_or_init(|| {
        let config = GeneratorConfig { users: 60, days: 120, seed: 7, ..GeneratorConfig::default() };
        let mut batches = Vec::new();
        Generator::new(config)
            .unwrap()
            .with_threads(1)
            .run(|b| {
                batches.push(b);
                Ok::<_, ()>(())
            })
            .unwrap();
        batches
    })
}

fn write(store: &MemoryStore, batch: &Batch) {
    let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
    txn.write(batch).unwrap();
    txn.commit(0).unwrap();
}

fn all_tags(store: &dyn AudienceStore) -> BTreeSet<(String, String)> {
    store.person_tags(None).unwrap().into_iter().map(|t| (t.person_id.into_string(), t.tag)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn incremental_updates_agree_with_a_batch_recompute(
        steps in proptest::collection::vec((0usize..60, 0u8..4, 0usize..3, 0i64..(60 * 24 * 100)), 1..60),
        chunks in 1usize..5,
    ) {
        let end = at("2025-05-01T00:00:00Z");
        let events = Arc::new(MemoryStore::default());
        for b in generated() {
            write(&events, b);
        }
        let persons: Vec<PersonId> = {
            let mut v = Vec::new();
            events.scan_histories(&mut |h| { v.push(h.person_id); Ok(()) }).unwrap();
            v
        };
        let engine = TagEngine::new(parse_rules(&example_rules(), "test").unwrap(), ShopTime::default());
        let incremental = MemoryAudienceStore::new(events.clone());
        engine.recompute_all(events.as_ref(), &incremental, end).unwrap();
        let size = steps.len().div_ceil(chunks);
        for (c, chunk) in steps.chunks(size).enumerate() {
            let mut batch = Batch::default();
            let mut touched = Vec::new();
            for (i, &(p, kind, cat, minutes) ) in chunk.iter().enumerate() {
                let person = persons[p % persons.len()].clone();
                let when = end - Duration::minutes(minutes);
                let category = ["母婴", "宠物食品", "零食"][cat];
                if kind == 3 {
                    let mut o = order(&format!("x{c}-{i}"), when, category, Platform::App, if p % 2 == 0 { 100 } else { 0 });
                    o.person_id = Some(person.clone());
                    batch.orders.push(o);
                } else {
                    let name = [EventName::ProductViewed, EventName::ProductAdded, EventName::ProductReviewed][kind as usize].clone();
                    let mut e = Event::new(EventId::new(format!("x{c}-{i}")).unwrap(), Some(person.clone()), name, when);
                    e.category = Some(category.to_string());
                    batch.events.push(e);
                }
                touched.push(person);
            }
            write(&events, &batch);
            engine.update_persons(events.as_ref(), &incremental, &touched, end).unwrap();
        }
        let batch_store = MemoryAudienceStore::new(events.clone());
        engine.recompute_all(events.as_ref(), &batch_store, end).unwrap();
        prop_assert_eq!(all_tags(&incremental), all_tags(&batch_store));
        // Replaying the incremental history gives the current tags.
        let mut replay = BTreeSet::new();
        for c in incremental.tag_history(None, usize::MAX).unwrap() {
            let key = (c.person_id.into_string(), c.tag);
            match c.change {
                TagChangeKind::Gained => prop_assert!(replay.insert(key)),
                TagChangeKind::Lost => prop_assert!(replay.remove(&key)),
            }
        }
        prop_assert_eq!(replay, all_tags(&incremental));
    }
}

#[test]
fn the_generated_shop_has_people_in_the_example_tags() {
    let events = Arc::new(MemoryStore::default());
    for b in generated() {
        write(&events, b);
    }
    let engine = TagEngine::new(parse_rules(&example_rules(), "test").unwrap(), ShopTime::default());
    let tags = MemoryAudienceStore::new(events.clone());
    let end = events.stats().unwrap().last_at.unwrap();
    let report = engine.recompute_all(events.as_ref(), &tags, end).unwrap();
    assert_eq!(report.persons, 60);
    // Every count is the rule's own dry run.
    for (tag, n) in &report.counts {
        let rule = engine.rules().iter().find(|r| &r.name == tag).unwrap();
        assert_eq!(engine.dry_run(rule, events.as_ref(), end, 3).unwrap().matched, *n, "{tag}");
    }
    assert!(!report.counts.is_empty(), "{report:?}");
}
