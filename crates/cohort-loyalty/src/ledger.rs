//! The ledger primitives every operation is built from, all inside the
//! caller's transaction: locking a member row, recording an operation under
//! its idempotency key, balanced postings, and points lots consumed
//! first-expiring-first.

use std::collections::BTreeMap;

use crate::sql::{self, Conn};
use cohort_model::UserId;

use crate::db::{self};
use crate::{Account, IdempotencyKey, LoyaltyError, MemberTier, Points};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// A member row as locked at the start of an operation.
#[derive(Debug, Clone)]
pub(crate) struct MemberRow {
    pub user: UserId,
    pub available: i64,
    pub debt: i64,
    pub tier: MemberTier,
    pub tier_since_us: i64,
    pub review_at_us: Option<i64>,
    pub grace_until_us: Option<i64>,
    /// Never later than the earliest expiry of the member's open lots.
    pub next_expiry_us: Option<i64>,
}

/// Creates the member if new and takes its row lock (PostgreSQL) by always
/// updating it; returns the row. Every operation locks its members first, in
/// id order, so operations on one member are serialised on every backend.
pub(crate) async fn lock_member(conn: &mut Conn<'_>, user: &UserId, now_us: i64) -> Result<MemberRow> {
    let row = sql::query(
        "INSERT INTO loyalty_members (user_id, tier, tier_since_us, created_at_us) VALUES ($1, 'normal', $2, $2) \
         ON CONFLICT (user_id) DO UPDATE SET version = loyalty_members.version + 1 \
         RETURNING available, debt, tier, tier_since_us, review_at_us, grace_until_us, next_expiry_us",
    )
    .bind(user.as_str())
    .bind(now_us)
    .fetch_one(conn)
    .await?;
    Ok(MemberRow {
        user: user.clone(),
        available: row.try_get(0)?,
        debt: row.try_get(1)?,
        tier: row.try_get::<String, _>(2)?.parse().map_err(LoyaltyError::corrupt)?,
        tier_since_us: row.try_get(3)?,
        review_at_us: row.try_get(4)?,
        grace_until_us: row.try_get(5)?,
        next_expiry_us: row.try_get(6)?,
    })
}

/// What an operation row says about itself.
pub(crate) struct NewOp<'a> {
    pub key: &'a str,
    pub kind: &'a str,
    pub user: Option<&'a UserId>,
    pub day: i64,
    pub at_us: i64,
    pub payload: &'a str,
}

