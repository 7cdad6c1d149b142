//! Points operations inside one transaction: earning (orders, reviews,
//! shares, check-ins, with daily caps), redemption in orders and exchange for
//! goods, refunds (claw back what the order earned, restore what it
//! redeemed), and transfers. Each writes balanced postings through
//! [`crate::ledger`].

use crate::sql::{self, Conn};
use chrono::{DateTime, Utc};
use cohort_model::{Money, OrderId, UserId};
use serde::{Deserialize, Serialize};

use crate::command::Env;
use crate::ledger::{self, MemberRow, Posting, Taken};
use crate::tiers::{self, TierChange};
use crate::{Account, EarnRule, LoyaltyError, Points};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// Something a member did that earns points and growth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Activity {
    /// An order was paid: points and growth per whole ¥1 of `paid`.
    OrderPaid {
        /// The order.
        order: OrderId,
        /// Cash paid (after coupons and points).
        paid: Money,
    },
    /// The member posted a review.
    Review,
    /// The member shared a product.
    Share,
    /// The member checked in for the day.
    CheckIn,
    /// Bonus points a campaign or journey grants (no growth, no daily cap;
    /// the idempotency key keeps it to once per offer and person).
    Bonus {
        /// Points granted, 1 to [`MAX_BONUS`].
        points: i64,
    },
}

/// Most points one bonus may grant (¥1,000 at 100 points a yuan): a typo in
/// a campaign spec must not mint a fortune.
pub const MAX_BONUS: i64 = 100_000;

impl Activity {
    /// The operation kind stored for it (daily caps are counted per kind).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Activity::OrderPaid { .. } => "order_paid",
            Activity::Review => "review",
            Activity::Share => "share",
            Activity::CheckIn => "check_in",
            Activity::Bonus { .. } => "bonus",
        }
    }
}

/// What an activity earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityReceipt {
    /// The ledger operation.
    pub operation: i64,
    /// Points earned (after the daily cap).
    pub points: Points,
    /// Whether the daily cap cut the award.
    pub capped: bool,
    /// Of `points`, how many repaid a debt instead of becoming spendable.
    pub repaid_debt: Points,
    /// Growth value added.
    pub growth: i64,
    /// Spendable points after the operation.
    pub available: Points,
    /// The upgrade it caused, if any.
    pub tier_change: Option<TierChange>,
}

/// What points are redeemed for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Redemption {
    /// Part of an order's payment (before the order is paid).
    Order {
        /// The order.
        order: OrderId,
        /// The order amount that points may pay a share of.
        order_amount: Money,
    },
    /// An item from the points mall.
    Exchange {
        /// The item (SKU) received.
        item: String,
    },
}

/// A completed redemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemReceipt {
    /// The ledger operation.
    pub operation: i64,
    /// Points spent.
    pub points: Points,
    /// Money value of the points (the order discount).
    pub discount: Money,
    /// Spendable points after the operation.
    pub available: Points,
}

/// A refund's effect on points and growth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReceipt {
    /// The ledger operation.
    pub operation: i64,
    /// Total refunded on the order so far, this refund included.
    pub refunded_total: Money,
    /// Points taken back (earned on the refunded share of the order).
    pub clawed_back: Points,
    /// Of those, how many the member did not have and now owes.
    pub into_debt: Points,
    /// Points spent on the refunded share of the order, given back.
    pub restored: Points,
    /// Growth value removed.
    pub growth_reversed: i64,
    /// Spendable points after the operation.
    pub available: Points,
    /// Points owed after the operation.
    pub owed: Points,
}

/// A completed transfer between members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceipt {
    /// The ledger operation.
    pub operation: i64,
    /// Points moved.
    pub points: Points,
    /// Of those, how many repaid the receiver's debt.
    pub repaid_debt: Points,
}

/// A member's points as of now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsBalance {
    /// The member.
    pub user: UserId,
    /// Points the member can spend now (lots not yet expired).
    pub available: Points,
    /// Points the member owes after refunds beyond their balance.
    pub owed: Points,
    /// The next expiry: when, and how many points.
    pub next_expiry: Option<(DateTime<Utc>, Points)>,
}

fn positive_points(points: Points) -> Result<i64> {
    if points.get() <= 0 {
        return Err(LoyaltyError::InvalidInput {
            what: "points",
            value: points.get().to_string(),
            reason: "must be positive",
        });
    }
    Ok(points.get())
}

