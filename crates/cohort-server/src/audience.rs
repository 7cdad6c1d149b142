//! Profiles, tags and audiences over HTTP (admin keys):
//! `GET /v1/profiles/{user}`, the tag rule routes (`/v1/tags…`) and the
//! audience routes (`/v1/audiences…`). Thin: every rule, evaluation and
//! mask lives in [`cohort_audience`].
//!
//! The service also keeps tags fresh: after each committed batch the
//! writer hands it the persons the batch touched, and a background thread
//! re-evaluates them ([`TagEngine::update_persons_observed`]), so a tag
//! changes within about a second of the event that changes it. The same
//! thread keeps the profile read model ([`ProfileBook`]) current from the
//! histories it reads, so `GET /v1/profiles/{user}` answers from memory;
//! it reads the stores only while the book loads or for more events than
//! the book keeps. Personal data is masked unless the key's role is
//! `admin_pii`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveTime;
use cohort_audience::{
    breakdown, load_audience, next_daily, page, rules_in_force, sample, Audience, AudienceError, AudienceKind,
    BookReport, Dimension, Filter, Lookup, Members, PersonView, Pii, ProfileBook, RecomputeReport, RuleSpec, TagEngine,
    TagRule, EVENTS_KEPT,
};
use cohort_model::{Clock, PersonId, ShopTime};
use cohort_store::{AudienceStore, EventStore, StoredTagRule};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::error_response;
use crate::keys::Role;
use crate::writer::{CommitHook, Committed};
use crate::AppState;

/// Most members one page may hold.
pub const MAX_PAGE: usize = 1000;

/// The tag engine, the stores it reads and writes, and the incremental
/// update queue.
pub struct AudienceService {
    events: Arc<dyn EventStore>,
    tags: Arc<dyn AudienceStore>,
    config_rules: Vec<TagRule>,
    engine: RwLock<Arc<TagEngine>>,
    shop: ShopTime,
    clock: Arc<dyn Clock>,
    queue: Mutex<mpsc::Sender<Vec<PersonId>>>,
    /// Batches queued and not yet evaluated.
    pending: AtomicU64,
    /// Held by whatever evaluates or reloads (the update thread's rounds, a
    /// recompute, a reload of the book), so the book sees the store's
    /// changes in the order they were made.
    evaluation: Mutex<()>,
    /// The profile read model.
    book: ProfileBook,
    /// The stores' [`AudienceStore::derived_version`] at the book's last
    /// load: the watch thread reloads the book when it changes.
    loaded_version: Mutex<Option<String>>,
}

/// How often the watch thread compares the stored profiles and scores with
/// what the book holds.
const WATCH_EVERY: Duration = Duration::from_secs(5);

impl std::fmt::Debug for AudienceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudienceService").finish_non_exhaustive()
    }
}

