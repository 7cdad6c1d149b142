//! Running journeys: events in, steps out. One engine per store (its steps
//! are serialised by a lock; a second process would need a lease per run,
//! not built). A run's steps are worked out first and their effects written
//! after (`plan.rs`): messages keyed `journey:{id}:{run}:{step}`, then offers,
//! then the position, so replaying an event or a tick after a crash never
//! sends twice and never loses a step.

mod plan;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cohort_model::PersonId;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Connection, Row};
use tokio::sync::Mutex;

use super::{same_event, Action, JourneySpec, ReEntry, Trigger};
use crate::campaign::{Contact, OfferIssuer};
use crate::channel::{ChannelKind, Vars};
use crate::db::{from_us, to_us};
use crate::outbox::Outbox;
use crate::{EngageError, Result};
use plan::{end_query, Effects, RunWrite};

/// Most steps one run may take without waiting (guards against branch loops).
const MAX_STEPS_AT_ONCE: usize = 100;

/// An event as journeys see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JourneyEvent {
    /// Who.
    pub person: PersonId,
    /// Event name.
    pub name: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Properties, usable as template variables and in trigger conditions.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl JourneyEvent {
    /// From a stored event (None without a person).
    pub fn from_event(e: &cohort_model::Event) -> Option<JourneyEvent> {
        let mut properties = e.properties.clone();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                properties.entry(k.to_string()).or_insert(serde_json::Value::String(v));
            }
        };
        put("product_id", e.product_id.as_ref().map(|p| p.as_str().to_string()));
        put("order_id", e.order_id.as_ref().map(|o| o.as_str().to_string()));
        put("category", e.category.clone());
        put("coupon", e.coupon.clone());
        Some(JourneyEvent {
            person: e.person_id.clone()?,
            name: e.name.as_str().to_string(),
            at: e.timestamp,
            properties,
        })
    }

    fn vars(&self) -> Vars {
        self.properties
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
            .collect()
    }
}

/// Where a person is reached on a channel.
pub trait Directory: Send + Sync {
    /// The contact on `channel`, if the person has one.
    fn contact(&self, person: &PersonId, channel: ChannelKind) -> Option<Contact>;
}

impl<F: Fn(&PersonId, ChannelKind) -> Option<Contact> + Send + Sync> Directory for F {
    fn contact(&self, person: &PersonId, channel: ChannelKind) -> Option<Contact> {
        self(person, channel)
    }
}

/// A run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// In the journey.
    Active,
    /// Walked to the end (or an exit step).
    Completed,
    /// Reached the goal.
    Converted,
    /// Left on an exit event or a timeout.
    Exited,
}

impl RunStatus {
    pub(crate) fn name(self) -> &'static str {
        match self {
            RunStatus::Active => "active",
            RunStatus::Completed => "completed",
            RunStatus::Converted => "converted",
            RunStatus::Exited => "exited",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<RunStatus> {
        Ok(match s {
            "active" => RunStatus::Active,
            "completed" => RunStatus::Completed,
            "converted" => RunStatus::Converted,
            "exited" => RunStatus::Exited,
            other => return Err(EngageError::corrupt(format!("run status {other:?}"))),
        })
    }
}

/// A stored run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Journey id.
    pub journey: String,
    /// Person.
    pub person_id: String,
    /// Status.
    pub status: RunStatus,
    /// Index of the current step.
    pub step: usize,
    /// When the current wait ends.
    pub wake_at: Option<DateTime<Utc>>,
    /// Event awaited (empty: none).
    pub waiting_event: String,
    /// Variables captured at entry.
    pub context: Vars,
    /// Entry time.
    pub entered_at: DateTime<Utc>,
    /// End time.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended (`end`, `exit_step`, `goal:…`, `exit:…`, `timeout:…`).
    pub end_reason: String,
    /// The key it was entered under by a job (empty: none).
    pub entry_key: String,
}

/// A task a journey put on a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    /// The person.
    pub person_id: String,
    /// The journey that created it.
    pub journey: String,
    /// The filled note.
    pub note: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Runs whose wait was over.
    pub woken: u64,
    /// Messages enqueued.
    pub sent: u64,
}

/// What asking to enter did.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A new run started (its first steps already applied).
    Entered(RunRecord),
    /// The entry key was already used for this journey and person.
    AlreadyEntered {
        /// The run that used it.
        run: i64,
    },
    /// The re-entry rule refused: the person is in the journey, or was and
    /// may not come back (yet).
    NotAllowed {
        /// The person's latest run.
        last: i64,
    },
}

