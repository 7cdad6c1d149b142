//! Value tiers and lifecycle stages over time: for each period (month by
//! default), everyone known by the period's last day is put in a tier and
//! a stage as of that day, from the history up to it, with the rules and
//! thresholds of `cohort-insight` (`docs/segments.md`, `[segments]` of
//! `cohort.toml`), and the shares are counted.
//!
//! Every rule of the two partitions is stated in shop-local days, so the
//! query first reduces events and orders to one row per person and day
//! (activity, purchases, money). First and last activity at a period end
//! come from per-(person, period) minima and maxima of those rows, the
//! purchase figures from the purchase days up to it; `cohort compute` at the same instant puts everyone in the
//! same tier and stage (the integration test checks this period by period).

use chrono::{DateTime, Days, NaiveDate, Utc};
use cohort_insight::{LifecycleConfig, ValueTierConfig};
use cohort_model::{LifecycleStage, ValueTier};
use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::kpi::SegmentShare;
use crate::spec::{Period, KNOWN_EVENTS};
use crate::zone::ZoneOffsets;

/// The segment shares at the end of one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentPeriod {
    /// First day of the period (shop-local).
    pub period: NaiveDate,
    /// The day segments are computed as of: the period's last day, or the
    /// `as_of` date for the current period.
    pub as_of_date: NaiveDate,
    /// People known by then (a record, or a registration, on or before it).
    pub persons: u64,
    /// Every value tier, then every lifecycle stage (zeros included), in
    /// the model's display order.
    pub shares: Vec<SegmentShare>,
}

/// The periods measured: `n` periods ending with the one holding `to`, each
/// with the day it is measured on; periods starting after `as_of_date` are
/// left out.
pub fn periods(period: Period, to: NaiveDate, n: u32, as_of_date: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut starts = Vec::new();
    let mut start = period.start(to);
    for _ in 0..n {
        starts.push(start);
        start = period.start(start - Days::new(1));
    }
    starts.reverse();
    starts
        .into_iter()
        .filter(|s| *s <= as_of_date)
        .map(|s| (s, (period.advance(s, 1) - Days::new(1)).min(as_of_date)))
        .collect()
}

