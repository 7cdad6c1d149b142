//! Recommendations over HTTP: `GET /v1/recommendations/{user}` (a placement's
//! list for one person), `GET /v1/items/{item}/similar` (anonymous "similar
//! items") and `POST /v1/recommendations/reload` (re-read the model file
//! after `cohort recommend train`). Thin by design: every source, blend and
//! business rule lives in [`cohort_recommend`]; this module parses the query
//! string, holds the loaded [`Recommender`] and serialises its lists.
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
use cohort_model::{PersonId, ProductId, UserId};
use cohort_recommend::{Placement, PlacementKind, Recommender};
use serde_json::json;

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
        let items = model.recommend(&person, &placement, n);
        Ok(Json(json!({
            "user_id": user,
            "placement": placement.kind(),
            "known": model.knows(&person),
            "as_of": model.as_of(),
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
        let items = model.similar(&product, n);
        Ok(Json(json!({"product_id": product, "as_of": model.as_of(), "items": items})).into_response())
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