impl Entry {
    /// The new run's id, if one started.
    pub fn run_id(&self) -> Option<i64> {
        match self {
            Entry::Entered(run) => Some(run.id),
            _ => None,
        }
    }
}

/// One entry for [`JourneyEngine::enter_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    /// Journey id.
    pub journey: String,
    /// Who.
    pub person: PersonId,
    /// Entry key (empty: none).
    pub key: String,
    /// Template variables.
    pub context: Vars,
}

/// Runs taken per batch by [`JourneyEngine::tick`].
const TICK_BATCH: usize = 500;

/// The journey runner.
pub struct JourneyEngine {
    outbox: Outbox,
    journeys: Vec<JourneySpec>,
    directory: Arc<dyn Directory>,
    issuer: Arc<dyn OfferIssuer>,
    lock: Mutex<()>,
}

pub(crate) const RUN_COLUMNS: &str =
    "id, journey, person_id, status, step, wake_at_us, waiting_event, context, entered_at_us, \
                           ended_at_us, end_reason, entry_key";

pub(crate) fn run_row(r: &AnyRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: r.try_get(0)?,
        journey: r.try_get(1)?,
        person_id: r.try_get(2)?,
        status: RunStatus::parse(&r.try_get::<String, _>(3)?)?,
        step: r.try_get::<i64, _>(4)? as usize,
        wake_at: r.try_get::<Option<i64>, _>(5)?.map(from_us).transpose()?,
        waiting_event: r.try_get(6)?,
        context: serde_json::from_str(&r.try_get::<String, _>(7)?).map_err(EngageError::corrupt)?,
        entered_at: from_us(r.try_get(8)?)?,
        ended_at: r.try_get::<Option<i64>, _>(9)?.map(from_us).transpose()?,
        end_reason: r.try_get(10)?,
        entry_key: r.try_get(11)?,
    })
}

impl JourneyEngine {
    /// An engine over `journeys` (validated, all problems reported at once).
    pub fn new(
        outbox: Outbox,
        journeys: Vec<JourneySpec>,
        directory: Arc<dyn Directory>,
        issuer: Arc<dyn OfferIssuer>,
    ) -> Result<JourneyEngine> {
        let problems: Vec<String> = journeys.iter().filter_map(|j| j.validate().err()).map(|e| e.to_string()).collect();
        if !problems.is_empty() {
            return Err(EngageError::invalid("journeys", "", problems.join(" | ")));
        }
        Ok(JourneyEngine { outbox, journeys, directory, issuer, lock: Mutex::new(()) })
    }

    fn spec(&self, id: &str) -> Result<&JourneySpec> {
        self.journeys.iter().find(|j| j.id == id).ok_or_else(|| EngageError::Unknown { what: "journey", id: id.into() })
    }

