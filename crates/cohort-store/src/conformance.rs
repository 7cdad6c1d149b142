//! The conformance suite every [`EventStore`] backend must pass.
//!
//! Call [`run_all`] from a backend's tests with a factory returning a fresh,
//! empty store. Failures panic with the name of the broken guarantee.

use chrono::{DateTime, TimeZone, Utc};
use cohort_model::{
    Batch, BehaviourType, Event, EventId, EventName, LifecycleStage, Money, Order, OrderId, OrderKind, OrderLine,
    PersonId, Platform, PlatformMix, Product, ProductId, Profile, RfmScore, User, UserId, ValueTier, Windowed,
};

use crate::{EventStore, IdKind, IdentityLink, PersonMerge, RejectedRow, WriteSource};

/// Runs every check, each on a fresh store from `fresh`.
pub fn run_all<S: EventStore>(fresh: impl Fn() -> S) {
    dropped_write_leaves_nothing(&fresh());
    writes_are_idempotent(&fresh());
    histories_group_and_order(&fresh());
    profiles_round_trip(&fresh());
    imports_and_rejections_are_recorded(&fresh());
    merges_move_history_and_links(&fresh());
    stream_commits_keep_rejections_without_an_import(&fresh());
    appended_events_are_stored_and_remembered(&fresh());
    identify_twice_keeps_both_traits(&fresh());
}

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 5, day, hour, 0, 0).unwrap()
}

/// An event fixture.
pub fn event(id: &str, person: &str, name: EventName, ts: DateTime<Utc>) -> Event {
    let mut e = Event::new(EventId::new(id).unwrap(), Some(PersonId::new(person).unwrap()), name, ts);
    e.user_id = Some(UserId::new(person).unwrap());
    e.platform = Some(Platform::App);
    e
}

/// A purchase fixture with one line per `(product, quantity, unit fen)`.
pub fn order(id: &str, person: Option<&str>, ts: DateTime<Utc>, lines: &[(&str, i64, i64)]) -> Order {
    let lines: Vec<OrderLine> = lines
        .iter()
        .enumerate()
        .map(|(i, (p, q, fen))| OrderLine {
            line_no: i as u32 + 1,
            product_id: ProductId::new(*p).unwrap(),
            quantity: *q,
            unit_price: Money::from_fen(*fen),
            category: Some("snacks".into()),
        })
        .collect();
    Order {
        id: OrderId::new(id).unwrap(),
        kind: OrderKind::Purchase,
        person_id: person.map(|p| PersonId::new(p).unwrap()),
        user_id: person.map(|p| UserId::new(p).unwrap()),
        anonymous_id: None,
        placed_at: ts,
        platform: Some(Platform::Web),
        channel: Some("wechat".into()),
        total: lines.iter().map(OrderLine::amount).sum(),
        discount: Money::ZERO,
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties: Default::default(),
        lines,
    }
}

fn sample_batch() -> Batch {
    let mut product = Product::new(ProductId::new("p1").unwrap());
    product.category = Some("snacks".into());
    product.price = Some(Money::from_fen(1990));
    let mut user = User::new(UserId::new("alice").unwrap());
    user.registered_at = Some(at(1, 8));
    user.phone = Some("13800138000".into());
    let mut viewed = event("e2", "alice", EventName::ProductViewed, at(2, 9));
    viewed.product_id = Some(ProductId::new("p1").unwrap());
    viewed.price = Some(Money::from_fen(1990));
    viewed.properties.insert("colour".into(), serde_json::Value::String("红色".into()));
    Batch {
        users: vec![user],
        products: vec![product],
        events: vec![
            viewed,
            event("e1", "alice", EventName::PageViewed, at(2, 8)),
            event("e3", "bob", EventName::ProductsSearched, at(3, 8)),
        ],
        orders: vec![
            order("o1", Some("alice"), at(2, 10), &[("p1", 2, 1990), ("p2", 1, 500)]),
            order("o2", None, at(2, 11), &[("p1", 1, 1990)]),
        ],
    }
}