/// The query: `period text, dimension, segment, persons` for the
/// `(period start, as-of day)` pairs of [`periods`].
#[allow(clippy::too_many_arguments)]
pub fn compile(
    ends: &[(NaiveDate, NaiveDate)],
    period: Period,
    as_of: DateTime<Utc>,
    value: &ValueTierConfig,
    lifecycle: &LifecycleConfig,
    zone: &ZoneOffsets,
    d: &dyn Dialect,
) -> String {
    let day = |expr: &str| d.period_start(Period::Day, &d.local_time(expr, zone));
    let values: Vec<String> = ends.iter().map(|(p, t)| format!("({}, {})", d.date(*p), d.date(*t))).collect();
    let known: Vec<String> = KNOWN_EVENTS.iter().map(|n| d.string(n)).collect();
    let as_of = d.timestamp(as_of);
    let ago = |x: &str| d.day_diff(x, "e.today");
    let v = value;
    let l = lifecycle;
    format!(
        "WITH ends(period, today) AS (VALUES {values}),\n\
         facts AS (\n  \
         SELECT person_id AS p, {ev_day} AS d, bool_or(event IN ({known})) AS act, 0 AS n, 0 AS m\n  \
         FROM events WHERE person_id IS NOT NULL AND ts <= {as_of} GROUP BY 1, 2\n  \
         UNION ALL\n  \
         SELECT person_id, {order_day}, true, count(*) FILTER (WHERE kind = 'purchase'),\n         \
         coalesce(sum(greatest(total_fen, 0)) FILTER (WHERE kind = 'purchase'), 0)\n  \
         FROM orders WHERE person_id IS NOT NULL AND placed_at <= {as_of} GROUP BY 1, 2\n\
         ), buckets AS (\n  \
         SELECT p, {bucket} AS b, max(d) FILTER (WHERE act) AS last_d, min(d) FILTER (WHERE act) AS first_d\n  \
         FROM facts GROUP BY 1, 2\n\
         ), seen AS (\n  \
         SELECT e.period, e.today, x.p, max(x.last_d) AS last_active, min(x.first_d) AS first_active\n  \
         FROM ends AS e JOIN buckets AS x ON x.b <= e.period GROUP BY 1, 2, 3\n\
         ), bought AS (\n  \
         SELECT e.period, f.p, sum(f.n) AS purchases,\n         \
         sum(f.n) FILTER (WHERE {ago_f} <= {window}) AS value_orders,\n         \
         sum(f.m) FILTER (WHERE {ago_f} <= {window}) AS value_monetary,\n         \
         min({ago_f}) AS recency_days\n  \
         FROM ends AS e JOIN facts AS f ON f.n > 0 AND f.d <= e.today GROUP BY 1, 2\n\
         ), registered AS (\n  \
         SELECT user_id AS p, min({reg_day}) AS rd FROM users\n  \
         WHERE registered_at IS NULL OR registered_at <= {as_of} GROUP BY 1\n\
         ), known AS (\n  \
         SELECT e.period, e.today, r.p, r.rd FROM ends AS e JOIN registered AS r ON r.rd IS NULL OR r.rd <= e.today\n\
         ), people AS (\n  \
         SELECT coalesce(s.period, k.period) AS period, coalesce(s.today, k.today) AS today,\n         \
         coalesce(k.rd, s.first_active) AS reg_day, s.last_active,\n         \
         coalesce(o.purchases, 0) AS purchases, coalesce(o.value_orders, 0) AS value_orders,\n         \
         coalesce(o.value_monetary, 0) AS value_monetary, o.recency_days\n  \
         FROM seen AS s LEFT JOIN bought AS o ON o.period = s.period AND o.p = s.p\n  \
         FULL OUTER JOIN known AS k ON k.period = s.period AND k.p = s.p\n\
         ), days AS (\n  \
         SELECT *, {reg_age} AS registration_age_days,\n         \
         coalesce({inactive_last}, {reg_age}, 36500) AS inactive_days FROM people\n\
         ), classified AS (\n  \
         SELECT period,\n    \
         CASE WHEN purchases = 0 THEN 'prospect'\n         \
         WHEN value_orders = 0 THEN 'general'\n         \
         WHEN recency_days <= {h_r} AND value_orders >= {h_o} AND value_monetary >= {h_m} THEN 'high_value'\n         \
         WHEN recency_days <= {p_r} AND value_orders BETWEEN {p_o1} AND {p_o2}\n              \
         AND value_monetary >= {p_m1} AND value_monetary < {p_m2} THEN 'potential'\n         \
         WHEN recency_days >= {l_r} AND value_orders <= {l_o} AND value_monetary < {l_m} THEN 'low_value'\n         \
         ELSE 'general' END AS value_tier,\n    \
         CASE WHEN registration_age_days <= {new} THEN 'new'\n         \
         WHEN inactive_days <= {active} THEN 'active'\n         \
         WHEN inactive_days <= {light} THEN 'silent_light'\n         \
         WHEN inactive_days <= {medium} THEN 'silent_medium'\n         \
         WHEN inactive_days <= {heavy} THEN 'silent_heavy'\n         \
         ELSE 'churned' END AS lifecycle\n  \
         FROM days\n\
         )\n\
         SELECT {period_text}, 'value_tier', value_tier, count(*) FROM classified GROUP BY 1, 2, 3\n\
         UNION ALL\n\
         SELECT {period_text}, 'lifecycle', lifecycle, count(*) FROM classified GROUP BY 1, 2, 3\n\
         ORDER BY 1, 2, 3",
        values = values.join(", "),
        known = known.join(", "),
        ev_day = day("ts"),
        order_day = day("placed_at"),
        reg_day = day("registered_at"),
        bucket = d.period_start(period, "d"),
        ago_f = ago("f.d"),
        window = v.window_days,
        reg_age = d.day_diff("reg_day", "today"),
        inactive_last = d.day_diff("last_active", "today"),
        h_r = v.high_max_recency_days,
        h_o = v.high_min_orders,
        h_m = v.high_min_monetary_fen.fen(),
        p_r = v.potential_max_recency_days,
        p_o1 = v.potential_min_orders,
        p_o2 = v.potential_max_orders,
        p_m1 = v.potential_min_monetary_fen.fen(),
        p_m2 = v.potential_max_monetary_fen.fen(),
        l_r = v.low_min_recency_days,
        l_o = v.low_max_orders,
        l_m = v.low_max_monetary_fen.fen(),
        new = l.new_max_registration_days,
        active = l.active_max_inactive_days,
        light = l.silent_light_max_inactive_days,
        medium = l.silent_medium_max_inactive_days,
        heavy = l.silent_heavy_max_inactive_days,
        period_text = d.date_text("period"),
    )
}

/// Builds the periods from the query's rows (`period text, dimension,
/// segment, persons`).
pub fn assemble(ends: &[(NaiveDate, NaiveDate)], rows: &[(NaiveDate, String, String, u64)]) -> Vec<SegmentPeriod> {
    ends.iter()
        .map(|&(period, as_of_date)| {
            let count = |dimension: &str, segment: &str| {
                rows.iter().find(|r| r.0 == period && r.1 == dimension && r.2 == segment).map_or(0, |r| r.3)
            };
            let persons: u64 = ValueTier::ALL.iter().map(|t| count("value_tier", t.as_str())).sum();
            let share = |dimension: &str, segment: &str| {
                let n = count(dimension, segment);
                SegmentShare {
                    dimension: dimension.into(),
                    segment: segment.into(),
                    persons: n,
                    share: if persons == 0 { 0.0 } else { n as f64 / persons as f64 },
                }
            };
            let mut shares: Vec<SegmentShare> =
                ValueTier::ALL.iter().map(|t| share("value_tier", t.as_str())).collect();
            shares.extend(LifecycleStage::ALL.iter().map(|s| share("lifecycle", s.as_str())));
            SegmentPeriod { period, as_of_date, persons, shares }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_end_with_the_one_holding_the_range_end() {
        let date = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = periods(Period::Month, date("2025-03-15"), 3, date("2025-03-20"));
        assert_eq!(
            p,
            [
                (date("2025-01-01"), date("2025-01-31")),
                (date("2025-02-01"), date("2025-02-28")),
                (date("2025-03-01"), date("2025-03-20")),
            ]
        );
        let w = periods(Period::Week, date("2025-03-05"), 2, date("2025-03-05"));
        assert_eq!(w, [(date("2025-02-24"), date("2025-03-02")), (date("2025-03-03"), date("2025-03-05"))]);
        assert!(periods(Period::Month, date("2025-03-15"), 0, date("2025-03-20")).is_empty());
    }
}