/// `a * num / den`, rounded down, without overflow.
fn share(a: i64, num: i64, den: i64) -> i64 {
    if den == 0 {
        return 0;
    }
    (i128::from(a) * i128::from(num) / i128::from(den)) as i64
}

struct OrderRow {
    user: String,
    amount_fen: i64,
    paid_fen: i64,
    paid_at_us: Option<i64>,
    earned: i64,
    growth: i64,
    redeemed: i64,
    refunded_fen: i64,
    clawed: i64,
    restored: i64,
    growth_reversed: i64,
}

async fn load_order(conn: &mut Conn<'_>, order: &OrderId) -> Result<Option<OrderRow>> {
    let row = sql::query(
        "SELECT user_id, amount_fen, paid_fen, paid_at_us, earned_points, growth, redeemed_points, refunded_fen, \
         clawed_points, restored_points, growth_reversed FROM loyalty_orders WHERE order_id = $1",
    )
    .bind(order.as_str())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(OrderRow {
        user: r.try_get(0)?,
        amount_fen: r.try_get(1)?,
        paid_fen: r.try_get(2)?,
        paid_at_us: r.try_get(3)?,
        earned: r.try_get(4)?,
        growth: r.try_get(5)?,
        redeemed: r.try_get(6)?,
        refunded_fen: r.try_get(7)?,
        clawed: r.try_get(8)?,
        restored: r.try_get(9)?,
        growth_reversed: r.try_get(10)?,
    }))
}

fn check_owner(row: &OrderRow, order: &OrderId, user: &UserId) -> Result<()> {
    if row.user != user.as_str() {
        return Err(LoyaltyError::Conflict {
            what: "order",
            id: order.to_string(),
            reason: format!("belongs to member {}, not {user}", row.user),
        });
    }
    Ok(())
}

/// Points and growth for an activity; returns the receipt and the points
/// to count against the daily cap.
pub(crate) async fn earn(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &mut MemberRow,
    op_id: i64,
    activity: &Activity,
) -> Result<ActivityReceipt> {
    let cfg = env.config;
    let (points, growth, capped) = match activity {
        Activity::OrderPaid { order, paid } => {
            if paid.fen() < 0 {
                return Err(LoyaltyError::InvalidInput {
                    what: "paid amount",
                    value: paid.to_string(),
                    reason: "must not be negative",
                });
            }
            let points = share(paid.fen(), cfg.points.per_yuan_paid, 100);
            let growth = share(paid.fen(), cfg.growth.per_yuan_paid, 100);
            // One statement: a new order, or an order points were redeemed on,
            // becomes paid; an order already paid or of another member is not
            // touched (and returns no row).
            let stored = sql::query(
                "INSERT INTO loyalty_orders (order_id, user_id, amount_fen, paid_fen, paid_at_us, earned_points, growth) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6) ON CONFLICT (order_id) DO UPDATE SET paid_fen = excluded.paid_fen, \
                 paid_at_us = excluded.paid_at_us, earned_points = excluded.earned_points, growth = excluded.growth \
                 WHERE loyalty_orders.paid_at_us IS NULL AND loyalty_orders.user_id = excluded.user_id \
                 RETURNING order_id",
            )
            .bind(order.as_str())
            .bind(member.user.as_str())
            .bind(paid.fen())
            .bind(env.now_us)
            .bind(points)
            .bind(growth)
            .fetch_optional(&mut *conn)
            .await?;
            if stored.is_none() {
                let row = load_order(conn, order).await?.ok_or_else(|| LoyaltyError::corrupt("order upsert"))?;
                check_owner(&row, order, &member.user)?;
                return Err(LoyaltyError::Conflict {
                    what: "order",
                    id: order.to_string(),
                    reason: "already paid and earned points".into(),
                });
            }
            (points, growth, false)
        }
        Activity::Review => capped_award(conn, env, member, activity, cfg.points.review, cfg.growth.review).await?,
        Activity::Share => capped_award(conn, env, member, activity, cfg.points.share, cfg.growth.share).await?,
        Activity::CheckIn => {
            capped_award(conn, env, member, activity, cfg.points.check_in, cfg.growth.check_in).await?
        }
        Activity::Bonus { points } => {
            if !(1..=MAX_BONUS).contains(points) {
                return Err(LoyaltyError::InvalidInput {
                    what: "bonus points",
                    value: points.to_string(),
                    reason: "must be between 1 and 100000",
                });
            }
            (*points, 0, false)
        }
    };
    let mut posting = Posting::default();
    let expires_at_us = ledger::lot_expiry_us(cfg.points.expiry, &env.shop, env.now);
    let (repaid, _) =
        ledger::credit(conn, &mut posting, member, op_id, &Account::ShopIssued, &[Taken { points, expires_at_us }])
            .await?;
    posting.write(conn, op_id).await?;
    let tier_change = tiers::add_growth(conn, env, member, Some(op_id), growth).await?;
    Ok(ActivityReceipt {
        operation: op_id,
        points: Points::new(points),
        capped,
        repaid_debt: Points::new(repaid),
        growth,
        available: Points::new(member.available),
        tier_change,
    })
}

