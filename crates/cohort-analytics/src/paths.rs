//! Path analysis: the most common sequences of events after a person's
//! first start event, or before their first end event (e.g. the journey to
//! a first order).

use serde::{Deserialize, Serialize};

use crate::dialect::Dialect;
use crate::error::{Issues, Result};
use crate::spec::{DateRange, EventCatalogue, EventMatch};

/// Most events a path may hold.
pub const MAX_PATH_LENGTH: usize = 20;

fn default_length() -> usize {
    4
}

fn default_top() -> usize {
    10
}

fn yes() -> bool {
    true
}

/// A path query: exactly one of `start` and `end`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    /// Paths beginning at each person's first occurrence of this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<EventMatch>,
    /// Paths ending at each person's first occurrence of this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<EventMatch>,
    /// Events per path, the anchor included (default 4, 2 to 20); shorter
    /// paths are people who did fewer events.
    #[serde(default = "default_length")]
    pub length: usize,
    /// How many paths to return (default 10, 1 to 1000).
    #[serde(default = "default_top")]
    pub top: usize,
    /// Collapse repeats of the same event in a row (default true).
    #[serde(default = "yes")]
    pub collapse_repeats: bool,
    /// Shop-local dates of the events considered.
    #[serde(default)]
    pub range: DateRange,
}

impl PathSpec {
    /// Paths after `start`.
    pub fn after(start: EventMatch) -> Self {
        PathSpec {
            start: Some(start),
            end: None,
            length: default_length(),
            top: default_top(),
            collapse_repeats: true,
            range: DateRange::default(),
        }
    }

    /// Paths before `end`.
    pub fn before(end: EventMatch) -> Self {
        PathSpec { start: None, end: Some(end), ..PathSpec::after(EventMatch::named("")) }
    }

    /// Checks the spec; every problem is reported.
    pub fn validate(&self, events: &EventCatalogue) -> Result<()> {
        let mut issues = Issues::default();
        match (&self.start, &self.end) {
            (Some(start), None) => start.validate("start", events, &mut issues),
            (None, Some(end)) => end.validate("end", events, &mut issues),
            _ => issues.push("start", "give exactly one of start and end"),
        }
        if self.length < 2 || self.length > MAX_PATH_LENGTH {
            issues.push("length", format!("must be from 2 to {MAX_PATH_LENGTH}, got {}", self.length));
        }
        if self.top == 0 || self.top > 1000 {
            issues.push("top", format!("must be from 1 to 1000, got {}", self.top));
        }
        self.range.validate("range", &mut issues);
        issues.finish()
    }
}

/// One path and how many people took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathRow {
    /// The events, in order.
    pub events: Vec<String>,
    /// People whose path this is.
    pub persons: u64,
    /// Share of the people with the anchor event.
    pub share: f64,
}

/// The top paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathResult {
    /// `start` or `end`.
    pub anchor: String,
    /// The anchor event.
    pub event: String,
    /// People with the anchor event.
    pub persons: u64,
    /// Most common first, ties by path.
    pub paths: Vec<PathRow>,
}

/// The separator between events inside the aggregated path text.
pub(crate) const SEPARATOR: &str = "\u{1f}";

/// Compiles the path query: rows `(path text, people)` plus one row with a
/// NULL path holding the number of people with the anchor.
pub fn compile(spec: &PathSpec, bounds: (Option<String>, Option<String>), d: &dyn Dialect) -> String {
    let (anchor, after) = match (&spec.start, &spec.end) {
        (Some(start), _) => (start, true),
        (None, Some(end)) => (end, false),
        (None, None) => unreachable!("validated"),
    };
    let mut filters = vec!["person_id IS NOT NULL".to_string()];
    filters.extend(bounds.0.map(|from| format!("ts >= {from}")));
    filters.extend(bounds.1.map(|until| format!("ts < {until}")));
    let collapse = if spec.collapse_repeats { "WHERE anchor OR prev IS NULL OR prev <> event" } else { "" };
    let window = if after {
        format!("e.rn >= a.arn AND e.rn < a.arn + {}", spec.length)
    } else {
        format!("e.rn <= a.arn AND e.rn > a.arn - {}", spec.length)
    };
    format!(
        "WITH e0 AS (\n  \
         SELECT person_id, event, ts, event_id, ({anchor}) AS anchor,\n         \
         lag(event) OVER (PARTITION BY person_id ORDER BY ts, event_id) AS prev\n  \
         FROM events WHERE {filters}\n\
         ), e AS (\n  \
         SELECT person_id, event, anchor, row_number() OVER (PARTITION BY person_id ORDER BY ts, event_id) AS rn\n  \
         FROM e0 {collapse}\n\
         ), a AS (\n  \
         SELECT person_id, min(rn) AS arn FROM e WHERE anchor GROUP BY person_id\n\
         ), p AS (\n  \
         SELECT e.person_id, {agg} AS path\n  \
         FROM e JOIN a ON e.person_id = a.person_id\n  \
         WHERE {window}\n  \
         GROUP BY e.person_id\n\
         )\n\
         SELECT path, count(*) AS persons FROM p GROUP BY path\n\
         UNION ALL SELECT NULL, count(*) FROM a\n\
         ORDER BY persons DESC, path",
        anchor = d.event_match(anchor),
        filters = filters.join(" AND "),
        agg = d.string_agg("e.event", SEPARATOR, "e.rn"),
    )
}

/// Builds the result from the compiled query's rows.
pub fn assemble(spec: &PathSpec, rows: Vec<(Option<String>, u64)>) -> PathResult {
    let (anchor, event) = match (&spec.start, &spec.end) {
        (Some(start), _) => ("start", start.label()),
        (_, end) => ("end", end.as_ref().map(EventMatch::label).unwrap_or_default()),
    };
    let persons = rows.iter().find(|(p, _)| p.is_none()).map_or(0, |r| r.1);
    let mut paths: Vec<PathRow> = rows
        .into_iter()
        .filter_map(|(p, n)| {
            p.map(|p| PathRow {
                events: p.split(SEPARATOR).map(str::to_string).collect(),
                persons: n,
                share: if persons == 0 { 0.0 } else { n as f64 / persons as f64 },
            })
        })
        .collect();
    paths.sort_by(|a, b| b.persons.cmp(&a.persons).then_with(|| a.events.cmp(&b.events)));
    paths.truncate(spec.top);
    PathResult { anchor: anchor.into(), event, persons, paths }
}
