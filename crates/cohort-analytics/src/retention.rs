//! Retention cohorts: people grouped by the shop-local period of their first
//! cohort activity (first event, first order, first occurrence of any
//! event), and the share of each cohort that came back in each later
//! period — exactly that period (bounded) or that period or any later one
//! (unbounded, "on or after").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::error::{Issues, Result};
use crate::spec::{Activity, DateRange, EventCatalogue, Period};
use crate::zone::ZoneOffsets;

/// Bounded or unbounded retention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionMode {
    /// Cell *k*: people active in period *k* exactly.
    #[default]
    Bounded,
    /// Cell *k*: people active in period *k* or any later period.
    Unbounded,
}

impl std::str::FromStr for RetentionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bounded" => Ok(RetentionMode::Bounded),
            "unbounded" | "on-or-after" | "on_or_after" => Ok(RetentionMode::Unbounded),
            other => Err(format!("unknown retention mode {other:?} (use bounded or unbounded)")),
        }
    }
}

fn default_periods() -> u32 {
    8
}

fn default_period() -> Period {
    Period::Week
}

/// Most return periods a grid may have.
pub const MAX_PERIODS: u32 = 400;

/// A retention query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// What puts a person in a cohort: its first occurrence (default any event).
    #[serde(default = "any_event")]
    pub cohort: Activity,
    /// What counts as coming back (default any event).
    #[serde(default = "any_event")]
    pub returning: Activity,
    /// Cohort and return period (default week, Monday to Sunday).
    #[serde(default = "default_period")]
    pub period: Period,
    /// Return periods after period 0 (default 8, at most 400).
    #[serde(default = "default_periods")]
    pub periods: u32,
    /// Bounded or unbounded (default bounded).
    #[serde(default)]
    pub mode: RetentionMode,
    /// Cohorts whose period starts between the period holding `from` and `to`.
    #[serde(default)]
    pub range: DateRange,
    /// Data after this instant is ignored and cells of periods starting
    /// after it are `null`; default: the latest event or order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
}

fn any_event() -> Activity {
    Activity::AnyEvent
}

impl Default for RetentionSpec {
    fn default() -> Self {
        RetentionSpec {
            cohort: Activity::AnyEvent,
            returning: Activity::AnyEvent,
            period: Period::Week,
            periods: default_periods(),
            mode: RetentionMode::Bounded,
            range: DateRange::default(),
            as_of: None,
        }
    }
}

impl RetentionSpec {
    /// Checks the spec; every problem is reported.
    pub fn validate(&self, events: &EventCatalogue) -> Result<()> {
        let mut issues = Issues::default();
        self.cohort.validate("cohort", events, &mut issues);
        self.returning.validate("returning", events, &mut issues);
        if self.periods == 0 || self.periods > MAX_PERIODS {
            issues.push("periods", format!("must be from 1 to {MAX_PERIODS}, got {}", self.periods));
        }
        self.range.validate("range", &mut issues);
        issues.finish()
    }
}

/// One cohort's row of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    /// First day of the cohort's period (shop-local).
    pub cohort: NaiveDate,
    /// People in the cohort.
    pub size: u64,
    /// Cell *k* (0 = the cohort period itself, always `size`): people
    /// retained in period *k*; `null` when period *k* starts after `as_of`.
    pub retained: Vec<Option<u64>>,
    /// `retained[k] / size`.
    pub rates: Vec<Option<f64>>,
}

/// A retention grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionResult {
    /// The period.
    pub period: Period,
    /// Bounded or unbounded.
    pub mode: RetentionMode,
    /// The cohort activity.
    pub cohort: String,
    /// The return activity.
    pub returning: String,
    /// The observation end.
    pub as_of: Option<DateTime<Utc>>,
    /// One row per cohort, oldest first.
    pub cohorts: Vec<CohortRow>,
    /// Per period: retained people over cohort sizes, over the cohorts whose
    /// cell is observed.
    pub average: Vec<Option<f64>>,
}

/// `(table, timestamp column, condition)` of an activity.
pub(crate) fn source(activity: &Activity, d: &dyn Dialect) -> (&'static str, &'static str, String) {
    match activity {
        Activity::AnyEvent => ("events", "ts", "TRUE".into()),
        Activity::Event { .. } => ("events", "ts", d.event_match(&activity.event_match().expect("event"))),
        Activity::Order => ("orders", "placed_at", "kind = 'purchase'".into()),
    }
}

