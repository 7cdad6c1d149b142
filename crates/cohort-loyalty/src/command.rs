//! Commands (what the writer executes) and the idempotency frame around
//! them: lock the members involved, claim the key, run the command, store its
//! result. A repeated key returns the stored result; a repeated key with a
//! different request is refused naming the key.

use crate::sql::{self, Conn};
use chrono::{DateTime, Utc};
use cohort_model::{Money, OrderId, ShopTime, UserId};
use serde::{Deserialize, Serialize};

use crate::coupons::{self, Checkout, CheckoutQuote, Coupon, CouponId, CouponTemplate, OrderCoupons, TemplateId};
use crate::ledger::{self, MemberRow, NewOp};
use crate::points::{self, Activity, ActivityReceipt, RedeemReceipt, Redemption, RefundReceipt, TransferReceipt};
use crate::tiers::{self, TierReview};
use crate::{db, IdempotencyKey, LoyaltyConfig, LoyaltyError, Points};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// What an operation sees: configuration, shop time and "now".
pub(crate) struct Env<'a> {
    pub config: &'a LoyaltyConfig,
    pub shop: ShopTime,
    pub now: DateTime<Utc>,
    pub now_us: i64,
    /// Shop-local day number of `now`.
    pub day: i64,
}

impl<'a> Env<'a> {
    pub fn new(config: &'a LoyaltyConfig, shop: ShopTime, now: DateTime<Utc>) -> Self {
        Env { config, shop, now, now_us: db::to_us(now), day: db::day_number(shop.date(now)) }
    }
}

/// A write request. Serialised (as the stored payload) to compare requests
/// that share an idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Command {
    Activity { user: UserId, activity: Activity },
    Redeem { user: UserId, points: Points, redemption: Redemption },
    Refund { user: UserId, order: OrderId, amount: Money },
    Transfer { from: UserId, to: UserId, points: Points },
    IssueCoupon { user: UserId, template: TemplateId },
    LockCoupons { user: UserId, checkout: Checkout, coupons: Vec<CouponId> },
    RedeemCoupons { user: UserId, order: OrderId },
    ReleaseCoupons { user: UserId, order: OrderId },
    // Unkeyed maintenance: idempotent by nature.
    CreateTemplate { template: CouponTemplate },
    ExpirePoints { limit: i64 },
    ExpireCoupons { limit: i64 },
    ReviewTiers { limit: i64 },
}

/// Outcome of a sweep: how many things it handled and whether more are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sweep {
    /// Members (points), coupons, or members (tiers) handled.
    pub handled: u64,
    /// Points expired (points sweeps only).
    pub points: i64,
    /// Whether more were due than the limit allowed.
    pub more: bool,
}

/// A command's result, stored as JSON under its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "value", rename_all = "snake_case")]
pub(crate) enum Reply {
    Activity(ActivityReceipt),
    Redeem(RedeemReceipt),
    Refund(RefundReceipt),
    Transfer(TransferReceipt),
    Coupon(Coupon),
    Quote(CheckoutQuote),
    OrderCoupons(OrderCoupons),
    TemplateCreated(bool),
    Sweep(Sweep),
    TierReview(TierReview, bool),
}

impl Command {
    fn kind(&self) -> &'static str {
        match self {
            Command::Activity { activity, .. } => activity.kind(),
            Command::Redeem { redemption: Redemption::Order { .. }, .. } => "redeem",
            Command::Redeem { redemption: Redemption::Exchange { .. }, .. } => "exchange",
            Command::Refund { .. } => "refund",
            Command::Transfer { .. } => "transfer",
            Command::IssueCoupon { .. } => "coupon_issue",
            Command::LockCoupons { .. } => "coupon_lock",
            Command::RedeemCoupons { .. } => "coupon_redeem",
            Command::ReleaseCoupons { .. } => "coupon_release",
            Command::CreateTemplate { .. } => "template",
            Command::ExpirePoints { .. } => "expire",
            Command::ExpireCoupons { .. } => "coupon_expire",
            Command::ReviewTiers { .. } => "tier_review",
        }
    }

    /// The members whose rows the command locks, in lock order.
    fn members(&self) -> Vec<&UserId> {
        let mut users = match self {
            Command::Activity { user, .. }
            | Command::Redeem { user, .. }
            | Command::Refund { user, .. }
            | Command::IssueCoupon { user, .. }
            | Command::LockCoupons { user, .. }
            | Command::RedeemCoupons { user, .. }
            | Command::ReleaseCoupons { user, .. } => vec![user],
            Command::Transfer { from, to, .. } => vec![from, to],
            _ => vec![],
        };
        users.sort();
        users.dedup();
        users
    }
}