fn dropped_write_leaves_nothing(store: &dyn EventStore) {
    {
        let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
        txn.write(&sample_batch()).unwrap();
        // dropped without commit
    }
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.events, stats.orders, stats.users, stats.products),
        (0, 0, 0, 0),
        "a dropped write must leave nothing"
    );
    assert!(store.imports().unwrap().is_empty(), "a dropped write must not be recorded as an import");
}

fn writes_are_idempotent(store: &dyn EventStore) {
    let source = WriteSource { kind: "test".into(), file: Some("a.csv".into()), checksum: Some("abc".into()) };
    let mut txn = store.begin_write(source.clone()).unwrap();
    txn.write(&sample_batch()).unwrap();
    txn.write(&sample_batch()).unwrap(); // duplicates inside one transaction
    let first = txn.commit(10).unwrap();
    assert_eq!(first.summary.events_new, 3, "events are deduplicated within a write");
    assert_eq!(first.summary.events_duplicate, 3);
    assert_eq!(first.summary.orders_new, 2);
    assert_eq!(first.summary.lines_new, 3);
    let mut txn = store.begin_write(source).unwrap();
    txn.write(&sample_batch()).unwrap();
    let second = txn.commit(10).unwrap();
    assert_eq!(
        (second.summary.events_new, second.summary.orders_new, second.summary.lines_new),
        (0, 0, 0),
        "re-writing stored ids adds nothing"
    );
    assert_eq!(second.summary.events_duplicate, 3);
    let stats = store.stats().unwrap();
    assert_eq!((stats.events, stats.orders, stats.order_lines, stats.users, stats.products), (3, 2, 3, 1, 1));
    assert_eq!(stats.persons, 2, "alice and bob; the guest order has no person");
    assert_eq!(stats.first_at, Some(at(2, 8)));
    assert_eq!(stats.last_at, Some(at(3, 8)));
}

fn histories_group_and_order(store: &dyn EventStore) {
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.write(&sample_batch()).unwrap();
    txn.commit(1).unwrap();
    let mut seen = Vec::new();
    store
        .scan_histories(&mut |h| {
            seen.push(h);
            Ok(())
        })
        .unwrap();
    let people: Vec<&str> = seen.iter().map(|h| h.person_id.as_str()).collect();
    assert_eq!(people, ["alice", "bob"], "one history per person, in id order");
    let alice = &seen[0];
    let names: Vec<&str> = alice.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(names, ["e1", "e2"], "events in time order");
    assert_eq!(alice.user.as_ref().unwrap().phone.as_deref(), Some("13800138000"));
    assert_eq!(alice.orders.len(), 1);
    assert_eq!(alice.orders[0].total, Money::from_fen(4480));
    assert_eq!(alice.orders[0].lines.len(), 2);
    let viewed = &alice.events[1];
    assert_eq!(viewed.product_id.as_ref().unwrap().as_str(), "p1");
    assert_eq!(viewed.price, Some(Money::from_fen(1990)));
    assert_eq!(
        viewed.properties.get("colour").and_then(|v| v.as_str()),
        Some("红色"),
        "custom properties and Chinese text survive"
    );
    assert_eq!(store.history(&PersonId::new("bob").unwrap()).unwrap().unwrap().events.len(), 1);
    assert!(store.history(&PersonId::new("nobody").unwrap()).unwrap().is_none());
}