/// Compiles the grid query. Rows: `(cohort text, k, people)`; `k = -1` rows
/// are cohort sizes; others count people by return period (bounded) or by
/// their last return period (unbounded, accumulated by the caller).
pub fn compile(spec: &RetentionSpec, as_of: DateTime<Utc>, zone: &ZoneOffsets, d: &dyn Dialect) -> String {
    let (ct, cts, cpred) = source(&spec.cohort, d);
    let (rt, rts, rpred) = source(&spec.returning, d);
    let p = spec.period;
    let as_of = d.timestamp(as_of);
    let mut range = Vec::new();
    if let Some(from) = spec.range.from {
        range.push(format!("cohort >= {}", d.date(p.start(from))));
    }
    if let Some(to) = spec.range.to {
        range.push(format!("cohort <= {}", d.date(to)));
    }
    let range = if range.is_empty() { String::new() } else { format!("\n  WHERE {}", range.join(" AND ")) };
    let cells = match spec.mode {
        RetentionMode::Bounded => "SELECT cohort, k, count(*) AS n FROM cells GROUP BY cohort, k".to_string(),
        RetentionMode::Unbounded => "SELECT cohort, k, count(*) AS n FROM (\
             SELECT cohort, person_id, max(k) AS k FROM cells GROUP BY cohort, person_id) AS last \
             GROUP BY cohort, k"
            .to_string(),
    };
    format!(
        "WITH cohort AS (\n  \
         SELECT person_id, cohort FROM (\n    \
         SELECT person_id, {cstart} AS cohort FROM {ct}\n    \
         WHERE person_id IS NOT NULL AND {cts} <= {as_of} AND {cpred}\n    \
         GROUP BY person_id) AS first{range}\n\
         ), returns AS (\n  \
         SELECT DISTINCT person_id, {rstart} AS period FROM {rt}\n  \
         WHERE person_id IS NOT NULL AND {rts} <= {as_of} AND {rpred}\n\
         ), cells AS (\n  \
         SELECT c.cohort, c.person_id, {diff} AS k\n  \
         FROM cohort AS c JOIN returns AS r ON r.person_id = c.person_id\n  \
         WHERE r.period > c.cohort\n\
         ), grid AS (\n  \
         SELECT cohort, -1 AS k, count(*) AS n FROM cohort GROUP BY cohort\n  \
         UNION ALL\n  \
         {cells}\n\
         )\n\
         SELECT {cohort_text} AS cohort, k, n FROM grid ORDER BY cohort, k",
        cstart = d.period_start(p, &format!("min({})", d.local_time(cts, zone))),
        rstart = d.period_start(p, &d.local_time(rts, zone)),
        diff = d.period_diff(p, "c.cohort", "r.period"),
        cohort_text = d.date_text("cohort"),
    )
}

/// Builds the grid from the compiled query's rows.
pub fn assemble(
    spec: &RetentionSpec,
    as_of: Option<DateTime<Utc>>,
    as_of_date: Option<NaiveDate>,
    rows: Vec<(NaiveDate, i64, u64)>,
) -> RetentionResult {
    let n = spec.periods as usize;
    let mut cohorts: Vec<CohortRow> = Vec::new();
    for (cohort, k, people) in rows {
        if cohorts.last().is_none_or(|c| c.cohort != cohort) {
            cohorts.push(CohortRow { cohort, size: 0, retained: vec![Some(0); n + 1], rates: Vec::new() });
        }
        let row = cohorts.last_mut().expect("pushed");
        if k < 0 {
            row.size = people;
            row.retained[0] = Some(people);
        } else if spec.mode == RetentionMode::Unbounded {
            // people whose last return is in period k count in cells 1..=k
            for cell in row.retained.iter_mut().take((k as usize).min(n) + 1).skip(1) {
                *cell = cell.map(|c| c + people);
            }
        } else if (k as usize) <= n {
            row.retained[k as usize] = Some(people);
        }
    }
    let mut sums = vec![(0_u64, 0_u64); n + 1];
    for row in &mut cohorts {
        for (k, (cell, sum)) in row.retained.iter_mut().zip(sums.iter_mut()).enumerate() {
            let observed = as_of_date.is_some_and(|d| spec.period.advance(row.cohort, k as u32) <= d);
            if !observed {
                *cell = None;
            }
            if let Some(r) = *cell {
                sum.0 += r;
                sum.1 += row.size;
            }
        }
        row.rates = row.retained.iter().map(|r| r.map(|r| ratio(r, row.size))).collect();
    }
    RetentionResult {
        period: spec.period,
        mode: spec.mode,
        cohort: spec.cohort.label(),
        returning: spec.returning.label(),
        as_of,
        cohorts,
        average: sums.iter().map(|&(r, s)| (s > 0).then(|| ratio(r, s))).collect(),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