async fn capped_award(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &MemberRow,
    activity: &Activity,
    rule: EarnRule,
    growth: i64,
) -> Result<(i64, i64, bool)> {
    let today: i64 = sql::query(
        "SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) FROM loyalty_ops WHERE user_id = $1 AND kind = $2 AND day = $3",
    )
    .bind(member.user.as_str())
    .bind(activity.kind())
    .bind(env.day)
    .fetch_one(conn)
    .await?
    .try_get(0)?;
    let award = rule.points.min(rule.daily_cap - today).max(0);
    let growth = if award > 0 || rule.points == 0 { growth } else { 0 };
    Ok((award, growth, award < rule.points))
}

/// Spends points on an order or an exchange.
pub(crate) async fn redeem(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &mut MemberRow,
    op_id: i64,
    points: Points,
    redemption: &Redemption,
) -> Result<RedeemReceipt> {
    let points = positive_points(points)?;
    let per_yuan = env.config.points.points_per_yuan;
    if (i128::from(points) * 100) % i128::from(per_yuan) != 0 {
        return Err(LoyaltyError::InvalidInput {
            what: "points",
            value: points.to_string(),
            reason: "do not convert to whole fen at the configured points_per_yuan",
        });
    }
    let discount = Money::from_fen(share(points, 100, per_yuan));
    if let Redemption::Order { order, order_amount } = redemption {
        let row = load_order(conn, order).await?;
        let (amount, before) = match &row {
            Some(row) => {
                check_owner(row, order, &member.user)?;
                if row.paid_at_us.is_some() {
                    return Err(LoyaltyError::Conflict {
                        what: "order",
                        id: order.to_string(),
                        reason: "already paid; points can only pay part of an unpaid order".into(),
                    });
                }
                (Money::from_fen(row.amount_fen), row.redeemed)
            }
            None => (*order_amount, 0),
        };
        let percent = env.config.points.max_order_share_percent;
        let limit_fen = share(amount.fen(), i64::from(percent), 100);
        let limit = share(limit_fen, per_yuan, 100);
        if before + points > limit {
            return Err(LoyaltyError::RedemptionLimit {
                order: order.to_string(),
                requested: Points::new(before + points),
                limit: Points::new(limit),
                percent,
            });
        }
        sql::query(
            "INSERT INTO loyalty_orders (order_id, user_id, amount_fen, redeemed_points) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (order_id) DO UPDATE SET redeemed_points = loyalty_orders.redeemed_points + excluded.redeemed_points",
        )
        .bind(order.as_str())
        .bind(member.user.as_str())
        .bind(amount.fen())
        .bind(points)
        .execute(&mut *conn)
        .await?;
    }
    let mut posting = Posting::default();
    ledger::debit(conn, &mut posting, member, op_id, &Account::ShopRedeemed, points, false).await?;
    posting.write(conn, op_id).await?;
    Ok(RedeemReceipt {
        operation: op_id,
        points: Points::new(points),
        discount,
        available: Points::new(member.available),
    })
}

