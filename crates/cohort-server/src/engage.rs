//! Engagement inside the server: the journeys of `[engage]` fed with every
//! event the collector commits, a scheduler that wakes waiting journey runs
//! and delivers due messages, and the admin routes for campaigns, journeys,
//! experiments, contact preferences and provider callbacks. Thin by
//! design: every rule lives in [`cohort_engage`]; this module maps JSON to
//! its calls and its errors to stable codes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_engage::campaign::outcomes::DEFAULT_WINDOW_DAYS;
use cohort_engage::campaign::{
    self, measure_from_store, saved, AudienceQuery, BoxFuture, CampaignRef, CampaignSpec, Contact, Offer, OfferIssuer,
    StoreAudience,
};
use cohort_engage::channel::{ChannelKind, Vars};
use cohort_engage::config::EngageConfig;
use cohort_engage::experiment::readout::{read_out, ArmCounts};
use cohort_engage::experiment::{sticky, Arm, Assignment, Experiment, Holdout};
use cohort_engage::journey::entry::{self, EntryReport, EntrySources};
use cohort_engage::journey::price_drop::{on_price_changes, PriceChange};
use cohort_engage::journey::{report, Action, Directory, JourneyEngine, JourneyEvent, JourneySpec, RunStatus};
use cohort_engage::outbox::{Engagement, Outbox, Preference};
use cohort_engage::EngageError;
use cohort_loyalty::{
    Activity, Audience, CouponTemplate, IdempotencyKey, Loyalty, Offer as LoyaltyOffer, TemplateId, Validity,
};
use cohort_model::{Money, PersonId, UserId};
use cohort_store::EventStore;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::{error_response, invalid_input};
use crate::writer::{CommitHook, Committed};
use crate::AppState;

/// Issues campaign and journey offers from the loyalty store, under the
/// message's idempotency key, so a retried launch never issues twice:
/// coupons of a template, and points bonuses as a ledger credit.
pub struct LoyaltyIssuer(pub Arc<Loyalty>);

impl OfferIssuer for LoyaltyIssuer {
    fn issue<'a>(
        &'a self,
        key: &'a str,
        person: &'a PersonId,
        offer: &'a Offer,
    ) -> BoxFuture<'a, Result<(), EngageError>> {
        Box::pin(async move {
            let refuse = |reason: String| EngageError::OfferNotIssued { person: person.as_str().into(), reason };
            match offer {
                Offer::None => Ok(()),
                Offer::Coupon { template, .. } => {
                    let key = IdempotencyKey::new(key).map_err(|e| refuse(e.to_string()))?;
                    let user = UserId::new(person.as_str()).map_err(|e| refuse(e.to_string()))?;
                    let template = TemplateId::new(template.as_str()).map_err(|e| refuse(e.to_string()))?;
                    match self.0.issue_coupon(&key, &user, &template).await {
                        Ok(_) => Ok(()),
                        Err(e) if e.is_user_error() => Err(refuse(e.to_string())),
                        Err(e) => Err(EngageError::Corrupt(format!("loyalty: {e}"))),
                    }
                }
                Offer::PointsBonus { points, .. } => {
                    let key = IdempotencyKey::new(key).map_err(|e| refuse(e.to_string()))?;
                    let user = UserId::new(person.as_str()).map_err(|e| refuse(e.to_string()))?;
                    match self.0.record_activity(&key, &user, Activity::Bonus { points: *points }).await {
                        Ok(_) => Ok(()),
                        Err(e) if e.is_user_error() => Err(refuse(e.to_string())),
                        Err(e) => Err(EngageError::Corrupt(format!("loyalty: {e}"))),
                    }
                }
            }
        })
    }
}

/// Minimum spends the shipped playbooks' coupon texts promise ("满200可用").
const PLAYBOOK_MIN_SPEND_YUAN: &[(&str, i64)] = &[("CAT-200-30", 200)];

