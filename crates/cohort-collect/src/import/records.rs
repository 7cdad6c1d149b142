//! Building model records from one generic row.

use cohort_model::{
    AnonymousId, Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Product, ProductId,
    User, UserId,
};

use super::generic::{Generic, Locs, OrderHead};
use super::parse;
use super::rows::{self, Loc, Row};

macro_rules! cols {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ $(,)? }) => {
        $(#[$doc])*
        pub(crate) struct $name {
            $(pub $field: Option<Loc>,)+
        }

        impl $name {
            /// Takes each field's location out of the resolved set.
            pub(crate) fn take(locs: &mut Locs) -> Self {
                $name { $($field: locs.take(stringify!($field)),)+ }
            }
        }
    };
}

cols!(
    /// Where each event field is read from.
    EventCols {
        id, person_id, user_id, anonymous_id, event, timestamp, platform, channel, product_id, category, price,
        quantity, order_id, revenue, discount, coupon, query, rating, review_body, properties,
    }
);

cols!(
    /// Where each order-line field is read from.
    OrderCols {
        order_id, kind, person_id, user_id, anonymous_id, placed_at, platform, channel, total, discount, shipping,
        coupon, refund_of, line_no, product_id, quantity, unit_price, category, properties,
    }
);

cols!(
    /// Where each user field is read from.
    UserCols { user_id, registered_at, platform, channel, birthday, gender, city, phone, traits }
);

cols!(
    /// Where each product field is read from.
    ProductCols { product_id, name, category, price, brand, launched_at, consumable, in_stock }
);

/// Segment calls that are not behaviour events.
const NOT_EVENTS: &[&str] = &["identify", "group", "alias"];

/// The resolved person: explicit, else the user, else the visitor.
fn person(explicit: Option<PersonId>, user: &Option<UserId>, anonymous: &Option<AnonymousId>) -> Option<PersonId> {
    explicit.or_else(|| user.clone().map(PersonId::from)).or_else(|| anonymous.clone().map(PersonId::from))
}

fn money(g: &mut Generic, row: &Row<'_>, loc: &Option<Loc>) -> Result<Option<Money>, String> {
    let ctx = g.ctx();
    rows::money(row, loc, ctx.money_unit, &mut ctx.rounded)
}

fn instant(g: &mut Generic, row: &Row<'_>, loc: &Option<Loc>) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
    rows::instant(row, loc, &mut g.ctx().instants)
}

/// An event from a row; its id is the id column, else `{checksum16}:{line}`.
pub(crate) fn event(c: &EventCols, line: u64, row: &Row<'_>, g: &mut Generic) -> Result<Event, String> {
    let name = rows::required_text(row, &c.event, "event name")?;
    if NOT_EVENTS.iter().any(|n| name.eq_ignore_ascii_case(n)) {
        return Err(format!("a Segment {name:?} call is not a behaviour event (import it as users)"));
    }
    let timestamp = instant(g, row, &c.timestamp)?.ok_or_else(|| rows::missing(&c.timestamp, "timestamp"))?;
    let user_id = rows::id(row, &c.user_id, UserId::new)?;
    let anonymous_id = rows::id(row, &c.anonymous_id, AnonymousId::new)?;
    let person_id = person(rows::id(row, &c.person_id, PersonId::new)?, &user_id, &anonymous_id)
        .ok_or("missing person: no person_id, user_id or anonymous_id")?;
    let id = match rows::id(row, &c.id, EventId::new)? {
        Some(id) => id,
        None => EventId::new(format!("{}:{line}", g.ctx().checksum16)).map_err(|e| e.to_string())?,
    };
    let mut event = Event::new(id, Some(person_id), EventName::parse(&name), timestamp);
    event.user_id = user_id;
    event.anonymous_id = anonymous_id;
    event.platform = rows::read(row, &c.platform, parse::platform)?;
    event.channel = rows::text(row, &c.channel)?;
    event.product_id = rows::id(row, &c.product_id, ProductId::new)?;
    event.category = rows::text(row, &c.category)?;
    event.price = money(g, row, &c.price)?;
    event.quantity = rows::integer(row, &c.quantity)?;
    event.order_id = rows::id(row, &c.order_id, OrderId::new)?;
    event.revenue = money(g, row, &c.revenue)?;
    event.discount = money(g, row, &c.discount)?;
    event.coupon = rows::text(row, &c.coupon)?;
    event.query = rows::text(row, &c.query)?;
    event.rating = rows::read(row, &c.rating, rating)?;
    event.review_body = rows::text(row, &c.review_body)?;
    event.properties = g.extras(row, &c.properties)?;
    Ok(event)
}

