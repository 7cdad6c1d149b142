//! Analytics over HTTP: `POST /v1/query/funnel|retention|lifecycle|kpi|paths` take
//! the spec JSON of [`cohort_analytics`] as the body and answer its result
//! JSON — the same documents `cohort funnel … --spec FILE --json` reads and
//! prints. Thin by design: validation, SQL and every definition live in the
//! engine; this module authenticates, runs the query on the blocking pool
//! and maps [`AnalyticsError`] to stable codes (an impossible spec is 400
//! `invalid_spec` with every issue named by field and reason).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_analytics::{
    Analytics, AnalyticsError, FunnelSpec, KpiSpec, KpiTargets, LifecycleSpec, PathSpec, RetentionSpec, SpecIssue,
};
use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{error_response, error_response_with};
use crate::AppState;

/// What the query routes run on: the embedded DuckDB store (the same one
/// the collector writes), the shop's time zone and the KPI targets.
pub struct AnalyticsService {
    store: Arc<DuckDbStore>,
    shop: ShopTime,
    targets: KpiTargets,
    /// `[segments]`: the KPI board's segment history and profile
    /// recomputes started over HTTP.
    segments: cohort_insight::InsightConfig,
    jobs: crate::insight::Jobs,
}

impl AnalyticsService {
    /// Queries on `store`, counting days in `shop`'s zone, the KPI board
    /// shown against `targets`.
    pub fn new(store: Arc<DuckDbStore>, shop: ShopTime, targets: KpiTargets) -> Self {
        let segments = cohort_insight::InsightConfig::default();
        AnalyticsService { store, shop, targets, segments, jobs: Default::default() }
    }

    /// The KPI board's segment history and recomputes started over HTTP
    /// (`POST /v1/jobs/compute`) use these `[segments]` settings (default:
    /// the built-in ones).
    pub fn with_segments(mut self, segments: cohort_insight::InsightConfig) -> Self {
        self.segments = segments;
        self
    }

    /// Training jobs started over HTTP (`POST /v1/jobs/train`) use these
    /// settings (default: the built-in ones).
    pub fn with_training(mut self, training: crate::TrainingSettings) -> Self {
        self.jobs.training = training;
        self
    }

    pub(crate) fn store(&self) -> &Arc<DuckDbStore> {
        &self.store
    }

    pub(crate) fn segments_config(&self) -> &cohort_insight::InsightConfig {
        &self.segments
    }

    pub(crate) fn jobs(&self) -> &crate::insight::Jobs {
        &self.jobs
    }

    /// The engine (borrowing the store).
    pub fn engine(&self) -> Analytics<'_> {
        Analytics::new(&self.store, self.shop).with_segments(self.segments.clone())
    }
}

/// The admin key's gate to the analytics store: 401/403 for other keys,
/// 503 `analytics_disabled` when the server runs without a store. Every
/// admin route over the DuckDB store (queries, segments, jobs, predictions)
/// starts here.
pub(crate) fn admin_service(state: &AppState, headers: &HeaderMap) -> Result<Arc<AnalyticsService>, Box<Response>> {
    crate::auth::check_admin(headers, state).map_err(|e| Box::new(e.into_response()))?;
    state.analytics.clone().ok_or_else(|| {
        Box::new(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "analytics_disabled",
            "system",
            "this server runs without an analytics store".into(),
        ))
    })
}

/// [`admin_service`]'s store.
pub(crate) fn admin_store(state: &AppState, headers: &HeaderMap) -> Result<Arc<DuckDbStore>, Box<Response>> {
    admin_service(state, headers).map(|s| s.store().clone())
}

/// Authenticates, reads the spec, runs `query` on the blocking pool and
/// serialises its result.
async fn run<S, R>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    query: impl FnOnce(&AnalyticsService, S) -> cohort_analytics::Result<R> + Send + 'static,
) -> Response
where
    S: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
{
    let service = match admin_service(state, headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let spec: S = match serde_json::from_slice(body) {
        Ok(spec) => spec,
        Err(e) => return invalid(&[SpecIssue::new("body", e.to_string())]),
    };
    match tokio::task::spawn_blocking(move || query(&service, spec)).await {
        Ok(Ok(result)) => Json(result).into_response(),
        Ok(Err(AnalyticsError::InvalidSpec(issues))) => invalid(&issues),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "analytics query failed");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "query_failed", "internal", e.to_string())
        }
        Err(e) => {
            tracing::error!(error = %e, "analytics query panicked");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "query_failed", "internal", "the query panicked".into())
        }
    }
}

/// 400 `invalid_spec`: the message joins every issue, `issues` lists them
/// as `{field, reason}`.
fn invalid(issues: &[SpecIssue]) -> Response {
    let message = format!("invalid query: {}", issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "));
    let details = serde_json::to_value(issues).unwrap_or_default();
    error_response_with(StatusCode::BAD_REQUEST, "invalid_spec", "invalid_request", message, "issues", details)
}

/// `POST /v1/query/funnel`.
pub(crate) async fn funnel(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&s, &headers, &body, |a, spec: FunnelSpec| a.engine().funnel(&spec)).await
}

/// `POST /v1/query/retention`.
pub(crate) async fn retention(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&s, &headers, &body, |a, spec: RetentionSpec| a.engine().retention(&spec)).await
}

/// `POST /v1/query/lifecycle`.
pub(crate) async fn lifecycle(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&s, &headers, &body, |a, spec: LifecycleSpec| a.engine().lifecycle(&spec)).await
}

/// `POST /v1/query/kpi`.
pub(crate) async fn kpi(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&s, &headers, &body, |a, spec: KpiSpec| a.engine().kpi(&spec, &a.targets)).await
}

/// `POST /v1/query/paths`.
pub(crate) async fn paths(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    run(&s, &headers, &body, |a, spec: PathSpec| a.engine().paths(&spec)).await
}