impl LoyaltyIssuer {
    /// Creates, in the loyalty store, every coupon template the journeys
    /// offer and the store lacks: the face value and days of the offer, no
    /// threshold unless the playbook's text promises one, for everyone, up
    /// to 100 per member over time (the journeys' re-entry rules decide how
    /// often). A template the shop defined differently is kept as it is.
    /// Returns how many were created.
    pub async fn ensure_templates(&self, journeys: &[JourneySpec]) -> Result<u64, cohort_loyalty::LoyaltyError> {
        let mut created = 0;
        for offer in journeys.iter().flat_map(|j| &j.steps).filter_map(|step| match &step.action {
            Action::Send { offer, .. } => Some(offer),
            _ => None,
        }) {
            let Offer::Coupon { template, face_value, valid_days } = offer else { continue };
            let min_spend =
                PLAYBOOK_MIN_SPEND_YUAN.iter().find(|(id, _)| id == template).map(|(_, y)| Money::from_yuan(*y));
            let definition = CouponTemplate {
                id: TemplateId::new(template.as_str())?,
                name: template.clone(),
                offer: match min_spend {
                    Some(min_spend) => LoyaltyOffer::Threshold { min_spend, off: *face_value },
                    None => LoyaltyOffer::NoThreshold { off: *face_value },
                },
                categories: Vec::new(),
                audience: Audience::Everyone,
                validity: Validity::DaysAfterIssue { days: *valid_days },
                per_user_limit: 100,
                quantity_cap: None,
                budget: None,
            };
            match self.0.create_template(definition).await {
                Ok(new) => created += u64::from(new),
                Err(cohort_loyalty::LoyaltyError::Conflict { id, .. }) => {
                    tracing::info!(template = %id, "coupon template defined by the shop kept as it is");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }
}

/// Where journeys reach a person: the user record the collector stored
/// (`phone` for SMS, the `email` trait for email, `wecom_id` / `push_token`
/// traits, else the user id for WeCom, app push and in-app), with `name`
/// from the traits and the most active hour from the stored profile.
pub struct StoreDirectory(pub Arc<dyn EventStore>);

impl Directory for StoreDirectory {
    fn contact(&self, person: &PersonId, channel: ChannelKind) -> Option<Contact> {
        let history = match self.0.history(person) {
            Ok(h) => h?,
            Err(e) => {
                tracing::warn!(person = person.as_str(), error = %e, "cannot read the person's contact details");
                return None;
            }
        };
        let user = history.user;
        let trait_of =
            |name: &str| user.as_ref().and_then(|u| u.traits.get(name)).and_then(|v| v.as_str()).map(str::to_string);
        let recipient = match channel {
            ChannelKind::Sms => user.as_ref().and_then(|u| u.phone.clone())?,
            ChannelKind::Email => trait_of("email")?,
            ChannelKind::WeCom => trait_of("wecom_id").unwrap_or_else(|| person.as_str().to_string()),
            ChannelKind::AppPush => trait_of("push_token").unwrap_or_else(|| person.as_str().to_string()),
            ChannelKind::InApp | ChannelKind::Console => person.as_str().to_string(),
        };
        let mut vars = Vars::new();
        vars.insert("name".into(), trait_of("name").unwrap_or_else(|| person.as_str().to_string()));
        let peak_hour = self.0.profile(person).ok().flatten().and_then(|p| p.peak_hour);
        Some(Contact { person: person.clone(), recipient, vars, peak_hour })
    }
}

/// The engage store, the journey engine and what the routes need.
pub struct EngageService {
    outbox: Outbox,
    engine: Arc<JourneyEngine>,
    journeys: Vec<JourneySpec>,
    issuer: Arc<dyn OfferIssuer>,
    config: EngageConfig,
    events: mpsc::UnboundedSender<Vec<JourneyEvent>>,
    /// Where the daily entry job and price drops read people from
    /// (`None`: those routes answer 503 and the scheduler skips the job).
    sources: Option<EntrySources>,
}

impl EngageService {
    /// Runs `config`'s journeys over `outbox` and starts, on the current
    /// tokio runtime, the task that feeds them committed events and the
    /// scheduler (journey ticks every `tick_every_s`, outbox delivery
    /// every `dispatch_every_s`, the daily entry job once a shop day from
    /// `daily_entry_hour`). Both stop with the runtime; work they
    /// leave is in the store and resumes at the next start.
    pub fn start(
        outbox: Outbox,
        config: EngageConfig,
        directory: Arc<dyn Directory>,
        issuer: Arc<dyn OfferIssuer>,
        sources: Option<EntrySources>,
    ) -> Result<Arc<EngageService>, EngageError> {
        let journeys = config.journeys()?;
        let engine = Arc::new(JourneyEngine::new(outbox.clone(), journeys.clone(), directory.clone(), issuer.clone())?);
        let (events, mut incoming) = mpsc::unbounded_channel::<Vec<JourneyEvent>>();
        let feeder = engine.clone();
        tokio::spawn(async move {
            while let Some(batch) = incoming.recv().await {
                for event in &batch {
                    if let Err(e) = feeder.on_event(event).await {
                        tracing::error!(person = event.person.as_str(), event = %event.name, error = %e, "journey event failed");
                    }
                }
            }
        });
        let service = Arc::new(EngageService { outbox, engine, journeys, issuer, config, events, sources });
        let scheduler = service.clone();
        tokio::spawn(async move { scheduler.schedule().await });
        Ok(service)
    }

    async fn schedule(&self) {
        let tick_every = Duration::from_secs(self.config.tick_every_s.max(1));
        let dispatch_every = Duration::from_secs(self.config.dispatch_every_s.max(1));
        let mut ticks = tokio::time::interval(tick_every);
        let mut dispatches = tokio::time::interval(dispatch_every);
        let mut entered_on = None;
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    match self.engine.tick().await {
                        Ok(r) if r.woken > 0 => tracing::info!(woken = r.woken, sent = r.sent, "journeys ticked"),
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "journey tick failed"),
                    }
                    // Once a shop day, from the configured hour (entry keys
                    // make a second run the same day, e.g. after a restart,
                    // enter nobody twice).
                    let now = self.engine.clock().now();
                    let today = self.engine.shop().date(now);
                    let hour = self.engine.shop().hour(now);
                    if self.sources.is_some() && entered_on != Some(today) && hour >= self.config.daily_entry_hour {
                        match self.run_daily_entry(today).await {
                            Ok(_) => entered_on = Some(today),
                            Err(e) => tracing::error!(error = %e, "journey entry job failed"),
                        }
                    }
                },
                _ = dispatches.tick() => match self.outbox.drain(500).await {
                    Ok(r) if r.claimed > 0 => {
                        tracing::info!(delivered = r.delivered, retried = r.retried, dead = r.dead, "outbox dispatched")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "outbox dispatch failed"),
                },
            }
        }
    }

    /// What the writer calls after each commit: the committed events go to
    /// the journeys (queued: the writer never waits for them).
    pub fn commit_hook(self: &Arc<Self>) -> CommitHook {
        let events = self.events.clone();
        Arc::new(move |committed: &Committed| {
            let batch: Vec<JourneyEvent> = committed.events.iter().filter_map(JourneyEvent::from_event).collect();
            if !batch.is_empty() && events.send(batch).is_err() {
                tracing::warn!("the journey feeder has stopped; events of this commit reach no journey");
            }
        })
    }

    /// Runs the daily entry job for shop-local `today`: enters people into
    /// the segment- and prediction-driven playbooks in force.
    pub async fn run_daily_entry(&self, today: chrono::NaiveDate) -> Result<EntryReport, EngageError> {
        let sources = self.sources.as_ref().ok_or_else(|| EngageError::Unknown {
            what: "entry source",
            id: "this server has no event store for the entry job".into(),
        })?;
        entry::run_daily(&self.engine, sources, self.engine.shop(), today, &self.config.entry).await
    }

    /// The outbox (its messages, delivery counts and contact rules).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    fn holdout(&self) -> Option<Holdout> {
        (self.config.holdout_bp > 0)
            .then(|| Holdout { salt: self.config.holdout_salt.clone(), share_bp: self.config.holdout_bp })
    }
}

