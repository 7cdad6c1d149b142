//! Shared fixtures: instants in Shanghai time relative to a fixed `as_of`.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use cohort_insight::{build_profile, Catalogue};
use cohort_model::{Event, EventName, Money, Order, OrderKind, PersonId, Profile, ShopTime, User, UserId};
use cohort_store::conformance;
use cohort_store::PersonHistory;

/// A Shanghai wall-clock time as a UTC instant.
pub fn sh(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(y, m, d, h, mi, 0).unwrap().with_timezone(&Utc)
}

/// Sunday 2024-06-30 12:00 in Shanghai.
pub fn as_of() -> DateTime<Utc> {
    sh(2024, 6, 30, 12, 0)
}

/// `days` shop-local days before `as_of`, at `hour`:00 Shanghai time.
pub fn ago(days: i64, hour: u32) -> DateTime<Utc> {
    let date = NaiveDate::from_ymd_opt(2024, 6, 30).unwrap() - Duration::days(days);
    let local = date.and_hms_opt(hour, 0, 0).unwrap();
    chrono_tz::Asia::Shanghai.from_local_datetime(&local).unwrap().with_timezone(&Utc)
}

/// The default shop time (Asia/Shanghai).
pub fn shop() -> ShopTime {
    ShopTime::default()
}

/// An empty history.
pub fn history(person: &str) -> PersonHistory {
    PersonHistory { person_id: PersonId::new(person).unwrap(), user: None, events: Vec::new(), orders: Vec::new() }
}

/// A registered user.
pub fn user(person: &str, registered_at: Option<DateTime<Utc>>) -> User {
    let mut u = User::new(UserId::new(person).unwrap());
    u.registered_at = registered_at;
    u
}

/// An event (platform app) of `person`.
pub fn ev(id: &str, person: &str, name: EventName, at: DateTime<Utc>) -> Event {
    conformance::event(id, person, name, at)
}

/// A product view with an event-level category (or none).
pub fn view(id: &str, person: &str, at: DateTime<Utc>, product: &str, category: Option<&str>) -> Event {
    let mut e = ev(id, person, EventName::ProductViewed, at);
    e.product_id = Some(cohort_model::ProductId::new(product).unwrap());
    e.category = category.map(str::to_string);
    e
}

/// A purchase (platform web) of one line `total` fen, category `snacks`.
pub fn purchase(id: &str, person: &str, at: DateTime<Utc>, total: i64) -> Order {
    conformance::order(id, Some(person), at, &[("p-any", 1, total)])
}

/// A refund of `total` fen.
pub fn refund(id: &str, person: &str, at: DateTime<Utc>, total: i64) -> Order {
    let mut o = conformance::order(id, Some(person), at, &[("p-any", 1, total)]);
    o.kind = OrderKind::Refund;
    o.total = Money::from_fen(total);
    o
}

/// Sorts a history the way stores return it.
pub fn sorted(mut h: PersonHistory) -> PersonHistory {
    h.events.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    h.orders.sort_by(|a, b| (a.placed_at, &a.id).cmp(&(b.placed_at, &b.id)));
    h
}

/// The profile of `h` at [`as_of`] with an empty catalogue.
pub fn profile_of(h: &PersonHistory) -> Profile {
    build_profile(h, &Catalogue::new(), as_of(), &shop())
}

/// A buyer registered 400 days ago whose purchases are `(days ago, fen)`.
pub fn buyer(person: &str, purchases: &[(i64, i64)]) -> Profile {
    let mut h = history(person);
    h.user = Some(user(person, Some(ago(400, 9))));
    for (i, &(days, fen)) in purchases.iter().enumerate() {
        h.orders.push(purchase(&format!("{person}-o{i}"), person, ago(days, 12), fen));
    }
    profile_of(&sorted(h))
}
