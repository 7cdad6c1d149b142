//! Campaigns: an audience, an offer, a channel, a message and a send time,
//! launched through the outbox with a control group, and measured
//! ([`measure`]).
//!
//! **Audiences.** An audience is anything that implements
//! [`AudienceSource`]: a list of contacts, a filter over candidates
//! ([`Filtered`]), or a saved audience or filter expression of
//! `cohort-audience` evaluated on the event store ([`StoreAudience`]), whose
//! members become [`Contact`]s (address per channel, name, peak hour from
//! the profile).
//!
//! **Outcomes.** [`measure_from_store`] reads what each member did after
//! their assignment from the event store (orders, refunds, the campaign's
//! coupon) and measures the campaign against its control group.
//!
//! **Offers.** The message is rendered with the offer's values (coupon
//! amount, expiry), enqueued, and the offer is issued only when the message
//! is actually scheduled (not suppressed by a cap or an unsubscribe), through
//! an [`OfferIssuer`] with the same idempotency key, so a re-launch issues
//! nothing twice.

pub mod audience;
pub mod measure;
pub mod outcomes;
pub mod saved;
mod send_time;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Datelike, Duration, Utc};
use cohort_model::{Money, PersonId};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::channel::{ChannelKind, MessageClass, Template, TemplateSpec, Vars};
use crate::db::to_us;
use crate::experiment::{sticky, Arm, Assignment, Experiment, Holdout, BUCKETS};
use crate::outbox::{Enqueued, NewMessage, Outbox};
use crate::{EngageError, Result};

pub use audience::{audience_contacts, AudienceQuery, ResolvedAudience, StoreAudience};
pub use measure::{EffectReport, PersonOutcome, PlanTargets};
pub use outcomes::{measure_from_store, outcomes_from_store, CampaignRef, StoreOutcome, StoreOutcomes};
pub use send_time::peak_send_time;

/// Name of the arm that receives the campaign.
pub const TREATMENT: &str = "treatment";
/// Name of the control arm.
pub const CONTROL: &str = "control";

/// What the campaign gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Offer {
    /// Nothing: a reminder or a content message.
    None,
    /// A coupon of a `cohort-loyalty` template.
    Coupon {
        /// The coupon template id.
        template: String,
        /// Face value shown in the message (`{{coupon_amount}}`).
        face_value: Money,
        /// Days of validity shown as `{{expiry}}`.
        valid_days: u32,
    },
    /// Bonus points.
    PointsBonus {
        /// Points granted (`{{points}}`).
        points: i64,
        /// What the bonus costs the shop per person, for ROI.
        cost: Money,
    },
}

/// When to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SendTime {
    /// At launch.
    Now,
    /// At a fixed instant.
    At {
        /// The instant.
        at: DateTime<Utc>,
    },
    /// Each person at their most active hour (from the profile) within 24 h
    /// of `not_before`; people without one at `not_before`.
    PeakHour {
        /// Earliest send.
        not_before: DateTime<Utc>,
    },
}

/// A campaign definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Id: experiment salt, message source and idempotency prefix.
    pub id: String,
    /// Channel.
    pub channel: ChannelKind,
    /// Message template.
    pub template: TemplateSpec,
    /// Offer.
    pub offer: Offer,
    /// Send time.
    pub send: SendTime,
    /// Control group share in basis points (1000 = 10%).
    pub control_bp: u64,
    /// Cost of one message (one SMS segment).
    pub message_cost: Money,
    /// The plan's targets to report against.
    pub targets: PlanTargets,
}

impl CampaignSpec {
    /// The campaign's experiment: control and treatment by `control_bp`.
    pub fn experiment(&self) -> Result<Experiment> {
        if self.control_bp == 0 || self.control_bp >= BUCKETS {
            return Err(EngageError::invalid(
                "control share",
                self.control_bp.to_string(),
                "must be between 1 and 9999 basis points: without a control group there is no measurable effect",
            ));
        }
        let exp = Experiment {
            id: self.id.clone(),
            salt: self.id.clone(),
            arms: vec![
                Arm { name: CONTROL.into(), weight: self.control_bp as u32 },
                Arm { name: TREATMENT.into(), weight: (BUCKETS - self.control_bp) as u32 },
            ],
            control: CONTROL.into(),
            namespace: None,
        };
        exp.validate()?;
        Ok(exp)
    }

    /// The template variables the offer provides.
    pub fn offer_vars(&self, now: DateTime<Utc>, shop: cohort_model::ShopTime) -> Vars {
        self.offer.vars(now, shop)
    }
}