impl AudienceService {
    /// A service over the stores, with the config's rules (rules stored
    /// through the API are added); starts the incremental update thread,
    /// which stops when the service is dropped.
    pub fn start(
        events: Arc<dyn EventStore>,
        tags: Arc<dyn AudienceStore>,
        config_rules: Vec<TagRule>,
        shop: ShopTime,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, AudienceError> {
        let engine = TagEngine::new(rules_in_force(config_rules.clone(), tags.as_ref())?, shop);
        let (tx, rx) = mpsc::channel::<Vec<PersonId>>();
        let service = Arc::new(AudienceService {
            events,
            tags,
            config_rules,
            engine: RwLock::new(Arc::new(engine)),
            shop,
            clock,
            queue: Mutex::new(tx),
            pending: AtomicU64::new(0),
            evaluation: Mutex::new(()),
            book: ProfileBook::new(EVENTS_KEPT),
            loaded_version: Mutex::new(None),
        });
        let weak = Arc::downgrade(&service);
        std::thread::Builder::new()
            .name("cohort-tags".into())
            .spawn(move || updates(weak, rx))
            .map_err(|e| AudienceError::Invalid(format!("cannot start the tag update thread: {e}")))?;
        let weak = Arc::downgrade(&service);
        std::thread::Builder::new()
            .name("cohort-profiles-watch".into())
            .spawn(move || watch(weak))
            .map_err(|e| AudienceError::Invalid(format!("cannot start the profile watch thread: {e}")))?;
        Ok(service)
    }

    /// Queues persons whose records were just committed; never blocks.
    pub fn touched(&self, persons: Vec<PersonId>) {
        if !persons.is_empty() {
            self.pending.fetch_add(1, Ordering::SeqCst);
            if self.queue.lock().unwrap_or_else(|e| e.into_inner()).send(persons).is_err() {
                self.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }

    /// Waits until the profile book is loaded and every queued batch is
    /// evaluated (tags stored, book refreshed), at most `timeout`; whether
    /// it got there. For tests and benchmarks.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !(self.book.is_ready() && self.pending.load(Ordering::SeqCst) == 0) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        true
    }

    fn lock_evaluation(&self) -> std::sync::MutexGuard<'_, ()> {
        self.evaluation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-evaluates every tag for everyone now, then reloads the profile
    /// book; `progress` hears the persons done and of how many (the persons
    /// the book holds: everyone with records or a stored profile), first
    /// with 0 done. Incremental updates wait meanwhile.
    pub fn recompute(&self, progress: &mut dyn FnMut(u64, Option<u64>)) -> Result<RecomputeReport, AudienceError> {
        let _guard = self.lock_evaluation();
        let known = self.book.len() as u64;
        let total = (known > 0).then_some(known);
        progress(0, total);
        let report = self.engine().recompute_all_with_progress(
            self.events.as_ref(),
            self.tags.as_ref(),
            self.clock.now(),
            &mut |done| progress(done, total),
        )?;
        self.load_book()?;
        Ok(report)
    }

    /// Reloads the profile book from the stores: call it after anything
    /// that rewrites many people outside the collector (a profile compute,
    /// a model scoring run).
    pub fn reload_profiles(&self) -> Result<BookReport, AudienceError> {
        let _guard = self.lock_evaluation();
        self.load_book()
    }

    /// Loads the book (the caller holds the evaluation lock), noting the
    /// version of the derived tables read first, so a rewrite during the
    /// load triggers another.
    fn load_book(&self) -> Result<BookReport, AudienceError> {
        let version = self.tags.derived_version()?;
        let report = self.book.load(self.events.as_ref(), self.tags.as_ref())?;
        *self.loaded_version.lock().unwrap_or_else(|e| e.into_inner()) = version;
        Ok(report)
    }

    /// Persons the profile book holds (0 while it loads).
    pub fn profiles_held(&self) -> usize {
        self.book.len()
    }

    /// One person as the profile route shows it, with `n` recent events:
    /// from the book, or from the stores while it loads or when `n` is more
    /// than it keeps.
    pub fn profile_view(&self, person: &PersonId, n: usize) -> Result<Option<Arc<PersonView>>, AudienceError> {
        match self.book.get(person) {
            Lookup::Found(view) if view.covers(n) => Ok(Some(view)),
            Lookup::Missing => Ok(None),
            _ => Ok(PersonView::read(self.events.as_ref(), self.tags.as_ref(), person, n)?.map(Arc::new)),
        }
    }

    /// The same person read from the stores only (the reference the book
    /// is tested against).
    pub fn profile_view_from_store(&self, person: &PersonId, n: usize) -> Result<Option<PersonView>, AudienceError> {
        PersonView::read(self.events.as_ref(), self.tags.as_ref(), person, n)
    }

    /// Recomputes every tag each day at `at`, shop-local time, on a thread
    /// of its own (time alone changes tags: a view leaves a 30-day window,
    /// a cart's 24 hours pass). The thread stops after the service is
    /// dropped.
    pub fn schedule_daily_recompute(self: &Arc<Self>, at: NaiveTime) -> Result<(), AudienceError> {
        let weak = Arc::downgrade(self);
        let (shop, clock) = (self.shop, self.clock.clone());
        std::thread::Builder::new()
            .name("cohort-tags-daily".into())
            .spawn(move || loop {
                let due = next_daily(shop, clock.now(), at);
                // Sleep in short steps so a dropped service ends the thread.
                while clock.now() < due {
                    if weak.strong_count() == 0 {
                        return;
                    }
                    let left = (due - clock.now()).to_std().unwrap_or_default();
                    std::thread::sleep(left.min(Duration::from_secs(30)));
                }
                let Some(service) = weak.upgrade() else { return };
                match service.recompute(&mut |_, _| {}) {
                    Ok(r) => {
                        tracing::info!(persons = r.persons, gained = r.gained, lost = r.lost, "daily tag recompute")
                    }
                    Err(e) => tracing::error!(error = %e, "daily tag recompute failed"),
                }
            })
            .map_err(|e| AudienceError::Invalid(format!("cannot start the daily recompute thread: {e}")))?;
        tracing::info!(at = %at, "daily tag recompute scheduled");
        Ok(())
    }

    fn engine(&self) -> Arc<TagEngine> {
        self.engine.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn reload_rules(&self) -> Result<(), AudienceError> {
        let engine = TagEngine::new(rules_in_force(self.config_rules.clone(), self.tags.as_ref())?, self.shop);
        *self.engine.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(engine);
        Ok(())
    }

    fn members(&self, pii: Pii) -> Members<'_> {
        Members::new(self.events.as_ref(), self.tags.as_ref(), self.shop, self.clock.now(), pii)
    }
}

/// What the writer calls after each commit: queue the persons it touched.
pub(crate) fn commit_hook(service: &Arc<AudienceService>) -> CommitHook {
    let service = service.clone();
    Arc::new(move |committed: &Committed| service.touched(committed.persons.clone()))
}

/// The watch thread: reloads the book when the stored profiles or scores
/// were rewritten (a compute or training job of this server).
fn watch(service: Weak<AudienceService>) {
    loop {
        std::thread::sleep(WATCH_EVERY);
        let Some(s) = service.upgrade() else { return };
        if !s.book.is_ready() {
            continue;
        }
        let now = match s.tags.derived_version() {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the version of the stored profiles");
                continue;
            }
        };
        let loaded = s.loaded_version.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if now.is_some() && now != loaded {
            tracing::info!("stored profiles or scores changed: reloading the profile book");
            if let Err(e) = s.reload_profiles() {
                tracing::error!(error = %e, "cannot reload the profile book");
            }
        }
    }
}

/// The update thread: loads the profile book, then drains what is queued
/// and evaluates each person once, refreshing their view in the book.
fn updates(service: Weak<AudienceService>, rx: mpsc::Receiver<Vec<PersonId>>) {
    if let Some(s) = service.upgrade() {
        if let Err(e) = s.reload_profiles() {
            tracing::error!(error = %e, "cannot load the profile book; profiles are read from the store");
        }
    }
    while let Ok(first) = rx.recv() {
        let (mut persons, mut batches) = (first, 1u64);
        while let Ok(more) = rx.try_recv() {
            persons.extend(more);
            batches += 1;
        }
        let Some(s) = service.upgrade() else { break };
        let started = Instant::now();
        let result = {
            let _guard = s.lock_evaluation();
            let (events, tags) = (s.events.as_ref(), s.tags.as_ref());
            s.engine().update_persons_observed(events, tags, &persons, s.clock.now(), &mut |u| {
                s.book.refresh(tags, u.history, u.person, u.profile, u.before, u.changes)
            })
        };
        match result {
            Ok(changes) => tracing::debug!(
                persons = persons.len(),
                changes = changes.len(),
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "tags updated"
            ),
            Err(e) => tracing::error!(error = %e, persons = persons.len(), "tag update failed"),
        }
        s.pending.fetch_sub(batches, Ordering::SeqCst);
    }
}

/// An error answer.
fn fail(e: AudienceError) -> Response {
    match &e {
        AudienceError::NotFound { .. } => {
            error_response(StatusCode::NOT_FOUND, "not_found", "invalid_request", e.to_string())
        }
        e if e.is_user_error() => {
            error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", e.to_string())
        }
        _ => error_response(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", "internal", e.to_string()),
    }
}

fn disabled() -> Response {
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "audiences_disabled",
        "system",
        "this server has no tag and audience store".into(),
    )
}

/// An error answer decided before the engine (boxed: a response is large).
type Refusal = Box<Response>;

/// Checks the key and finds the service; the PII mask follows the role.
fn open(headers: &HeaderMap, s: &AppState) -> Result<(Arc<AudienceService>, Pii), Refusal> {
    let role = crate::auth::admin_role(headers, s).map_err(|e| Box::new(e.into_response()))?;
    let service = s.audience.clone().ok_or_else(|| Box::new(disabled()))?;
    Ok((service, if role == Role::AdminPii { Pii::Shown } else { Pii::Masked }))
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AudienceError> + Send + 'static,
) -> Result<T, Refusal> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Box::new(fail(e))),
        Err(e) => {
            Err(Box::new(error_response(StatusCode::INTERNAL_SERVER_ERROR, "store_failed", "internal", e.to_string())))
        }
    }
}

