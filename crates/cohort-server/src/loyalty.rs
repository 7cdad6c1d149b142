//! Loyalty over HTTP: the shop's backend reports paid and refunded orders,
//! reviews, shares and check-ins; members' balances, tiers and ledgers are
//! read back; coupons are issued and redeemed. Thin by design: every rule
//! lives in [`cohort_loyalty`]; this module maps JSON to its calls and its
//! errors to stable codes.
//!
//! Money is integer fen (`amount_fen`); every write carries an
//! `idempotency_key`, so a retried request returns the first answer.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cohort_loyalty::{
    Activity, Checkout, CheckoutLine, CouponId, IdempotencyKey, Loyalty, LoyaltyError, Points, Redemption, TemplateId,
};
use cohort_model::{Money, OrderId, ProductId, UserId};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::error::error_response;
use crate::AppState;

/// What a loyalty handler answers on failure.
pub(crate) enum LoyaltyFailure {
    /// The request could not be read (field and reason in the message).
    Input(String),
    /// The loyalty engine refused or failed.
    Engine(LoyaltyError),
    /// The server runs without a loyalty store.
    Disabled,
    /// An answer decided before the engine (authentication).
    Response(Box<Response>),
}

impl From<LoyaltyError> for LoyaltyFailure {
    fn from(e: LoyaltyError) -> Self {
        LoyaltyFailure::Engine(e)
    }
}

impl IntoResponse for LoyaltyFailure {
    fn into_response(self) -> Response {
        match self {
            LoyaltyFailure::Input(message) => {
                error_response(StatusCode::BAD_REQUEST, "invalid_input", "invalid_request", message)
            }
            LoyaltyFailure::Disabled => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "loyalty_disabled",
                "system",
                "this server runs without a loyalty store".into(),
            ),
            LoyaltyFailure::Response(r) => *r,
            LoyaltyFailure::Engine(e) => {
                let code = e.code();
                let (status, kind) = match &e {
                    LoyaltyError::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
                    LoyaltyError::NotFound { .. } => (StatusCode::NOT_FOUND, "invalid_request"),
                    LoyaltyError::KeyReused { .. } | LoyaltyError::Conflict { .. } => {
                        (StatusCode::CONFLICT, "invalid_request")
                    }
                    LoyaltyError::WriterStopped => (StatusCode::SERVICE_UNAVAILABLE, "system"),
                    e if !e.is_user_error() => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
                    // Well-formed requests the rules refuse: not enough points,
                    // an expired coupon, an exhausted budget, a threshold not met…
                    _ => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
                };
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %e, "loyalty operation failed");
                }
                error_response(status, code, kind, e.to_string())
            }
        }
    }
}

type Answer = Result<Response, LoyaltyFailure>;

/// The loyalty service of a request, after authentication.
fn service<'s>(state: &'s AppState, headers: &HeaderMap) -> Result<&'s Arc<Loyalty>, LoyaltyFailure> {
    crate::auth::check_admin(headers, state).map_err(|e| LoyaltyFailure::Response(Box::new(e.into_response())))?;
    state.loyalty.as_ref().ok_or(LoyaltyFailure::Disabled)
}

fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, LoyaltyFailure> {
    serde_json::from_slice(bytes).map_err(|e| LoyaltyFailure::Input(format!("request body: {e}")))
}

fn user(field: &str, id: &str) -> Result<UserId, LoyaltyFailure> {
    UserId::new(id).map_err(|e| LoyaltyFailure::Input(format!("{field} {id:?}: {e}")))
}

fn order(field: &str, id: &str) -> Result<OrderId, LoyaltyFailure> {
    OrderId::new(id).map_err(|e| LoyaltyFailure::Input(format!("{field} {id:?}: {e}")))
}

fn amount(field: &str, fen: Option<i64>) -> Result<Money, LoyaltyFailure> {
    match fen {
        Some(fen) if fen >= 0 => Ok(Money::from_fen(fen)),
        Some(fen) => Err(LoyaltyFailure::Input(format!("{field} {fen}: must not be negative"))),
        None => Err(LoyaltyFailure::Input(format!("{field}: required"))),
    }
}

fn ok(value: impl serde::Serialize) -> Answer {
    Ok(Json(value).into_response())
}

/// What happened, as the shop's backend reports it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventType {
    OrderPaid,
    OrderRefunded,
    Review,
    Share,
    CheckIn,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    idempotency_key: String,
    user_id: String,
    #[serde(rename = "type")]
    kind: EventType,
    order_id: Option<String>,
    /// Cash paid (order_paid) or refunded (order_refunded), in fen.
    amount_fen: Option<i64>,
}

