//! Reads: histories grouped by person, profiles, imports, stats.

use chrono::{DateTime, Utc};
use std::iter::Peekable;

use cohort_model::{
    AnonymousId, Event, EventId, EventName, Money, Order, OrderId, OrderLine, PersonId, Product, ProductId, Profile,
    User, UserId,
};
use cohort_store::{
    IdKind, IdentityLink, ImportRecord, PersonHistory, PersonMerge, RejectedRow, Result, StoreError, StoreStats,
    WriteSource,
};
use duckdb::{params_from_iter, Connection, Row};

use crate::backend;
use crate::codec::{from_micros, opt_from_micros, parse, parse_json_map};

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, reason: e.to_string() }
}

fn id<T: std::str::FromStr>(what: &'static str, s: Option<String>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    s.map(|s| parse::<T>(what, &s)).transpose()
}

pub(crate) const EVENT_COLUMNS: &str =
    "event_id, person_id, user_id, anonymous_id, event, epoch_us(ts), platform, channel,
    product_id, category, price_fen, quantity, order_id, revenue_fen, discount_fen, coupon, query, rating,
    review_body, properties";

pub(crate) fn event_from_row(r: &Row<'_>) -> Result<Event> {
    let g = |e: duckdb::Error| corrupt("event", e);
    let name: String = r.get(4).map_err(g)?;
    let mut e = Event::new(
        parse::<EventId>("event", &r.get::<_, String>(0).map_err(g)?)?,
        id("event", r.get(1).map_err(g)?)?,
        EventName::parse(&name),
        from_micros("event", r.get(5).map_err(g)?)?,
    );
    e.user_id = id::<UserId>("event", r.get(2).map_err(g)?)?;
    e.anonymous_id = id::<AnonymousId>("event", r.get(3).map_err(g)?)?;
    e.platform = id("event", r.get(6).map_err(g)?)?;
    e.channel = r.get(7).map_err(g)?;
    e.product_id = id::<ProductId>("event", r.get(8).map_err(g)?)?;
    e.category = r.get(9).map_err(g)?;
    e.price = r.get::<_, Option<i64>>(10).map_err(g)?.map(Money::from_fen);
    e.quantity = r.get(11).map_err(g)?;
    e.order_id = id::<OrderId>("event", r.get(12).map_err(g)?)?;
    e.revenue = r.get::<_, Option<i64>>(13).map_err(g)?.map(Money::from_fen);
    e.discount = r.get::<_, Option<i64>>(14).map_err(g)?.map(Money::from_fen);
    e.coupon = r.get(15).map_err(g)?;
    e.query = r.get(16).map_err(g)?;
    e.rating = r.get(17).map_err(g)?;
    e.review_body = r.get(18).map_err(g)?;
    e.properties = parse_json_map("event", r.get(19).map_err(g)?)?;
    Ok(e)
}

const ORDER_COLUMNS: &str = "o.order_id, o.kind, o.person_id, o.user_id, o.anonymous_id, epoch_us(o.placed_at),
    o.platform, o.channel, o.total_fen, o.discount_fen, o.shipping_fen, o.coupon, o.refund_of, o.properties,
    l.line_no, l.product_id, l.quantity, l.unit_price_fen, l.category";

fn order_from_row(r: &Row<'_>) -> Result<Order> {
    let g = |e: duckdb::Error| corrupt("order", e);
    let kind: String = r.get(1).map_err(g)?;
    Ok(Order {
        id: parse("order", &r.get::<_, String>(0).map_err(g)?)?,
        kind: match kind.as_str() {
            "purchase" => cohort_model::OrderKind::Purchase,
            "refund" => cohort_model::OrderKind::Refund,
            other => return Err(corrupt("order", format!("unknown order kind {other:?}"))),
        },
        person_id: id("order", r.get(2).map_err(g)?)?,
        user_id: id("order", r.get(3).map_err(g)?)?,
        anonymous_id: id("order", r.get(4).map_err(g)?)?,
        placed_at: from_micros("order", r.get(5).map_err(g)?)?,
        platform: id("order", r.get(6).map_err(g)?)?,
        channel: r.get(7).map_err(g)?,
        total: Money::from_fen(r.get(8).map_err(g)?),
        discount: Money::from_fen(r.get(9).map_err(g)?),
        shipping: Money::from_fen(r.get(10).map_err(g)?),
        coupon: r.get(11).map_err(g)?,
        refund_of: id("order", r.get(12).map_err(g)?)?,
        properties: parse_json_map("order", r.get(13).map_err(g)?)?,
        lines: Vec::new(),
    })
}

