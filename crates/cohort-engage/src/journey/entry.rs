//! The daily entry job: who enters the segment- and prediction-driven
//! playbooks of [`super::playbooks`] today.
//!
//! - **Wake-up by tier**, from the shop-local days since the last purchase:
//!   light 30–45 → `wake_up_light`, medium 46–60 → `wake_up_medium`, heavy
//!   61+ → `wake_up_heavy`; a silent member who is high value by frequency
//!   and spend (3 orders and ¥500 within 365 days: the plan's high-value
//!   thresholds without their 30-day recency, which a silent member cannot
//!   meet) → `wake_up_high_value` (service call, then WeCom).
//! - **Recall** from the churn model (`person_scores`, model `churn`, risk
//!   0–100): at or above 80 → `recall_high_value` or `recall`. A recalled
//!   person gets no wake-up the same day.
//! - **Replenishment**: a consumable whose predicted run-out day
//!   (`cohort_predict::replenish`) is 0–3 days away → `replenishment` (the
//!   soonest one per person).
//! - **Birthday** 0–3 days away (3 days before on a daily run; a missed day
//!   is caught up) → `birthday`.
//!
//! Every entry has a key ([`JourneyEngine::enter_once`]): the day the
//! silence began for wake-ups (one entry per tier per silence), the day for
//! recall (then the journey's 60-day cooldown rules), the item and run-out
//! day for replenishment, the year for birthdays. Running the job twice on
//! a day enters nobody twice; beyond the keys the journeys' re-entry rules
//! apply. Journeys the engine does not run are skipped and counted.
//!
//! The shape is a pure planner over plain facts ([`PersonFacts`] →
//! [`plan`]), a reader of those facts from the stores ([`read_facts`]) and
//! one call for the scheduler ([`run_daily`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use cohort_model::{Money, PersonId, ShopTime};
use cohort_predict::replenish::{ReplenishSettings, Replenishment};
use cohort_store::{AudienceStore, EventStore};
use serde::{Deserialize, Serialize};

use super::engine::{Entry, JourneyEngine, NewEntry};
use super::{month_day, yuan_text};
use crate::campaign::outcomes::purchases;
use crate::channel::Vars;
use crate::{EngageError, Result};

/// Journey ids the job enters people into (those of [`super::playbooks`]).
pub mod ids {
    /// Silent 30–45 days.
    pub const WAKE_UP_LIGHT: &str = "wake_up_light";
    /// Silent 46–60 days.
    pub const WAKE_UP_MEDIUM: &str = "wake_up_medium";
    /// Silent 61+ days.
    pub const WAKE_UP_HEAVY: &str = "wake_up_heavy";
    /// Silent and high value.
    pub const WAKE_UP_HIGH_VALUE: &str = "wake_up_high_value";
    /// High churn risk, high value.
    pub const RECALL_HIGH_VALUE: &str = "recall_high_value";
    /// High churn risk.
    pub const RECALL: &str = "recall";
    /// A consumable about to run out.
    pub const REPLENISHMENT: &str = "replenishment";
    /// Birthday ahead.
    pub const BIRTHDAY: &str = "birthday";
}

/// Thresholds of the job (defaults: the business plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntrySettings {
    /// Days since the last purchase from which a buyer is silent (light).
    pub light_min_days: u32,
    /// First day of medium silence.
    pub medium_min_days: u32,
    /// First day of heavy silence.
    pub heavy_min_days: u32,
    /// Last day of heavy silence (none: no end).
    pub heavy_max_days: Option<u32>,
    /// High value: at least this many purchases within `value_window_days`.
    pub high_value_min_orders: u32,
    /// High value: at least this much paid within `value_window_days`.
    pub high_value_min_spent: Money,
    /// The window of the two above, in days.
    pub value_window_days: u32,
    /// The `person_scores` model holding churn risk.
    pub churn_model: String,
    /// Risk (0–100) at or above which a person is recalled.
    pub churn_min_score: f64,
    /// Enter when a predicted run-out day is at most this many days away.
    pub replenish_days_before: u32,
    /// Enter when a birthday is at most this many days away.
    pub birthday_days_before: u32,
    /// How run-out days are predicted.
    pub replenish: ReplenishSettings,
}

