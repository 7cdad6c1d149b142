//! The KPI / OKR board: activity, registrations, orders and money, first
//! orders, repurchase and new-customer retention over a shop-local date
//! range, each shown against its configured target, plus LTV by
//! acquisition month, CAC per channel and period ([`crate::cac`]) and the
//! value-tier / lifecycle shares over time ([`crate::segment_history`]).

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Issues, Result};
use crate::spec::{DateRange, Period};

/// Name of the project-config table holding [`KpiTargets`].
pub const SECTION: &str = "kpi";

/// Targets from the business plan (`[kpi]` in `cohort.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KpiTargets {
    /// 7-day repurchase rate of new customers must be at least this share.
    pub repurchase_7d_min: f64,
    /// 30-day retention of new customers must be at least this share.
    pub retention_30d_min: f64,
    /// Customer acquisition cost must be at most this many fen.
    pub cac_max_fen: i64,
    /// Recommendation click-through rate (clicked lists / lists served, per
    /// placement and overall) must be at least this share.
    pub recommendation_ctr_min: f64,
}

impl Default for KpiTargets {
    fn default() -> Self {
        KpiTargets { repurchase_7d_min: 0.15, retention_30d_min: 0.40, cac_max_fen: 5000, recommendation_ctr_min: 0.08 }
    }
}

impl KpiTargets {
    /// Checks the targets; every problem is reported, named `kpi.<field>`.
    pub fn validate(&self) -> Result<()> {
        let mut issues = Issues::default();
        for (name, v) in [
            ("repurchase_7d_min", self.repurchase_7d_min),
            ("retention_30d_min", self.retention_30d_min),
            ("recommendation_ctr_min", self.recommendation_ctr_min),
        ] {
            if !(0.0..=1.0).contains(&v) {
                issues.push(format!("{SECTION}.{name}"), format!("must be a share from 0 to 1, got {v}"));
            }
        }
        if self.cac_max_fen < 0 {
            issues.push(format!("{SECTION}.cac_max_fen"), format!("must not be negative, got {}", self.cac_max_fen));
        }
        issues.finish()
    }
}

/// A KPI board query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpiSpec {
    /// Shop-local dates measured (default: the 30 days ending on the
    /// `as_of` date).
    #[serde(default)]
    pub range: DateRange,
    /// Data after this instant is ignored (default: the latest event or order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// Period of the tables over time: CAC per channel and period, and the
    /// segment shares (default `month`).
    #[serde(default = "default_period")]
    pub period: Period,
    /// Segment shares over this many periods, ending with the one holding
    /// the range's last day (default 12; 0 leaves the table out).
    #[serde(default = "default_history_periods")]
    pub history_periods: u32,
}

fn default_period() -> Period {
    Period::Month
}

fn default_history_periods() -> u32 {
    12
}

/// At most this many periods of segment history.
pub const MAX_HISTORY_PERIODS: u32 = 400;

impl Default for KpiSpec {
    fn default() -> Self {
        KpiSpec {
            range: DateRange::default(),
            as_of: None,
            period: default_period(),
            history_periods: default_history_periods(),
        }
    }
}

impl KpiSpec {
    /// Checks the spec.
    pub fn validate(&self) -> Result<()> {
        let mut issues = Issues::default();
        self.range.validate("range", &mut issues);
        if self.history_periods > MAX_HISTORY_PERIODS {
            issues.push(
                "history_periods",
                format!("at most {MAX_HISTORY_PERIODS} periods, got {}", self.history_periods),
            );
        }
        issues.finish()
    }
}

/// What a KPI's number is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KpiUnit {
    /// People.
    People,
    /// Orders.
    Orders,
    /// A share from 0 to 1.
    Ratio,
    /// Money in fen.
    Fen,
}

/// A target: `value op target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiTarget {
    /// `>=` or `<=`.
    pub op: String,
    /// The target value, in the KPI's unit.
    pub value: f64,
}