/// `POST /v1/journeys/entry/run?date=2026-11-20`: runs the daily entry job
/// now (for the shop day given, default today) and answers what it did.
pub(crate) async fn run_entry(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    if engage.sources.is_none() {
        return no_sources();
    }
    let today = match q.get("date") {
        Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => return invalid_input(format!("date: {d:?} is not a YYYY-MM-DD date")),
        },
        None => engage.engine.shop().date(engage.engine.clock().now()),
    };
    match engage.run_daily_entry(today).await {
        Ok(report) => Json(json!({ "date": today, "report": report })).into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceChangesIn {
    changes: Vec<PriceChange>,
    /// Days back a cart or wishlist add counts (default `[engage]`'s).
    #[serde(default)]
    window_days: Option<u32>,
}

/// `POST /v1/catalogue/price-changes`: the catalogue reports price drops;
/// everyone who carted or wished a dropped product recently without buying
/// it gets a `Price Dropped` event (the `price_drop` journey).
pub(crate) async fn price_changes(State(s): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: PriceChangesIn = gate!(body(&bytes));
    let Some(sources) = engage.sources.as_ref() else { return no_sources() };
    if input.changes.is_empty() {
        return invalid_input("changes: send at least one price change".into());
    }
    let window = input.window_days.unwrap_or(engage.config.price_drop_window_days);
    match on_price_changes(&engage.engine, sources.events.clone(), input.changes, window).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => engage_failed(e),
    }
}

