//! Sequence matching: one pass over each person's events (as returned by
//! the compiled query), trying every occurrence of the first step as the
//! start of an attempt and keeping the attempt that got furthest.

use std::collections::HashMap;

use super::{DroppedAudience, FunnelBreakdown, FunnelMode, FunnelResult, FunnelSpec, FunnelStepResult};

/// One event of a person's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEvent {
    /// Epoch milliseconds.
    pub t: i64,
    /// Bit *k*: the event matches step *k* (0-based).
    pub mask: u64,
    /// Bit *x*: the event matches exclusion *x*.
    pub excl: u64,
    /// Breakdown value index (into [`FunnelEngine`]'s values).
    pub bd: u32,
}

/// The best attempt of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Steps reached (1 = only the first).
    pub level: usize,
    /// Epoch milliseconds at which each reached step happened.
    pub times: Vec<i64>,
    /// Breakdown value index of the attempt's first event.
    pub bd: u32,
}

/// What an attempt came to.
enum Attempt {
    Reached(usize, Vec<i64>),
    Excluded,
}

/// The funnel's rules, precomputed from the spec.
#[derive(Debug, Clone)]
pub struct Plan {
    steps: usize,
    mode: FunnelMode,
    window_ms: i64,
    within_ms: Vec<Option<i64>>,
    /// `(from, to)` 0-based step indices per exclusion.
    exclusions: Vec<(usize, usize)>,
    start_from: Option<i64>,
    start_until: Option<i64>,
}

impl Plan {
    /// The plan of a validated spec, first steps bounded by epoch
    /// milliseconds `[start_from, start_until)`.
    pub fn new(spec: &FunnelSpec, start_from: Option<i64>, start_until: Option<i64>) -> Self {
        Plan {
            steps: spec.steps.len(),
            mode: spec.mode,
            window_ms: spec.window.millis(),
            within_ms: spec.steps.iter().map(|s| s.within.map(|w| w.millis())).collect(),
            exclusions: spec.exclusions.iter().map(|x| (x.from_step - 1, x.to_step - 1)).collect(),
            start_from,
            start_until,
        }
    }

    fn may_start(&self, t: i64) -> bool {
        self.start_from.is_none_or(|f| t >= f) && self.start_until.is_none_or(|u| t < u)
    }

    /// The best attempt in one person's events (sorted by time; events at
    /// the same instant in step order). `None`: no attempt started, or every
    /// attempt was excluded (`Some(Err(()))`).
    pub fn evaluate(&self, events: &[StreamEvent]) -> Option<Result<Outcome, ()>> {
        let mut best: Option<Outcome> = None;
        let mut excluded = false;
        let first_bit = if self.mode == FunnelMode::AnyOrder { u64::MAX } else { 1 };
        for (s, start) in events.iter().enumerate() {
            if start.mask & first_bit == 0 || !self.may_start(start.t) {
                continue;
            }
            let attempt = match self.mode {
                FunnelMode::AnyOrder => self.any_order(events, s),
                _ => self.ordered(events, s),
            };
            match attempt {
                Attempt::Excluded => excluded = true,
                Attempt::Reached(level, times) => {
                    if best.as_ref().is_none_or(|b| level > b.level) {
                        best = Some(Outcome { level, times, bd: start.bd });
                        if level == self.steps {
                            break;
                        }
                    }
                }
            }
        }
        match best {
            Some(b) => Some(Ok(b)),
            None if excluded => Some(Err(())),
            None => None,
        }
    }

    fn ordered(&self, events: &[StreamEvent], s: usize) -> Attempt {
        let t0 = events[s].t;
        let mut times = vec![t0];
        let mut idx = s;
        for k in 1..self.steps {
            let bit = 1_u64 << k;
            let previous = times[k - 1];
            let found = match self.mode {
                FunnelMode::Strict => Some(idx + 1).filter(|&j| j < events.len() && events[j].mask & bit != 0),
                _ => (idx + 1..events.len()).take_while(|&j| events[j].t - t0 <= self.window_ms).find(|&j| {
                    events[j].mask & bit != 0 && (self.mode != FunnelMode::StrictIncrease || events[j].t > previous)
                }),
            };
            let Some(j) = found else { break };
            let t = events[j].t;
            if t - t0 > self.window_ms || self.within_ms[k].is_some_and(|w| t - previous > w) {
                break;
            }
            times.push(t);
            idx = j;
        }
        let level = times.len();
        for (x, &(from, to)) in self.exclusions.iter().enumerate() {
            if level <= from {
                continue;
            }
            let lo = times[from];
            let bit = 1_u64 << x;
            let hit = if level > to {
                let hi = times[to];
                events.iter().any(|e| e.excl & bit != 0 && e.t > lo && e.t < hi)
            } else {
                let hi = t0 + self.window_ms;
                events.iter().any(|e| e.excl & bit != 0 && e.t > lo && e.t <= hi)
            };
            if hit {
                return Attempt::Excluded;
            }
        }
        Attempt::Reached(level, times)
    }

    fn any_order(&self, events: &[StreamEvent], s: usize) -> Attempt {
        let t0 = events[s].t;
        let all = if self.steps == 64 { u64::MAX } else { (1_u64 << self.steps) - 1 };
        let mut seen = 0_u64;
        let mut times = Vec::new();
        for e in events[s..].iter().take_while(|e| e.t - t0 <= self.window_ms) {
            let new = e.mask & all & !seen;
            for _ in 0..new.count_ones() {
                times.push(e.t);
            }
            seen |= new;
            if seen == all {
                break;
            }
        }
        Attempt::Reached(times.len(), times)
    }
}