    /// Whether the engine runs journey `id`.
    pub fn has_journey(&self, id: &str) -> bool {
        self.journeys.iter().any(|j| j.id == id)
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn cohort_model::Clock> {
        self.outbox.clock()
    }

    /// The shop's time zone.
    pub fn shop(&self) -> cohort_model::ShopTime {
        self.outbox.shop()
    }

    /// Handles one event: ends runs whose goal or exit event it is, moves
    /// runs waiting for it, records it for branches, and enters the person
    /// into journeys it triggers. Returns the ids of the runs entered.
    pub async fn on_event(&self, event: &JourneyEvent) -> Result<Vec<i64>> {
        let _guard = self.lock.lock().await;
        let now = self.outbox.clock().now();
        let mut fx = Effects::default();
        for run in self.active_runs(&event.person).await? {
            let spec = self.spec(&run.journey)?;
            if spec.goal.as_deref().is_some_and(|g| same_event(g, &event.name)) {
                self.end(run.id, RunStatus::Converted, &format!("goal:{}", event.name), now).await?;
                continue;
            }
            if spec.exit_on.iter().any(|x| same_event(x, &event.name)) {
                self.end(run.id, RunStatus::Exited, &format!("exit:{}", event.name), now).await?;
                continue;
            }
            sqlx::query("INSERT INTO engage_journey_seen (run_id, event, at_us) VALUES ($1, $2, $3)")
                .bind(run.id)
                .bind(canonical(&event.name))
                .bind(to_us(event.at))
                .execute(self.outbox.pool())
                .await?;
            if !run.waiting_event.is_empty() && same_event(&run.waiting_event, &event.name) {
                let mut run = run;
                run.step += 1;
                run.wake_at = None;
                run.waiting_event.clear();
                self.plan_checked(spec, run, now, &mut fx).await?;
            }
        }
        let mut entered = Vec::new();
        for spec in &self.journeys {
            let Trigger::Event { event: name, when } = &spec.trigger else { continue };
            if !same_event(name, &event.name) || !when.iter().all(|(k, v)| event.properties.get(k) == Some(v)) {
                continue;
            }
            let mut conn = self.outbox.pool().acquire().await?;
            if let Entry::Entered(run) = self.insert_run(&mut conn, spec, &event.person, event.vars(), "", now).await? {
                entered.push(run.id);
                self.plan_checked(spec, run, now, &mut fx).await?;
            }
        }
        self.apply(fx, now).await?;
        Ok(entered)
    }

    /// Enters `person` into a journey (for segment- or prediction-driven
    /// journeys), if the re-entry rule allows. Returns the run id.
    pub async fn enter(&self, journey: &str, person: &PersonId, context: Vars) -> Result<Option<i64>> {
        Ok(match self.enter_once(journey, person, "", context).await? {
            Entry::Entered(run) => Some(run.id),
            _ => None,
        })
    }

    /// Enters `person` into a journey under an entry key (`2024-03-17`, the
    /// day a silence began; `2024` for a birthday): a key already used for
    /// this journey and person enters nobody, whatever the re-entry rule;
    /// otherwise the re-entry rule decides. An empty key is no key.
    pub async fn enter_once(&self, journey: &str, person: &PersonId, key: &str, context: Vars) -> Result<Entry> {
        let entry = NewEntry { journey: journey.into(), person: person.clone(), key: key.into(), context };
        let mut out = self.enter_many(vec![entry]).await?;
        out.pop().ok_or_else(|| EngageError::corrupt("empty entry result"))
    }

    /// Enters many people at once, in order, with the rules of
    /// [`JourneyEngine::enter_once`]: 500 at a time, the new runs written
    /// in one transaction, then their first steps planned and applied
    /// together (one outbox transaction, one for positions). A crash
    /// between the two leaves the new runs due, and the next tick runs
    /// their first steps. Unknown journeys are refused before anything is
    /// written.
    pub async fn enter_many(&self, entries: Vec<NewEntry>) -> Result<Vec<Entry>> {
        for e in &entries {
            self.spec(&e.journey)?;
        }
        let _guard = self.lock.lock().await;
        let now = self.outbox.clock().now();
        let mut out = Vec::with_capacity(entries.len());
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            let chunk: Vec<NewEntry> = entries.by_ref().take(TICK_BATCH).collect();
            let mut conn = self.outbox.pool().acquire().await?;
            let mut tx = conn.begin_with(self.outbox.backend().begin_write()).await?;
            let mut done = Vec::with_capacity(chunk.len());
            for e in chunk {
                let spec = self.spec(&e.journey)?;
                done.push(self.insert_run(&mut tx, spec, &e.person, e.context, &e.key, now).await?);
            }
            tx.commit().await?;
            let mut fx = Effects::default();
            for entry in &done {
                if let Entry::Entered(run) = entry {
                    self.plan_checked(self.spec(&run.journey)?, run.clone(), now, &mut fx).await?;
                }
            }
            self.apply(fx, now).await?;
            out.extend(done);
        }
        Ok(out)
    }

    /// Writes a new run at step 0, due at once (`wake_at` = now), so that a
    /// crash before its first steps are applied leaves it to the next tick.
    async fn insert_run(
        &self,
        conn: &mut sqlx::AnyConnection,
        spec: &JourneySpec,
        person: &PersonId,
        context: Vars,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Entry> {
        if !key.is_empty() {
            let used = sqlx::query(
                "SELECT id FROM engage_journey_runs WHERE journey = $1 AND person_id = $2 AND entry_key = $3",
            )
            .bind(&spec.id)
            .bind(person.as_str())
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = used {
                return Ok(Entry::AlreadyEntered { run: row.try_get(0)? });
            }
        }
        let last = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM engage_journey_runs WHERE journey = $1 AND person_id = $2 ORDER BY id DESC LIMIT 1"
        ))
        .bind(&spec.id)
        .bind(person.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| run_row(&r))
        .transpose()?;
        if let Some(last) = &last {
            let allowed = last.status != RunStatus::Active
                && match spec.re_entry {
                    ReEntry::Never => false,
                    ReEntry::AfterExit => true,
                    ReEntry::Cooldown { days } => now >= last.entered_at + Duration::days(i64::from(days)),
                };
            if !allowed {
                return Ok(Entry::NotAllowed { last: last.id });
            }
        }
        let context_json = serde_json::to_string(&context).map_err(EngageError::corrupt)?;
        let id: i64 = sqlx::query(
            "INSERT INTO engage_journey_runs (journey, person_id, status, step, wake_at_us, context, entered_at_us, \
             entry_key) VALUES ($1, $2, 'active', 0, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&spec.id)
        .bind(person.as_str())
        .bind(to_us(now))
        .bind(context_json)
        .bind(to_us(now))
        .bind(key)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
        Ok(Entry::Entered(RunRecord {
            id,
            journey: spec.id.clone(),
            person_id: person.as_str().to_string(),
            status: RunStatus::Active,
            step: 0,
            wake_at: None,
            waiting_event: String::new(),
            context,
            entered_at: now,
            ended_at: None,
            end_reason: String::new(),
            entry_key: key.to_string(),
        }))
    }

