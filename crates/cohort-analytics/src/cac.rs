//! Customer acquisition cost per acquisition channel and period: imported
//! marketing spend (`marketing_spend`) over the new customers each channel
//! brought.
//!
//! A new customer is a person whose first paid order ever falls in the
//! board's range. Their acquisition channel is where they came from, not
//! where they happened to place the first order: the `channel` of their
//! user record (set at registration), else the channel of their first
//! event carrying one (first touch), else the channel of the first paid
//! order, else `unknown`. Channels are compared trimmed and in lower case
//! on both sides, so `Douyin` spend meets `douyin` customers.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::spec::Period;
use crate::zone::ZoneOffsets;

/// CAC of one channel in one period (clipped to the board's range).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacPeriodRow {
    /// First day of the period (shop-local); the range's first day for a
    /// period that starts before it.
    pub period: NaiveDate,
    /// The channel (lower case).
    pub channel: String,
    /// Spend on the channel in the period, fen.
    pub spend_fen: i64,
    /// New customers acquired through the channel whose first paid order
    /// is in the period.
    pub new_customers: u64,
    /// `spend_fen / new_customers`; `null` without new customers.
    pub cac_fen: Option<f64>,
    /// Whether `cac_fen` is at most the `cac_max_fen` target.
    pub met: Option<bool>,
}

/// The query: one row per (period, channel) with spend or new customers:
/// `period text, channel, spend_fen, new_customers`, ordered.
#[allow(clippy::too_many_arguments)]
pub fn compile(
    from: NaiveDate,
    to: NaiveDate,
    as_of: DateTime<Utc>,
    period: Period,
    shop: &cohort_model::ShopTime,
    zone: &ZoneOffsets,
    d: &dyn Dialect,
) -> String {
    let lo = d.timestamp(shop.start_of_day(from));
    let hi = d.timestamp(shop.start_of_day(to + Days::new(1)).min(as_of + chrono::Duration::milliseconds(1)));
    let as_of = d.timestamp(as_of);
    let from_date = d.date(from);
    // The period of a shop-local date, clipped to the range's first day.
    let period_of = |date: &str| format!("greatest({}, {from_date})", d.period_start(period, date));
    let norm = |expr: &str| format!("lower(trim({expr}))");
    let channel = |expr: &str| format!("nullif({}, '')", norm(expr));
    format!(
        "WITH firsts AS (\n  \
         SELECT person_id, order_id, placed_at FROM (\n    \
         SELECT person_id, order_id, placed_at,\n           \
         row_number() OVER (PARTITION BY person_id ORDER BY placed_at, order_id) AS rn\n    \
         FROM orders WHERE person_id IS NOT NULL AND kind = 'purchase' AND placed_at <= {as_of}) AS o\n  \
         WHERE rn = 1 AND placed_at >= {lo} AND placed_at < {hi}\n\
         ), registered AS (\n  \
         SELECT user_id AS person_id, min({user_channel}) AS channel FROM users\n  \
         WHERE user_id IN (SELECT person_id FROM firsts) GROUP BY user_id\n\
         ), touched AS (\n  \
         SELECT person_id, arg_min({event_channel}, ts) AS channel FROM events\n  \
         WHERE person_id IN (SELECT person_id FROM firsts) AND ts <= {as_of} AND {event_channel} IS NOT NULL\n  \
         GROUP BY person_id\n\
         ), acquired AS (\n  \
         SELECT {first_period} AS period,\n         \
         coalesce(r.channel, t.channel, {order_channel}, 'unknown') AS channel, count(*) AS n\n  \
         FROM firsts AS f JOIN orders AS o ON o.order_id = f.order_id\n  \
         LEFT JOIN registered AS r ON r.person_id = f.person_id\n  \
         LEFT JOIN touched AS t ON t.person_id = f.person_id\n  \
         GROUP BY 1, 2\n\
         ), spend AS (\n  \
         SELECT {spend_period} AS period, {spend_channel} AS channel, sum(spend_fen) AS spend FROM marketing_spend\n  \
         WHERE day BETWEEN {from_date} AND {to_date} GROUP BY 1, 2\n\
         )\n\
         SELECT {period_text}, coalesce(s.channel, a.channel) AS channel, coalesce(s.spend, 0), coalesce(a.n, 0)\n\
         FROM spend AS s FULL OUTER JOIN acquired AS a ON a.period = s.period AND a.channel = s.channel\n\
         ORDER BY 1, 2",
        user_channel = channel("channel"),
        event_channel = channel("channel"),
        order_channel = channel("o.channel"),
        first_period = period_of(&d.local_time("f.placed_at", zone)),
        spend_period = period_of("day"),
        spend_channel = norm("channel"),
        to_date = d.date(to),
        period_text = d.date_text("coalesce(s.period, a.period)"),
    )
}