/// Accumulates outcomes person by person and builds the result.
#[derive(Debug)]
pub struct FunnelEngine {
    plan: Plan,
    labels: Vec<String>,
    values: Vec<String>,
    value_index: HashMap<String, u32>,
    /// Per breakdown value: people reaching each step, and the step times.
    reached: Vec<Vec<u64>>,
    durations: Vec<Vec<Vec<i64>>>,
    excluded: u64,
    dropped_at: Option<usize>,
    dropped: Vec<String>,
}

impl FunnelEngine {
    /// An engine for a validated spec.
    pub fn new(spec: &FunnelSpec, plan: Plan) -> Self {
        FunnelEngine {
            plan,
            labels: spec.steps.iter().map(|s| s.event_match().label()).collect(),
            values: Vec::new(),
            value_index: HashMap::new(),
            reached: Vec::new(),
            durations: Vec::new(),
            excluded: 0,
            dropped_at: spec.dropped_at,
            dropped: Vec::new(),
        }
    }

    /// The index of a breakdown value (`None` is `(none)`).
    pub fn value(&mut self, value: Option<&str>) -> u32 {
        let value = value.unwrap_or("(none)");
        if let Some(&i) = self.value_index.get(value) {
            return i;
        }
        let i = self.values.len() as u32;
        self.values.push(value.to_string());
        self.value_index.insert(value.to_string(), i);
        self.reached.push(vec![0; self.plan.steps]);
        self.durations.push(vec![Vec::new(); self.plan.steps]);
        i
    }

    /// For each breakdown value index, its rank in text order (to order
    /// same-instant events independently of storage order).
    pub fn value_ranks(&self) -> Vec<u32> {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by(|&a, &b| self.values[a].cmp(&self.values[b]));
        let mut rank = vec![0_u32; self.values.len()];
        for (r, i) in order.into_iter().enumerate() {
            rank[i] = r as u32;
        }
        rank
    }

    /// Adds one person: their events in time order (ties in any order; they
    /// are put in step order here).
    pub fn person(&mut self, person: &str, events: &mut [StreamEvent]) {
        // stable: same-instant events in order of their lowest step
        events.sort_by_key(|e| (e.t, e.mask.trailing_zeros()));
        match self.plan.evaluate(events) {
            None => {}
            Some(Err(())) => self.excluded += 1,
            Some(Ok(outcome)) => {
                let bd = outcome.bd as usize;
                for k in 0..outcome.level {
                    self.reached[bd][k] += 1;
                    if k > 0 {
                        self.durations[bd][k].push(outcome.times[k] - outcome.times[k - 1]);
                    }
                }
                if self.dropped_at.is_some_and(|d| outcome.level == d - 1) {
                    self.dropped.push(person.to_string());
                }
            }
        }
    }

    /// The result.
    pub fn finish(self, spec: &FunnelSpec) -> FunnelResult {
        let n = self.plan.steps;
        let mut total = vec![0_u64; n];
        let mut total_durations: Vec<Vec<i64>> = vec![Vec::new(); n];
        for (reached, durations) in self.reached.iter().zip(&self.durations) {
            for k in 0..n {
                total[k] += reached[k];
                total_durations[k].extend_from_slice(&durations[k]);
            }
        }
        let steps = step_results(&self.labels, &total, &mut total_durations);
        let mut breakdowns = Vec::new();
        if spec.breakdown.is_some() {
            for (i, value) in self.values.iter().enumerate() {
                if self.reached[i][0] == 0 {
                    continue; // seen only on events that started no attempt
                }
                let mut durations = self.durations[i].clone();
                breakdowns.push(FunnelBreakdown {
                    value: value.clone(),
                    steps: step_results(&self.labels, &self.reached[i], &mut durations),
                });
            }
            breakdowns.sort_by(|a, b| b.steps[0].persons.cmp(&a.steps[0].persons).then_with(|| a.value.cmp(&b.value)));
        }
        let mut dropped = self.dropped;
        dropped.sort();
        FunnelResult {
            mode: spec.mode,
            window: spec.window,
            steps,
            breakdown: spec.breakdown.clone(),
            breakdowns,
            excluded_persons: self.excluded,
            dropped: self.dropped_at.map(|step| DroppedAudience { step, persons: dropped }),
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The median of durations in milliseconds, as seconds (the mean of the two
/// middle values for an even count).
pub fn median_seconds(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let m = values.len() / 2;
    let ms = if values.len() % 2 == 1 { values[m] as f64 } else { (values[m - 1] as f64 + values[m] as f64) / 2.0 };
    Some(ms / 1000.0)
}

fn step_results(labels: &[String], reached: &[u64], durations: &mut [Vec<i64>]) -> Vec<FunnelStepResult> {
    (0..reached.len())
        .map(|k| {
            let previous = if k == 0 { reached[0] } else { reached[k - 1] };
            FunnelStepResult {
                step: k + 1,
                label: labels[k].clone(),
                persons: reached[k],
                conversion_rate: ratio(reached[k], reached[0]),
                step_conversion_rate: if k == 0 { 1.0 } else { ratio(reached[k], previous) },
                dropped_off: previous - reached[k],
                drop_off_rate: if k == 0 { 0.0 } else { ratio(previous - reached[k], previous) },
                median_seconds_from_previous: if k == 0 { None } else { median_seconds(&mut durations[k]) },
            }
        })
        .collect()
}
