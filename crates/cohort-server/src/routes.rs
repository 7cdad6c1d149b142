//! The routes table: the router and the OpenAPI document are both built
//! from it, so they cannot disagree.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use cohort_collect::segment::CallType;

use crate::{
    analytics, audience, basket, engage, insight, lifetime, loyalty, moves, predict, recommend, reviews, train,
    AppState,
};

/// One route of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path.
    pub path: &'static str,
    /// What it does (the OpenAPI summary).
    pub summary: &'static str,
    /// The call of an ingest route; `None` for `/v1/batch` and the rest.
    pub ingest: Option<Option<CallType>>,
    /// Whether the route needs an admin key (else a write key or none).
    pub admin: bool,
}

const fn ingest(path: &'static str, summary: &'static str, call: Option<CallType>) -> Route {
    Route { method: "POST", path, summary, ingest: Some(call), admin: false }
}

const fn plain(path: &'static str, summary: &'static str) -> Route {
    Route { method: "GET", path, summary, ingest: None, admin: false }
}

const fn admin(method: &'static str, path: &'static str, summary: &'static str) -> Route {
    Route { method, path, summary, ingest: None, admin: true }
}

/// Every route served.
pub const ROUTES: &[Route] = &[
    ingest("/v1/track", "Record a behaviour event", Some(CallType::Track)),
    ingest("/v1/identify", "Tie a user id (and the sender's anonymous id) to traits", Some(CallType::Identify)),
    ingest("/v1/page", "Record a web page view", Some(CallType::Page)),
    ingest("/v1/screen", "Record a mobile screen view", Some(CallType::Screen)),
    ingest("/v1/alias", "Merge a previous id into a user id", Some(CallType::Alias)),
    ingest("/v1/batch", "Send many calls at once", None),
    plain("/healthz", "Liveness: the process answers"),
    plain("/readyz", "Readiness: the writer is running and has room"),
    plain("/metrics", "Prometheus metrics"),
    plain("/openapi.json", "This document"),
    admin(
        "POST",
        "/v1/loyalty/events",
        "Report an order paid or refunded, a review, a share or a check-in: points and growth",
    ),
    admin("GET", "/v1/loyalty/members/{user}", "A member's points balance, tier with benefits, and coupons"),
    admin("GET", "/v1/loyalty/members/{user}/history", "A member's ledger entries and tier changes"),
    admin("POST", "/v1/loyalty/members/{user}/redeem", "Spend points on part of an order or a points-mall item"),
    admin("POST", "/v1/coupons/{template}/issue", "Issue a coupon of a template to a member"),
    admin("POST", "/v1/coupons/{code}/redeem", "Apply a coupon to a paid order: check, lock and redeem"),
    admin("POST", "/v1/query/funnel", "Run a funnel spec: people, conversion, drop-off and median time per step"),
    admin("POST", "/v1/query/retention", "Run a retention spec: the cohort grid, bounded or unbounded"),
    admin(
        "POST",
        "/v1/query/lifecycle",
        "Run a lifecycle spec: new, returning, resurrected and dormant people per period",
    ),
    admin("POST", "/v1/query/kpi", "The KPI / OKR board over a date range, each KPI against its target"),
    admin("POST", "/v1/query/paths", "The most common paths after or before an anchor event"),
    admin(
        "GET",
        "/v1/recommendations/{user}",
        "A user's recommendations at a placement (home, cart, order, similar, bought_together)",
    ),
    admin("GET", "/v1/items/{item}/similar", "Products similar to a product, by behaviour and content"),
    admin("POST", "/v1/recommendations/reload", "Re-read the recommendation model file after training"),
    admin("GET", "/v1/profiles/{user}", "A person's profile, segments, tags with history, scores, recent events"),
    admin("GET", "/v1/tags", "The tag rules in force (config and API) and how many people hold each"),
    admin("POST", "/v1/tags", "Create or replace a tag rule: name, description, when (the condition)"),
    admin("DELETE", "/v1/tags/{name}", "Delete a tag rule created through the API"),
    admin("POST", "/v1/tags/test", "Dry-run a condition: how many people match now, and a sample"),
    admin("POST", "/v1/tags/compute", "Re-evaluate every tag rule for everyone and record gains and losses"),
    admin("GET", "/v1/audiences", "Saved audiences"),
    admin("POST", "/v1/audiences", "Save an audience: a filter, static (snapshot now) or dynamic"),
    admin("GET", "/v1/audiences/{id}/members", "One page of an audience's members (cursor, limit), PII masked by role"),
    admin(
        "GET",
        "/v1/audiences/{id}/export",
        "Every member of an audience as CSV or NDJSON (format), PII masked by role",
    ),
    admin("POST", "/v1/audiences/preview", "Size, sample and breakdown of an unsaved filter"),
    admin("POST", "/v1/reviews/classify", "Sentiment (P(positive)) and complaint topics of review texts"),
    admin("GET", "/v1/reviews/topics", "The last complaint-topic report of the store's reviews"),
    admin("GET", "/v1/segments", "People per value tier, lifecycle stage, behaviour type and RFM segment"),
    admin(
        "GET",
        "/v1/segments/transitions",
        "People per (segment on one day, segment on a later day): who moved where",
    ),
    admin("POST", "/v1/jobs/compute", "Recompute every profile in the background; answers the job"),
    admin("GET", "/v1/jobs/{id}", "A background job's state and progress"),
    admin("GET", "/v1/jobs", "Every background job of this server run, newest first"),
    admin("POST", "/v1/jobs/train", "Train a model (churn, clusters, clv, replenishment, recommend) in the background"),
    admin("GET", "/v1/basket/rules", "Association rules of the paid orders (FP-growth): support, confidence, lift"),
    admin("GET", "/v1/churn/high-risk", "People at churn risk >= min_risk (default 80), riskiest first, with reasons"),
    admin("GET", "/v1/clusters", "Behaviour clusters of the saved model: name, size, distinguishing features"),
    admin("GET", "/v1/people/{person}/scores", "Every model's score for one person (churn, cluster, clv, sentiment)"),
    admin("GET", "/v1/clv/{user}", "A person's predicted lifetime value (fen), P(alive) and expected purchases"),
    admin("GET", "/v1/replenishment/due", "People whose consumables run out within a window (within_days, from)"),
    admin("GET", "/v1/replenishment/{user}", "A person's consumables with last purchase and expected run-out day"),
    admin("GET", "/v1/campaigns", "Saved campaigns, newest first, with members per arm and delivery counts"),
    admin(
        "POST",
        "/v1/campaigns",
        "Launch a campaign to a saved audience, a filter or contacts: holdout, control, contact rules, offers",
    ),
    admin("GET", "/v1/campaigns/{id}", "A campaign's spec, members per outcome, offers issued and delivery"),
    admin(
        "GET",
        "/v1/campaigns/{id}/effect",
        "A campaign measured from the store (window_days): uplift vs control, revenue, cost, ROI, targets",
    ),
    admin("GET", "/v1/journeys", "The journeys in force with their runs per status"),
    admin("GET", "/v1/journeys/{id}/runs", "A journey's newest runs (status, limit): position, wait, end reason"),
    admin("POST", "/v1/journeys/{id}/enter", "Put a person into a journey (its re-entry rule decides)"),
    admin(
        "POST",
        "/v1/journeys/entry/run",
        "Run the daily entry job now (date): silent tiers, churn recall, replenishment, birthdays",
    ),
    admin(
        "POST",
        "/v1/catalogue/price-changes",
        "Report price drops: carted or wished, not bought → price_drop journey",
    ),
    admin("GET", "/v1/tasks/{list}", "Tasks journeys put on a staff list (service calls)"),
    admin("POST", "/v1/contacts/{person}/preferences", "Unsubscribe or do-not-contact, per channel or all (or clear)"),
    admin("POST", "/v1/messages/{id}/engagement", "A provider reports an open or a click of a message"),
    admin("POST", "/v1/experiments/assign", "Sticky arms of units: weights, salt, global holdout"),
    admin(
        "POST",
        "/v1/experiments/analyze",
        "Read out counts per arm: z-test and interval, chance to win, expected loss, Holm/BH, SRM",
    ),
];

pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for route in ROUTES {
        router = match (route.ingest, route.path) {
            (Some(call), path) => router.route(
                path,
                post(move |State(s): State<AppState>, headers: HeaderMap, body: Body| async move {
                    crate::ingest::ingest(&s, call, headers, body).await
                }),
            ),
            (None, "/healthz") => router.route(route.path, get(|| async { "ok" })),
            (None, "/readyz") => router.route(route.path, get(ready)),
            (None, "/metrics") => router.route(route.path, get(metrics)),
            (None, "/openapi.json") => router.route(route.path, get(|| async { Json(crate::openapi()) })),
            (None, "/v1/loyalty/events") => router.route(route.path, post(loyalty::event)),
            (None, "/v1/loyalty/members/{user}") => router.route(route.path, get(loyalty::member)),
            (None, "/v1/loyalty/members/{user}/history") => router.route(route.path, get(loyalty::history)),
            (None, "/v1/loyalty/members/{user}/redeem") => router.route(route.path, post(loyalty::redeem_points)),
            (None, "/v1/coupons/{template}/issue") => router.route(route.path, post(loyalty::issue_coupon)),
            (None, "/v1/coupons/{code}/redeem") => router.route(route.path, post(loyalty::redeem_coupon)),
            (None, "/v1/query/funnel") => router.route(route.path, post(analytics::funnel)),
            (None, "/v1/query/retention") => router.route(route.path, post(analytics::retention)),
            (None, "/v1/query/lifecycle") => router.route(route.path, post(analytics::lifecycle)),
            (None, "/v1/query/kpi") => router.route(route.path, post(analytics::kpi)),
            (None, "/v1/query/paths") => router.route(route.path, post(analytics::paths)),
            (None, "/v1/recommendations/{user}") => router.route(route.path, get(recommend::for_user)),
            (None, "/v1/items/{item}/similar") => router.route(route.path, get(recommend::similar)),
            (None, "/v1/recommendations/reload") => router.route(route.path, post(recommend::reload)),
            (None, "/v1/profiles/{user}") => router.route(route.path, get(audience::profile)),
            (None, "/v1/tags") if route.method == "GET" => router.route(route.path, get(audience::list_tags)),
            (None, "/v1/tags") => router.route(route.path, post(audience::put_tag)),
            (None, "/v1/tags/{name}") => router.route(route.path, delete(audience::delete_tag)),
            (None, "/v1/tags/test") => router.route(route.path, post(audience::test_tag)),
            (None, "/v1/tags/compute") => router.route(route.path, post(audience::compute_tags)),
            (None, "/v1/audiences") if route.method == "GET" => router.route(route.path, get(audience::list_audiences)),
            (None, "/v1/audiences") => router.route(route.path, post(audience::create_audience)),
            (None, "/v1/audiences/{id}/members") => router.route(route.path, get(audience::members)),
            (None, "/v1/audiences/{id}/export") => router.route(route.path, get(audience::export)),
            (None, "/v1/audiences/preview") => router.route(route.path, post(audience::preview)),
            (None, "/v1/reviews/classify") => router.route(route.path, post(reviews::classify)),
            (None, "/v1/reviews/topics") => router.route(route.path, get(reviews::topics)),
            (None, "/v1/segments") => router.route(route.path, get(insight::segments)),
            (None, "/v1/segments/transitions") => router.route(route.path, get(moves::transitions)),
            (None, "/v1/jobs/compute") => router.route(route.path, post(insight::start_compute)),
            (None, "/v1/jobs/{id}") => router.route(route.path, get(insight::job)),
            (None, "/v1/jobs") => router.route(route.path, get(insight::jobs)),
            (None, "/v1/jobs/train") => router.route(route.path, post(train::start)),
            (None, "/v1/basket/rules") => router.route(route.path, get(basket::rules)),
            (None, "/v1/churn/high-risk") => router.route(route.path, get(predict::high_risk)),
            (None, "/v1/clusters") => router.route(route.path, get(predict::clusters)),
            (None, "/v1/people/{person}/scores") => router.route(route.path, get(predict::person_scores)),
            (None, "/v1/clv/{user}") => router.route(route.path, get(lifetime::clv)),
            (None, "/v1/replenishment/due") => router.route(route.path, get(lifetime::due)),
            (None, "/v1/replenishment/{user}") => router.route(route.path, get(lifetime::for_user)),
            (None, "/v1/campaigns") if route.method == "GET" => router.route(route.path, get(engage::list_campaigns)),
            (None, "/v1/campaigns") => router.route(route.path, post(engage::launch_campaign)),
            (None, "/v1/campaigns/{id}") => router.route(route.path, get(engage::campaign)),
            (None, "/v1/campaigns/{id}/effect") => router.route(route.path, get(engage::campaign_effect)),
            (None, "/v1/journeys") => router.route(route.path, get(engage::journeys)),
            (None, "/v1/journeys/{id}/runs") => router.route(route.path, get(engage::journey_runs)),
            (None, "/v1/journeys/{id}/enter") => router.route(route.path, post(engage::enter_journey)),
            (None, "/v1/journeys/entry/run") => router.route(route.path, post(engage::run_entry)),
            (None, "/v1/catalogue/price-changes") => router.route(route.path, post(engage::price_changes)),
            (None, "/v1/tasks/{list}") => router.route(route.path, get(engage::tasks)),
            (None, "/v1/contacts/{person}/preferences") => router.route(route.path, post(engage::set_preference)),
            (None, "/v1/messages/{id}/engagement") => router.route(route.path, post(engage::engagement)),
            (None, "/v1/experiments/assign") => router.route(route.path, post(engage::assign)),
            (None, "/v1/experiments/analyze") => router.route(route.path, post(engage::analyze)),
            (None, other) => unreachable!("route {other} has no handler"),
        };
    }
    router.merge(crate::console::router()).with_state(state)
}

async fn ready(State(s): State<AppState>) -> Response {
    let depth = s.writer.depth();
    if depth * 10 >= s.config.queue_messages.max(1) * 9 {
        (StatusCode::SERVICE_UNAVAILABLE, format!("writer queue {depth} of {} messages", s.config.queue_messages))
            .into_response()
    } else {
        "ready".into_response()
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    s.metrics.queue_depth.set(s.writer.depth() as i64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}
