//! Lifecycle movement between periods, as PostHog's lifecycle insight
//! defines it: in each shop-local day / week / month, the people active in
//! it are **new** (their first activity ever is in this period),
//! **returning** (also active in the previous period) or **resurrected**
//! (inactive in the previous period, active at some earlier one), and the
//! people active in the previous period but not in this one are
//! **dormant**.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::error::{Issues, Result};
use crate::retention::source;
use crate::spec::{Activity, DateRange, EventCatalogue, Period};
use crate::zone::ZoneOffsets;

/// A lifecycle query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSpec {
    /// What counts as being active (default any event; `order` = a paid order).
    #[serde(default = "any_event")]
    pub activity: Activity,
    /// day, week (Monday to Sunday) or month, shop-local (default week).
    #[serde(default = "default_period")]
    pub period: Period,
    /// Periods reported: from the one holding `from` to the one holding
    /// `to` (default: from the first activity to `as_of`). Status always
    /// looks at the whole history ("new" = first activity ever).
    #[serde(default)]
    pub range: DateRange,
    /// Data after this instant is ignored; default: the latest event or
    /// order. Its period is reported, partially observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

fn any_event() -> Activity {
    Activity::AnyEvent
}

fn default_period() -> Period {
    Period::Week
}

impl Default for LifecycleSpec {
    fn default() -> Self {
        LifecycleSpec { activity: Activity::AnyEvent, period: Period::Week, range: DateRange::default(), as_of: None }
    }
}

impl LifecycleSpec {
    /// Checks the spec; every problem is reported.
    pub fn validate(&self, events: &EventCatalogue) -> Result<()> {
        let mut issues = Issues::default();
        self.activity.validate("activity", events, &mut issues);
        self.range.validate("range", &mut issues);
        issues.finish()
    }
}

/// One period's movement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRow {
    /// First day of the period (shop-local).
    pub period: NaiveDate,
    /// First activity ever in this period.
    pub new: u64,
    /// Active in this period and the previous one.
    pub returning: u64,
    /// Active in this period, not the previous one, and at some earlier one.
    pub resurrected: u64,
    /// Active in the previous period, not in this one.
    pub dormant: u64,
    /// `new + returning + resurrected`.
    pub active: u64,
    /// Growth accounting's quick ratio `(new + resurrected) / dormant`;
    /// `null` without dormant people.
    pub quick_ratio: Option<f64>,
}

/// Lifecycle movement per period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleResult {
    /// The period.
    pub period: Period,
    /// The activity.
    pub activity: String,
    /// The observation end.
    pub as_of: Option<DateTime<Utc>>,
    /// One row per period, oldest first (periods without anyone are zeros).
    pub periods: Vec<LifecycleRow>,
}

/// Periods are numbered from this date's period (a Monday, so week
/// numbers fall on Mondays; its month starts on 1970-01-01).
const ORIGIN: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 5) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// The first day of period number `k`.
pub(crate) fn period_date(period: Period, k: i64) -> NaiveDate {
    period.advance(period.start(ORIGIN), k.max(0) as u32)
}

/// The number of the period holding `date`.
pub(crate) fn period_number(period: Period, date: NaiveDate) -> i64 {
    let origin = period.start(ORIGIN);
    let start = period.start(date);
    match period {
        Period::Day => (start - origin).num_days(),
        Period::Week => (start - origin).num_days() / 7,
        Period::Month => {
            use chrono::Datelike;
            i64::from(start.year() - origin.year()) * 12 + i64::from(start.month0()) - i64::from(origin.month0())
        }
    }
}

/// Compiles the query (`as_of_date`: the shop-local date of `as_of`).
/// Rows: `(period number, status, people)` with status `new`,
/// `returning`, `resurrected` or `dormant`.
pub fn compile(
    spec: &LifecycleSpec,
    as_of: DateTime<Utc>,
    as_of_date: NaiveDate,
    zone: &ZoneOffsets,
    d: &dyn Dialect,
) -> String {
    let (table, ts, pred) = source(&spec.activity, d);
    let p = spec.period;
    let as_of_k = period_number(p, as_of_date);
    let origin = d.date(p.start(ORIGIN));
    format!(
        "WITH active AS (\n  \
         SELECT DISTINCT person_id, {diff} AS k FROM {table}\n  \
         WHERE person_id IS NOT NULL AND {ts} <= {as_of} AND {pred}\n\
         ), seq AS (\n  \
         SELECT person_id, k,\n    \
         lag(k) OVER (PARTITION BY person_id ORDER BY k) AS prev_k,\n    \
         lead(k) OVER (PARTITION BY person_id ORDER BY k) AS next_k\n  \
         FROM active\n\
         )\n\
         SELECT k, CASE WHEN prev_k IS NULL THEN 'new' WHEN prev_k = k - 1 THEN 'returning' ELSE 'resurrected' END AS status,\n  \
         count(*) AS n FROM seq GROUP BY 1, 2\n\
         UNION ALL\n\
         SELECT k + 1, 'dormant', count(*) FROM seq\n\
         WHERE (next_k IS NULL OR next_k > k + 1) AND k + 1 <= {as_of_k} GROUP BY 1\n\
         ORDER BY 1, 2",
        diff = d.period_diff(p, &origin, &d.period_start(p, &d.local_time(ts, zone))),
        as_of = d.timestamp(as_of),
    )
}

/// Builds the per-period rows (every period from the first reported to
/// `as_of`'s, within the range) from the compiled query's rows.
pub fn assemble(
    spec: &LifecycleSpec,
    as_of: Option<DateTime<Utc>>,
    as_of_date: Option<NaiveDate>,
    rows: Vec<(i64, String, u64)>,
) -> LifecycleResult {
    let p = spec.period;
    let mut periods = Vec::new();
    if let Some(last) = as_of_date.map(|d| period_number(p, d)) {
        let first_seen = rows.iter().map(|r| r.0).min().unwrap_or(last);
        let lo = spec.range.from.map_or(first_seen, |f| period_number(p, f));
        let hi = spec.range.to.map_or(last, |t| period_number(p, t).min(last));
        for k in lo..=hi {
            let mut row = LifecycleRow { period: period_date(p, k), ..LifecycleRow::default() };
            for (_, status, n) in rows.iter().filter(|r| r.0 == k) {
                match status.as_str() {
                    "new" => row.new = *n,
                    "returning" => row.returning = *n,
                    "resurrected" => row.resurrected = *n,
                    _ => row.dormant = *n,
                }
            }
            row.active = row.new + row.returning + row.resurrected;
            row.quick_ratio = (row.dormant > 0).then(|| (row.new + row.resurrected) as f64 / row.dormant as f64);
            periods.push(row);
        }
    }
    LifecycleResult { period: p, activity: spec.activity.label(), as_of, periods }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_numbers_round_trip() {
        for (p, date, start) in [
            (Period::Day, "2025-03-09", "2025-03-09"),
            (Period::Week, "2025-03-09", "2025-03-03"),
            (Period::Week, "2025-03-10", "2025-03-10"),
            (Period::Month, "2025-03-31", "2025-03-01"),
        ] {
            let date: NaiveDate = date.parse().unwrap();
            assert_eq!(period_date(p, period_number(p, date)).to_string(), start);
        }
        assert_eq!(period_number(Period::Month, "1970-02-01".parse().unwrap()), 1);
    }
}