impl Default for EntrySettings {
    fn default() -> Self {
        EntrySettings {
            light_min_days: 30,
            medium_min_days: 46,
            heavy_min_days: 61,
            heavy_max_days: None,
            high_value_min_orders: 3,
            high_value_min_spent: Money::from_yuan(500),
            value_window_days: 365,
            churn_model: "churn".into(),
            churn_min_score: 80.0,
            replenish_days_before: 3,
            birthday_days_before: 3,
            replenish: ReplenishSettings::default(),
        }
    }
}

impl EntrySettings {
    /// Checks the fields; every problem at once, naming the field.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.light_min_days == 0 {
            problems.push("light_min_days: must be at least 1".to_string());
        }
        if !(self.light_min_days < self.medium_min_days && self.medium_min_days < self.heavy_min_days) {
            problems.push(format!(
                "light_min_days < medium_min_days < heavy_min_days must hold, got {} / {} / {}",
                self.light_min_days, self.medium_min_days, self.heavy_min_days
            ));
        }
        if self.heavy_max_days.is_some_and(|m| m < self.heavy_min_days) {
            problems.push("heavy_max_days: must be at least heavy_min_days".to_string());
        }
        if self.high_value_min_spent < Money::ZERO {
            problems.push("high_value_min_spent: must not be negative".to_string());
        }
        if self.value_window_days == 0 {
            problems.push("value_window_days: must be at least 1".to_string());
        }
        if self.churn_model.trim().is_empty() {
            problems.push("churn_model: must not be empty".to_string());
        }
        if !(0.0..=100.0).contains(&self.churn_min_score) {
            problems.push(format!("churn_min_score: must be within 0..=100, got {}", self.churn_min_score));
        }
        if let Err(e) = self.replenish.validate() {
            problems.push(format!("replenish.{e}"));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngageError::invalid("entry settings", "", problems.join("; ")))
        }
    }
}

/// One consumable's predicted run-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunOut {
    /// Product id (or category).
    pub item: String,
    /// Display name, when known.
    pub name: Option<String>,
    /// Predicted run-out day.
    pub run_out: NaiveDate,
}

/// What the job knows about one person today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonFacts {
    /// Who.
    pub person: PersonId,
    /// Shop-local day of the last purchase (none: never bought).
    pub last_order: Option<NaiveDate>,
    /// Purchases within the value window.
    pub orders_in_window: u32,
    /// Paid within the value window.
    pub spent_in_window: Money,
    /// Paid, lifetime (refunds not subtracted).
    pub lifetime_spent: Money,
    /// Churn risk 0–100, when scored.
    pub churn_score: Option<f64>,
    /// Birthday.
    pub birthday: Option<NaiveDate>,
    /// Consumables and their predicted run-out days.
    pub run_outs: Vec<RunOut>,
}

impl PersonFacts {
    /// A person with no facts yet.
    pub fn new(person: PersonId) -> PersonFacts {
        PersonFacts {
            person,
            last_order: None,
            orders_in_window: 0,
            spent_in_window: Money::ZERO,
            lifetime_spent: Money::ZERO,
            churn_score: None,
            birthday: None,
            run_outs: Vec::new(),
        }
    }
}

/// One entry the job will ask for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedEntry {
    /// Journey id.
    pub journey: &'static str,
    /// Who.
    pub person: PersonId,
    /// Entry key (see the module docs).
    pub key: String,
    /// Template variables for the journey.
    pub context: Vars,
}

/// The silence tier for `days` since the last purchase, if silent.
pub fn silent_tier(days: i64, s: &EntrySettings) -> Option<&'static str> {
    let d = |v: u32| i64::from(v);
    if days < d(s.light_min_days) {
        None
    } else if days < d(s.medium_min_days) {
        Some(ids::WAKE_UP_LIGHT)
    } else if days < d(s.heavy_min_days) {
        Some(ids::WAKE_UP_MEDIUM)
    } else if s.heavy_max_days.is_none_or(|m| days <= d(m)) {
        Some(ids::WAKE_UP_HEAVY)
    } else {
        None
    }
}