impl Offer {
    /// Template variables: `coupon_amount` (yuan, no decimals when whole)
    /// and `expiry` (`5月8日`, shop date) for a coupon, `points` for a bonus.
    pub fn vars(&self, now: DateTime<Utc>, shop: cohort_model::ShopTime) -> Vars {
        let mut vars = Vars::new();
        match self {
            Offer::None => {}
            Offer::Coupon { face_value, valid_days, .. } => {
                let fen = face_value.fen();
                let amount =
                    if fen % 100 == 0 { (fen / 100).to_string() } else { format!("{:.2}", face_value.yuan_f64()) };
                vars.insert("coupon_amount".into(), amount);
                let until = shop.date(now + Duration::days(i64::from(*valid_days)));
                vars.insert("expiry".into(), format!("{}月{}日", until.month(), until.day()));
            }
            Offer::PointsBonus { points, .. } => {
                vars.insert("points".into(), points.to_string());
            }
        }
        vars
    }
}

/// One person to reach: who, where, and what to say. It holds the real
/// address (the provider needs it), so it is an engine-side value: never
/// serialised, and its `Debug` masks the address.
#[derive(Clone, PartialEq)]
pub struct Contact {
    /// The person.
    pub person: PersonId,
    /// Address on the campaign's channel.
    pub recipient: String,
    /// Personal variables (`name`, `product`, …).
    pub vars: Vars,
    /// Most active shop-local hour (`Profile::peak_hour`).
    pub peak_hour: Option<u8>,
}

impl std::fmt::Debug for Contact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pii = cohort_audience::Pii::Masked;
        let recipient =
            if self.recipient.contains('@') { pii.text(&self.recipient) } else { pii.phone(&self.recipient) };
        f.debug_struct("Contact")
            .field("person", &self.person)
            .field("recipient", &recipient)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .field("peak_hour", &self.peak_hour)
            .finish()
    }
}

/// Where a campaign's audience comes from: a list, a filter over one, or a
/// saved audience / filter of `cohort-audience` read from the store
/// ([`StoreAudience`]).
pub trait AudienceSource {
    /// The audience's contacts.
    fn contacts(&self) -> Result<Vec<Contact>>;
}

impl AudienceSource for Vec<Contact> {
    fn contacts(&self) -> Result<Vec<Contact>> {
        Ok(self.clone())
    }
}

/// Candidates kept by a predicate (e.g. "silent 30–45 days").
pub struct Filtered<'a, F: Fn(&Contact) -> bool> {
    /// Everyone considered.
    pub candidates: &'a [Contact],
    /// Who stays.
    pub keep: F,
}

impl<F: Fn(&Contact) -> bool> AudienceSource for Filtered<'_, F> {
    fn contacts(&self) -> Result<Vec<Contact>> {
        Ok(self.candidates.iter().filter(|c| (self.keep)(c)).cloned().collect())
    }
}

/// A boxed future, for the object-safe [`OfferIssuer`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Issues a campaign's offer to one person, idempotently under `key`.
pub trait OfferIssuer: Send + Sync {
    /// Issues `offer` to `person`.
    fn issue<'a>(&'a self, key: &'a str, person: &'a PersonId, offer: &'a Offer) -> BoxFuture<'a, Result<()>>;
}

/// An issuer that issues nothing (offer `None`, dry runs, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIssuer;

impl OfferIssuer for NoIssuer {
    fn issue<'a>(&'a self, _: &'a str, _: &'a PersonId, _: &'a Offer) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// What a launch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LaunchReport {
    /// Distinct people in the audience.
    pub audience: u64,
    /// In the global holdout.
    pub holdout: u64,
    /// In the control group.
    pub control: u64,
    /// In the treatment group.
    pub treatment: u64,
    /// Messages scheduled.
    pub scheduled: u64,
    /// Of those scheduled, held to the end of quiet hours.
    pub deferred: u64,
    /// Messages suppressed, by reason.
    pub suppressed: BTreeMap<String, u64>,
    /// Already launched for these people (re-launch).
    pub already_launched: u64,
    /// Offers issued.
    pub offers_issued: u64,
}

const CHUNK: usize = 500;