fn line_from_row(r: &Row<'_>) -> Result<Option<OrderLine>> {
    let g = |e: duckdb::Error| corrupt("order line", e);
    let Some(line_no) = r.get::<_, Option<u32>>(14).map_err(g)? else { return Ok(None) };
    Ok(Some(OrderLine {
        line_no,
        product_id: parse("order line", &r.get::<_, String>(15).map_err(g)?)?,
        quantity: r.get(16).map_err(g)?,
        unit_price: Money::from_fen(r.get(17).map_err(g)?),
        category: r.get(18).map_err(g)?,
    }))
}

const USER_COLUMNS: &str =
    "user_id, epoch_us(registered_at), platform, channel, strftime(birthday, '%Y-%m-%d'), gender, city, phone, traits";

fn user_from_row(r: &Row<'_>) -> Result<User> {
    let g = |e: duckdb::Error| corrupt("user", e);
    let birthday: Option<String> = r.get(4).map_err(g)?;
    Ok(User {
        id: parse("user", &r.get::<_, String>(0).map_err(g)?)?,
        registered_at: opt_from_micros("user", r.get(1).map_err(g)?)?,
        platform: id("user", r.get(2).map_err(g)?)?,
        channel: r.get(3).map_err(g)?,
        birthday: birthday
            .map(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").map_err(|e| corrupt("user", e)))
            .transpose()?,
        gender: r.get(5).map_err(g)?,
        city: r.get(6).map_err(g)?,
        phone: r.get(7).map_err(g)?,
        traits: parse_json_map("user", r.get(8).map_err(g)?)?,
    })
}

/// Runs `sql` with `params` (person ids) and decodes every row.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[&str],
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare(sql).map_err(backend)?;
    let mut rows = stmt.query(params_from_iter(params)).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Persons decoded per round trip of a full scan: bounds memory to a slice of
/// the shop instead of every event at once.
const PERSONS_PER_SLICE: usize = 20_000;

/// Streams every person's history (or one person's) in person id order. A
/// full scan walks the sorted person ids in slices; each slice is three
/// sorted reads (users, events, orders with lines) merged by person id.
pub(crate) fn scan_histories(
    conn: &Connection,
    only: Option<&PersonId>,
    visit: &mut dyn FnMut(PersonHistory) -> Result<()>,
) -> Result<()> {
    if let Some(person) = only {
        return scan_persons(conn, "{col} = ?", &[person.as_str()], visit);
    }
    // The first id of every slice; a slice ends where the next one starts.
    let starts = rows(
        conn,
        &format!(
            "SELECT person_id FROM (
                 SELECT user_id AS person_id FROM users
                 UNION SELECT person_id FROM events WHERE person_id IS NOT NULL
                 UNION SELECT person_id FROM orders WHERE person_id IS NOT NULL)
             QUALIFY (row_number() OVER (ORDER BY person_id) - 1) % {PERSONS_PER_SLICE} = 0
             ORDER BY person_id"
        ),
        &[],
        |r| r.get::<_, String>(0).map_err(backend),
    )?;
    for (i, first) in starts.iter().enumerate() {
        match starts.get(i + 1) {
            Some(next) => scan_persons(conn, "{col} >= ? AND {col} < ?", &[first, next], visit)?,
            None => scan_persons(conn, "{col} >= ?", &[first], visit)?,
        }
    }
    Ok(())
}

/// The histories of the persons whose id (`{col}` in `filter`) matches.
fn scan_persons(
    conn: &Connection,
    filter: &str,
    params: &[&str],
    visit: &mut dyn FnMut(PersonHistory) -> Result<()>,
) -> Result<()> {
    let range = |col: &str| filter.replace("{col}", col);
    let users = rows(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE {} ORDER BY user_id", range("user_id")),
        params,
        user_from_row,
    )?;
    let events = rows(
        conn,
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY person_id, ts, event_id", range("person_id")),
        params,
        event_from_row,
    )?;
    let order_rows = rows(
        conn,
        &format!(
            "SELECT {ORDER_COLUMNS} FROM orders o LEFT JOIN order_lines l USING (order_id)
             WHERE {} ORDER BY o.person_id, o.placed_at, o.order_id, l.line_no",
            range("o.person_id")
        ),
        params,
        |r| Ok((order_from_row(r)?, line_from_row(r)?)),
    )?;
    let mut orders: Vec<Order> = Vec::new();
    for (order, line) in order_rows {
        match orders.last_mut() {
            Some(last) if last.id == order.id => last.lines.extend(line),
            _ => {
                let mut order = order;
                order.lines.extend(line);
                orders.push(order);
            }
        }
    }
    merge(users.into_iter().peekable(), events.into_iter().peekable(), orders.into_iter().peekable(), visit)
}