    /// Resumes every run whose wait is over (timeouts included); call it
    /// from the scheduler every minute or so. Runs are taken 500 at a time:
    /// the messages of a batch go to the outbox in one transaction, then
    /// the batch's tasks and positions in another (so a crash between the
    /// two replays the batch: its messages are found by their keys).
    pub async fn tick(&self) -> Result<TickReport> {
        let _guard = self.lock.lock().await;
        let now = self.outbox.clock().now();
        let mut report = TickReport::default();
        loop {
            let due: Vec<RunRecord> = sqlx::query(&format!(
                "SELECT {RUN_COLUMNS} FROM engage_journey_runs WHERE status = 'active' AND wake_at_us IS NOT NULL \
                 AND wake_at_us <= $1 ORDER BY wake_at_us, id LIMIT {TICK_BATCH}"
            ))
            .bind(to_us(now))
            .fetch_all(self.outbox.pool())
            .await?
            .iter()
            .map(run_row)
            .collect::<Result<_>>()?;
            if due.is_empty() {
                return Ok(report);
            }
            let mut fx = Effects::default();
            for mut run in due {
                report.woken += 1;
                let spec = self.spec(&run.journey)?;
                if !run.waiting_event.is_empty() {
                    let Some(Action::WaitForEvent { on_timeout, event, .. }) =
                        spec.steps.get(run.step).map(|s| &s.action)
                    else {
                        return Err(EngageError::corrupt(format!("run {} waits on a step that is not a wait", run.id)));
                    };
                    match on_timeout.as_deref().and_then(|t| spec.index_of(t)) {
                        Some(target) => run.step = target,
                        None => {
                            fx.writes.push(RunWrite::End {
                                id: run.id,
                                status: RunStatus::Exited,
                                reason: format!("timeout:{event}"),
                            });
                            continue;
                        }
                    }
                    run.waiting_event.clear();
                }
                run.wake_at = None;
                self.plan_checked(spec, run, now, &mut fx).await?;
            }
            report.sent += self.apply(fx, now).await?;
        }
    }

    /// The tasks on a list, oldest first.
    pub async fn tasks(&self, list: &str) -> Result<Vec<Task>> {
        let rows =
            sqlx::query("SELECT person_id, journey, note, created_at_us FROM engage_tasks WHERE list = $1 ORDER BY id")
                .bind(list)
                .fetch_all(self.outbox.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Task {
                    person_id: r.try_get(0)?,
                    journey: r.try_get(1)?,
                    note: r.try_get(2)?,
                    created_at: from_us(r.try_get(3)?)?,
                })
            })
            .collect()
    }

    async fn end(&self, id: i64, status: RunStatus, reason: &str, now: DateTime<Utc>) -> Result<()> {
        end_query(id, status, reason, now).execute(self.outbox.pool()).await?;
        Ok(())
    }

    async fn active_runs(&self, person: &PersonId) -> Result<Vec<RunRecord>> {
        sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM engage_journey_runs WHERE person_id = $1 AND status = 'active' ORDER BY id"
        ))
        .bind(person.as_str())
        .fetch_all(self.outbox.pool())
        .await?
        .iter()
        .map(run_row)
        .collect()
    }

    /// One run.
    pub async fn run(&self, id: i64) -> Result<RunRecord> {
        let row = sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM engage_journey_runs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.outbox.pool())
            .await?
            .ok_or_else(|| EngageError::Unknown { what: "journey run", id: id.to_string() })?;
        run_row(&row)
    }

    /// Every run of a person, oldest first.
    pub async fn runs_of(&self, person: &PersonId) -> Result<Vec<RunRecord>> {
        sqlx::query(&format!("SELECT {RUN_COLUMNS} FROM engage_journey_runs WHERE person_id = $1 ORDER BY id"))
            .bind(person.as_str())
            .fetch_all(self.outbox.pool())
            .await?
            .iter()
            .map(run_row)
            .collect()
    }
}

fn canonical(name: &str) -> String {
    cohort_model::EventName::parse(name).as_str().to_string()
}
