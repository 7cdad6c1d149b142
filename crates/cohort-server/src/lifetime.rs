//! Lifetime value and replenishment over HTTP, read from what `cohort clv
//! fit` and `cohort replenish` stored in `person_scores`:
//! `GET /v1/clv/{user}` (predicted CLV in fen, P(alive), expected purchases),
//! `GET /v1/replenishment/due?within_days=7&from=YYYY-MM-DD` (every person and
//! consumable whose run-out day falls in the window — what a journey sends)
//! and `GET /v1/replenishment/{user}` (one person's consumables). Admin key;
//! 503 `analytics_disabled` without the store, 404 `model_not_trained`
//! before the command has run, 404 `not_found` for a person without a row.
//! A person literally named `due` is shadowed by the due list.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Duration, NaiveDate, Utc};
use cohort_duckdb::{DuckDbStore, PersonScore, ScoreQuery};
use cohort_model::PersonId;
use serde_json::{json, Value};

use crate::analytics::admin_store as store;
use crate::error::{error_response, invalid_input as invalid, query_failed as internal};
use crate::AppState;

/// `person_scores` model of `cohort clv fit`.
const CLV: &str = "clv";
/// `person_scores` model of `cohort replenish`.
const REPLENISHMENT: &str = "replenishment";
/// Longest due window, in days.
pub const MAX_WITHIN_DAYS: i64 = 366;

fn not_trained(command: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "model_not_trained",
        "invalid_request",
        format!("nothing stored yet: run `{command}`"),
    )
}

fn not_found(message: String) -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "invalid_request", message)
}

/// Reads one person's row of `model` off the async runtime; distinguishes
/// "model never ran" from "no row for this person".
async fn person_row(
    store: Arc<DuckDbStore>,
    user: String,
    model: &'static str,
    command: &str,
) -> Result<PersonScore, Response> {
    let person = PersonId::new(user.clone()).map_err(|e| invalid(format!("user {user:?}: {e}")))?;
    let read = move || -> Result<(u64, Option<PersonScore>), cohort_store::StoreError> {
        Ok((store.count_scores(model)?, store.person_score(&person, model)?))
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok((0, _))) => Err(not_trained(command)),
        Ok(Ok((_, Some(row)))) => Ok(row),
        Ok(Ok((_, None))) => Err(not_found(format!("no {model} row for {user:?}"))),
        Ok(Err(e)) => Err(internal(e)),
        Err(e) => Err(internal(e)),
    }
}

/// `GET /v1/clv/{user}`.
pub(crate) async fn clv(State(state): State<AppState>, headers: HeaderMap, Path(user): Path<String>) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match person_row(store, user, CLV, "cohort clv fit").await {
        Ok(s) => {
            let d = &s.detail;
            Json(json!({
                "person_id": s.person_id,
                "clv_fen": s.score,
                "status": s.label,
                "p_alive": d.get("p_alive"),
                "expected_purchases": d.get("expected_purchases"),
                "expected_days": d.get("expected_days"),
                "expected_spend_fen": d.get("expected_spend_fen"),
                "horizon_months": d.get("horizon_months"),
                "as_of": d.get("as_of"),
                "computed_at": s.computed_at,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

/// `GET /v1/replenishment/{user}`.
pub(crate) async fn for_user(State(state): State<AppState>, headers: HeaderMap, Path(user): Path<String>) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match person_row(store, user, REPLENISHMENT, "cohort replenish").await {
        Ok(s) => Json(json!({
            "person_id": s.person_id,
            "next_item": s.label,
            "items": s.detail.get("items").cloned().unwrap_or(Value::Array(vec![])),
            "as_of": s.detail.get("as_of"),
            "computed_at": s.computed_at,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `within_days` (0–366, default 7) and `from` (default today, UTC date).
fn due_query(raw: Option<&str>) -> Result<(NaiveDate, i64), Box<Response>> {
    let (mut from, mut within) = (Utc::now().date_naive(), 7i64);
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "within_days" => {
                within = v.parse::<i64>().ok().filter(|d| (0..=MAX_WITHIN_DAYS).contains(d)).ok_or_else(|| {
                    Box::new(invalid(format!("within_days {v:?}: expected an integer within 0..={MAX_WITHIN_DAYS}")))
                })?
            }
            "from" => {
                from = v
                    .parse::<NaiveDate>()
                    .map_err(|_| Box::new(invalid(format!("from {v:?}: expected a date YYYY-MM-DD"))))?
            }
            other => {
                return Err(Box::new(invalid(format!(
                    "unknown query parameter {other:?} (expected within_days, from)"
                ))))
            }
        }
    }
    Ok((from, within))
}

/// The due items of stored rows with a run-out day in `[from, to]`, by
/// run-out day then person.
fn due_items(rows: &[PersonScore], from: NaiveDate, to: NaiveDate) -> Vec<Value> {
    let mut due: Vec<(NaiveDate, Value)> = rows
        .iter()
        .flat_map(|s| s.detail.get("items").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|item| {
            let day: NaiveDate = item.get("run_out")?.as_str()?.parse().ok()?;
            (from <= day && day <= to).then(|| (day, item.clone()))
        })
        .collect();
    due.sort_by(|a, b| {
        (a.0, a.1.get("person_id").and_then(Value::as_str)).cmp(&(b.0, b.1.get("person_id").and_then(Value::as_str)))
    });
    due.into_iter().map(|d| d.1).collect()
}

/// `GET /v1/replenishment/due`.
pub(crate) async fn due(State(state): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let store = match store(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (from, within) = match due_query(q.as_deref()) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let to = from + Duration::days(within);
    let read = move || store.model_scores(REPLENISHMENT, ScoreQuery::default());
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(rows)) if rows.is_empty() => not_trained("cohort replenish"),
        Ok(Ok(rows)) => {
            let due = due_items(&rows, from, to);
            Json(json!({ "from": from, "to": to, "count": due.len(), "due": due })).into_response()
        }
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(person: &str, items: Value) -> PersonScore {
        PersonScore {
            person_id: PersonId::new(person).unwrap(),
            model: REPLENISHMENT.into(),
            computed_at: Utc::now(),
            score: 0.0,
            label: None,
            detail: json!({ "items": items }),
        }
    }

    #[test]
    fn due_window_is_inclusive_and_sorted() {
        let rows = vec![
            row("b", json!([{ "person_id": "b", "item": "masks", "run_out": "2024-03-05" }])),
            row(
                "a",
                json!([{ "person_id": "a", "item": "masks", "run_out": "2024-03-05" },
                             { "person_id": "a", "item": "soap", "run_out": "2024-03-01" },
                             { "person_id": "a", "item": "tea", "run_out": "2024-03-09" }]),
            ),
        ];
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let due = due_items(&rows, d("2024-03-01"), d("2024-03-08"));
        let got: Vec<_> = due.iter().map(|v| (v["person_id"].as_str().unwrap(), v["item"].as_str().unwrap())).collect();
        assert_eq!(got, [("a", "soap"), ("a", "masks"), ("b", "masks")]);
    }

    #[test]
    fn due_query_is_checked() {
        assert_eq!(due_query(Some("within_days=3&from=2024-01-02")).unwrap().1, 3);
        assert!(due_query(Some("within_days=-1")).is_err());
        assert!(due_query(Some("from=yesterday")).is_err());
        assert!(due_query(Some("days=3")).is_err());
    }
}
