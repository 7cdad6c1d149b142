//! Small hand-built shops.

use chrono::{DateTime, Utc};
use cohort_analytics::Analytics;
use cohort_duckdb::DuckDbStore;
use cohort_model::{
    Batch, Event, EventId, EventName, Money, Order, OrderId, OrderKind, PersonId, Platform, ShopTime, User, UserId,
};
use cohort_store::{EventStore, WriteSource};

/// Parses an RFC 3339 instant.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A shop being built.
#[derive(Default)]
pub struct Shop {
    batch: Batch,
    n: usize,
}

impl Shop {
    /// An event of `person` at `time` (RFC 3339).
    pub fn event(&mut self, person: &str, name: &str, time: &str) -> &mut Event {
        self.n += 1;
        let e = Event::new(
            EventId::new(format!("e{:05}", self.n)).unwrap(),
            Some(PersonId::new(person).unwrap()),
            EventName::parse(name),
            at(time),
        );
        self.batch.events.push(e);
        self.batch.events.last_mut().unwrap()
    }

    /// Events of `person` at times given as minutes after `base`.
    pub fn seq(&mut self, person: &str, base: &str, steps: &[(&str, i64)]) {
        for &(name, minutes) in steps {
            let t = at(base) + chrono::Duration::minutes(minutes);
            self.event(person, name, &t.to_rfc3339());
        }
    }

    /// An event on a platform.
    pub fn on(&mut self, person: &str, name: &str, time: &str, platform: Platform) {
        self.event(person, name, time).platform = Some(platform);
    }

    /// A purchase of `fen` by `person`.
    pub fn order(&mut self, person: &str, time: &str, fen: i64) {
        self.n += 1;
        self.batch.orders.push(Order {
            id: OrderId::new(format!("o{:05}", self.n)).unwrap(),
            kind: OrderKind::Purchase,
            person_id: Some(PersonId::new(person).unwrap()),
            user_id: None,
            anonymous_id: None,
            placed_at: at(time),
            platform: None,
            channel: None,
            total: Money::from_fen(fen),
            discount: Money::ZERO,
            shipping: Money::ZERO,
            coupon: None,
            refund_of: None,
            properties: serde_json::Map::new(),
            lines: vec![],
        });
        self.event(person, "Order Completed", time).revenue = Some(Money::from_fen(fen));
    }

    /// A purchase of `fen` by `person` carrying an acquisition channel.
    pub fn order_via(&mut self, person: &str, time: &str, fen: i64, channel: &str) {
        self.order(person, time, fen);
        self.batch.orders.last_mut().unwrap().channel = Some(channel.to_string());
    }

    /// A registered user.
    pub fn user(&mut self, id: &str, registered: &str) {
        let mut u = User::new(UserId::new(id).unwrap());
        u.registered_at = Some(at(registered));
        self.batch.users.push(u);
    }

    /// A registered user with an acquisition channel.
    pub fn user_via(&mut self, id: &str, registered: &str, channel: &str) {
        self.user(id, registered);
        self.batch.users.last_mut().unwrap().channel = Some(channel.to_string());
    }

    /// Writes everything into a fresh in-memory store.
    pub fn store(&self) -> DuckDbStore {
        let store = DuckDbStore::open_in_memory().unwrap();
        let mut txn = store.begin_write(WriteSource { kind: "test".into(), ..Default::default() }).unwrap();
        txn.write(&self.batch).unwrap();
        txn.commit(0).unwrap();
        store
    }
}

/// The engine in Shanghai time.
pub fn engine(store: &DuckDbStore) -> Analytics<'_> {
    Analytics::new(store, ShopTime::default())
}
