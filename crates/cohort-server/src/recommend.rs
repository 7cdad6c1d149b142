//! Recommendations over HTTP: `GET /v1/recommendations/{user}` (a placement's
//! list for one person), `GET /v1/items/{item}/similar` (anonymous "similar
//! items") and `POST /v1/recommendations/reload` (re-read the model file
//! after `cohort recommend train`). Thin by design: every source, blend and
//! business rule lives in [`cohort_recommend`]; this module parses the query
//! string, holds the loaded [`Recommender`] and serialises its lists.
//!
//! Every served list is recorded as a `Recommendation Shown` event (its
//! `recommendation_id` is in the answer; the shop sends it back on `Product
//! Clicked`), so the KPI board shows the click-through rate per placement
//! ([`cohort_analytics::ctr`]). Recording never delays the answer: the event
//! is queued to the writer without waiting for its commit (a full queue
//! skips it and logs why); `record=false` serves without recording.
//!
//! The routes need an admin key: lists are fetched by the shop's backend,
//! which knows the signed-in user (a public write key would let anyone read
//! anyone's tastes). Without a trained model they answer 503
//! `recommendations_disabled`.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_analytics::ctr::{ID_PROPERTY, IMPRESSION_EVENT};
use cohort_collect::segment::{CallType, Message};
use cohort_model::{Event, EventId, EventName, PersonId, ProductId, UserId};
use cohort_recommend::{Placement, PlacementKind, Recommendation, Recommender};
use serde_json::{json, Value};

use crate::error::error_response;
use crate::AppState;

/// Longest list a request may ask for.
pub const MAX_N: usize = 200;

/// The model behind the recommendation routes, swapped whole on reload
/// (requests in flight keep the model they started with).
pub(crate) struct RecommendService {
    model: RwLock<Option<Arc<Recommender>>>,
    file: Option<PathBuf>,
}

impl RecommendService {
    pub(crate) fn new(model: Option<Arc<Recommender>>, file: Option<PathBuf>) -> Self {
        RecommendService { model: RwLock::new(model), file }
    }

    fn current(&self) -> Option<Arc<Recommender>> {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn disabled(why: String) -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "recommendations_disabled", "system", why)
}

/// An error answer decided before the engine (boxed: a response is large).
type Refusal = Box<Response>;

fn invalid(message: String) -> Refusal {
    Box::new(error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", message))
}

/// Authenticates and returns the loaded model.
fn model(state: &AppState, headers: &HeaderMap) -> Result<Arc<Recommender>, Refusal> {
    crate::auth::check_admin(headers, state).map_err(|e| Box::new(e.into_response()))?;
    state
        .recommend
        .current()
        .ok_or_else(|| Box::new(disabled("no recommendation model: run `cohort recommend train`, then reload".into())))
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
                let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("a bad %-escape")?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "not UTF-8".to_string())
}

/// The query string's parameters (the last of a repeated name wins).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Result<Query, Refusal> {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(name).map_err(|e| invalid(format!("query string: {e}")))?;
            let value = decode(value).map_err(|e| invalid(format!("{name}: {e}")))?;
            pairs.push((name, value));
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn n(&self) -> Result<usize, Refusal> {
        match self.get("n") {
            None => Ok(10),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
                _ => Err(invalid(format!("n {text:?}: expected a whole number from 1 to {MAX_N}"))),
            },
        }
    }

    fn product(&self, kind: PlacementKind) -> Result<ProductId, Refusal> {
        let p = self
            .get("product")
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid(format!("product: required by placement {}", kind.as_str())))?;
        ProductId::new(p).map_err(|e| invalid(format!("product {p:?}: {e}")))
    }

    fn items(&self, kind: PlacementKind) -> Result<Vec<ProductId>, Refusal> {
        let items: Vec<&str> =
            self.get("items").unwrap_or_default().split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
        if items.is_empty() {
            return Err(invalid(format!("items: required by placement {} (comma separated)", kind.as_str())));
        }
        items.into_iter().map(|i| ProductId::new(i).map_err(|e| invalid(format!("items {i:?}: {e}")))).collect()
    }

    fn placement(&self) -> Result<Placement, Refusal> {
        let name = self.get("placement").unwrap_or("home");
        let kind = PlacementKind::parse(name).ok_or_else(|| {
            invalid(format!("placement {name:?}: expected home, cart, order, similar or bought_together"))
        })?;
        Ok(match kind {
            PlacementKind::Home => Placement::Home,
            PlacementKind::Cart => Placement::Cart { items: self.items(kind)? },
            PlacementKind::Order => Placement::Order { items: self.items(kind)? },
            PlacementKind::Similar => Placement::Similar { product: self.product(kind)? },
            PlacementKind::BoughtTogether => Placement::BoughtTogether { product: self.product(kind)? },
        })
    }
}

/// What one served list is recorded as.
struct Impression<'a> {
    user: Option<&'a UserId>,
    placement: &'a str,
    /// The placement's context: the product of `similar` / `bought_together`
    /// or the basket of `cart` / `order`.
    context: Vec<&'a ProductId>,
    items: &'a [Recommendation],
}

/// A fresh recommendation id (`rec_` and 32 hex digits).
fn recommendation_id() -> String {
    format!("rec_{:032x}", rand::random::<u128>())
}