/// Launches a campaign: assigns everyone (sticky, holdout first), renders
/// and enqueues the treatment's messages, issues offers for the scheduled
/// ones and records every member. Launching again only adds new members.
pub async fn launch(
    outbox: &Outbox,
    spec: &CampaignSpec,
    holdout: Option<&Holdout>,
    audience: &(dyn AudienceSource + Sync),
    issuer: &dyn OfferIssuer,
) -> Result<LaunchReport> {
    let template = Template::try_from(spec.template.clone())?;
    let experiment = spec.experiment()?;
    let offer_vars = spec.offer_vars(outbox.clock().now(), outbox.shop());
    let mut contacts = audience.contacts()?;
    contacts.sort_by(|a, b| a.person.as_str().cmp(b.person.as_str()));
    contacts.dedup_by(|a, b| a.person == b.person);
    let mut report = LaunchReport { audience: contacts.len() as u64, ..LaunchReport::default() };
    for chunk in contacts.chunks(CHUNK) {
        launch_chunk(outbox, spec, &template, &experiment, holdout, &offer_vars, chunk, issuer, &mut report).await?;
    }
    Ok(report)
}

/// One member's plan within a chunk.
struct Plan {
    arm: &'static str,
    treated: bool,
    message_id: Option<i64>,
    outcome: String,
    deferred: bool,
}

