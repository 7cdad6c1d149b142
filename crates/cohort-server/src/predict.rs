//! Predictions over HTTP, read from what `cohort churn score` and `cohort
//! clusters` stored: `GET /v1/churn/high-risk?min_risk=80&limit=100` (the
//! high-risk audience, riskiest first, each with the features behind the
//! score), `GET /v1/clusters` (the behaviour clusters of the saved model)
//! and `GET /v1/people/{person}/scores` (every model's score for one person:
//! churn, cluster, clv, sentiment…). Admin key; they need the analytics
//! store (503 `analytics_disabled` without), and answer 404
//! `model_not_trained` before the model has run.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_duckdb::{PersonScore, ScoreQuery};
use cohort_model::PersonId;
use cohort_predict::cluster::ClusterModel;
use serde_json::{json, Value};

use crate::analytics::admin_store as store;
use crate::error::{error_response, invalid_input as invalid, query_failed as internal};
use crate::AppState;

/// Longest high-risk page.
pub const MAX_LIMIT: usize = 10_000;

fn not_trained(message: &str) -> Response {
    error_response(StatusCode::NOT_FOUND, "model_not_trained", "invalid_request", message.into())
}

fn score_json(s: &PersonScore) -> Value {
    json!({
        "person_id": s.person_id,
        "model": s.model,
        "score": s.score,
        "label": s.label,
        "detail": s.detail,
        "computed_at": s.computed_at,
    })
}

/// `min_risk` (0–100, default 80) and `limit` (1–10,000, default 100).
fn high_risk_query(raw: Option<&str>) -> Result<(f64, usize), Box<Response>> {
    let (mut min_risk, mut limit) = (80.0, 100usize);
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "min_risk" => {
                min_risk = v
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=100.0).contains(r))
                    .ok_or_else(|| Box::new(invalid(format!("min_risk {v:?}: expected a number within 0..=100"))))?
            }
            "limit" => {
                limit = v.parse::<usize>().ok().filter(|l| (1..=MAX_LIMIT).contains(l)).ok_or_else(|| {
                    Box::new(invalid(format!("limit {v:?}: expected an integer within 1..={MAX_LIMIT}")))
                })?
            }
            other => {
                return Err(Box::new(invalid(format!("unknown query parameter {other:?} (expected min_risk, limit)"))))
            }
        }
    }
    Ok((min_risk, limit))
}

/// `GET /v1/churn/high-risk`.
pub(crate) async fn high_risk(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (min_risk, limit) = match high_risk_query(q.as_deref()) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let read = move || -> Result<Option<Vec<PersonScore>>, cohort_store::StoreError> {
        if store.count_scores("churn")? == 0 {
            return Ok(None);
        }
        let q = ScoreQuery { min_score: Some(min_risk), limit: Some(limit), ..Default::default() };
        store.model_scores("churn", q).map(Some)
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(Some(rows))) => Json(json!({
            "min_risk": min_risk,
            "count": rows.len(),
            "people": rows.iter().map(|s| json!({
                "person_id": s.person_id,
                "risk": s.score,
                "band": s.label,
                "top_features": s.detail.get("top_features").cloned().unwrap_or(Value::Null),
                "computed_at": s.computed_at,
            })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(Ok(None)) => not_trained("no churn scores: run `cohort churn train`, then `cohort churn score`"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /v1/clusters`: the saved cluster model's clusters.
pub(crate) async fn clusters(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(dir) = store.path().and_then(|p| p.parent()).map(|d| d.to_path_buf()) else {
        return not_trained("the store is in memory: no cluster model");
    };
    let file = dir.join(cohort_predict::cluster::MODEL_FILE);
    if !file.exists() {
        return not_trained("no cluster model: run `cohort clusters`");
    }
    match tokio::task::spawn_blocking(move || ClusterModel::load(&file)).await {
        Ok(Ok(m)) => Json(json!({
            "k": m.k,
            "chosen_by": m.chosen_by,
            "silhouette_by_k": m.silhouette_by_k,
            "features": m.features,
            "fitted_on": m.fitted_on,
            "clusters": m.clusters,
        }))
        .into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

/// `GET /v1/people/{person}/scores`: every model's score for one person.
pub(crate) async fn person_scores(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(person): Path<String>,
) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let person = match PersonId::new(person) {
        Ok(p) => p,
        Err(e) => return invalid(format!("person: {e}")),
    };
    let p = person.clone();
    match tokio::task::spawn_blocking(move || store.person_scores(&p)).await {
        Ok(Ok(rows)) => Json(json!({
            "person_id": person,
            "scores": rows.iter().map(score_json).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_defaults_and_errors() {
        assert_eq!(high_risk_query(None).unwrap(), (80.0, 100));
        assert_eq!(high_risk_query(Some("min_risk=90.5&limit=3")).unwrap(), (90.5, 3));
        assert_eq!(high_risk_query(Some("min_risk=101")).unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(high_risk_query(Some("limit=0")).unwrap_err().status(), StatusCode::BAD_REQUEST);
        assert_eq!(high_risk_query(Some("n=3")).unwrap_err().status(), StatusCode::BAD_REQUEST);
    }
}