/// Applies a (partial) refund of an order's cash payment: the same share of
/// the points it earned is clawed back (into debt where the member has
/// already spent them), the same share of the points it redeemed is given
/// back, and the same share of its growth removed. Shares are cumulative, so
/// refunds in parts add up exactly to a full refund.
pub(crate) async fn refund(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &mut MemberRow,
    op_id: i64,
    order: &OrderId,
    amount: Money,
) -> Result<RefundReceipt> {
    if amount.fen() <= 0 {
        return Err(LoyaltyError::InvalidInput {
            what: "refund amount",
            value: amount.to_string(),
            reason: "must be positive",
        });
    }
    let row = load_order(conn, order)
        .await?
        .ok_or_else(|| LoyaltyError::NotFound { what: "order", id: order.to_string() })?;
    check_owner(&row, order, &member.user)?;
    if row.paid_at_us.is_none() || row.paid_fen == 0 {
        return Err(LoyaltyError::Conflict {
            what: "order",
            id: order.to_string(),
            reason: "has no cash payment".into(),
        });
    }
    let total = row.refunded_fen + amount.fen();
    if total > row.paid_fen {
        return Err(LoyaltyError::Conflict {
            what: "order",
            id: order.to_string(),
            reason: format!(
                "refund {amount} exceeds the {} left to refund",
                Money::from_fen(row.paid_fen - row.refunded_fen)
            ),
        });
    }
    let claw = share(row.earned, total, row.paid_fen) - row.clawed;
    let restore = share(row.redeemed, total, row.paid_fen) - row.restored;
    let growth = share(row.growth, total, row.paid_fen) - row.growth_reversed;
    let mut posting = Posting::default();
    let (_, into_debt, _) =
        ledger::debit(conn, &mut posting, member, op_id, &Account::ShopClawback, claw, true).await?;
    let expires_at_us = ledger::lot_expiry_us(env.config.points.expiry, &env.shop, env.now);
    ledger::credit(
        conn,
        &mut posting,
        member,
        op_id,
        &Account::ShopRedeemed,
        &[Taken { points: restore, expires_at_us }],
    )
    .await?;
    posting.write(conn, op_id).await?;
    sql::query(
        "UPDATE loyalty_orders SET refunded_fen = $1, clawed_points = clawed_points + $2, \
         restored_points = restored_points + $3, growth_reversed = growth_reversed + $4 WHERE order_id = $5",
    )
    .bind(total)
    .bind(claw)
    .bind(restore)
    .bind(growth)
    .bind(order.as_str())
    .execute(&mut *conn)
    .await?;
    tiers::add_growth(conn, env, member, Some(op_id), -growth).await?;
    Ok(RefundReceipt {
        operation: op_id,
        refunded_total: Money::from_fen(total),
        clawed_back: Points::new(claw),
        into_debt: Points::new(into_debt),
        restored: Points::new(restore),
        growth_reversed: growth,
        available: Points::new(member.available),
        owed: Points::new(-member.debt),
    })
}

/// Moves points between members; the receiver's lots keep the sender's
/// expiry dates.
pub(crate) async fn transfer(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    from: &mut MemberRow,
    to: &mut MemberRow,
    op_id: i64,
    points: Points,
) -> Result<TransferReceipt> {
    if !env.config.points.transfers_enabled {
        return Err(LoyaltyError::TransfersDisabled);
    }
    let points = positive_points(points)?;
    if from.available < points {
        return Err(LoyaltyError::InsufficientPoints {
            user: from.user.to_string(),
            requested: Points::new(points),
            available: Points::new(from.available),
        });
    }
    let taken = ledger::take_fifo(conn, &from.user, op_id, points).await?;
    from.available -= points;
    let mut posting = Posting::default();
    let source = Account::MemberAvailable(from.user.clone());
    let (repaid, _) = ledger::credit(conn, &mut posting, to, op_id, &source, &taken).await?;
    posting.write(conn, op_id).await?;
    Ok(TransferReceipt { operation: op_id, points: Points::new(points), repaid_debt: Points::new(repaid) })
}

/// A member's balance, read outside the writer.
pub(crate) async fn balance(conn: &mut Conn<'_>, user: &UserId, now_us: i64) -> Result<PointsBalance> {
    let owed: i64 = sql::query("SELECT debt FROM loyalty_members WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?
        .map_or(0, |d| -d);
    let available: i64 = sql::query(
        "SELECT CAST(COALESCE(SUM(remaining), 0) AS BIGINT) FROM loyalty_lots \
         WHERE user_id = $1 AND remaining > 0 AND expires_at_us > $2",
    )
    .bind(user.as_str())
    .bind(now_us)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let next = sql::query(
        "SELECT expires_at_us, CAST(SUM(remaining) AS BIGINT) FROM loyalty_lots \
         WHERE user_id = $1 AND remaining > 0 AND expires_at_us > $2 AND expires_at_us < $3 \
         GROUP BY expires_at_us ORDER BY expires_at_us LIMIT 1",
    )
    .bind(user.as_str())
    .bind(now_us)
    .bind(crate::db::NEVER_US)
    .fetch_optional(&mut *conn)
    .await?;
    let next_expiry = match next {
        Some(r) => Some((crate::db::from_us(r.try_get(0)?)?, Points::new(r.try_get(1)?))),
        None => None,
    };
    Ok(PointsBalance { user: user.clone(), available: Points::new(available), owed: Points::new(owed), next_expiry })
}