/// A profile fixture.
pub fn profile(person: &str) -> Profile {
    Profile {
        person_id: PersonId::new(person).unwrap(),
        as_of: at(10, 0),
        registered_at: Some(at(1, 0)),
        registration_age_days: Some(9),
        first_order_at: Some(at(2, 10)),
        last_order_at: Some(at(2, 10)),
        last_active_at: Some(at(3, 10)),
        recency_days: Some(8),
        inactive_days: 7,
        visit_days_30d: 2,
        orders: Windowed { d30: 1, d90: 1, d180: 1, lifetime: 1 },
        monetary: Windowed {
            d30: Money::from_fen(4480),
            d90: Money::from_fen(4480),
            d180: Money::from_fen(4480),
            lifetime: Money::from_fen(4480),
        },
        value_orders: 1,
        value_monetary: Money::from_fen(4480),
        aov: Some(Money::from_fen(4480)),
        refunds: 0,
        refunded: Money::ZERO,
        category_shares: vec![("零食".into(), 0.75), ("pet_food".into(), 0.25)],
        top_category: Some("零食".into()),
        new_product_trial_rate: Some(0.5),
        price_sensitivity: None,
        platform_mix: PlatformMix { app: 0.5, mini_program: 0.25, web: 0.25, store: 0.0 },
        active_hours: std::array::from_fn(|h| h as u32),
        peak_hour: Some(23),
        weekend_share: Some(0.4),
        reviews: 3,
        shares: 1,
        searches_90d: 4,
        views_90d: 10,
        carts_90d: 2,
        shares_90d: 1,
        comparison_days_90d: 1,
        value_tier: ValueTier::Potential,
        rfm: Some(RfmScore { recency: 4, frequency: 2, monetary: 3 }),
        rfm_segment: Some(cohort_model::RfmSegment::PotentialLoyalists),
        lifecycle: LifecycleStage::Active,
        behaviour: BehaviourType::Searcher,
    }
}

fn profiles_round_trip(store: &dyn EventStore) {
    let alice = profile("alice");
    let mut bob = profile("bob");
    bob.rfm = None;
    bob.rfm_segment = None;
    bob.aov = None;
    bob.peak_hour = None;
    store.replace_profiles(&[bob.clone(), alice.clone()]).unwrap();
    assert_eq!(store.profile(&alice.person_id).unwrap().as_ref(), Some(&alice), "a profile reads back exactly");
    assert_eq!(store.profile(&bob.person_id).unwrap().as_ref(), Some(&bob));
    store.replace_profiles(std::slice::from_ref(&alice)).unwrap();
    let mut ids = Vec::new();
    store
        .scan_profiles(&mut |p| {
            ids.push(p.person_id.to_string());
            Ok(())
        })
        .unwrap();
    assert_eq!(ids, ["alice"], "replace_profiles replaces everything");
    assert_eq!(store.stats().unwrap().profiles, 1);
}

fn imports_and_rejections_are_recorded(store: &dyn EventStore) {
    let source = WriteSource { kind: "csv".into(), file: Some("x.csv".into()), checksum: Some("feed".into()) };
    let mut txn = store.begin_write(source.clone()).unwrap();
    txn.reject(RejectedRow {
        file: "x.csv".into(),
        line: 7,
        reason: "column \"price\": not a number".into(),
        raw: "a,b".into(),
    })
    .unwrap();
    let record = txn.commit(12).unwrap();
    {
        // a rejected row in a dropped write is not kept either (writes are
        // serialised, so this one starts after the commit above)
        let mut other = store.begin_write(WriteSource::default()).unwrap();
        other.reject(RejectedRow { file: "y.csv".into(), line: 1, reason: "bad".into(), raw: String::new() }).unwrap();
    }
    assert_eq!(record.rows_read, 12);
    assert_eq!(record.summary.rows_rejected, 1);
    assert_eq!(store.find_import("feed").unwrap().map(|r| r.id), Some(record.id));
    assert!(store.find_import("other").unwrap().is_none());
    let rejected = store.rejected_rows(10).unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 7);
}

fn link(kind: IdKind, id: &str, person: &str, day: u32) -> IdentityLink {
    IdentityLink {
        kind,
        id: id.into(),
        person_id: PersonId::new(person).unwrap(),
        via: "identify".into(),
        at: at(day, 0),
    }
}

fn merge(from: &str, into: &str, via: &str, day: u32) -> PersonMerge {
    PersonMerge {
        from: PersonId::new(from).unwrap(),
        into: PersonId::new(into).unwrap(),
        via: via.into(),
        at: at(day, 0),
    }
}