fn invalid(message: String) -> Response {
    error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", message)
}

/// Decodes `%XX` escapes and `+` (a space) of one query-string component.
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                out.push(hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("a bad %-escape")?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "not UTF-8".to_string())
}

/// The query string's parameters (the last of a repeated name wins).
fn params(raw: Option<&str>) -> Result<BTreeMap<String, String>, Refusal> {
    let mut out = BTreeMap::new();
    for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let name = decode(name).map_err(|e| Box::new(invalid(format!("query string: {e}"))))?;
        let value = decode(value).map_err(|e| Box::new(invalid(format!("{name}: {e}"))))?;
        out.insert(name, value);
    }
    Ok(out)
}

/// A whole-number parameter within `1..=max`.
fn number(params: &BTreeMap<String, String>, name: &str, default: usize, max: usize) -> Result<usize, Refusal> {
    match params.get(name) {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(Box::new(invalid(format!("{name} {text:?}: expected a whole number from 1 to {max}")))),
        },
    }
}

/// `GET /v1/profiles/{user}`: profile, segments, tags, recent events and
/// model scores.
pub(crate) async fn profile(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(user): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (service, pii) = gate!(open(&headers, &s));
    let n = gate!(params(query.as_deref()).and_then(|p| number(&p, "events", 20, 200)));
    let Ok(person) = PersonId::new(user.clone()) else { return invalid(format!("invalid user id {user:?}")) };
    // The book answers from memory; only a miss of the book (loading, more
    // events than it keeps) reads the stores, off the async threads.
    let view = match service.book.get(&person) {
        Lookup::Found(view) if view.covers(n) => Ok(Some(view)),
        Lookup::Missing => Ok(None),
        _ => blocking(move || service.profile_view(&person, n)).await,
    };
    match view {
        Ok(Some(view)) => {
            ([(axum::http::header::CONTENT_TYPE, "application/json")], view.render_bytes(pii, n).to_vec())
                .into_response()
        }
        Ok(None) => fail(AudienceError::NotFound { what: "person", name: user }),
        Err(r) => *r,
    }
}