/// One KPI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpi {
    /// Stable key (`gmv_fen`, `repurchase_7d`…).
    pub key: String,
    /// Human label.
    pub label: String,
    /// The value; `null` when it cannot be computed (say why in `note`).
    pub value: Option<f64>,
    /// The unit.
    pub unit: KpiUnit,
    /// The target, if one is configured.
    pub target: Option<KpiTarget>,
    /// Whether the target is met.
    pub met: Option<bool>,
    /// Base of a ratio or why the value is missing.
    pub note: Option<String>,
}

/// Lifetime value of one acquisition month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LtvRow {
    /// First day of the acquisition month (shop-local).
    pub cohort: NaiveDate,
    /// People first seen that month.
    pub persons: u64,
    /// GMV per person within 30 / 90 / 180 days of first being seen, in
    /// fen; `null` until every member has been seen that long.
    pub ltv_fen: [Option<f64>; 3],
}

/// Share of profiled people in one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentShare {
    /// `value_tier` or `lifecycle`.
    pub dimension: String,
    /// The segment.
    pub segment: String,
    /// People.
    pub persons: u64,
    /// Share of profiled people.
    pub share: f64,
}

/// The board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiBoard {
    /// First day measured.
    pub from: NaiveDate,
    /// Last day measured.
    pub to: NaiveDate,
    /// Observation end.
    pub as_of: DateTime<Utc>,
    /// The KPIs.
    pub kpis: Vec<Kpi>,
    /// LTV by acquisition month (people first seen in the range).
    pub ltv: Vec<LtvRow>,
    /// Value tiers and lifecycle stages from the last `cohort compute`.
    pub segments: Vec<SegmentShare>,
    /// When those profiles were computed.
    pub segments_as_of: Option<DateTime<Utc>>,
    /// CAC per acquisition channel over the range (empty without imported
    /// marketing spend).
    pub cac: Vec<CacRow>,
    /// The period of `cac_by_period` and `segment_history`.
    pub period: Period,
    /// CAC per period and channel within the range (empty without imported
    /// marketing spend).
    pub cac_by_period: Vec<crate::cac::CacPeriodRow>,
    /// Value-tier and lifecycle shares at the end of each period, computed
    /// from the history (not from stored profiles).
    pub segment_history: Vec<crate::segment_history::SegmentPeriod>,
}

/// Customer acquisition cost of one channel over the board's range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacRow {
    /// The acquisition channel, lower case (see [`crate::cac`]: registration
    /// channel, else first touch, else first paid order; `unknown` when
    /// none is known).
    pub channel: String,
    /// Marketing spend in the range, fen.
    pub spend_fen: i64,
    /// New customers (first paid order ever in the range) from the channel.
    pub new_customers: u64,
    /// `spend_fen / new_customers`; `null` without new customers.
    pub cac_fen: Option<f64>,
    /// Whether `cac_fen` is at most the `cac_max_fen` target.
    pub met: Option<bool>,
}

impl KpiBoard {
    /// The KPI with `key`.
    pub fn get(&self, key: &str) -> Option<&Kpi> {
        self.kpis.iter().find(|k| k.key == key)
    }
}

/// LTV horizons in days.
pub const LTV_DAYS: [u32; 3] = [30, 90, 180];

/// The resolved range of a board.
pub(crate) fn resolve_range(spec: &KpiSpec, as_of_date: NaiveDate) -> (NaiveDate, NaiveDate) {
    let to = spec.range.to.unwrap_or(as_of_date);
    let from = spec.range.from.unwrap_or(to - Days::new(29));
    (from, to)
}

pub(crate) fn kpi(key: &str, label: &str, value: Option<f64>, unit: KpiUnit) -> Kpi {
    Kpi { key: key.into(), label: label.into(), value, unit, target: None, met: None, note: None }
}

impl Kpi {
    pub(crate) fn at_least(mut self, target: f64) -> Self {
        self.met = self.value.map(|v| v >= target);
        self.target = Some(KpiTarget { op: ">=".into(), value: target });
        self
    }