/// Runs one command in the caller's transaction (a savepoint in a batch).
pub(crate) async fn execute(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    key: Option<&IdempotencyKey>,
    cmd: &Command,
) -> Result<Reply> {
    let Some(key) = key else { return maintenance(conn, env, cmd).await };
    if let Command::Transfer { from, to, .. } = cmd {
        if from == to {
            return Err(LoyaltyError::InvalidInput {
                what: "transfer",
                value: from.to_string(),
                reason: "sender and receiver are the same member",
            });
        }
    }
    let mut members = Vec::new();
    for user in cmd.members() {
        let mut row = ledger::lock_member(conn, user, env.now_us).await?;
        // Due lots expire before anything else touches the balance, as their
        // own operation (so the ledger shows the expiry first).
        ledger::expire_due_lots(conn, &mut row, env.now_us, env.day).await?;
        members.push(row);
    }
    let payload = serde_json::to_string(cmd)?;
    let op = NewOp {
        key: key.as_str(),
        kind: cmd.kind(),
        user: members.first().map(|m| &m.user),
        day: env.day,
        at_us: env.now_us,
        payload: &payload,
    };
    let Some(op_id) = ledger::insert_op(conn, &op).await? else {
        let (stored, result) = ledger::existing_op(conn, key).await?;
        if stored != payload {
            return Err(LoyaltyError::KeyReused { key: key.to_string() });
        }
        return Ok(serde_json::from_str(&result)?);
    };
    let reply = run(conn, env, &mut members, op_id, cmd).await?;
    let awarded = match &reply {
        Reply::Activity(r) => r.points.get(),
        _ => 0,
    };
    ledger::finish_op(conn, op_id, awarded, &serde_json::to_string(&reply)?).await?;
    Ok(reply)
}

fn member_for<'m>(members: &'m mut [MemberRow], user: &UserId) -> Result<&'m mut MemberRow> {
    members
        .iter_mut()
        .find(|m| m.user == *user)
        .ok_or_else(|| LoyaltyError::corrupt(format!("member {user} not locked")))
}

async fn run(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    members: &mut [MemberRow],
    op_id: i64,
    cmd: &Command,
) -> Result<Reply> {
    Ok(match cmd {
        Command::Activity { user, activity } => {
            Reply::Activity(points::earn(conn, env, member_for(members, user)?, op_id, activity).await?)
        }
        Command::Redeem { user, points: p, redemption } => {
            Reply::Redeem(points::redeem(conn, env, member_for(members, user)?, op_id, *p, redemption).await?)
        }
        Command::Refund { user, order, amount } => {
            Reply::Refund(points::refund(conn, env, member_for(members, user)?, op_id, order, *amount).await?)
        }
        Command::Transfer { from, to, points: p } => {
            let (a, b) = members.split_at_mut(1);
            let (from_row, to_row) = if a[0].user == *from { (&mut a[0], &mut b[0]) } else { (&mut b[0], &mut a[0]) };
            debug_assert!(from_row.user == *from && to_row.user == *to);
            Reply::Transfer(points::transfer(conn, env, from_row, to_row, op_id, *p).await?)
        }
        Command::IssueCoupon { user, template } => {
            Reply::Coupon(coupons::store::issue(conn, env, member_for(members, user)?, op_id, template).await?)
        }
        Command::LockCoupons { user, checkout, coupons: ids } => {
            Reply::Quote(coupons::store::lock(conn, env, member_for(members, user)?, op_id, checkout, ids).await?)
        }
        Command::RedeemCoupons { user, order } => {
            Reply::OrderCoupons(coupons::store::redeem(conn, env, member_for(members, user)?, op_id, order).await?)
        }
        Command::ReleaseCoupons { user, order } => {
            Reply::OrderCoupons(coupons::store::release(conn, env, member_for(members, user)?, op_id, order).await?)
        }
        _ => return Err(LoyaltyError::corrupt(format!("{} needs no idempotency key", cmd.kind()))),
    })
}

async fn maintenance(conn: &mut Conn<'_>, env: &Env<'_>, cmd: &Command) -> Result<Reply> {
    match cmd {
        Command::CreateTemplate { template } => {
            Ok(Reply::TemplateCreated(coupons::store::create_template(conn, env, template).await?))
        }
        Command::ExpirePoints { limit } => expire_points(conn, env, *limit).await,
        Command::ExpireCoupons { limit } => {
            let (handled, more) = coupons::store::expire(conn, env, *limit).await?;
            Ok(Reply::Sweep(Sweep { handled, points: 0, more }))
        }
        Command::ReviewTiers { limit } => {
            let (review, more) = tiers::review(conn, env, *limit).await?;
            Ok(Reply::TierReview(review, more))
        }
        _ => Err(LoyaltyError::InvalidInput {
            what: "operation",
            value: cmd.kind().into(),
            reason: "needs an idempotency key",
        }),
    }
}

async fn expire_points(conn: &mut Conn<'_>, env: &Env<'_>, limit: i64) -> Result<Reply> {
    let rows = sql::query(
        "SELECT DISTINCT user_id FROM loyalty_lots WHERE remaining > 0 AND expires_at_us <= $1 ORDER BY user_id LIMIT $2",
    )
    .bind(env.now_us)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let mut sweep = Sweep { more: rows.len() as i64 > limit, ..Sweep::default() };
    for row in rows.iter().take(limit as usize) {
        let user = UserId::new(row.try_get::<String, _>(0)?).map_err(LoyaltyError::corrupt)?;
        let mut member = ledger::lock_member(conn, &user, env.now_us).await?;
        sweep.points += ledger::expire_due_lots(conn, &mut member, env.now_us, env.day).await?;
        sweep.handled += 1;
    }
    Ok(Reply::Sweep(sweep))
}
