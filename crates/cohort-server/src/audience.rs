//! Profiles, tags and audiences over HTTP (admin keys):
//! `GET /v1/profiles/{user}`, the tag rule routes (`/v1/tags…`) and the
//! audience routes (`/v1/audiences…`). Thin: every rule, evaluation and
//! mask lives in [`cohort_audience`].
//!
//! The service also keeps tags fresh: after each committed batch the
//! writer hands it the persons the batch touched, and a background thread
//! re-evaluates them ([`TagEngine::update_persons`]), so a tag changes
//! within about a second of the event that changes it. Personal data is
//! masked unless the key's role is `admin_pii`.

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock, Weak};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_audience::{
    breakdown, load_audience, page, rules_in_force, sample, Audience, AudienceError, AudienceKind, Dimension, Filter,
    Members, Pii, RuleSpec, TagEngine, TagRule,
};
use cohort_model::{Clock, PersonId, ShopTime};
use cohort_store::{AudienceStore, EventStore, StoredTagRule};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::error_response;
use crate::keys::Role;
use crate::AppState;
use crate::writer::{CommitHook, Committed};

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
}

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
        });
        let weak = Arc::downgrade(&service);
        std::thread::Builder::new()
            .name("cohort-tags".into())
            .spawn(move || updates(weak, rx))
            .map_err(|e| AudienceError::Invalid(format!("cannot start the tag update thread: {e}")))?;
        Ok(service)
    }

    /// Queues persons whose records were just committed; never blocks.
    pub fn touched(&self, persons: Vec<PersonId>) {
        if !persons.is_empty() {
            let _ = self.queue.lock().unwrap_or_else(|e| e.into_inner()).send(persons);
        }
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

/// The update thread: drains what is queued, evaluates each person once.
fn updates(service: Weak<AudienceService>, rx: mpsc::Receiver<Vec<PersonId>>) {
    while let Ok(first) = rx.recv() {
        let mut persons = first;
        while let Ok(more) = rx.try_recv() {
            persons.extend(more);
        }
        let Some(s) = service.upgrade() else { break };
        let started = std::time::Instant::now();
        match s.engine().update_persons(s.events.as_ref(), s.tags.as_ref(), &persons, s.clock.now()) {
            Ok(changes) => tracing::debug!(
                persons = persons.len(),
                changes = changes.len(),
                ms = started.elapsed().as_secs_f64() * 1000.0,
                "tags updated"
            ),
            Err(e) => tracing::error!(error = %e, persons = persons.len(), "tag update failed"),
        }
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
    let (service, pii) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let n = match params(query.as_deref()).and_then(|p| number(&p, "events", 20, 200)) {
        Ok(n) => n,
        Err(r) => return *r,
    };
    let Ok(person) = PersonId::new(user.clone()) else { return invalid(format!("invalid user id {user:?}")) };
    let result = blocking(move || {
        let history = service.events.history(&person)?;
        let profile = service.events.profile(&person)?;
        if history.is_none() && profile.is_none() {
            return Err(AudienceError::NotFound { what: "person", name: person.to_string() });
        }
        let user = history.as_ref().and_then(|h| h.user.as_ref()).map(|u| {
            json!({
                "registered_at": u.registered_at, "platform": u.platform, "channel": u.channel,
                "city": u.city, "gender": u.gender,
                "birthday": u.birthday.map(|b| if pii == Pii::Shown { b.to_string() } else { b.format("%Y").to_string() }),
                "phone": u.phone.as_deref().map(|p| pii.phone(p)),
                "traits": pii.traits(&u.traits),
            })
        });
        let tags: Vec<Value> =
            service.tags.person_tags(Some(&person))?.into_iter().map(|t| json!({"tag": t.tag, "since": t.since})).collect();
        let recent: Vec<Value> = service
            .tags
            .recent_events(&person, n)?
            .into_iter()
            .map(|mut e| {
                e.properties = pii.traits(&e.properties);
                serde_json::to_value(e).unwrap_or_default()
            })
            .collect();
        let segments = profile.as_ref().map(|p| {
            json!({"value_tier": p.value_tier, "lifecycle": p.lifecycle, "behaviour": p.behaviour, "rfm_segment": p.rfm_segment})
        });
        Ok(json!({
            "person_id": person,
            "user": user,
            "segments": segments,
            "tags": tags,
            "tag_history": service.tags.tag_history(Some(&person), 20)?,
            "scores": service.tags.person_scores(&person)?,
            "recent_events": recent,
            "profile": profile,
            "pii": if pii == Pii::Shown { "shown" } else { "masked" },
        }))
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/tags`: the rules in force and how many people hold each tag.
pub(crate) async fn list_tags(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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

/// `POST /v1/tags/compute`: recompute everyone now.
pub(crate) async fn compute_tags(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let result = blocking(move || {
        let report =
            service.engine().recompute_all(service.events.as_ref(), service.tags.as_ref(), service.clock.now())?;
        Ok(serde_json::to_value(report).unwrap_or_default())
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(r) => *r,
    }
}

/// `GET /v1/audiences`: saved audiences.
pub(crate) async fn list_audiences(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
    let (service, _) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
    let (service, pii) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let q = match params(query.as_deref()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
    let limit = match number(&q, "limit", 100, MAX_PAGE) {
        Ok(n) => n,
        Err(r) => return *r,
    };
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
    let (service, pii) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let q = match params(query.as_deref()) {
        Ok(q) => q,
        Err(r) => return *r,
    };
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
    let (service, pii) = match open(&headers, &s) {
        Ok(v) => v,
        Err(r) => return *r,
    };
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