/// `POST /v1/loyalty/events`: earn (or claw back) points and growth.
pub(crate) async fn event(State(s): State<AppState>, headers: HeaderMap, bytes: Bytes) -> Answer {
    let loyalty = service(&s, &headers)?;
    let b: EventBody = body(&bytes)?;
    let key = IdempotencyKey::new(b.idempotency_key)?;
    let member = user("user_id", &b.user_id)?;
    let order_id = || match &b.order_id {
        Some(id) => order("order_id", id),
        None => Err(LoyaltyFailure::Input(format!("order_id: required for {:?} events", b.kind))),
    };
    let activity = match b.kind {
        EventType::OrderRefunded => {
            let receipt = loyalty.refund(&key, &member, &order_id()?, amount("amount_fen", b.amount_fen)?).await?;
            return ok(receipt);
        }
        EventType::OrderPaid => Activity::OrderPaid { order: order_id()?, paid: amount("amount_fen", b.amount_fen)? },
        EventType::Review => Activity::Review,
        EventType::Share => Activity::Share,
        EventType::CheckIn => Activity::CheckIn,
    };
    ok(loyalty.record_activity(&key, &member, activity).await?)
}

/// `GET /v1/loyalty/members/{user}`: balance, tier and coupons.
pub(crate) async fn member(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let loyalty = service(&s, &headers)?;
    let member = user("user", &id)?;
    let balance = loyalty.balance(&member).await?;
    let membership = loyalty.membership(&member).await?;
    let coupons = loyalty.coupons(&member).await?;
    ok(json!({ "balance": balance, "membership": membership, "coupons": coupons }))
}

/// `GET /v1/loyalty/members/{user}/history`: ledger entries and tier changes.
pub(crate) async fn history(State(s): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    let loyalty = service(&s, &headers)?;
    let member = user("user", &id)?;
    let entries: Vec<_> = loyalty
        .ledger(&member)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "operation": e.operation, "kind": e.kind, "at": e.at,
                "account": e.account.to_string(), "amount": e.amount.get(),
            })
        })
        .collect();
    ok(json!({ "entries": entries, "tiers": loyalty.tier_history(&member).await? }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemPointsBody {
    idempotency_key: String,
    points: i64,
    /// Pay part of this order with points…
    order_id: Option<String>,
    order_amount_fen: Option<i64>,
    /// …or exchange them for this points-mall item.
    item: Option<String>,
}

/// `POST /v1/loyalty/members/{user}/redeem`: spend points on an order or
/// an exchange.
pub(crate) async fn redeem_points(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Answer {
    let loyalty = service(&s, &headers)?;
    let member = user("user", &id)?;
    let b: RedeemPointsBody = body(&bytes)?;
    let key = IdempotencyKey::new(b.idempotency_key)?;
    let redemption = match (b.order_id, b.item) {
        (Some(o), None) => Redemption::Order {
            order: order("order_id", &o)?,
            order_amount: amount("order_amount_fen", b.order_amount_fen)?,
        },
        (None, Some(item)) => Redemption::Exchange { item },
        _ => return Err(LoyaltyFailure::Input("order_id or item: exactly one is required".into())),
    };
    ok(loyalty.redeem(&key, &member, Points::new(b.points), redemption).await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    idempotency_key: String,
    user_id: String,
}

/// `POST /v1/coupons/{template}/issue`: one coupon of a template to a member.
pub(crate) async fn issue_coupon(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(template): Path<String>,
    bytes: Bytes,
) -> Answer {
    let loyalty = service(&s, &headers)?;
    let template = TemplateId::new(template)?;
    let b: IssueBody = body(&bytes)?;
    let key = IdempotencyKey::new(b.idempotency_key)?;
    let coupon = loyalty.issue_coupon(&key, &user("user_id", &b.user_id)?, &template).await?;
    Ok((StatusCode::CREATED, Json(coupon)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    product_id: String,
    category: Option<String>,
    amount_fen: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RedeemCouponBody {
    idempotency_key: String,
    user_id: String,
    order_id: String,
    lines: Vec<LineBody>,
    #[serde(default)]
    shipping_fen: i64,
}

/// `POST /v1/coupons/{code}/redeem`: the order using the coupon was paid —
/// check the coupon applies to it, lock it on the order and mark it redeemed,
/// in that order, each step idempotent under the request's key.
pub(crate) async fn redeem_coupon(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    bytes: Bytes,
) -> Answer {
    let loyalty = service(&s, &headers)?;
    let coupon = code
        .parse::<i64>()
        .map(CouponId)
        .map_err(|_| LoyaltyFailure::Input(format!("coupon code {code:?}: not a coupon number")))?;
    let b: RedeemCouponBody = body(&bytes)?;
    let member = user("user_id", &b.user_id)?;
    let order_id = order("order_id", &b.order_id)?;
    let lines = b
        .lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let product = ProductId::new(&l.product_id)
                .map_err(|e| LoyaltyFailure::Input(format!("lines[{i}].product_id {:?}: {e}", l.product_id)))?;
            let amount = amount(&format!("lines[{i}].amount_fen"), Some(l.amount_fen))?;
            Ok(CheckoutLine { product, category: l.category, amount })
        })
        .collect::<Result<Vec<_>, LoyaltyFailure>>()?;
    let checkout = Checkout { order: order_id.clone(), lines, shipping: amount("shipping_fen", Some(b.shipping_fen))? };
    let lock = IdempotencyKey::new(format!("{}:lock", b.idempotency_key))?;
    loyalty.lock_coupons(&lock, &member, &checkout, &[coupon]).await?;
    let redeem = IdempotencyKey::new(format!("{}:redeem", b.idempotency_key))?;
    ok(loyalty.redeem_coupons(&redeem, &member, &order_id).await?)
}