fn event_ids(store: &dyn EventStore, person: &str) -> Vec<String> {
    store
        .history(&PersonId::new(person).unwrap())
        .unwrap()
        .map(|h| h.events.iter().map(|e| e.id.to_string()).collect())
        .unwrap_or_default()
}

fn merges_move_history_and_links(store: &dyn EventStore) {
    // Before login: two events of an anonymous visitor, stored as their own person.
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    let mut guest = Batch::default();
    for (id, hour) in [("g1", 8), ("g2", 9)] {
        let mut e = event(id, "anon-1", EventName::ProductViewed, at(4, hour));
        e.user_id = None;
        guest.events.push(e);
    }
    guest.orders.push(order("og", Some("anon-1"), at(4, 10), &[("p1", 1, 100)]));
    txn.write(&guest).unwrap();
    txn.commit_stream().unwrap();
    assert_eq!(event_ids(store, "anon-1"), ["g1", "g2"]);

    {
        // a dropped write's links and merges leave no trace
        let mut txn = store.begin_write(WriteSource::default()).unwrap();
        txn.link(link(IdKind::Anonymous, "anon-1", "alice", 5)).unwrap();
        txn.merge(merge("anon-1", "alice", "identify", 5)).unwrap();
    }
    assert!(store.identity_links(None).unwrap().is_empty(), "a dropped write records no link");
    assert!(store.merges(None).unwrap().is_empty(), "a dropped write records no merge");
    assert_eq!(event_ids(store, "anon-1"), ["g1", "g2"], "a dropped merge moves nothing");

    // Login: the visitor becomes alice; her new event is written in the same transaction.
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.write(&Batch { events: vec![event("a1", "alice", EventName::OrderCompleted, at(5, 8))], ..Default::default() })
        .unwrap();
    txn.link(link(IdKind::Anonymous, "anon-1", "alice", 5)).unwrap();
    txn.merge(merge("anon-1", "alice", "identify", 5)).unwrap();
    txn.commit_stream().unwrap();
    assert_eq!(event_ids(store, "alice"), ["g1", "g2", "a1"], "events before login belong to the person after it");
    assert!(store.history(&PersonId::new("anon-1").unwrap()).unwrap().is_none(), "the visitor is gone");
    let alice = store.history(&PersonId::new("alice").unwrap()).unwrap().unwrap();
    assert_eq!(alice.orders.len(), 1, "orders move with the merge");
    assert_eq!(store.identity_links(Some(&PersonId::new("alice").unwrap())).unwrap().len(), 1);

    // Alias chain in one write: alice → alice-2 → alice-3; a second merge of
    // alice (already merged away) moves nothing.
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.link(link(IdKind::Anonymous, "anon-2", "alice", 6)).unwrap();
    txn.link(link(IdKind::User, "alice", "alice-2", 6)).unwrap();
    txn.merge(merge("alice", "alice-2", "alias", 6)).unwrap();
    txn.merge(merge("alice-2", "alice-3", "alias", 6)).unwrap();
    txn.merge(merge("alice", "bob", "alias", 6)).unwrap();
    txn.commit_stream().unwrap();
    assert_eq!(event_ids(store, "alice-3"), ["g1", "g2", "a1"], "merge chains end on the last person");
    assert!(event_ids(store, "bob").is_empty());
    let links = store.identity_links(None).unwrap();
    let resolved: Vec<(IdKind, &str, &str)> =
        links.iter().map(|l| (l.kind, l.id.as_str(), l.person_id.as_str())).collect();
    assert_eq!(
        resolved,
        [
            (IdKind::Anonymous, "anon-1", "alice-3"),
            (IdKind::Anonymous, "anon-2", "alice-3"),
            (IdKind::User, "alice", "alice-3")
        ],
        "links follow merges, one per (kind, id), by kind and id"
    );
    let merges = store.merges(Some(&PersonId::new("alice").unwrap())).unwrap();
    let pairs: Vec<(&str, &str)> = merges.iter().map(|m| (m.from.as_str(), m.into.as_str())).collect();
    assert_eq!(pairs, [("anon-1", "alice"), ("alice", "alice-2"), ("alice", "bob")], "merges are recorded as given");
    assert_eq!(store.merges(None).unwrap().len(), 4);
    assert_eq!(store.merges(None).unwrap()[0].via, "identify");
}