fn no_sources() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "engage_disabled",
        "system",
        "this server's engage service has no event store to read people from".into(),
    )
}

/// The admin gate to the engage service: 401/403 for other keys, 503
/// `engage_disabled` when the server runs without one.
fn admin_engage(state: &AppState, headers: &HeaderMap) -> Result<Arc<EngageService>, Box<Response>> {
    crate::auth::check_admin(headers, state).map_err(|e| Box::new(e.into_response()))?;
    state.engage.clone().ok_or_else(|| {
        Box::new(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "engage_disabled",
            "system",
            "this server runs without an engage store ([engage] enabled = false)".into(),
        ))
    })
}

fn engage_failed(e: EngageError) -> Response {
    match e {
        EngageError::Unknown { .. } => {
            error_response(StatusCode::NOT_FOUND, "not_found", "invalid_request", e.to_string())
        }
        e if e.is_user_error() => invalid_input(e.to_string()),
        e => error_response(StatusCode::INTERNAL_SERVER_ERROR, "engage_failed", "internal", e.to_string()),
    }
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| Box::new(invalid_input(format!("request body: {e}"))))
}

fn person_id(text: &str) -> Result<PersonId, Box<Response>> {
    PersonId::new(text).map_err(|e| Box::new(invalid_input(format!("person: {e}"))))
}

/// `GET /v1/campaigns`: every saved campaign, newest first, with members
/// per arm and delivery counts.
pub(crate) async fn list_campaigns(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    match saved::list(&engage.outbox).await {
        Ok(list) => Json(json!({ "campaigns": list })).into_response(),
        Err(e) => engage_failed(e),
    }
}

/// One audience member of a launch request given inline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactIn {
    person_id: String,
    recipient: String,
    #[serde(default)]
    vars: Vars,
    #[serde(default)]
    peak_hour: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LaunchIn {
    spec: CampaignSpec,
    /// A saved audience or a filter, read from the store
    /// (`{"kind": "saved", "value": "silent"}`, `{"kind": "filter", "value": "…"}`).
    #[serde(default)]
    audience: Option<AudienceQuery>,
    /// Or the contacts themselves.
    #[serde(default)]
    contacts: Option<Vec<ContactIn>>,
}