/// Crash-safe order: messages are enqueued (commit), members recorded
/// (commit), offers issued with idempotent keys, then marked issued
/// (commit). A launch interrupted anywhere completes on the next launch
/// without sending or issuing anything twice.
#[allow(clippy::too_many_arguments)]
async fn launch_chunk(
    outbox: &Outbox,
    spec: &CampaignSpec,
    template: &Template,
    experiment: &Experiment,
    holdout: Option<&Holdout>,
    offer_vars: &Vars,
    chunk: &[Contact],
    issuer: &dyn OfferIssuer,
    report: &mut LaunchReport,
) -> Result<()> {
    let now = outbox.clock().now();
    let ids: Vec<&str> = chunk.iter().map(|c| c.person.as_str()).collect();
    let assignments = sticky::assign(outbox.pool(), experiment, holdout, &ids, now).await?;
    let mut messages = Vec::new();
    let mut rows = Vec::with_capacity(chunk.len());
    for (contact, assignment) in chunk.iter().zip(&assignments) {
        let (arm, treated) = match assignment {
            Assignment::Holdout => ("holdout", false),
            Assignment::NotEligible => ("not_eligible", false),
            Assignment::Arm(arm) if arm == CONTROL => (CONTROL, false),
            Assignment::Arm(_) => (TREATMENT, true),
        };
        rows.push(Plan { arm, treated, message_id: None, outcome: arm.to_string(), deferred: false });
        if !treated {
            continue;
        }
        let mut vars = contact.vars.clone();
        vars.extend(offer_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        let send_at = match &spec.send {
            SendTime::Now => None,
            SendTime::At { at } => Some(*at),
            SendTime::PeakHour { not_before } => {
                Some(peak_send_time((*not_before).max(now), contact.peak_hour, outbox.shop(), outbox.rules()))
            }
        };
        messages.push(NewMessage {
            dedupe_key: member_key(&spec.id, &contact.person),
            person: contact.person.clone(),
            channel: spec.channel,
            class: MessageClass::Marketing,
            source: spec.id.clone(),
            recipient: contact.recipient.clone(),
            content: template.render(&vars)?,
            send_at,
        });
    }
    let mut enqueued = outbox.enqueue_batch(messages).await?.into_iter();
    for row in rows.iter_mut().filter(|r| r.treated) {
        let result = enqueued.next().ok_or_else(|| EngageError::corrupt("enqueue result count"))?;
        let (id, suppressed) = match result {
            Enqueued::Scheduled { id, deferred, .. } => {
                row.deferred = deferred;
                (id, None)
            }
            Enqueued::Suppressed { id, reason } => (id, Some(reason)),
            Enqueued::Duplicate { id } => {
                let m = outbox.message(id).await?;
                (id, (m.status == crate::outbox::MessageStatus::Suppressed).then_some(m.reason))
            }
        };
        row.message_id = Some(id);
        row.outcome = suppressed.map_or_else(|| "scheduled".to_string(), |r| format!("suppressed:{r}"));
    }
    // Record members; those already there were launched before.
    let mut inserted = Vec::with_capacity(rows.len());
    let mut tx = outbox.pool().begin().await?;
    for (contact, row) in chunk.iter().zip(&rows) {
        let n = sqlx::query(
            "INSERT INTO engage_campaign_members (campaign, person_id, arm, treated, message_id, outcome, \
             offer_issued, at_us) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) \
             ON CONFLICT (campaign, person_id) DO NOTHING",
        )
        .bind(&spec.id)
        .bind(contact.person.as_str())
        .bind(row.arm)
        .bind(i64::from(row.treated))
        .bind(row.message_id)
        .bind(&row.outcome)
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        inserted.push(n > 0);
    }
    tx.commit().await?;
    for (row, new) in rows.iter().zip(&inserted) {
        if !new {
            report.already_launched += 1;
            continue;
        }
        match row.arm {
            "holdout" => report.holdout += 1,
            CONTROL => report.control += 1,
            TREATMENT => report.treatment += 1,
            _ => {}
        }
        if let Some(reason) = row.outcome.strip_prefix("suppressed:") {
            *report.suppressed.entry(reason.to_string()).or_default() += 1;
        } else if row.outcome == "scheduled" {
            report.scheduled += 1;
            report.deferred += u64::from(row.deferred);
        }
    }
    // Offers: for scheduled members not yet marked issued.
    if spec.offer == Offer::None {
        return Ok(());
    }
    let mut issued = Vec::new();
    let mut withdrawn = Vec::new();
    for ((contact, row), new) in chunk.iter().zip(&rows).zip(&inserted) {
        if row.outcome != "scheduled" {
            continue;
        }
        if !new {
            let done: i64 =
                sqlx::query("SELECT offer_issued FROM engage_campaign_members WHERE campaign = $1 AND person_id = $2")
                    .bind(&spec.id)
                    .bind(contact.person.as_str())
                    .fetch_one(outbox.pool())
                    .await?
                    .try_get(0)?;
            if done != 0 {
                continue;
            }
        }
        match issuer.issue(&member_key(&spec.id, &contact.person), &contact.person, &spec.offer).await {
            Ok(()) => issued.push(contact.person.as_str()),
            Err(e) if e.is_user_error() => {
                // No offer, no message promising it.
                tracing::warn!(campaign = %spec.id, person = %contact.person.as_str(), error = %e, "offer not issued");
                if let Some(id) = row.message_id {
                    outbox.withdraw(id, "offer_not_issued").await?;
                }
                withdrawn.push(contact.person.as_str());
            }
            Err(e) => return Err(e),
        }
    }
    let mut tx = outbox.pool().begin().await?;
    for person in &issued {
        sqlx::query("UPDATE engage_campaign_members SET offer_issued = 1 WHERE campaign = $1 AND person_id = $2")
            .bind(&spec.id)
            .bind(*person)
            .execute(&mut *tx)
            .await?;
    }
    for person in &withdrawn {
        sqlx::query(
            "UPDATE engage_campaign_members SET outcome = 'suppressed:offer_not_issued' WHERE campaign = $1 AND person_id = $2",
        )
        .bind(&spec.id)
        .bind(*person)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    report.offers_issued += issued.len() as u64;
    if !withdrawn.is_empty() {
        report.scheduled = report.scheduled.saturating_sub(withdrawn.len() as u64);
        *report.suppressed.entry("offer_not_issued".to_string()).or_default() += withdrawn.len() as u64;
    }
    Ok(())
}

/// The idempotency key of a campaign's message and offer for one person.
pub fn member_key(campaign: &str, person: &PersonId) -> String {
    format!("campaign:{campaign}:{}", person.as_str())
}

/// A campaign member as recorded at launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The person.
    pub person_id: String,
    /// `treatment`, `control`, `holdout` or `not_eligible`.
    pub arm: String,
    /// The message, for treated members.
    pub message_id: Option<i64>,
    /// `scheduled`, `suppressed:<reason>`, `control`, `holdout`, `not_eligible`.
    pub outcome: String,
    /// Whether the offer was issued.
    pub offer_issued: bool,
    /// When the person was assigned (the launch that recorded them): the
    /// start of their attribution window.
    pub assigned_at: DateTime<Utc>,
}

/// Everyone recorded for a campaign.
pub async fn members(outbox: &Outbox, campaign: &str) -> Result<Vec<Member>> {
    let rows = sqlx::query(
        "SELECT person_id, arm, message_id, outcome, offer_issued, at_us FROM engage_campaign_members \
         WHERE campaign = $1 ORDER BY person_id",
    )
    .bind(campaign)
    .fetch_all(outbox.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                person_id: r.try_get(0)?,
                arm: r.try_get(1)?,
                message_id: r.try_get(2)?,
                outcome: r.try_get(3)?,
                offer_issued: r.try_get::<i64, _>(4)? != 0,
                assigned_at: crate::db::from_us(r.try_get(5)?)?,
            })
        })
        .collect()
}