fn rating(text: &str) -> Result<u8, String> {
    match parse::integer(text) {
        Ok(r @ 1..=5) => Ok(r as u8),
        _ => Err(format!("invalid rating {text:?} (expected 1 to 5)")),
    }
}

fn order_kind(text: &str) -> Result<OrderKind, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "purchase" | "order" | "sale" => Ok(OrderKind::Purchase),
        "refund" | "return" => Ok(OrderKind::Refund),
        _ => Err(format!("invalid order kind {text:?} (expected purchase or refund)")),
    }
}

fn line_no(text: &str) -> Result<u32, String> {
    match parse::integer(text) {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("invalid line number {text:?}")),
        _ => Err(format!("invalid line number {text:?} (expected 1 or more)")),
    }
}

/// One order line and its order's fields (repeated on every line).
pub(crate) fn order_line(c: &OrderCols, row: &Row<'_>, g: &mut Generic) -> Result<(OrderHead, OrderLine), String> {
    let id = rows::id(row, &c.order_id, OrderId::new)?.ok_or_else(|| rows::missing(&c.order_id, "order id"))?;
    let placed_at = instant(g, row, &c.placed_at)?.ok_or_else(|| rows::missing(&c.placed_at, "placed_at"))?;
    let product_id =
        rows::id(row, &c.product_id, ProductId::new)?.ok_or_else(|| rows::missing(&c.product_id, "product id"))?;
    let user_id = rows::id(row, &c.user_id, UserId::new)?;
    let anonymous_id = rows::id(row, &c.anonymous_id, AnonymousId::new)?;
    let person_id = person(rows::id(row, &c.person_id, PersonId::new)?, &user_id, &anonymous_id);
    let line = OrderLine {
        line_no: 0,
        product_id,
        quantity: rows::integer(row, &c.quantity)?.unwrap_or(1),
        unit_price: money(g, row, &c.unit_price)?.unwrap_or(Money::ZERO),
        category: rows::text(row, &c.category)?,
    };
    let order = Order {
        id,
        kind: rows::read(row, &c.kind, order_kind)?.unwrap_or(OrderKind::Purchase),
        person_id,
        user_id,
        anonymous_id,
        placed_at,
        platform: rows::read(row, &c.platform, parse::platform)?,
        channel: rows::text(row, &c.channel)?,
        total: Money::ZERO,
        discount: money(g, row, &c.discount)?.unwrap_or(Money::ZERO),
        shipping: money(g, row, &c.shipping)?.unwrap_or(Money::ZERO),
        coupon: rows::text(row, &c.coupon)?,
        refund_of: rows::id(row, &c.refund_of, OrderId::new)?,
        properties: g.extras(row, &c.properties)?,
        lines: Vec::new(),
    };
    let head = OrderHead { order, total: money(g, row, &c.total)?, line_no: rows::read(row, &c.line_no, line_no)? };
    Ok((head, line))
}

/// A user from a row.
pub(crate) fn user(c: &UserCols, row: &Row<'_>, g: &mut Generic) -> Result<User, String> {
    let id = rows::id(row, &c.user_id, UserId::new)?.ok_or_else(|| rows::missing(&c.user_id, "user id"))?;
    let mut user = User::new(id);
    user.registered_at = instant(g, row, &c.registered_at)?;
    user.platform = rows::read(row, &c.platform, parse::platform)?;
    user.channel = rows::text(row, &c.channel)?;
    user.birthday = rows::read(row, &c.birthday, parse::date)?;
    user.gender = rows::text(row, &c.gender)?;
    user.city = rows::text(row, &c.city)?;
    user.phone = rows::text(row, &c.phone)?;
    user.traits = g.extras(row, &c.traits)?;
    Ok(user)
}

/// A product from a row.
pub(crate) fn product(c: &ProductCols, row: &Row<'_>, g: &mut Generic) -> Result<Product, String> {
    let id = rows::id(row, &c.product_id, ProductId::new)?.ok_or_else(|| rows::missing(&c.product_id, "product id"))?;
    let mut product = Product::new(id);
    product.name = rows::text(row, &c.name)?;
    product.category = rows::text(row, &c.category)?;
    product.price = money(g, row, &c.price)?;
    product.brand = rows::text(row, &c.brand)?;
    product.launched_at = instant(g, row, &c.launched_at)?;
    product.consumable = rows::read(row, &c.consumable, parse::boolean)?.unwrap_or(false);
    product.in_stock = rows::read(row, &c.in_stock, parse::boolean)?.unwrap_or(true);
    Ok(product)
}