fn stream_commits_keep_rejections_without_an_import(store: &dyn EventStore) {
    let mut txn = store.begin_write(WriteSource { kind: "http".into(), ..Default::default() }).unwrap();
    txn.write(&Batch { events: vec![event("s1", "carol", EventName::CheckedIn, at(7, 8))], ..Default::default() })
        .unwrap();
    txn.reject(RejectedRow {
        file: "POST /v1/batch".into(),
        line: 2,
        reason: "field \"timestamp\": before 2000-01-01".into(),
        raw: "{}".into(),
    })
    .unwrap();
    let summary = txn.commit_stream().unwrap();
    assert_eq!((summary.events_new, summary.rows_rejected), (1, 1));
    assert!(store.imports().unwrap().is_empty(), "a stream commit records no import");
    let rejected = store.rejected_rows(10).unwrap();
    assert_eq!(rejected.len(), 1, "a stream commit keeps its dead letters");
    assert_eq!(rejected[0].file, "POST /v1/batch");
    let mut again = store.begin_write(WriteSource::default()).unwrap();
    again
        .write(&Batch { events: vec![event("s1", "carol", EventName::CheckedIn, at(7, 8))], ..Default::default() })
        .unwrap();
    assert_eq!(again.commit_stream().unwrap().events_duplicate, 1, "stream commits deduplicate by id too");
}

fn appended_events_are_stored_and_remembered(store: &dyn EventStore) {
    let (t1, t2) = (at(8, 1), at(9, 1));
    {
        let mut txn = store.begin_write(WriteSource { kind: "http".into(), ..Default::default() }).unwrap();
        txn.append_events(&[event("x0", "dave", EventName::CheckedIn, at(8, 0))], t1).unwrap();
        // dropped without commit
    }
    assert_eq!(store.stats().unwrap().events, 0, "a dropped append leaves nothing");
    assert!(store.seen_event_ids(at(1, 0)).unwrap().is_empty(), "a dropped append remembers nothing");
    let mut txn = store.begin_write(WriteSource { kind: "http".into(), ..Default::default() }).unwrap();
    let first =
        [event("a1", "anon-1", EventName::CheckedIn, at(8, 0)), event("a2", "anon-1", EventName::CheckedIn, at(8, 1))];
    txn.append_events(&first, t1).unwrap();
    txn.write(&Batch { events: vec![event("a3", "dave", EventName::CheckedIn, at(8, 2))], ..Default::default() })
        .unwrap();
    txn.merge(merge("anon-1", "dave", "identify", 8)).unwrap();
    let summary = txn.commit_stream().unwrap();
    assert_eq!(summary.events_new, 3, "appended and written events are both stored");
    assert_eq!(event_ids(store, "dave"), ["a1", "a2", "a3"], "a merge of the same write moves appended events");
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.append_events(&[event("a4", "dave", EventName::CheckedIn, at(9, 0))], t2).unwrap();
    txn.commit_stream().unwrap();
    let mut seen = store.seen_event_ids(t1).unwrap();
    seen.sort();
    assert_eq!(seen, [("a1".to_string(), t1), ("a2".to_string(), t1), ("a4".to_string(), t2)]);
    assert_eq!(store.seen_event_ids(t2).unwrap(), [("a4".to_string(), t2)], "seen ids are filtered by time");
    assert_eq!(store.forget_seen_event_ids(t2).unwrap(), 2, "ids seen before the cut are forgotten");
    assert_eq!(store.seen_event_ids(t1).unwrap(), [("a4".to_string(), t2)]);
    assert_eq!(store.stats().unwrap().events, 4, "forgetting seen ids keeps the events");
}