/// This year's (or next year's) birthday on or after `today`; 29 February
/// falls on the 28th in other years.
pub fn next_birthday(birthday: NaiveDate, today: NaiveDate) -> Option<NaiveDate> {
    let on = |year: i32| {
        NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day())
            .or_else(|| NaiveDate::from_ymd_opt(year, birthday.month(), birthday.day() - 1))
    };
    let this = on(today.year())?;
    if this >= today {
        Some(this)
    } else {
        on(today.year() + 1)
    }
}

fn vars(pairs: &[(&str, String)]) -> Vars {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Who enters which journey today, by person (in the order given) then
/// journey. Pure: the same facts and day give the same plan.
pub fn plan(today: NaiveDate, people: &[PersonFacts], s: &EntrySettings) -> Vec<PlannedEntry> {
    let mut out = Vec::new();
    for p in people {
        let entry = |journey: &'static str, key: String, context: Vars| PlannedEntry {
            journey,
            person: p.person.clone(),
            key,
            context,
        };
        let high_value = p.orders_in_window >= s.high_value_min_orders && p.spent_in_window >= s.high_value_min_spent;
        if let Some(last) = p.last_order {
            let silent = (today - last).num_days();
            let common = [
                ("silent_days", silent.to_string()),
                ("lifetime_value", yuan_text(p.lifetime_spent)),
                ("last_order_date", month_day(last)),
            ];
            let risk = p.churn_score.filter(|r| *r >= s.churn_min_score);
            if let Some(risk) = risk {
                let journey = if high_value { ids::RECALL_HIGH_VALUE } else { ids::RECALL };
                let mut context = vars(&common);
                context.insert("churn_risk".into(), format!("{risk:.0}"));
                out.push(entry(journey, today.to_string(), context));
            } else if let Some(tier) = silent_tier(silent, s) {
                let journey = if high_value { ids::WAKE_UP_HIGH_VALUE } else { tier };
                out.push(entry(journey, last.to_string(), vars(&common)));
            }
        }
        let due = p
            .run_outs
            .iter()
            .filter(|r| (0..=i64::from(s.replenish_days_before)).contains(&(r.run_out - today).num_days()))
            .min_by(|a, b| (a.run_out, &a.item).cmp(&(b.run_out, &b.item)));
        if let Some(r) = due {
            let context = vars(&[
                ("product", r.name.clone().unwrap_or_else(|| r.item.clone())),
                ("item", r.item.clone()),
                ("run_out_date", month_day(r.run_out)),
            ]);
            out.push(entry(ids::REPLENISHMENT, format!("{}@{}", r.item, r.run_out), context));
        }
        if let Some(day) = p.birthday.and_then(|b| next_birthday(b, today)) {
            if (day - today).num_days() <= i64::from(s.birthday_days_before) {
                out.push(entry(ids::BIRTHDAY, day.year().to_string(), vars(&[("birthday", month_day(day))])));
            }
        }
    }
    out
}

/// What the job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntryReport {
    /// People considered.
    pub people: u64,
    /// Entries planned.
    pub planned: u64,
    /// Runs started, by journey.
    pub entered: BTreeMap<String, u64>,
    /// Planned entries whose key was already used (an earlier run of the job).
    pub already_entered: u64,
    /// Refused by the journey's re-entry rule (in it, or cooling down).
    pub not_allowed: u64,
    /// Planned for a journey the engine does not run.
    pub unconfigured: u64,
}

impl EntryReport {
    /// Runs started in all journeys.
    pub fn total_entered(&self) -> u64 {
        self.entered.values().sum()
    }
}

