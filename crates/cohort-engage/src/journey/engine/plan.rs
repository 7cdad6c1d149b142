//! Working out a run's steps and writing their effects: [`Effects`] holds
//! what a batch of runs will write (messages with their offers, tasks, final
//! positions), [`JourneyEngine::plan`] fills it without writing, and
//! [`JourneyEngine::apply`] writes it in the crash-safe order: messages,
//! offers, then tasks and positions.

use chrono::{DateTime, Duration, Utc};
use cohort_model::PersonId;
use sqlx::{Connection, Row};

use super::{canonical, JourneyEngine, RunRecord, RunStatus, MAX_STEPS_AT_ONCE};
use crate::campaign::Offer;
use crate::channel::{ChannelKind, Template};
use crate::db::to_us;
use crate::journey::{Action, JourneySpec};
use crate::outbox::{Enqueued, NewMessage};
use crate::{EngageError, Result};

/// Everything a batch of steps will write, in the order [`JourneyEngine::apply`] writes it.
#[derive(Default)]
pub(super) struct Effects {
    /// Messages (with the offer issued when scheduled).
    pub(super) sends: Vec<(NewMessage, Offer)>,
    /// Tasks.
    pub(super) tasks: Vec<TaskRow>,
    /// Final positions and ends.
    pub(super) writes: Vec<RunWrite>,
}

pub(super) struct TaskRow {
    list: String,
    person_id: String,
    journey: String,
    run_id: i64,
    step: String,
    note: String,
}

pub(super) enum RunWrite {
    Save(RunRecord),
    End { id: i64, status: RunStatus, reason: String },
}

impl JourneyEngine {
    /// [`JourneyEngine::plan`], except that a run whose steps cannot be
    /// worked out for reasons of its own (a template variable its contact
    /// lacks, a bad offer) ends `exited` with reason `error: …` instead of
    /// failing the tick or the entry for everyone; store failures still
    /// propagate.
    pub(super) async fn plan_checked(
        &self,
        spec: &JourneySpec,
        run: RunRecord,
        now: DateTime<Utc>,
        fx: &mut Effects,
    ) -> Result<()> {
        let (id, marks) = (run.id, (fx.sends.len(), fx.tasks.len(), fx.writes.len()));
        match self.plan(spec, run, now, fx).await {
            Err(e) if e.is_user_error() => {
                tracing::warn!(journey = %spec.id, run = id, error = %e, "journey run ended on an error");
                fx.sends.truncate(marks.0);
                fx.tasks.truncate(marks.1);
                fx.writes.truncate(marks.2);
                fx.writes.push(RunWrite::End { id, status: RunStatus::Exited, reason: format!("error: {e}") });
                Ok(())
            }
            other => other,
        }
    }