/// `POST /v1/campaigns`: saves the spec and launches it to a saved
/// audience, a filter or a contact list — assignment (global holdout,
/// control), rendering, enqueueing under the contact rules, offers for the
/// scheduled. Idempotent: launching the same spec again completes an
/// interrupted launch and sends nothing twice.
pub(crate) async fn launch_campaign(State(s): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: LaunchIn = gate!(body(&bytes));
    let (contacts, label, unreachable) = match (input.audience, input.contacts) {
        (Some(query), None) => {
            let Some(sources) = engage.sources.as_ref() else { return no_sources() };
            let audience = StoreAudience {
                events: sources.events.clone(),
                tags: sources.scores.clone(),
                query,
                channel: input.spec.channel,
                shop: engage.engine.shop(),
                as_of: engage.engine.clock().now(),
            };
            match audience.resolve().await {
                Ok(r) => (r.contacts, r.label, r.without_address),
                Err(e) => return engage_failed(e),
            }
        }
        (None, Some(given)) => {
            let mut contacts = Vec::with_capacity(given.len());
            for (i, c) in given.into_iter().enumerate() {
                let person = gate!(PersonId::new(&c.person_id)
                    .map_err(|e| Box::new(invalid_input(format!("contacts[{i}].person_id: {e}")))));
                if c.peak_hour.is_some_and(|h| h > 23) {
                    return invalid_input(format!("contacts[{i}].peak_hour: must be 0–23"));
                }
                contacts.push(Contact { person, recipient: c.recipient, vars: c.vars, peak_hour: c.peak_hour });
            }
            (contacts, "contacts".to_string(), 0)
        }
        _ => return invalid_input("audience, contacts: give exactly one of them".into()),
    };
    let launched = async {
        saved::save(&engage.outbox, &input.spec, &label).await?;
        campaign::launch(&engage.outbox, &input.spec, engage.holdout().as_ref(), &contacts, engage.issuer.as_ref())
            .await
    }
    .await;
    match launched {
        Ok(report) => (
            StatusCode::CREATED,
            Json(json!({
                "campaign": input.spec.id,
                "audience": label,
                "without_address": unreachable,
                "launch": report,
            })),
        )
            .into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EffectQuery {
    window_days: Option<u32>,
}

/// `GET /v1/campaigns/{id}/effect?window_days=30`: the campaign measured
/// from the store against its control group — reach, delivery, opens and
/// clicks, conversion and uplift with an interval, recovered revenue, cost,
/// ROI, the plan's targets, repurchase of the recalled, the SRM check.
pub(crate) async fn campaign_effect(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EffectQuery>,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let Some(sources) = engage.sources.as_ref() else { return no_sources() };
    let window = q.window_days.unwrap_or(DEFAULT_WINDOW_DAYS);
    match measure_from_store(&engage.outbox, sources.events.clone(), CampaignRef::Id(&id), window).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => engage_failed(e),
    }
}

/// `GET /v1/campaigns/{id}`: the spec, members per arm and outcome, and
/// delivery counts.
pub(crate) async fn campaign(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let found = async {
        let Some(campaign) = saved::get(&engage.outbox, &id).await? else {
            return Err(EngageError::Unknown { what: "campaign", id: id.clone() });
        };
        let members = campaign::members(&engage.outbox, &id).await?;
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        for m in &members {
            *outcomes.entry(m.outcome.clone()).or_default() += 1;
        }
        let delivery = engage.outbox.counts(&id).await?;
        Ok(json!({
            "campaign": campaign,
            "members": members.len(),
            "outcomes": outcomes,
            "offers_issued": members.iter().filter(|m| m.offer_issued).count(),
            "delivery": delivery,
        }))
    }
    .await;
    match found {
        Ok(v) => Json(v).into_response(),
        Err(e) => engage_failed(e),
    }
}

/// `GET /v1/journeys`: each journey in force with its runs by status.
pub(crate) async fn journeys(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let counts = match report::run_counts(&engage.outbox).await {
        Ok(c) => c,
        Err(e) => return engage_failed(e),
    };
    let list: Vec<serde_json::Value> = engage
        .journeys
        .iter()
        .map(|j| json!({ "journey": j, "runs": counts.get(&j.id).cloned().unwrap_or_default() }))
        .collect();
    Json(json!({ "journeys": list })).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunsQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /v1/journeys/{id}/runs?status=active&limit=100`: the newest runs.
pub(crate) async fn journey_runs(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    if !engage.journeys.iter().any(|j| j.id == id) {
        return engage_failed(EngageError::Unknown { what: "journey", id });
    }
    let status = match q.status.as_deref().map(str::parse::<RunStatus>).transpose() {
        Ok(s) => s,
        Err(e) => return invalid_input(format!("status: {e}")),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return invalid_input(format!("limit: {limit} is not between 1 and 10000"));
    }
    match report::runs(&engage.outbox, &engage.engine, &id, status, limit).await {
        Ok(runs) => Json(json!({ "journey": id, "runs": runs })).into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnterIn {
    person: String,
    #[serde(default)]
    vars: Vars,
}

/// `POST /v1/journeys/{id}/enter`: puts a person into a journey (the
/// journey's re-entry rule decides; `entered: false` says it refused).
pub(crate) async fn enter_journey(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: EnterIn = gate!(body(&bytes));
    let person = gate!(person_id(&input.person));
    match engage.engine.enter(&id, &person, input.vars).await {
        Ok(run) => Json(json!({ "journey": id, "entered": run.is_some(), "run": run })).into_response(),
        Err(e) => engage_failed(e),
    }
}

/// `GET /v1/tasks/{list}`: what journeys put on a staff list (the service
/// calls for high-value silent members).
pub(crate) async fn tasks(State(s): State<AppState>, headers: HeaderMap, Path(list): Path<String>) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    match engage.engine.tasks(&list).await {
        Ok(tasks) => Json(json!({ "list": list, "tasks": tasks })).into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreferenceIn {
    /// `unsubscribed` (no marketing) or `do_not_contact` (nothing at all).
    preference: Preference,
    /// One channel; every channel when absent.
    #[serde(default)]
    channel: Option<ChannelKind>,
    /// `true` removes the mark instead (re-subscribe).
    #[serde(default)]
    clear: bool,
}

/// `POST /v1/contacts/{person}/preferences`: unsubscribe or do-not-contact,
/// per channel or everywhere (pending messages it covers are withdrawn).
pub(crate) async fn set_preference(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(person): Path<String>,
    bytes: Bytes,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: PreferenceIn = gate!(body(&bytes));
    let person = gate!(person_id(&person));
    let done = if input.clear {
        engage.outbox.clear_preference(&person, input.channel, input.preference).await
    } else {
        engage.outbox.set_preference(&person, input.channel, input.preference).await
    };
    match done {
        Ok(()) => Json(json!({
            "person": person.as_str(),
            "preference": input.preference,
            "channel": input.channel,
            "set": !input.clear,
        }))
        .into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngagementIn {
    /// `opened` or `clicked`.
    kind: Engagement,
}

/// `POST /v1/messages/{id}/engagement`: a provider reports an open or a
/// click (recorded once per message and kind; measurement counts them).
pub(crate) async fn engagement(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    bytes: Bytes,
) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: EngagementIn = gate!(body(&bytes));
    match engage.outbox.record_engagement(id, input.kind).await {
        Ok(()) => Json(json!({ "message": id, "recorded": input.kind })).into_response(),
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignIn {
    experiment: String,
    /// Arm name → weight; the first listed is the control.
    arms: Vec<Arm>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    holdout_bp: u64,
    units: Vec<String>,
}

/// `POST /v1/experiments/assign`: each unit's arm, sticky (stored at the
/// first assignment, so later weight changes never move an exposed unit),
/// after the global holdout of the request.
pub(crate) async fn assign(State(s): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    let engage = gate!(admin_engage(&s, &headers));
    let input: AssignIn = gate!(body(&bytes));
    if input.units.is_empty() || input.units.len() > 10_000 {
        return invalid_input(format!("units: {} given, send 1 to 10000", input.units.len()));
    }
    let experiment = Experiment {
        salt: input.salt.unwrap_or_else(|| input.experiment.clone()),
        id: input.experiment,
        control: input.arms.first().map(|a| a.name.clone()).unwrap_or_default(),
        arms: input.arms,
        namespace: None,
    };
    if let Err(e) = experiment.validate() {
        return engage_failed(e);
    }
    let holdout = (input.holdout_bp > 0)
        .then(|| Holdout { salt: engage.config.holdout_salt.clone(), share_bp: input.holdout_bp });
    let units: Vec<&str> = input.units.iter().map(String::as_str).collect();
    let now = engage.outbox.clock().now();
    match sticky::assign(engage.outbox.pool(), &experiment, holdout.as_ref(), &units, now).await {
        Ok(assignments) => {
            let rows: Vec<serde_json::Value> = units
                .iter()
                .zip(assignments)
                .map(|(unit, a)| {
                    let arm = match a {
                        Assignment::Arm(name) => json!(name),
                        Assignment::Holdout => json!("holdout"),
                        Assignment::NotEligible => json!(null),
                    };
                    json!({ "unit": unit, "arm": arm })
                })
                .collect();
            Json(json!({ "experiment": experiment.id, "assignments": rows })).into_response()
        }
        Err(e) => engage_failed(e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalyzeIn {
    /// Conversions and units per arm, the control first.
    arms: Vec<ArmCounts>,
    /// Configured weights for the sample-ratio check (equal by default).
    #[serde(default)]
    weights: Vec<f64>,
    #[serde(default = "default_confidence")]
    confidence: f64,
}

fn default_confidence() -> f64 {
    0.95
}

/// `POST /v1/experiments/analyze`: the read-out of counts per arm
/// (z-test with interval, chance to win, expected loss, Holm and BH
/// adjusted p, sample-ratio check). Needs no store.
pub(crate) async fn analyze(State(s): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Response {
    if let Err(e) = crate::auth::check_admin(&headers, &s) {
        return e.into_response();
    }
    let input: AnalyzeIn = gate!(body(&bytes));
    if !(input.confidence > 0.5 && input.confidence < 1.0) {
        return invalid_input(format!("confidence: {} is not between 0.5 and 1", input.confidence));
    }
    match read_out(&input.arms, &input.weights, input.confidence) {
        Ok(readout) => Json(readout).into_response(),
        Err(e) => engage_failed(e),
    }
}
