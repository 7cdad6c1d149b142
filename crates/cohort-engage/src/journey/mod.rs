//! Triggered journeys: a person enters on an event (or is entered by a
//! segment or prediction job), then walks through steps — send a message,
//! wait, wait for an event with a timeout, branch on what happened since
//! entry — until the journey ends, its goal event arrives (converted) or an
//! exit event arrives. Each person's position is stored
//! (`engage_journey_runs`), so a restart in the middle of a three-day wait
//! picks up where it was; re-entry is explicit ([`ReEntry`]).
//!
//! Journeys are declared as data (serde, `deny_unknown_fields`), so they
//! can live in `cohort.toml`; [`engine`] runs them.

pub mod engine;
pub mod entry;
pub mod playbooks;
pub mod price_drop;
pub mod report;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::campaign::Offer;
use crate::channel::{ChannelKind, MessageClass, Template, TemplateSpec};
use crate::EngageError;

pub use engine::{Directory, Entry, JourneyEngine, JourneyEvent, NewEntry, RunRecord, RunStatus, Task, TickReport};

/// How a person enters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// On an event, optionally only when some properties equal given values
    /// (`first_order = true`).
    Event {
        /// Event name (`Order Completed`, `Product Added`, or a custom name).
        event: String,
        /// Properties that must be equal.
        #[serde(default)]
        when: BTreeMap<String, serde_json::Value>,
    },
    /// Entered by a job (a segment such as "silent 30–45 days", a churn
    /// prediction, a replenishment date) through [`JourneyEngine::enter`].
    Manual,
}

/// Whether someone who already went through the journey may enter again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReEntry {
    /// Once per person, ever.
    Never,
    /// Again once the previous run has ended.
    AfterExit,
    /// Again once `days` have passed since the previous entry (and it ended).
    Cooldown {
        /// Days since the last entry.
        days: u32,
    },
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Send a message (through the outbox and its contact rules).
    Send {
        /// Channel.
        channel: ChannelKind,
        /// Marketing or transactional.
        class: MessageClass,
        /// Template; the entry event's properties and the contact's
        /// variables fill it.
        template: TemplateSpec,
        /// Offer issued when the message is scheduled.
        #[serde(default = "no_offer")]
        offer: Offer,
    },
    /// Wait a fixed time.
    Wait {
        /// Minutes.
        minutes: i64,
    },
    /// Wait for an event; on timeout go to `on_timeout` (a step id) or end.
    WaitForEvent {
        /// Event name.
        event: String,
        /// Minutes before giving up.
        timeout_minutes: i64,
        /// Step to go to on timeout (none: the run ends, `timeout`).
        #[serde(default)]
        on_timeout: Option<String>,
    },
    /// Go to `then` if `event` happened since entry, else to `otherwise`
    /// (none: the next step).
    Branch {
        /// Event name.
        event: String,
        /// Step id when it happened.
        then: String,
        /// Step id when not.
        #[serde(default)]
        otherwise: Option<String>,
    },
    /// Put the person on a task list for staff (a service call), with a
    /// note filled like a template.
    Task {
        /// The list (`service_calls`).
        list: String,
        /// The note (`{{name}} 沉默 {{silent_days}} 天，消费 ¥{{lifetime_value}}`).
        note: String,
    },
    /// End the run.
    Exit,
}

fn no_offer() -> Offer {
    Offer::None
}

/// A named step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Id, for branches and timeouts.
    pub id: String,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
}

/// A journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneySpec {
    /// Id (message source and idempotency prefix).
    pub id: String,
    /// How people enter.
    pub trigger: Trigger,
    /// Re-entry rule.
    pub re_entry: ReEntry,
    /// The event that counts as success and ends the run (`converted`).
    #[serde(default)]
    pub goal: Option<String>,
    /// Events that end the run early (`exited`).
    #[serde(default)]
    pub exit_on: Vec<String>,
    /// The steps, run in order unless a branch or timeout jumps.
    pub steps: Vec<Step>,
}

impl JourneySpec {
    /// Checks ids, jumps, durations and templates; every problem at once.
    pub fn validate(&self) -> Result<(), EngageError> {
        let mut problems = Vec::new();
        if self.steps.is_empty() {
            problems.push("has no steps".to_string());
        }
        for (i, step) in self.steps.iter().enumerate() {
            if self.steps[..i].iter().any(|s| s.id == step.id) {
                problems.push(format!("step id {:?} is used twice", step.id));
            }
            let target_ok = |t: &str| self.steps.iter().any(|s| s.id == t);
            match &step.action {
                Action::Send { template, .. } => {
                    if let Err(e) = Template::try_from(template.clone()) {
                        problems.push(format!("step {:?}: {e}", step.id));
                    }
                }
                Action::Wait { minutes } | Action::WaitForEvent { timeout_minutes: minutes, .. } if *minutes <= 0 => {
                    problems.push(format!("step {:?}: wait must be positive, got {minutes} minutes", step.id));
                }
                Action::Task { note, .. } => {
                    if let Err(e) = Template::new(&step.id, "", note) {
                        problems.push(format!("step {:?}: {e}", step.id));
                    }
                }
                Action::Branch { then, otherwise, .. } => {
                    for t in std::iter::once(then).chain(otherwise) {
                        if !target_ok(t) {
                            problems.push(format!("step {:?}: unknown target step {t:?}", step.id));
                        }
                    }
                }
                _ => {}
            }
            if let Action::WaitForEvent { on_timeout: Some(t), .. } = &step.action {
                if !target_ok(t) {
                    problems.push(format!("step {:?}: unknown target step {t:?}", step.id));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(EngageError::invalid("journey", &self.id, problems.join("; ")))
        }
    }

    /// The index of step `id`.
    pub(crate) fn index_of(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }
}

/// Whether an event name matches a configured name (case, `_`, `-` and
/// spaces ignored for the known e-commerce names, as in `EventName::parse`).
pub(crate) fn same_event(configured: &str, actual: &str) -> bool {
    cohort_model::EventName::parse(configured) == cohort_model::EventName::parse(actual)
}

/// Yuan as a template shows it: `129` for whole yuan, `129.90` otherwise.
pub(crate) fn yuan_text(m: cohort_model::Money) -> String {
    let fen = m.fen();
    if fen % 100 == 0 {
        (fen / 100).to_string()
    } else {
        format!("{}{}.{:02}", if fen < 0 { "-" } else { "" }, (fen / 100).abs(), (fen % 100).abs())
    }
}

/// A shop-local date as messages show it: `5月4日`.
pub(crate) fn month_day(d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    format!("{}月{}日", d.month(), d.day())
}