fn merge(
    mut users: Peekable<impl Iterator<Item = User>>,
    mut events: Peekable<impl Iterator<Item = Event>>,
    mut orders: Peekable<impl Iterator<Item = Order>>,
    visit: &mut dyn FnMut(PersonHistory) -> Result<()>,
) -> Result<()> {
    loop {
        let next = [
            users.peek().map(|u| u.id.as_str()),
            events.peek().and_then(|e| e.person_id.as_ref()).map(|p| p.as_str()),
            orders.peek().and_then(|o| o.person_id.as_ref()).map(|p| p.as_str()),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(str::to_string);
        let Some(person) = next else { return Ok(()) };
        let user = users.next_if(|u| u.id.as_str() == person);
        let mut history =
            PersonHistory { person_id: parse("person", &person)?, user, events: Vec::new(), orders: Vec::new() };
        while let Some(e) = events.next_if(|e| e.person_id.as_ref().is_some_and(|p| p.as_str() == person)) {
            history.events.push(e);
        }
        while let Some(o) = orders.next_if(|o| o.person_id.as_ref().is_some_and(|p| p.as_str() == person)) {
            history.orders.push(o);
        }
        visit(history)?;
    }
}

pub(crate) fn scan_profiles(
    conn: &Connection,
    only: Option<&PersonId>,
    visit: &mut dyn FnMut(Profile) -> Result<()>,
) -> Result<()> {
    let sql = match only {
        Some(_) => "SELECT doc FROM profiles WHERE person_id = ?",
        None => "SELECT doc FROM profiles ORDER BY person_id",
    };
    let mut stmt = conn.prepare(sql).map_err(backend)?;
    let params: Vec<&str> = only.map(|p| p.as_str()).into_iter().collect();
    let mut rows = stmt.query(params_from_iter(params)).map_err(backend)?;
    while let Some(row) = rows.next().map_err(backend)? {
        let doc: String = row.get(0).map_err(backend)?;
        visit(serde_json::from_str(&doc).map_err(|e| corrupt("profile", e))?)?;
    }
    Ok(())
}

pub(crate) fn products(conn: &Connection) -> Result<Vec<Product>> {
    rows(
        conn,
        "SELECT product_id, name, category, price_fen, brand, epoch_us(launched_at), consumable, in_stock
         FROM products ORDER BY product_id",
        &[],
        |r| {
            let g = |e: duckdb::Error| corrupt("product", e);
            Ok(Product {
                id: parse("product", &r.get::<_, String>(0).map_err(g)?)?,
                name: r.get(1).map_err(g)?,
                category: r.get(2).map_err(g)?,
                price: r.get::<_, Option<i64>>(3).map_err(g)?.map(Money::from_fen),
                brand: r.get(4).map_err(g)?,
                launched_at: opt_from_micros("product", r.get(5).map_err(g)?)?,
                consumable: r.get(6).map_err(g)?,
                in_stock: r.get(7).map_err(g)?,
            })
        },
    )
}

pub(crate) fn imports(conn: &Connection, checksum: Option<&str>) -> Result<Vec<ImportRecord>> {
    let sql = format!(
        "SELECT import_id, kind, file, checksum, rows_read, summary, epoch_us(finished_at) FROM imports {} ORDER BY import_id",
        if checksum.is_some() { "WHERE checksum = ?" } else { "" }
    );
    let mut stmt = conn.prepare(&sql).map_err(backend)?;
    let params: Vec<&str> = checksum.into_iter().collect();
    let mut rows = stmt.query(params_from_iter(params)).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend)? {
        let g = |e: duckdb::Error| corrupt("import", e);
        let summary: String = r.get(5).map_err(g)?;
        out.push(ImportRecord {
            id: r.get(0).map_err(g)?,
            source: WriteSource {
                kind: r.get(1).map_err(g)?,
                file: r.get(2).map_err(g)?,
                checksum: r.get(3).map_err(g)?,
            },
            rows_read: r.get::<_, i64>(4).map_err(g)? as u64,
            summary: serde_json::from_str(&summary).map_err(|e| corrupt("import", e))?,
            finished_at: from_micros("import", r.get(6).map_err(g)?)?,
        });
    }
    Ok(out)
}