/// Queues the `Recommendation Shown` event of a served list and returns its
/// id; `None` when the list is empty or the writer's queue is full.
///
/// The event has no person: it is the server's record, not the user's
/// activity (it must not make anyone active, new or returning); the user
/// is in `properties.user_id`.
fn record(state: &AppState, impression: Impression<'_>) -> Option<String> {
    if impression.items.is_empty() {
        return None;
    }
    let id = recommendation_id();
    let now = chrono::Utc::now();
    let mut event = Event::new(EventId::new(id.clone()).ok()?, None, EventName::parse(IMPRESSION_EVENT), now);
    let props = &mut event.properties;
    props.insert(ID_PROPERTY.into(), Value::from(id.clone()));
    props.insert("placement".into(), Value::from(impression.placement));
    props.insert("user_id".into(), impression.user.map_or(Value::Null, |u| Value::from(u.as_str())));
    if !impression.context.is_empty() {
        props.insert("context".into(), impression.context.iter().map(|p| Value::from(p.as_str())).collect());
    }
    let products: Vec<Value> = impression
        .items
        .iter()
        .enumerate()
        .map(|(position, r)| json!({"product_id": r.product_id, "position": position, "source": r.source}))
        .collect();
    props.insert("products".into(), Value::Array(products));
    let permit = match state.writer.reserve(1) {
        Ok(permit) => permit,
        Err(_) => {
            tracing::warn!(recommendation_id = %id, "writer queue full: impression not recorded");
            return None;
        }
    };
    let message = Message {
        index: 0,
        call: CallType::Track,
        message_id: id.clone(),
        user_id: None,
        anonymous_id: None,
        previous_id: None,
        timestamp: now,
        event: Some(event),
        user: None,
    };
    // Nobody waits for the commit: the answer must not take a group commit's linger.
    let (reply, _) = tokio::sync::oneshot::channel();
    let submission = crate::writer::Submission { messages: vec![message], refused: Vec::new(), permit, reply };
    match state.writer.submit(submission) {
        Ok(()) => Some(id),
        Err(_) => {
            tracing::warn!(recommendation_id = %id, "writer stopped: impression not recorded");
            None
        }
    }
}

/// Whether the query asks to record the list (`record=false` does not).
fn recording(query: &Query) -> Result<bool, Refusal> {
    match query.get("record") {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(other) => Err(invalid(format!("record {other:?}: expected true or false"))),
    }
}

/// `GET /v1/recommendations/{user}`: the user's list at a placement.
pub(crate) async fn for_user(
    State(state): State<AppState>,
    Path(user): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let model = match model(&state, &headers) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let answer = || -> Result<Response, Refusal> {
        let query = Query::parse(query.as_deref())?;
        let user = UserId::new(&user).map_err(|e| invalid(format!("user {user:?}: {e}")))?;
        let placement = query.placement()?;
        let n = query.n()?;
        // A user's person id is the user id (identity stitching merges
        // visitors into it; see docs/collection.md).
        let person = PersonId::from(user.clone());
        let record_it = recording(&query)?;
        let items = model.recommend(&person, &placement, n);
        let context = match &placement {
            Placement::Home => Vec::new(),
            Placement::Cart { items } | Placement::Order { items } => items.iter().collect(),
            Placement::Similar { product } | Placement::BoughtTogether { product } => vec![product],
        };
        let kind = placement.kind().as_str();
        let impression = Impression { user: Some(&user), placement: kind, context, items: &items };
        let id = if record_it { record(&state, impression) } else { None };
        Ok(Json(json!({
            "user_id": user,
            "placement": placement.kind(),
            "known": model.knows(&person),
            "as_of": model.as_of(),
            "recommendation_id": id,
            "items": items,
        }))
        .into_response())
    };
    answer().unwrap_or_else(|r| *r)
}

/// `GET /v1/items/{item}/similar`: products like one product (anonymous).
pub(crate) async fn similar(
    State(state): State<AppState>,
    Path(item): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let model = match model(&state, &headers) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let answer = || -> Result<Response, Refusal> {
        let query = Query::parse(query.as_deref())?;
        let product = ProductId::new(&item).map_err(|e| invalid(format!("item {item:?}: {e}")))?;
        let n = query.n()?;
        let record_it = recording(&query)?;
        let items = model.similar(&product, n);
        let impression = Impression { user: None, placement: "similar_items", context: vec![&product], items: &items };
        let id = if record_it { record(&state, impression) } else { None };
        Ok(Json(json!({"product_id": product, "as_of": model.as_of(), "recommendation_id": id, "items": items}))
            .into_response())
    };
    answer().unwrap_or_else(|r| *r)
}

/// `POST /v1/recommendations/reload`: re-reads the model file (after
/// `cohort recommend train`) and swaps it in; a failed read keeps the old one.
pub(crate) async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = crate::auth::check_admin(&headers, &state) {
        return e.into_response();
    }
    let Some(file) = state.recommend.file.clone() else {
        return disabled("this server was started without a recommendation model file".into());
    };
    if !file.exists() {
        return disabled(format!("no model at {}: run `cohort recommend train`", file.display()));
    }
    let loaded = tokio::task::spawn_blocking(move || Recommender::load(&file)).await;
    match loaded {
        Ok(Ok(model)) => {
            let body = json!({"reloaded": true, "as_of": model.as_of(), "summary": model.summary()});
            *state.recommend.model.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(model));
            Json(body).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot reload the recommendation model");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "model_unreadable", "internal", e.to_string())
        }
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "model_unreadable", "internal", e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = Query::parse(Some("placement=cart&items=a%2Cb,c+d&n=5&n=7")).unwrap_or_else(|_| panic!());
        assert_eq!(q.get("items"), Some("a,b,c d"));
        assert_eq!(q.get("n"), Some("7"));
        assert!(decode("%zz").is_err());
        assert_eq!(decode("%E7%8C%9C").unwrap(), "猜");
    }
}