    /// Works out the steps from the run's current one until it waits or
    /// ends, without writing anything: the messages, tasks and the final
    /// position go to `fx`, which [`JourneyEngine::apply`] writes.
    async fn plan(&self, spec: &JourneySpec, mut run: RunRecord, now: DateTime<Utc>, fx: &mut Effects) -> Result<()> {
        for _ in 0..MAX_STEPS_AT_ONCE {
            let Some(step) = spec.steps.get(run.step) else {
                fx.writes.push(RunWrite::End { id: run.id, status: RunStatus::Completed, reason: "end".into() });
                return Ok(());
            };
            match &step.action {
                Action::Send { channel, class, template, offer } => {
                    self.plan_send(spec, &run, &step.id, *channel, *class, template, offer, now, fx)?;
                    run.step += 1;
                }
                Action::Wait { minutes } => {
                    run.step += 1;
                    run.wake_at = Some(now + Duration::minutes(*minutes));
                    fx.writes.push(RunWrite::Save(run));
                    return Ok(());
                }
                Action::WaitForEvent { event, timeout_minutes, .. } => {
                    run.waiting_event = event.clone();
                    run.wake_at = Some(now + Duration::minutes(*timeout_minutes));
                    fx.writes.push(RunWrite::Save(run));
                    return Ok(());
                }
                Action::Branch { event, then, otherwise } => {
                    let seen: i64 =
                        sqlx::query("SELECT COUNT(*) FROM engage_journey_seen WHERE run_id = $1 AND event = $2")
                            .bind(run.id)
                            .bind(canonical(event))
                            .fetch_one(self.outbox.pool())
                            .await?
                            .try_get(0)?;
                    let target = if seen > 0 { Some(then) } else { otherwise.as_ref() };
                    run.step = match target {
                        Some(t) => spec.index_of(t).ok_or_else(|| EngageError::corrupt(format!("step {t}")))?,
                        None => run.step + 1,
                    };
                }
                Action::Task { list, note } => {
                    fx.tasks.push(self.plan_task(spec, &run, &step.id, list, note)?);
                    run.step += 1;
                }
                Action::Exit => {
                    fx.writes.push(RunWrite::End {
                        id: run.id,
                        status: RunStatus::Completed,
                        reason: "exit_step".into(),
                    });
                    return Ok(());
                }
            }
        }
        fx.writes.push(RunWrite::End {
            id: run.id,
            status: RunStatus::Exited,
            reason: "too many steps without a wait".into(),
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_send(
        &self,
        spec: &JourneySpec,
        run: &RunRecord,
        step: &str,
        channel: ChannelKind,
        class: crate::channel::MessageClass,
        template: &crate::channel::TemplateSpec,
        offer: &Offer,
        now: DateTime<Utc>,
        fx: &mut Effects,
    ) -> Result<()> {
        let person = PersonId::new(run.person_id.clone()).map_err(EngageError::corrupt)?;
        let Some(contact) = self.directory.contact(&person, channel) else {
            tracing::debug!(journey = %spec.id, person = %run.person_id, %channel, "no address; step skipped");
            return Ok(());
        };
        let mut vars = contact.vars.clone();
        vars.extend(run.context.iter().map(|(k, v)| (k.clone(), v.clone())));
        vars.extend(offer.vars(now, self.outbox.shop()));
        let content = Template::try_from(template.clone())?.render(&vars)?;
        fx.sends.push((
            NewMessage {
                dedupe_key: format!("journey:{}:{}:{step}", spec.id, run.id),
                person,
                channel,
                class,
                source: spec.id.clone(),
                recipient: contact.recipient,
                content,
                send_at: None,
            },
            offer.clone(),
        ));
        Ok(())
    }

    fn plan_task(&self, spec: &JourneySpec, run: &RunRecord, step: &str, list: &str, note: &str) -> Result<TaskRow> {
        let person = PersonId::new(run.person_id.clone()).map_err(EngageError::corrupt)?;
        let mut vars = self.directory.contact(&person, ChannelKind::Console).map(|c| c.vars).unwrap_or_default();
        vars.extend(run.context.iter().map(|(k, v)| (k.clone(), v.clone())));
        let note = Template::new(step, "", note)?.render(&vars)?.body;
        Ok(TaskRow {
            list: list.into(),
            person_id: run.person_id.clone(),
            journey: spec.id.clone(),
            run_id: run.id,
            step: step.into(),
            note,
        })
    }

    /// Writes what [`JourneyEngine::plan`] worked out, in an order that
    /// survives a crash anywhere: (1) every message in one outbox
    /// transaction (caps applied in order, each keyed
    /// `journey:{id}:{run}:{step}`), (2) the offers of the messages that
    /// were scheduled (the issuer is idempotent under the same key; a
    /// replay whose message is already stored and not suppressed issues
    /// again, which the key makes a no-op), (3) tasks and run positions in
    /// one transaction. A crash before (3) leaves every run at its old
    /// position and due, so the next tick replays it and finds its
    /// messages by key. Returns the messages newly scheduled.
    pub(super) async fn apply(&self, fx: Effects, now: DateTime<Utc>) -> Result<u64> {
        let mut sent = 0;
        if !fx.sends.is_empty() {
            let (messages, offers): (Vec<NewMessage>, Vec<Offer>) = fx.sends.into_iter().unzip();
            let keys: Vec<(String, PersonId)> =
                messages.iter().map(|m| (m.dedupe_key.clone(), m.person.clone())).collect();
            let outcomes = self.outbox.enqueue_batch(messages).await?;
            for ((outcome, offer), (key, person)) in outcomes.iter().zip(&offers).zip(&keys) {
                let scheduled = match outcome {
                    Enqueued::Scheduled { .. } => {
                        sent += 1;
                        true
                    }
                    Enqueued::Suppressed { .. } => false,
                    Enqueued::Duplicate { id } => {
                        *offer != Offer::None
                            && self.outbox.message(*id).await?.status != crate::outbox::MessageStatus::Suppressed
                    }
                };
                if scheduled && *offer != Offer::None {
                    // An offer the loyalty store refuses (unknown template,
                    // budget spent) withdraws its message, as a campaign
                    // does: a coupon text without the coupon is worse than
                    // none. The run moves on.
                    match self.issuer.issue(key, person, offer).await {
                        Ok(()) => {}
                        Err(EngageError::OfferNotIssued { reason, .. }) => {
                            tracing::warn!(person = person.as_str(), key = key.as_str(), %reason, "journey offer refused; message withdrawn");
                            if self.outbox.withdraw(outcome.id(), "offer_not_issued").await? {
                                sent -= u64::from(matches!(outcome, Enqueued::Scheduled { .. }));
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        if fx.tasks.is_empty() && fx.writes.is_empty() {
            return Ok(sent);
        }
        let mut conn = self.outbox.pool().acquire().await?;
        let mut tx = conn.begin_with(self.outbox.backend().begin_write()).await?;
        for t in &fx.tasks {
            sqlx::query(
                "INSERT INTO engage_tasks (list, person_id, journey, run_id, step, note, created_at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, step) DO NOTHING",
            )
            .bind(&t.list)
            .bind(&t.person_id)
            .bind(&t.journey)
            .bind(t.run_id)
            .bind(&t.step)
            .bind(&t.note)
            .bind(to_us(now))
            .execute(&mut *tx)
            .await?;
        }
        for w in &fx.writes {
            match w {
                RunWrite::Save(run) => {
                    sqlx::query(
                        "UPDATE engage_journey_runs SET step = $1, wake_at_us = $2, waiting_event = $3 \
                         WHERE id = $4 AND status = 'active'",
                    )
                    .bind(run.step as i64)
                    .bind(run.wake_at.map(to_us))
                    .bind(&run.waiting_event)
                    .bind(run.id)
                    .execute(&mut *tx)
                    .await?;
                }
                RunWrite::End { id, status, reason } => {
                    end_query(*id, *status, reason, now).execute(&mut *tx).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(sent)
    }
}

pub(super) fn end_query<'q>(
    id: i64,
    status: RunStatus,
    reason: &'q str,
    now: DateTime<Utc>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(
        "UPDATE engage_journey_runs SET status = $1, end_reason = $2, ended_at_us = $3, wake_at_us = NULL, \
         waiting_event = '' WHERE id = $4 AND status = 'active'",
    )
    .bind(status.name())
    .bind(reason)
    .bind(to_us(now))
    .bind(id)
}