pub(crate) fn rejected_rows(conn: &Connection, limit: usize) -> Result<Vec<RejectedRow>> {
    rows(conn, &format!("SELECT file, line, reason, raw FROM rejected_rows ORDER BY rowid LIMIT {limit}"), &[], |r| {
        let g = |e: duckdb::Error| corrupt("rejected row", e);
        Ok(RejectedRow {
            file: r.get(0).map_err(g)?,
            line: r.get::<_, i64>(1).map_err(g)? as u64,
            reason: r.get(2).map_err(g)?,
            raw: r.get(3).map_err(g)?,
        })
    })
}

pub(crate) fn identity_links(conn: &Connection, person: Option<&PersonId>) -> Result<Vec<IdentityLink>> {
    let filter = if person.is_some() { "WHERE person_id = ?" } else { "" };
    let sql =
        format!("SELECT kind, id, person_id, via, epoch_us(linked_at) FROM identity_links {filter} ORDER BY kind, id");
    let params: Vec<&str> = person.map(|p| p.as_str()).into_iter().collect();
    rows(conn, &sql, &params, |r| {
        let g = |e: duckdb::Error| corrupt("identity link", e);
        let kind: String = r.get(0).map_err(g)?;
        Ok(IdentityLink {
            kind: IdKind::parse(&kind).ok_or_else(|| corrupt("identity link", format!("unknown id kind {kind:?}")))?,
            id: r.get(1).map_err(g)?,
            person_id: parse("identity link", &r.get::<_, String>(2).map_err(g)?)?,
            via: r.get(3).map_err(g)?,
            at: from_micros("identity link", r.get(4).map_err(g)?)?,
        })
    })
}

pub(crate) fn merges(conn: &Connection, person: Option<&PersonId>) -> Result<Vec<PersonMerge>> {
    let filter = if person.is_some() { "WHERE from_person = ?1 OR into_person = ?1" } else { "" };
    let sql =
        format!("SELECT from_person, into_person, via, epoch_us(merged_at) FROM person_merges {filter} ORDER BY seq");
    let params: Vec<&str> = person.map(|p| p.as_str()).into_iter().collect();
    rows(conn, &sql, &params, |r| {
        let g = |e: duckdb::Error| corrupt("person merge", e);
        Ok(PersonMerge {
            from: parse("person merge", &r.get::<_, String>(0).map_err(g)?)?,
            into: parse("person merge", &r.get::<_, String>(1).map_err(g)?)?,
            via: r.get(2).map_err(g)?,
            at: from_micros("person merge", r.get(3).map_err(g)?)?,
        })
    })
}

pub(crate) fn stats(conn: &Connection) -> Result<StoreStats> {
    conn.query_row(
        "SELECT
            (SELECT count(*) FROM events),
            (SELECT count(*) FROM orders),
            (SELECT count(*) FROM order_lines),
            (SELECT count(*) FROM products),
            (SELECT count(*) FROM users),
            (SELECT count(*) FROM (SELECT person_id FROM events WHERE person_id IS NOT NULL
                                   UNION SELECT person_id FROM orders WHERE person_id IS NOT NULL)),
            (SELECT count(*) FROM profiles),
            (SELECT epoch_us(min(t))
               FROM (SELECT min(ts) AS t FROM events UNION ALL SELECT min(placed_at) FROM orders)),
            (SELECT epoch_us(max(t))
               FROM (SELECT max(ts) AS t FROM events UNION ALL SELECT max(placed_at) FROM orders))",
        [],
        |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v as u64);
            Ok((
                StoreStats {
                    events: n(0)?,
                    orders: n(1)?,
                    order_lines: n(2)?,
                    products: n(3)?,
                    users: n(4)?,
                    persons: n(5)?,
                    profiles: n(6)?,
                    first_at: None,
                    last_at: None,
                },
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<i64>>(8)?,
            ))
        },
    )
    .map_err(backend)
    .and_then(|(mut s, first, last)| {
        s.first_at = opt_from_micros("stats", first)?;
        s.last_at = opt_from_micros("stats", last)?;
        Ok(s)
    })
}

pub(crate) fn seen_event_ids(conn: &Connection, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
    let sql = format!(
        "SELECT event_id, epoch_us(seen_at) FROM seen_event_ids WHERE seen_at >= make_timestamp({}::BIGINT)",
        since.timestamp_micros()
    );
    rows(conn, &sql, &[], |r| {
        let g = |e: duckdb::Error| corrupt("seen event id", e);
        Ok((r.get(0).map_err(g)?, from_micros("seen event id", r.get(1).map_err(g)?)?))
    })
}