/// Records a new operation; `None` if the key is already taken.
pub(crate) async fn insert_op(conn: &mut Conn<'_>, op: &NewOp<'_>) -> Result<Option<i64>> {
    let row = sql::query(
        "INSERT INTO loyalty_ops (idem_key, kind, user_id, day, at_us, payload) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (idem_key) DO NOTHING RETURNING id",
    )
    .bind(op.key)
    .bind(op.kind)
    .bind(op.user.map(|u| u.as_str()))
    .bind(op.day)
    .bind(op.at_us)
    .bind(op.payload)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// The payload and stored result of an earlier operation with this key.
pub(crate) async fn existing_op(conn: &mut Conn<'_>, key: &IdempotencyKey) -> Result<(String, String)> {
    let row = sql::query("SELECT payload, result FROM loyalty_ops WHERE idem_key = $1")
        .bind(key.as_str())
        .fetch_one(conn)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Stores an operation's result (and the points it awarded, for daily caps).
pub(crate) async fn finish_op(conn: &mut Conn<'_>, op_id: i64, points: i64, result: &str) -> Result<()> {
    sql::query("UPDATE loyalty_ops SET points = $1, result = $2 WHERE id = $3")
        .bind(points)
        .bind(result)
        .bind(op_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The balanced entries of one operation, built in memory and written at
/// once. Entries only come in pairs (a debit and a credit of the same
/// amount), so every posting sums to zero by construction.
#[derive(Debug, Default)]
pub(crate) struct Posting {
    entries: Vec<(String, i64)>,
    /// Changes to cached member balances: (available, debt), and the
    /// earliest expiry of lots opened.
    deltas: BTreeMap<UserId, (i64, i64, Option<i64>)>,
}

impl Posting {
    /// Moves `points` from one account to another (nothing if zero).
    pub fn transfer(&mut self, from: &Account, to: &Account, points: i64) {
        debug_assert!(points >= 0, "transfers move a non-negative amount");
        if points == 0 {
            return;
        }
        self.push(from, -points);
        self.push(to, points);
    }

    fn push(&mut self, account: &Account, amount: i64) {
        match account {
            Account::MemberAvailable(u) => self.deltas.entry(u.clone()).or_default().0 += amount,
            Account::MemberDebt(u) => self.deltas.entry(u.clone()).or_default().1 += amount,
            _ => {}
        }
        self.entries.push((account.to_string(), amount));
    }

    /// Notes a lot opened for `user`, so the member's next expiry is kept.
    fn opened_lot(&mut self, user: &UserId, expires_at_us: i64) {
        let next = &mut self.deltas.entry(user.clone()).or_default().2;
        *next = Some(next.map_or(expires_at_us, |n: i64| n.min(expires_at_us)));
    }

    /// Writes the entries and applies the member balance changes.
    pub async fn write(self, conn: &mut Conn<'_>, op_id: i64) -> Result<()> {
        debug_assert_eq!(self.entries.iter().map(|e| e.1).sum::<i64>(), 0);
        for chunk in self.entries.chunks(100) {
            let mut sql = String::from("INSERT INTO loyalty_entries (op_id, account, amount) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3));
            }
            let mut q = sql::query(&sql).bind(op_id);
            for (account, amount) in chunk {
                q = q.bind(account.as_str()).bind(*amount);
            }
            q.execute(&mut *conn).await?;
        }
        for (user, (available, debt, next_expiry)) in self.deltas {
            let sql = match next_expiry {
                None if available == 0 && debt == 0 => continue,
                None => "UPDATE loyalty_members SET available = available + $1, debt = debt + $2 WHERE user_id = $3",
                Some(_) => {
                    "UPDATE loyalty_members SET available = available + $1, debt = debt + $2, next_expiry_us = \
                     CASE WHEN next_expiry_us IS NULL OR next_expiry_us > $4 THEN $4 ELSE next_expiry_us END \
                     WHERE user_id = $3"
                }
            };
            let mut q = sql::query(sql).bind(available).bind(debt).bind(user.as_str());
            if let Some(next) = next_expiry {
                q = q.bind(next);
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// A slice of one lot taken by a debit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Taken {
    pub points: i64,
    pub expires_at_us: i64,
}

/// Takes `points` from the member's open lots, first-expiring-first (ties
/// by lot id), recording each move. The caller has already expired due lots
/// and checked the balance, so running short is corruption.
pub(crate) async fn take_fifo(conn: &mut Conn<'_>, user: &UserId, op_id: i64, points: i64) -> Result<Vec<Taken>> {
    let mut left = points;
    let mut taken = Vec::new();
    while left > 0 {
        let rows = sql::query(
            "SELECT id, remaining, expires_at_us FROM loyalty_lots WHERE user_id = $1 AND remaining > 0 \
             ORDER BY expires_at_us, id LIMIT 32",
        )
        .bind(user.as_str())
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Err(LoyaltyError::corrupt(format!(
                "member {user} has {left} points fewer in lots than on account"
            )));
        }
        for row in rows {
            let (id, remaining, expires_at_us): (i64, i64, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let take = remaining.min(left);
            take_from_lot(conn, op_id, id, take).await?;
            taken.push(Taken { points: take, expires_at_us });
            left -= take;
            if left == 0 {
                break;
            }
        }
    }
    Ok(taken)
}

/// Takes `points` from one lot and records the move.
pub(crate) async fn take_from_lot(conn: &mut Conn<'_>, op_id: i64, lot_id: i64, points: i64) -> Result<()> {
    let done = sql::query("UPDATE loyalty_lots SET remaining = remaining - $1 WHERE id = $2 AND remaining >= $1")
        .bind(points)
        .bind(lot_id)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Err(LoyaltyError::corrupt(format!("lot {lot_id} has fewer than {points} points left")));
    }
    sql::query("INSERT INTO loyalty_lot_moves (op_id, lot_id, points) VALUES ($1, $2, $3)")
        .bind(op_id)
        .bind(lot_id)
        .bind(points)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Opens a lot of freshly credited points.
pub(crate) async fn open_lot(
    conn: &mut Conn<'_>,
    user: &UserId,
    op_id: i64,
    points: i64,
    expires_at_us: i64,
) -> Result<()> {
    sql::query(
        "INSERT INTO loyalty_lots (user_id, op_id, points, remaining, expires_at_us) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(user.as_str())
    .bind(op_id)
    .bind(points)
    .bind(expires_at_us)
    .execute(conn)
    .await?;
    Ok(())
}

/// Credits a member `points` from `source`: debt is repaid first, the rest
/// becomes spendable in lots with the given expiries (in order). Returns
/// `(repaid, made_available)`. `member` is updated in memory.
pub(crate) async fn credit(
    conn: &mut Conn<'_>,
    posting: &mut Posting,
    member: &mut MemberRow,
    op_id: i64,
    source: &Account,
    parts: &[Taken],
) -> Result<(i64, i64)> {
    let mut repaid = 0;
    let mut available = 0;
    for part in parts {
        let repay = part.points.min(-member.debt);
        if repay > 0 {
            posting.transfer(source, &Account::MemberDebt(member.user.clone()), repay);
            member.debt += repay;
            repaid += repay;
        }
        let rest = part.points - repay;
        if rest > 0 {
            posting.transfer(source, &Account::MemberAvailable(member.user.clone()), rest);
            open_lot(conn, &member.user, op_id, rest, part.expires_at_us).await?;
            posting.opened_lot(&member.user, part.expires_at_us);
            member.available += rest;
            available += rest;
        }
    }
    Ok((repaid, available))
}

/// Debits up to `points` of spendable points (FIFO) into `sink`, and the rest
/// into debt if `allow_debt`; otherwise refuses when short. Returns
/// `(from_available, into_debt, taken lots)`.
pub(crate) async fn debit(
    conn: &mut Conn<'_>,
    posting: &mut Posting,
    member: &mut MemberRow,
    op_id: i64,
    sink: &Account,
    points: i64,
    allow_debt: bool,
) -> Result<(i64, i64, Vec<Taken>)> {
    let from_available = points.min(member.available);
    if from_available < points && !allow_debt {
        return Err(LoyaltyError::InsufficientPoints {
            user: member.user.to_string(),
            requested: Points::new(points),
            available: Points::new(member.available),
        });
    }
    let taken = take_fifo(conn, &member.user, op_id, from_available).await?;
    posting.transfer(&Account::MemberAvailable(member.user.clone()), sink, from_available);
    member.available -= from_available;
    let into_debt = points - from_available;
    posting.transfer(&Account::MemberDebt(member.user.clone()), sink, into_debt);
    member.debt -= into_debt;
    Ok((from_available, into_debt, taken))
}

/// Expires the member's lots that are due at `now_us` as one `expire`
/// operation (keyed by the first lot, which can expire only once), if the
/// member's next expiry says any may be due. Returns the points expired.
pub(crate) async fn expire_due_lots(conn: &mut Conn<'_>, member: &mut MemberRow, now_us: i64, day: i64) -> Result<i64> {
    if member.next_expiry_us.is_none_or(|next| next > now_us) {
        return Ok(0);
    }
    let rows = sql::query(
        "SELECT id, remaining FROM loyalty_lots WHERE user_id = $1 AND remaining > 0 AND expires_at_us <= $2 \
         ORDER BY expires_at_us, id",
    )
    .bind(member.user.as_str())
    .bind(now_us)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        refresh_next_expiry(conn, member).await?;
        return Ok(0);
    }
    let lots: Vec<(i64, i64)> = rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_>>()?;
    let key = format!("sys:expire-lot:{}", lots[0].0);
    let payload = serde_json::json!({ "op": "expire", "user": member.user, "lots": lots }).to_string();
    let op = NewOp { key: &key, kind: "expire", user: Some(&member.user), day, at_us: now_us, payload: &payload };
    let op_id = insert_op(conn, &op)
        .await?
        .ok_or_else(|| LoyaltyError::corrupt(format!("lot {} expired twice (key {key})", lots[0].0)))?;
    let mut posting = Posting::default();
    let mut total = 0;
    for (lot, remaining) in &lots {
        take_from_lot(conn, op_id, *lot, *remaining).await?;
        total += remaining;
    }
    posting.transfer(&Account::MemberAvailable(member.user.clone()), &Account::ShopExpired, total);
    posting.write(conn, op_id).await?;
    member.available -= total;
    let result = serde_json::json!({ "expired": total }).to_string();
    finish_op(conn, op_id, 0, &result).await?;
    refresh_next_expiry(conn, member).await?;
    Ok(total)
}

/// Recomputes the member's next expiry from their open lots.
async fn refresh_next_expiry(conn: &mut Conn<'_>, member: &mut MemberRow) -> Result<()> {
    let row = sql::query(
        "UPDATE loyalty_members SET next_expiry_us = (SELECT MIN(expires_at_us) FROM loyalty_lots \
         WHERE user_id = $1 AND remaining > 0) WHERE user_id = $1 RETURNING next_expiry_us",
    )
    .bind(member.user.as_str())
    .fetch_one(conn)
    .await?;
    member.next_expiry_us = row.try_get(0)?;
    Ok(())
}

/// Stored expiry of points earned at `now` under the configured rule.
pub(crate) fn lot_expiry_us(
    rule: crate::PointsExpiry,
    shop: &cohort_model::ShopTime,
    now: chrono::DateTime<chrono::Utc>,
) -> i64 {
    match rule.expiry_date(shop.date(now)) {
        Some(date) => db::to_us(shop.start_of_day(date)),
        None => db::NEVER_US,
    }
}
