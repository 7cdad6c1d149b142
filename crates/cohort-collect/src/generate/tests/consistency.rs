//! Determinism, validation and internal consistency of the records.

use std::collections::{HashMap, HashSet};

use chrono::Duration;
use cohort_model::{EventName, Money, OrderKind, Platform, ShopTime};

use super::*;
use crate::generate::{GenerateError, Persona};

#[test]
fn generate_is_deterministic_whatever_the_chunking_and_threads() {
    let reference = generate(GeneratorConfig { chunk_users: 500, ..config(600, 90, 7) });
    let mut chunks = 0;
    let other = Generator::new(GeneratorConfig { chunk_users: 77, ..config(600, 90, 7) }).unwrap().with_threads(3);
    let mut merged = Batch::default();
    let summary = other
        .run(|mut b| {
            chunks += 1;
            assert_eq!(b.products.is_empty(), chunks > 1, "only the first batch carries the catalogue");
            merged.users.append(&mut b.users);
            merged.products.append(&mut b.products);
            merged.events.append(&mut b.events);
            merged.orders.append(&mut b.orders);
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    assert_eq!(chunks, 8);
    assert_eq!(summary, reference.1);
    assert!(merged == reference.0, "same seed, different chunking: same records");
    let single = Generator::new(config(600, 90, 7)).unwrap().with_threads(1);
    let mut events = Vec::new();
    single
        .run(|b| {
            events.extend(b.events);
            Ok::<_, ()>(())
        })
        .unwrap();
    assert!(events == reference.0.events);

    let different = generate(config(600, 90, 8)).0;
    assert!(different.events != reference.0.events);
    assert!(different.users.iter().zip(&reference.0.users).any(|(a, b)| a.phone != b.phone));
}

#[test]
fn generate_refuses_bad_settings_with_clear_messages() {
    let err = |c: GeneratorConfig| Generator::new(c).unwrap_err();
    let e = err(config(0, 30, 1));
    assert!(e.is_user_error());
    assert_eq!(e.to_string(), "invalid generator setting users = 0: at least one user is needed");
    assert!(err(config(10, 0, 1)).to_string().contains("days = 0: must be between 1 and 3650"));
    assert!(err(config(10, 3651, 1)).to_string().contains("days = 3651"));
    assert!(err(GeneratorConfig { chunk_users: 0, ..config(10, 5, 1) }).to_string().contains("chunk_users = 0"));
    assert!(Generator::new(config(1, 1, 1)).is_ok());
    assert!(Generator::new(config(1, 3650, 1)).is_ok());
}

#[test]
fn generate_sink_errors_stop_the_run() {
    let generator = Generator::new(GeneratorConfig { chunk_users: 10, ..config(100, 10, 1) }).unwrap().with_threads(2);
    let mut calls = 0;
    // The CLI may hand over a `&mut dyn FnMut` sink.
    let mut count = |_: Batch| {
        calls += 1;
        if calls == 3 {
            Err("disk full")
        } else {
            Ok(())
        }
    };
    let sink: &mut dyn FnMut(Batch) -> Result<(), &'static str> = &mut count;
    let result = generator.run(sink);
    assert_eq!(result, Err("disk full"));
    assert_eq!(calls, 3);
}

#[test]
fn generate_records_are_consistent() {
    // 120 days from May 1st: covers 618 and the end-of-period cut-off.
    let start = date(5, 1);
    let (batch, summary) = generate(GeneratorConfig { start, ..config(800, 120, 11) });
    let shop = ShopTime::default();
    let (from, to) = (shop.start_of_day(start), shop.start_of_day(start + Duration::days(120)));

    // Ids are unique and counts match the summary.
    let unique = |ids: Vec<&str>| ids.iter().collect::<HashSet<_>>().len() == ids.len();
    assert!(unique(batch.events.iter().map(|e| e.id.as_str()).collect()));
    assert!(unique(batch.orders.iter().map(|o| o.id.as_str()).collect()));
    assert!(unique(batch.users.iter().map(|u| u.id.as_str()).collect()));
    assert!(unique(batch.products.iter().map(|p| p.id.as_str()).collect()));
    assert_eq!(batch.users.len() as u64, summary.users);
    assert_eq!(batch.events.len() as u64, summary.events);
    assert_eq!(batch.orders.len() as u64, summary.orders);
    assert_eq!(batch.orders.iter().map(|o| o.lines.len() as u64).sum::<u64>(), summary.order_lines);
    assert_eq!(batch.products.len() as u64, summary.products);
    let paid: Money = batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase).map(|o| o.total).sum();
    assert_eq!(paid, summary.revenue);
    assert_eq!(batch.users[0].id.as_str(), "u00000000");
    assert!(batch.events[0].id.as_str().starts_with("g11-0-"));

    let products: HashMap<&str, &cohort_model::Product> = batch.products.iter().map(|p| (p.id.as_str(), p)).collect();
    let users: HashMap<&str, &cohort_model::User> = batch.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let orders: HashMap<&str, &cohort_model::Order> = batch.orders.iter().map(|o| (o.id.as_str(), o)).collect();

    for user in &batch.users {
        let registered = user.registered_at.unwrap();
        assert!(registered < to);
        let phone = user.phone.as_deref().unwrap();
        assert!(phone.len() == 11 && phone.starts_with('1') && (b'3'..=b'9').contains(&phone.as_bytes()[1]), "{phone}");
        assert!(phone.bytes().all(|b| b.is_ascii_digit()));
        assert!(user.traits["persona"].as_str().is_some_and(|p| Persona::ALL.iter().any(|q| q.as_str() == p)));
    }
    let before = batch.users.iter().filter(|u| u.registered_at.unwrap() < from).count();
    assert!((60..=190).contains(&before), "about 15% registered before the start: {before}");

    let mut per_user: HashMap<&str, Vec<&cohort_model::Event>> = HashMap::new();
    for e in &batch.events {
        assert!(e.timestamp >= from && e.timestamp < to, "{} at {}", e.id, e.timestamp);
        let person = e.person_id.as_ref().unwrap().as_str();
        let user = users[person];
        if let Some(u) = &e.user_id {
            assert_eq!(u.as_str(), person);
            assert!(e.timestamp >= user.registered_at.unwrap(), "logged-in event {} before registration", e.id);
        } else {
            assert!(e.anonymous_id.as_ref().is_some_and(|a| a.as_str().starts_with('a')), "{}", e.id);
        }
        assert!(e.platform.is_some());
        if let Some(p) = &e.product_id {
            let product = products.get(p.as_str()).unwrap_or_else(|| panic!("unknown product {p}"));
            assert_eq!(e.category, product.category);
            assert_eq!(e.price, product.price);
        }
        per_user.entry(person).or_default().push(e);
        match e.name {
            EventName::OrderCompleted => {
                let order = orders[e.order_id.as_ref().unwrap().as_str()];
                assert_eq!(order.kind, OrderKind::Purchase);
                assert_eq!(e.revenue, Some(order.total));
                assert_eq!(e.discount, Some(order.discount));
                assert_eq!(e.coupon, order.coupon);
                assert_eq!(e.timestamp, order.placed_at);
                assert_eq!(e.person_id, order.person_id);
                assert_eq!(e.platform, order.platform);
            }
            EventName::OrderRefunded => {
                let refund = orders[e.properties["refund_id"].as_str().unwrap()];
                assert_eq!(refund.kind, OrderKind::Refund);
                assert_eq!(refund.refund_of, e.order_id);
                assert_eq!(e.revenue, Some(refund.total));
            }
            EventName::ProductsSearched => assert!(e.query.as_deref().is_some_and(|q| !q.is_empty())),
            EventName::ProductReviewed => {
                assert!((1..=5).contains(&e.rating.unwrap()));
                assert!(e.review_body.as_deref().is_some_and(|r| r.chars().count() > 4));
            }
            _ => {}
        }
    }
    // Event numbers follow time order within a user.
    for events in per_user.values() {
        let numbers: Vec<u64> =
            events.iter().map(|e| e.id.as_str().rsplit('-').next().unwrap().parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]));
        assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    }

    let completed = batch.events.iter().filter(|e| e.name == EventName::OrderCompleted).count();
    assert_eq!(completed, batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase).count());
    for order in &batch.orders {
        assert!(order.placed_at >= from && order.placed_at < to);
        assert!(!order.lines.is_empty());
        let lines: Money = order.lines.iter().map(|l| l.amount()).sum();
        assert_eq!(order.total, lines - order.discount + order.shipping, "{}", order.id);
        assert!(order.discount >= Money::ZERO && order.discount <= lines && order.total > Money::ZERO);
        for (i, line) in order.lines.iter().enumerate() {
            assert_eq!(line.line_no, i as u32 + 1);
            let product = products[line.product_id.as_str()];
            assert_eq!(Some(line.unit_price), product.price);
            assert_eq!(line.category, product.category);
            assert!(line.quantity >= 1);
        }
        if order.platform == Some(Platform::Store) {
            assert_eq!(order.shipping, Money::ZERO);
        }
        match order.kind {
            OrderKind::Purchase => assert!(order.refund_of.is_none()),
            OrderKind::Refund => {
                let original = orders[order.refund_of.as_ref().unwrap().as_str()];
                assert_eq!(original.kind, OrderKind::Purchase);
                assert_eq!(original.person_id, order.person_id);
                assert!(order.placed_at > original.placed_at && order.total <= original.total);
            }
        }
    }
}

#[test]
fn generate_short_and_tiny_runs_work() {
    let (batch, summary) = generate(config(1, 1, 3));
    assert_eq!(summary.users, 1);
    assert_eq!(batch.users.len(), 1);
    let (batch, _) = generate(config(50, 3, 3));
    assert_eq!(batch.users.len(), 50);
    assert!(!batch.events.is_empty());
    let shop = ShopTime::default();
    let end = shop.start_of_day(date(1, 4));
    assert!(batch.events.iter().all(|e| e.timestamp < end));
}

#[test]
fn generate_error_converts_for_the_cli() {
    let e = GenerateError::InvalidConfig { field: "days", value: "0".into(), reason: "x" };
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    assert!(boxed.to_string().starts_with("invalid generator setting days"));
}