/// Asks the engine for every planned entry (in batches: see
/// [`JourneyEngine::enter_many`]).
pub async fn enter_planned(engine: &JourneyEngine, entries: Vec<PlannedEntry>) -> Result<EntryReport> {
    let mut report = EntryReport { planned: entries.len() as u64, ..EntryReport::default() };
    let (known, unknown): (Vec<PlannedEntry>, Vec<PlannedEntry>) =
        entries.into_iter().partition(|e| engine.has_journey(e.journey));
    report.unconfigured = unknown.len() as u64;
    let asked: Vec<NewEntry> = known
        .into_iter()
        .map(|e| NewEntry { journey: e.journey.into(), person: e.person, key: e.key, context: e.context })
        .collect();
    for entry in engine.enter_many(asked).await? {
        match entry {
            Entry::Entered(run) => *report.entered.entry(run.journey).or_default() += 1,
            Entry::AlreadyEntered { .. } => report.already_entered += 1,
            Entry::NotAllowed { .. } => report.not_allowed += 1,
        }
    }
    Ok(report)
}

/// Where the job reads its facts: histories (orders, birthdays) from the
/// event store, churn scores from `person_scores` through the audience
/// store (`DuckDbStore` is both).
#[derive(Clone)]
pub struct EntrySources {
    /// Orders, users and products.
    pub events: Arc<dyn EventStore>,
    /// Model scores (`scores_of_model`).
    pub scores: Arc<dyn AudienceStore>,
}

/// Reads every person's facts as of shop-local `today`: one scan of the
/// histories (purchases up to `today`, user birthdays), the churn scores,
/// and run-out days predicted from the same store
/// ([`Replenishment::from_store`], a second scan). Blocking.
pub fn read_facts(
    sources: &EntrySources,
    shop: &ShopTime,
    today: NaiveDate,
    s: &EntrySettings,
) -> Result<Vec<PersonFacts>> {
    s.validate()?;
    let scores: HashMap<PersonId, f64> = sources.scores.scores_of_model(&s.churn_model)?.into_iter().collect();
    let replenishment = Replenishment::from_store(sources.events.as_ref(), shop, s.replenish)?;
    let window = i64::from(s.value_window_days);
    let mut people = Vec::new();
    sources.events.scan_histories(&mut |h| {
        let mut f = PersonFacts::new(h.person_id.clone());
        // Stored orders (imports) and `Order Completed` events (collected
        // over HTTP), each order once.
        for o in purchases(&h) {
            let day = shop.date(o.at);
            let ago = (today - day).num_days();
            if ago < 0 {
                continue;
            }
            f.last_order = f.last_order.max(Some(day));
            f.lifetime_spent += o.total;
            if ago <= window {
                f.orders_in_window += 1;
                f.spent_in_window += o.total;
            }
        }
        f.birthday = h.user.as_ref().and_then(|u| u.birthday);
        f.churn_score = scores.get(&h.person_id).copied();
        f.run_outs = replenishment
            .for_person(&h.person_id)
            .into_iter()
            .map(|d| RunOut { item: d.item, name: d.name, run_out: d.run_out })
            .collect();
        if f.last_order.is_some() || f.birthday.is_some() || f.churn_score.is_some() {
            people.push(f);
        }
        Ok(())
    })?;
    Ok(people)
}

/// The daily job: reads the facts (off the async runtime), plans, enters.
/// Call it once a day per shop (more often is harmless: keys make it
/// idempotent); `today` is the shop-local date (`shop.date(clock.now())`).
pub async fn run_daily(
    engine: &JourneyEngine,
    sources: &EntrySources,
    shop: ShopTime,
    today: NaiveDate,
    settings: &EntrySettings,
) -> Result<EntryReport> {
    let (src, s) = (sources.clone(), settings.clone());
    let people = tokio::task::spawn_blocking(move || read_facts(&src, &shop, today, &s))
        .await
        .map_err(|e| EngageError::corrupt(format!("entry job reader panicked: {e}")))??;
    let planned = plan(today, &people, settings);
    let mut report = enter_planned(engine, planned).await?;
    report.people = people.len() as u64;
    tracing::info!(%today, people = report.people, planned = report.planned, entered = report.total_entered(),
        already = report.already_entered, not_allowed = report.not_allowed, "journey entry job");
    Ok(report)
}
