//! Funnels: ordered steps, each an event with property filters, converted
//! within a window, in one of four ordering modes, with exclusions and a
//! breakdown. See `docs/analytics.md` for the exact definitions.
//!
//! The spec compiles to one SQL query ([`compile`]) that returns the
//! events the funnel looks at with a bit mask of the steps (and
//! exclusions) each one matches, unsorted, as Arrow batches; [`scan`]
//! groups them by person and a single Rust pass per person ([`engine`])
//! does the sequence matching, which is linear per person in the usual case
//! and exact for every mode.

pub mod compile;
pub mod engine;
pub(crate) mod scan;

use serde::{Deserialize, Serialize};

use crate::error::{Issues, Result};
use crate::spec::{DateRange, EventCatalogue, EventMatch, Filter, Property, Window, MAX_STEPS};

/// How the steps must be ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelMode {
    /// Steps in order; other events may happen between them; a step may
    /// share its timestamp with the previous one.
    #[default]
    Ordered,
    /// Steps in order with no other event of the person between them.
    Strict,
    /// Steps in order, each strictly later than the previous one.
    StrictIncrease,
    /// Steps in any order: step *k* counts people who did any *k* of the
    /// steps within the window.
    AnyOrder,
}

impl std::str::FromStr for FunnelMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.replace('-', "_").as_str() {
            "ordered" => Ok(FunnelMode::Ordered),
            "strict" => Ok(FunnelMode::Strict),
            "strict_increase" => Ok(FunnelMode::StrictIncrease),
            "any_order" | "unordered" => Ok(FunnelMode::AnyOrder),
            other => Err(format!("unknown funnel mode {other:?} (use ordered, strict, strict-increase, any-order)")),
        }
    }
}

/// One step of a funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelStep {
    /// The event name.
    pub event: String,
    /// All must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// A per-step window: this step must follow the previous one within it
    /// (on top of the funnel's window). Not allowed on the first step or in
    /// any-order mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Window>,
}

impl FunnelStep {
    /// The step's event match.
    pub fn event_match(&self) -> EventMatch {
        EventMatch { event: self.event.clone(), filters: self.filters.clone() }
    }

    /// A step from an event match.
    pub fn new(m: EventMatch) -> Self {
        FunnelStep { event: m.event, filters: m.filters, within: None }
    }
}

/// People who did `event` between step `from_step` and step `to_step`
/// (1-based) of an attempt have that attempt discarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The excluded event.
    pub event: String,
    /// All must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// The step (1-based) after which the event excludes.
    pub from_step: usize,
    /// The step (1-based) before which the event excludes.
    pub to_step: usize,
}

impl Exclusion {
    /// The exclusion's event match.
    pub fn event_match(&self) -> EventMatch {
        EventMatch { event: self.event.clone(), filters: self.filters.clone() }
    }
}

fn default_window() -> Window {
    Window::days(14)
}

/// A funnel query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelSpec {
    /// The steps, 2 to 32.
    pub steps: Vec<FunnelStep>,
    /// Conversion window from the first step (default 14 days); a step at
    /// exactly the window's end still converts.
    #[serde(default = "default_window")]
    pub window: Window,
    /// Ordering mode (default ordered).
    #[serde(default)]
    pub mode: FunnelMode,
    /// Exclusion steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<Exclusion>,
    /// Split results by this property of the first step's event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Property>,
    /// Shop-local dates in which the first step must happen.
    #[serde(default)]
    pub range: DateRange,
    /// Filters every event the funnel looks at must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// Return the people who reached step `dropped_at - 1` but not step
    /// `dropped_at` (1-based, at least 2): an audience to win back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_at: Option<usize>,
}

impl FunnelSpec {
    /// An ordered funnel over `steps` with the default window.
    pub fn new(steps: impl IntoIterator<Item = EventMatch>) -> Self {
        FunnelSpec {
            steps: steps.into_iter().map(FunnelStep::new).collect(),
            window: default_window(),
            mode: FunnelMode::default(),
            exclusions: Vec::new(),
            breakdown: None,
            range: DateRange::default(),
            filters: Vec::new(),
            dropped_at: None,
        }
    }