fn identified(id: &str, edit: impl FnOnce(&mut User)) -> Batch {
    let mut user = User::new(UserId::new(id).unwrap());
    edit(&mut user);
    Batch { users: vec![user], ..Default::default() }
}

fn stored_user(store: &dyn EventStore, id: &str) -> User {
    let history = store.history(&PersonId::new(id).unwrap()).unwrap();
    history.and_then(|h| h.user).unwrap_or_else(|| panic!("user {id} is stored"))
}

/// identify twice with different traits → both kept, the later value wins
/// per key; known attributes change only when the later write carries them.
fn identify_twice_keeps_both_traits(store: &dyn EventStore) {
    let json = |v: serde_json::Value| v.as_object().unwrap().clone();
    let mut txn = store.begin_write(WriteSource { kind: "http".into(), ..Default::default() }).unwrap();
    txn.write(&identified("erin", |u| {
        u.phone = Some("13800138000".into());
        u.city = Some("杭州".into());
        u.registered_at = Some(at(1, 8));
        u.traits = json(serde_json::json!({"plan": "free", "vip": false, "address": {"street": "A", "zip": "1"}}));
    }))
    .unwrap();
    txn.commit_stream().unwrap();
    let mut txn = store.begin_write(WriteSource { kind: "http".into(), ..Default::default() }).unwrap();
    txn.write(&identified("erin", |u| {
        u.city = Some("上海".into());
        u.traits = json(serde_json::json!({"plan": "pro", "nickname": "e", "address": {"street": "B"}}));
    }))
    .unwrap();
    txn.commit_stream().unwrap();
    let user = stored_user(store, "erin");
    assert_eq!(user.phone.as_deref(), Some("13800138000"), "an attribute the later identify lacks is kept");
    assert_eq!(user.registered_at, Some(at(1, 8)), "an attribute the later identify lacks is kept");
    assert_eq!(user.city.as_deref(), Some("上海"), "the later identify's attribute wins");
    assert_eq!(
        serde_json::Value::Object(user.traits),
        serde_json::json!({"plan": "pro", "vip": false, "nickname": "e", "address": {"street": "B"}}),
        "traits of both identifies are kept, the later value wins per top-level key"
    );

    // Several writes of one user in one transaction fold in order, onto
    // what is stored; a write without traits keeps them.
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.write(&identified("erin", |u| u.traits = json(serde_json::json!({"plan": "team", "a/b~c": 1})))).unwrap();
    txn.write(&identified("erin", |u| u.gender = Some("f".into()))).unwrap();
    txn.write(&identified("erin", |u| u.traits = json(serde_json::json!({"vip": true, "a/b~c": 2})))).unwrap();
    txn.write(&identified("frank", |u| u.traits = json(serde_json::json!({"plan": "free"})))).unwrap();
    txn.commit(4).unwrap();
    let user = stored_user(store, "erin");
    assert_eq!((user.gender.as_deref(), user.city.as_deref()), (Some("f"), Some("上海")));
    assert_eq!(
        serde_json::Value::Object(user.traits),
        serde_json::json!({"plan": "team", "vip": true, "nickname": "e", "address": {"street": "B"}, "a/b~c": 2}),
        "writes within one transaction merge in order"
    );
    assert_eq!(serde_json::Value::Object(stored_user(store, "frank").traits), serde_json::json!({"plan": "free"}));
    assert_eq!(store.stats().unwrap().users, 2);
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_store_conforms() {
        super::run_all(crate::MemoryStore::new);
    }

    #[test]
    fn composed_merges_follow_chains() {
        let moves = crate::compose_merges(&[
            super::merge("a", "b", "x", 1),
            super::merge("b", "c", "x", 1),
            super::merge("a", "d", "x", 1),
            super::merge("c", "a", "x", 1),
        ]);
        let pairs: Vec<(&str, &str)> = moves.iter().map(|(f, i)| (f.as_str(), i.as_str())).collect();
        assert_eq!(pairs, [("a", "c"), ("b", "c")]);
    }
}