    pub(crate) fn at_most(mut self, target: f64) -> Self {
        self.met = self.value.map(|v| v <= target);
        self.target = Some(KpiTarget { op: "<=".into(), value: target });
        self
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

pub(crate) fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The month period, for LTV cohorts.
pub(crate) const LTV_PERIOD: Period = Period::Month;

/// The board's SQL, one query per group of KPIs; each returns one row of
/// BIGINT / DOUBLE columns (LTV and segments: one row per cohort / segment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiQueries {
    /// `active, dau_sum, wau, mau`.
    pub activity: String,
    /// `registered, registered_buyers`.
    pub registrations: String,
    /// `orders, gmv_fen, buyers, person_gmv_fen, repeat_buyers`.
    pub orders: String,
    /// `first_orders, first_order_gmv_fen, eligible_7d, repurchased_7d, eligible_30d, retained_30d`.
    pub new_customers: String,
    /// `cohort text, persons, ltv30 sum, ltv90 sum, ltv180 sum, latest acquisition ms`.
    pub ltv: String,
}

/// Compiles the board's queries for `[from, to]` as of `as_of`.
pub fn compile(
    from: NaiveDate,
    to: NaiveDate,
    as_of: DateTime<Utc>,
    shop: &cohort_model::ShopTime,
    zone: &crate::zone::ZoneOffsets,
    d: &dyn crate::dialect::Dialect,
) -> KpiQueries {
    let lo = d.timestamp(shop.start_of_day(from));
    let hi = d.timestamp(shop.start_of_day(to + Days::new(1)).min(as_of + chrono::Duration::milliseconds(1)));
    let as_of_date = shop.date(as_of);
    let as_of = d.timestamp(as_of);
    let day = |expr: &str| d.period_start(Period::Day, &d.local_time(expr, zone));
    let since = |days: u64| d.timestamp(shop.start_of_day(to - Days::new(days - 1)));
    let purchase = format!("kind = 'purchase' AND placed_at <= {as_of}");
    let activity = format!(
        "SELECT count(DISTINCT CASE WHEN ts >= {lo} THEN person_id END) AS active,\n       \
         (SELECT count(*) FROM (SELECT DISTINCT person_id, {ev_day} FROM events \
         WHERE person_id IS NOT NULL AND ts >= {lo} AND ts < {hi}) AS d) AS dau_sum,\n       \
         count(DISTINCT CASE WHEN ts >= {wau} THEN person_id END) AS wau,\n       \
         count(DISTINCT CASE WHEN ts >= {mau} THEN person_id END) AS mau\n\
         FROM events WHERE person_id IS NOT NULL AND ts >= least({lo}, {mau}) AND ts < {hi}",
        ev_day = day("ts"),
        wau = since(7),
        mau = since(30),
    );
    let registrations = format!(
        "SELECT count(*) AS registered,\n       \
         sum(CASE WHEN user_id IN (SELECT person_id FROM orders WHERE person_id IS NOT NULL AND {purchase}) THEN 1 ELSE 0 END) AS buyers\n\
         FROM users WHERE registered_at >= {lo} AND registered_at < {hi}"
    );
    let orders = format!(
        "SELECT count(*) AS orders, coalesce(sum(total_fen), 0) AS gmv,\n       \
         count(DISTINCT person_id) AS buyers,\n       \
         coalesce(sum(CASE WHEN person_id IS NOT NULL THEN total_fen ELSE 0 END), 0) AS person_gmv,\n       \
         (SELECT count(*) FROM (SELECT person_id FROM orders WHERE person_id IS NOT NULL AND {purchase} \
         AND placed_at >= {lo} AND placed_at < {hi} GROUP BY person_id HAVING count(*) >= 2) AS r) AS repeat_buyers\n\
         FROM orders WHERE {purchase} AND placed_at >= {lo} AND placed_at < {hi}"
    );
    let firsts = format!(
        "firsts AS (\n  \
         SELECT person_id, order_id, placed_at, total_fen, {first_day} AS first_day FROM (\n    \
         SELECT person_id, order_id, placed_at, total_fen,\n           \
         row_number() OVER (PARTITION BY person_id ORDER BY placed_at, order_id) AS rn\n    \
         FROM orders WHERE person_id IS NOT NULL AND {purchase}) AS o\n  \
         WHERE rn = 1 AND placed_at >= {lo} AND placed_at < {hi}\n)",
        first_day = day("placed_at"),
    );
    let new_customers = format!(
        "WITH {firsts}, again AS (\n  \
         SELECT DISTINCT f.person_id FROM firsts AS f JOIN orders AS o ON o.person_id = f.person_id\n  \
         WHERE o.kind = 'purchase' AND o.placed_at <= {as_of} AND o.order_id <> f.order_id\n    \
         AND {diff_o} BETWEEN 0 AND 7\n\
         ), back AS (\n  \
         SELECT DISTINCT f.person_id FROM firsts AS f JOIN events AS e ON e.person_id = f.person_id\n  \
         WHERE e.ts <= {as_of} AND {diff_e} BETWEEN 1 AND 30\n\
         )\n\
         SELECT count(*) AS first_orders, coalesce(sum(total_fen), 0) AS first_gmv,\n       \
         sum(CASE WHEN first_day <= {d7} THEN 1 ELSE 0 END) AS eligible_7d,\n       \
         sum(CASE WHEN first_day <= {d7} AND person_id IN (SELECT person_id FROM again) THEN 1 ELSE 0 END) AS repurchased_7d,\n       \
         sum(CASE WHEN first_day <= {d30} THEN 1 ELSE 0 END) AS eligible_30d,\n       \
         sum(CASE WHEN first_day <= {d30} AND person_id IN (SELECT person_id FROM back) THEN 1 ELSE 0 END) AS retained_30d\n\
         FROM firsts",
        diff_o = d.day_diff("f.first_day", &day("o.placed_at")),
        diff_e = d.day_diff("f.first_day", &day("e.ts")),
        d7 = d.date(as_of_date - Days::new(7)),
        d30 = d.date(as_of_date - Days::new(30)),
    );
    let horizon = |days: u32| {
        format!(
            "coalesce(sum(CASE WHEN o.placed_at < {} THEN o.total_fen ELSE 0 END), 0)",
            d.add_seconds("c.acquired", &(i64::from(days) * 86_400).to_string())
        )
    };
    let ltv = format!(
        "WITH seen AS (\n  \
         SELECT person_id, ts AS t FROM events WHERE person_id IS NOT NULL AND ts <= {as_of}\n  \
         UNION ALL SELECT person_id, placed_at FROM orders WHERE person_id IS NOT NULL AND placed_at <= {as_of}\n  \
         UNION ALL SELECT user_id, registered_at FROM users WHERE registered_at IS NOT NULL AND registered_at <= {as_of}\n\
         ), acquired AS (\n  \
         SELECT person_id, min(t) AS acquired FROM seen GROUP BY person_id\n\
         ), c AS (\n  \
         SELECT person_id, acquired, {month} AS cohort FROM acquired WHERE acquired >= {lo} AND acquired < {hi}\n\
         ), per_person AS (\n  \
         SELECT c.cohort, c.person_id, c.acquired, {h30} AS v30, {h90} AS v90, {h180} AS v180\n  \
         FROM c LEFT JOIN orders AS o ON o.person_id = c.person_id AND o.kind = 'purchase' AND o.placed_at <= {as_of}\n  \
         GROUP BY c.cohort, c.person_id, c.acquired\n\
         )\n\
         SELECT {cohort_text}, count(*), sum(v30), sum(v90), sum(v180), {latest}\n\
         FROM per_person GROUP BY cohort ORDER BY cohort",
        month = d.period_start(LTV_PERIOD, &d.local_time("acquired", zone)),
        h30 = horizon(LTV_DAYS[0]),
        h90 = horizon(LTV_DAYS[1]),
        h180 = horizon(LTV_DAYS[2]),
        cohort_text = d.date_text("cohort"),
        latest = d.epoch_millis("max(acquired)"),
    );
    KpiQueries { activity, registrations, orders, new_customers, ltv }
}