    /// Checks the spec against the known events; every problem is reported.
    pub fn validate(&self, events: &EventCatalogue) -> Result<()> {
        let mut issues = Issues::default();
        let n = self.steps.len();
        if n < 2 {
            issues.push("steps", format!("a funnel needs at least 2 steps, got {n}"));
        }
        if n > MAX_STEPS {
            issues.push("steps", format!("at most {MAX_STEPS} steps, got {n}"));
        }
        self.window.validate("window", &mut issues);
        for (i, step) in self.steps.iter().enumerate() {
            step.event_match().validate(&format!("steps[{i}]"), events, &mut issues);
            if let Some(within) = step.within {
                let field = format!("steps[{i}].within");
                if i == 0 {
                    issues.push(field, "the first step has no previous step to be within");
                } else if self.mode == FunnelMode::AnyOrder {
                    issues.push(field, "per-step windows need an ordered mode, not any_order");
                } else {
                    within.validate(&field, &mut issues);
                }
            }
        }
        for (i, x) in self.exclusions.iter().enumerate() {
            let field = format!("exclusions[{i}]");
            x.event_match().validate(&field, events, &mut issues);
            if self.mode == FunnelMode::AnyOrder {
                issues.push(&field, "exclusions need an ordered mode, not any_order");
            }
            if x.from_step < 1 || x.to_step > n || x.from_step >= x.to_step {
                issues.push(
                    field,
                    format!(
                        "from_step {} and to_step {} must satisfy 1 ≤ from_step < to_step ≤ {n}",
                        x.from_step, x.to_step
                    ),
                );
            }
        }
        if self.exclusions.len() > 32 {
            issues.push("exclusions", format!("at most 32 exclusions, got {}", self.exclusions.len()));
        }
        for (i, f) in self.filters.iter().enumerate() {
            f.validate(&format!("filters[{i}]"), &mut issues);
        }
        if let Some(Property::Custom(key)) = &self.breakdown {
            if key.is_empty() {
                issues.push("breakdown", "empty property name");
            }
        }
        if let Some(d) = self.dropped_at {
            if d < 2 || d > n {
                issues.push("dropped_at", format!("must be a step from 2 to {n}, got {d}"));
            }
        }
        self.range.validate("range", &mut issues);
        issues.finish()
    }
}

/// One step's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStepResult {
    /// 1-based step number.
    pub step: usize,
    /// The step's event and filters.
    pub label: String,
    /// People who reached this step.
    pub persons: u64,
    /// Share of the first step's people who reached this step.
    pub conversion_rate: f64,
    /// Share of the previous step's people who reached this step (1 for
    /// the first step).
    pub step_conversion_rate: f64,
    /// People who reached the previous step but not this one.
    pub dropped_off: u64,
    /// `dropped_off` over the previous step's people.
    pub drop_off_rate: f64,
    /// Median time from the previous step to this one, in seconds, over the
    /// people who reached this step.
    pub median_seconds_from_previous: Option<f64>,
}

/// The funnel of one breakdown value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelBreakdown {
    /// The property value on the first step's event (`(none)` when unset).
    pub value: String,
    /// The steps.
    pub steps: Vec<FunnelStepResult>,
}

/// People who dropped out at one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DroppedAudience {
    /// The step they did not reach (1-based).
    pub step: usize,
    /// Their person ids, sorted.
    pub persons: Vec<String>,
}

/// A computed funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelResult {
    /// The mode used.
    pub mode: FunnelMode,
    /// The window used.
    pub window: Window,
    /// Every step, all people.
    pub steps: Vec<FunnelStepResult>,
    /// The breakdown property, if any.
    pub breakdown: Option<Property>,
    /// Per breakdown value (by people at step 1, most first); each person
    /// counts under one value, so the values add up to `steps`.
    pub breakdowns: Vec<FunnelBreakdown>,
    /// People who started the funnel but had every attempt discarded by an
    /// exclusion (not counted in `steps`).
    pub excluded_persons: u64,
    /// The audience asked for with `dropped_at`.
    pub dropped: Option<DroppedAudience>,
}

impl FunnelResult {
    /// Overall conversion, first step to last.
    pub fn conversion_rate(&self) -> f64 {
        self.steps.last().map_or(0.0, |s| s.conversion_rate)
    }
}
