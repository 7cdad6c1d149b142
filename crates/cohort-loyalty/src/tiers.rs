//! Membership tiers decided by growth value.
//!
//! The growth that counts is the growth of the rolling review period (365
//! shop-local days by default, refunds subtracted). A member is upgraded the
//! moment that growth reaches a higher tier's threshold. Downgrades happen
//! only at review: when the review date passes and the period's growth no
//! longer holds the tier, a grace period starts; growth that requalifies
//! within the grace keeps the tier, otherwise the member drops to the tier
//! the growth qualifies for when the grace ends. Every change is recorded in
//! the tier history.

use crate::sql::{self, Conn};
use chrono::{DateTime, Days, Utc};
use cohort_model::UserId;
use serde::{Deserialize, Serialize};

use crate::command::Env;
use crate::db::{self, from_us, to_us};
use crate::ledger::{self, MemberRow};
use crate::{LoyaltyError, MemberTier, TierBenefits};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// Why a tier changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierChangeReason {
    /// Growth reached a higher threshold.
    Upgrade,
    /// A review found too little growth and the grace period ended.
    Downgrade,
}

impl TierChangeReason {
    fn as_str(self) -> &'static str {
        match self {
            TierChangeReason::Upgrade => "upgrade",
            TierChangeReason::Downgrade => "downgrade",
        }
    }
}

/// One entry of a member's tier history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChange {
    /// The member.
    pub user: UserId,
    /// Tier before.
    pub from: MemberTier,
    /// Tier after.
    pub to: MemberTier,
    /// Why.
    pub reason: TierChangeReason,
    /// The review-period growth at the time.
    pub growth: i64,
    /// When.
    pub at: DateTime<Utc>,
}

/// A member's standing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The member.
    pub user: UserId,
    /// Current tier.
    pub tier: MemberTier,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Growth over the current review period.
    pub growth: i64,
    /// The next tier and the growth still missing for it.
    pub next: Option<(MemberTier, i64)>,
    /// When the tier is next reviewed (none for normal members).
    pub review_at: Option<DateTime<Utc>>,
    /// End of the grace period after a failed review, if one is running.
    pub grace_until: Option<DateTime<Utc>>,
    /// What the tier gives.
    pub benefits: TierBenefits,
}

/// What a tier review sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierReview {
    /// Members whose review was due.
    pub reviewed: u64,
    /// Kept their tier for another period.
    pub renewed: u64,
    /// Fell short and entered the grace period.
    pub grace_started: u64,
    /// Were downgraded.
    pub downgraded: u64,
}

/// Growth over the review period ending on the current shop-local day.
pub(crate) async fn window_growth(conn: &mut Conn<'_>, env: &Env<'_>, user: &UserId) -> Result<i64> {
    let period = i64::from(env.config.tiers.review_period_days);
    let growth: i64 = sql::query(
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM loyalty_growth_days WHERE user_id = $1 AND day > $2",
    )
    .bind(user.as_str())
    .bind(env.day - period)
    .fetch_one(conn)
    .await?
    .try_get(0)?;
    Ok(growth.max(0))
}

/// The shop-local midnight `days` days after now.
fn days_from_now(env: &Env<'_>, days: u32) -> i64 {
    let date = env.shop.date(env.now).checked_add_days(Days::new(u64::from(days))).unwrap_or(chrono::NaiveDate::MAX);
    to_us(env.shop.start_of_day(date))
}

/// Adds growth for today and upgrades at once if it qualifies; growth that
/// brings a member in grace back to their tier's threshold ends the grace.
pub(crate) async fn add_growth(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &mut MemberRow,
    op_id: Option<i64>,
    amount: i64,
) -> Result<Option<TierChange>> {
    if amount == 0 {
        return Ok(None);
    }
    sql::query(
        "INSERT INTO loyalty_growth_days (user_id, day, amount) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, day) DO UPDATE SET amount = loyalty_growth_days.amount + excluded.amount",
    )
    .bind(member.user.as_str())
    .bind(env.day)
    .bind(amount)
    .execute(&mut *conn)
    .await?;
    if amount < 0 || (member.tier == MemberTier::Diamond && member.grace_until_us.is_none()) {
        // Removing growth never upgrades, and nothing is above diamond.
        return Ok(None);
    }
    let growth = window_growth(conn, env, &member.user).await?;
    let qualified = env.config.tiers.tier_for(growth);
    if qualified > member.tier {
        return change_tier(conn, env, member, op_id, qualified, TierChangeReason::Upgrade, growth).await.map(Some);
    }
    if qualified == member.tier && member.grace_until_us.is_some() {
        member.grace_until_us = None;
        member.review_at_us = Some(days_from_now(env, env.config.tiers.review_period_days));
        store_review(conn, member).await?;
    }
    Ok(None)
}