/// `GET /v1/tags`: the rules in force and how many people hold each tag.
pub(crate) async fn list_tags(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let result = blocking(move || {
        let mut holders: BTreeMap<String, u64> = BTreeMap::new();
        for t in service.tags.person_tags(None)? {
            *holders.entry(t.tag).or_default() += 1;
        }
        let rules: Vec<Value> = service
            .engine()
            .rules()
            .iter()
            .map(|r| {
                json!({"name": r.name, "description": r.description, "condition": r.condition, "origin": r.origin,
                       "holders": holders.get(&r.name).copied().unwrap_or(0)})
            })
            .collect();
        Ok(json!({ "rules": rules }))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// `POST /v1/tags`: create or replace a stored rule.
pub(crate) async fn put_tag(State(s): State<AppState>, headers: HeaderMap, body: Json<Value>) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let spec: RuleSpec = match serde_json::from_value(body.0) {
        Ok(spec) => spec,
        Err(e) => return invalid(format!("rule: {e}")),
    };
    if service.config_rules.iter().any(|r| r.name == spec.name) {
        return error_response(
            StatusCode::CONFLICT,
            "rule_in_config",
            "invalid_request",
            format!("tag {:?} is declared in cohort.toml [tags]; change it there", spec.name),
        );
    }
    let result = blocking(move || {
        let rule = TagRule::parse(&spec, "api")?;
        let stored = StoredTagRule {
            name: rule.name.clone(),
            description: rule.description.clone(),
            condition: rule.condition.clone(),
            updated_at: service.clock.now(),
        };
        service.tags.put_tag_rule(&stored)?;
        service.reload_rules()?;
        Ok(json!({"rule": stored, "note": "people gain it as their events arrive, everyone at the next POST /v1/tags/compute"}))
    })
    .await;
    match result {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(r) => *r,
    }
}

/// `DELETE /v1/tags/{name}`: delete a stored rule.
pub(crate) async fn delete_tag(State(s): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let result = blocking(move || {
        if !service.tags.delete_tag_rule(&name)? {
            return Err(AudienceError::NotFound { what: "stored tag rule", name });
        }
        service.reload_rules()?;
        Ok(json!({"deleted": name}))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// Body of `POST /v1/tags/test`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestBody {
    #[serde(default = "test_name")]
    name: String,
    when: String,
    #[serde(default = "ten")]
    sample: usize,
}

fn test_name() -> String {
    "test".into()
}

fn ten() -> usize {
    10
}

/// `POST /v1/tags/test`: dry-run a condition.
pub(crate) async fn test_tag(State(s): State<AppState>, headers: HeaderMap, body: Json<Value>) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let body: TestBody = match serde_json::from_value(body.0) {
        Ok(b) => b,
        Err(e) => return invalid(format!("test: {e}")),
    };
    let result = blocking(move || {
        let rule = TagRule::parse(&RuleSpec { name: body.name, description: String::new(), when: body.when }, "api")?;
        let run =
            service.engine().dry_run(&rule, service.events.as_ref(), service.clock.now(), body.sample.min(MAX_PAGE))?;
        Ok(serde_json::to_value(run).unwrap_or_default())
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// `POST /v1/tags/compute`: recompute everyone in the background; 202 with
/// the job (`GET /v1/jobs/{id}` shows persons done of the total and, at
/// the end, what changed); 409 `job_running` while one runs.
pub(crate) async fn compute_tags(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let Some(analytics) = s.analytics.clone() else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "jobs_disabled",
            "system",
            "this server runs without a job registry (no analytics store)".into(),
        );
    };
    let started = analytics.jobs().spawn("tags", Some(1), move |progress| {
        let mut staged = false;
        let report = service
            .recompute(&mut |done, total| {
                if !staged {
                    progress.stage("evaluating tag rules", total);
                    staged = true;
                }
                progress.advance(done);
            })
            .map_err(|e| e.to_string())?;
        let counts: Vec<String> = report.counts.iter().map(|(tag, n)| format!("{tag} {n}")).collect();
        Ok(format!(
            "recomputed the tags of {} persons as of {}: {} gained, {} lost; holders: {}",
            report.persons,
            report.as_of.to_rfc3339(),
            report.gained,
            report.lost,
            if counts.is_empty() { "none".to_string() } else { counts.join(", ") }
        ))
    });
    match started {
        Ok(view) => (StatusCode::ACCEPTED, Json(view)).into_response(),
        Err(id) => crate::insight::job_running("tags are being recomputed", id),
    }
}

/// `GET /v1/audiences`: saved audiences.
pub(crate) async fn list_audiences(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    match blocking(move || Ok(service.tags.audiences()?)).await {
        Ok(v) => Json(json!({ "audiences": v })).into_response(),
        Err(r) => *r,
    }
}

/// Body of `POST /v1/audiences`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    filter: String,
    #[serde(default)]
    kind: AudienceKind,
}

/// `POST /v1/audiences`: save an audience (a static one is evaluated now).
pub(crate) async fn create_audience(State(s): State<AppState>, headers: HeaderMap, body: Json<Value>) -> Response {
    let (service, _) = gate!(open(&headers, &s));
    let body: CreateBody = match serde_json::from_value(body.0) {
        Ok(b) => b,
        Err(e) => return invalid(format!("audience: {e}")),
    };
    let result = blocking(move || {
        let now = service.clock.now();
        let audience = Audience::new(&body.id, &body.name, &body.description, &body.filter, body.kind, now)?;
        let size = audience.save(&service.members(Pii::Masked), service.tags.as_ref())?;
        Ok(json!({"audience": audience.to_stored(), "size": size}))
    })
    .await;
    match result {
        Ok(v) => (StatusCode::CREATED, Json(v)).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/audiences/{id}/members?cursor=&limit=`: one page of members,
/// in person id order, and the cursor of the next page.
pub(crate) async fn members(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (service, pii) = gate!(open(&headers, &s));
    let q = gate!(params(query.as_deref()));
    let limit = gate!(number(&q, "limit", 100, MAX_PAGE));
    let cursor = q.get("cursor").cloned();
    let result = blocking(move || {
        let audience = load_audience(service.tags.as_ref(), &id)?;
        let rows = service.members(pii).of(&audience)?;
        let (members, next) = page(&rows, cursor.as_deref(), limit);
        Ok(json!({"audience": id, "kind": audience.kind, "size": rows.len(), "members": members, "next_cursor": next}))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/audiences/{id}/export?format=csv|ndjson`: every member as a
/// download (CSV with a header, or one JSON object per line), PII masked
/// unless the key's role is `admin_pii`.
pub(crate) async fn export(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let (service, pii) = gate!(open(&headers, &s));
    let q = gate!(params(query.as_deref()));
    let (format, content_type, ext) = match q.get("format").map(String::as_str).unwrap_or("csv") {
        "csv" => (cohort_audience::ExportFormat::Csv, "text/csv; charset=utf-8", "csv"),
        "ndjson" => (cohort_audience::ExportFormat::Ndjson, "application/x-ndjson", "ndjson"),
        other => return invalid(format!("format {other:?}: expected csv or ndjson")),
    };
    if let Some(other) = q.keys().find(|k| k.as_str() != "format") {
        return invalid(format!("unknown query parameter {other:?} (expected format)"));
    }
    let name = id.clone();
    let result = blocking(move || {
        let audience = load_audience(service.tags.as_ref(), &id)?;
        let rows = service.members(pii).of(&audience)?;
        let mut out = Vec::new();
        cohort_audience::export(&rows, format, &mut out)
            .map_err(|e| AudienceError::Store(cohort_store::StoreError::Backend(e.to_string())))?;
        Ok(out)
    })
    .await;
    match result {
        Ok(bytes) => {
            let file: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            let disposition = format!("attachment; filename=\"audience-{file}.{ext}\"");
            (
                [
                    (axum::http::header::CONTENT_TYPE, content_type.to_string()),
                    (axum::http::header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(r) => *r,
    }
}

/// Body of `POST /v1/audiences/preview`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewBody {
    filter: String,
    #[serde(default = "ten")]
    sample: usize,
    #[serde(default)]
    breakdown: Option<String>,
}

/// `POST /v1/audiences/preview`: size, sample and breakdown of an unsaved
/// filter.
pub(crate) async fn preview(State(s): State<AppState>, headers: HeaderMap, body: Json<Value>) -> Response {
    let (service, pii) = gate!(open(&headers, &s));
    let body: PreviewBody = match serde_json::from_value(body.0) {
        Ok(b) => b,
        Err(e) => return invalid(format!("preview: {e}")),
    };
    let result = blocking(move || {
        let by: Dimension = body.breakdown.as_deref().unwrap_or("value_tier").parse()?;
        let filter = Filter::parse("preview", &body.filter)?;
        let rows = service.members(pii).matching(&filter)?;
        let counts: Vec<Value> =
            breakdown(&rows, by).into_iter().map(|(k, n)| json!({"value": k, "people": n})).collect();
        Ok(json!({
            "size": rows.len(),
            "sample": sample(&rows, body.sample.min(MAX_PAGE)),
            "breakdown": {"by": by, "counts": counts},
        }))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}