async fn store_review(conn: &mut Conn<'_>, member: &MemberRow) -> Result<()> {
    sql::query(
        "UPDATE loyalty_members SET tier = $1, tier_since_us = $2, review_at_us = $3, grace_until_us = $4 \
         WHERE user_id = $5",
    )
    .bind(member.tier.as_str())
    .bind(member.tier_since_us)
    .bind(member.review_at_us)
    .bind(member.grace_until_us)
    .bind(member.user.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

async fn change_tier(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &mut MemberRow,
    op_id: Option<i64>,
    to: MemberTier,
    reason: TierChangeReason,
    growth: i64,
) -> Result<TierChange> {
    let change = TierChange { user: member.user.clone(), from: member.tier, to, reason, growth, at: env.now };
    member.tier = to;
    member.tier_since_us = env.now_us;
    member.grace_until_us = None;
    member.review_at_us = (to != MemberTier::Normal).then(|| days_from_now(env, env.config.tiers.review_period_days));
    store_review(conn, member).await?;
    sql::query(
        "INSERT INTO loyalty_tier_history (user_id, from_tier, to_tier, reason, growth, at_us, op_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(member.user.as_str())
    .bind(change.from.as_str())
    .bind(to.as_str())
    .bind(reason.as_str())
    .bind(growth)
    .bind(env.now_us)
    .bind(op_id)
    .execute(conn)
    .await?;
    Ok(change)
}

/// Reviews up to `limit` members whose review date or grace end has passed.
pub(crate) async fn review(conn: &mut Conn<'_>, env: &Env<'_>, limit: i64) -> Result<(TierReview, bool)> {
    let rows = sql::query(
        "SELECT user_id FROM loyalty_members WHERE (review_at_us <= $1 AND grace_until_us IS NULL) \
         OR grace_until_us <= $1 ORDER BY user_id LIMIT $2",
    )
    .bind(env.now_us)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut summary = TierReview::default();
    for row in rows.iter().take(limit as usize) {
        let user = UserId::new(row.try_get::<String, _>(0)?).map_err(LoyaltyError::corrupt)?;
        let mut member = ledger::lock_member(conn, &user, env.now_us).await?;
        summary.reviewed += 1;
        let growth = window_growth(conn, env, &user).await?;
        let qualified = env.config.tiers.tier_for(growth);
        let tiers = &env.config.tiers;
        if qualified > member.tier {
            change_tier(conn, env, &mut member, None, qualified, TierChangeReason::Upgrade, growth).await?;
            summary.renewed += 1;
        } else if qualified == member.tier {
            member.review_at_us = Some(days_from_now(env, tiers.review_period_days));
            member.grace_until_us = None;
            store_review(conn, &member).await?;
            summary.renewed += 1;
        } else if member.grace_until_us.is_none() && tiers.grace_days > 0 {
            member.grace_until_us = Some(days_from_now(env, tiers.grace_days));
            store_review(conn, &member).await?;
            summary.grace_started += 1;
        } else {
            change_tier(conn, env, &mut member, None, qualified, TierChangeReason::Downgrade, growth).await?;
            summary.downgraded += 1;
        }
    }
    Ok((summary, more))
}

/// A member's standing, read outside the writer.
pub(crate) async fn membership(conn: &mut Conn<'_>, env: &Env<'_>, user: &UserId) -> Result<Membership> {
    let row =
        sql::query("SELECT tier, tier_since_us, review_at_us, grace_until_us FROM loyalty_members WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let (tier, since, review_at, grace_until) = match row {
        Some(r) => (
            r.try_get::<String, _>(0)?.parse::<MemberTier>().map_err(LoyaltyError::corrupt)?,
            from_us(r.try_get(1)?)?,
            r.try_get::<Option<i64>, _>(2)?.map(from_us).transpose()?,
            r.try_get::<Option<i64>, _>(3)?.map(from_us).transpose()?,
        ),
        None => (MemberTier::Normal, env.now, None, None),
    };
    let growth = window_growth(conn, env, user).await?;
    let next =
        MemberTier::ALL.into_iter().find(|t| *t > tier).map(|t| (t, (env.config.tiers.threshold(t) - growth).max(0)));
    Ok(Membership {
        user: user.clone(),
        tier,
        since,
        growth,
        next,
        review_at,
        grace_until,
        benefits: env.config.tiers.benefits.of(tier).clone(),
    })
}

/// A member's tier history, oldest first.
pub(crate) async fn history(conn: &mut Conn<'_>, user: &UserId) -> Result<Vec<TierChange>> {
    let rows = sql::query(
        "SELECT from_tier, to_tier, reason, growth, at_us FROM loyalty_tier_history WHERE user_id = $1 ORDER BY id",
    )
    .bind(user.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let reason = match r.try_get::<String, _>(2)?.as_str() {
                "upgrade" => TierChangeReason::Upgrade,
                "downgrade" => TierChangeReason::Downgrade,
                other => return Err(LoyaltyError::corrupt(format!("tier change reason {other:?}"))),
            };
            Ok(TierChange {
                user: user.clone(),
                from: r.try_get::<String, _>(0)?.parse().map_err(LoyaltyError::corrupt)?,
                to: r.try_get::<String, _>(1)?.parse().map_err(LoyaltyError::corrupt)?,
                reason,
                growth: r.try_get(3)?,
                at: db::from_us(r.try_get(4)?)?,
            })
        })
        .collect()
}
