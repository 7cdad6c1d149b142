//! Coupon operations inside one transaction. Template counters are changed
//! by conditional updates (`… WHERE issued_count < quantity_cap`) and coupon
//! states by compare-and-set (`… WHERE state = 'available'`), so caps,
//! budgets and single use hold on every backend; every state change is
//! appended to `loyalty_coupon_events`.

use std::collections::{BTreeMap, HashMap};

use chrono::Days;
use cohort_model::{Money, OrderId, UserId};

use super::{
    discount, Audience, Checkout, CheckoutQuote, Coupon, CouponId, CouponState, CouponTemplate, OrderCoupons,
    TemplateId, Validity,
};
use crate::command::Env;
use crate::db::{from_us, to_us};
use crate::ledger::MemberRow;
use crate::sql::{self, Conn, Row};
use crate::{LoyaltyError, NotApplicable};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

const COUPON_COLUMNS: &str =
    "id, template_id, user_id, state, order_id, face_fen, discount_fen, issued_at_us, valid_from_us, expires_at_us";

fn coupon_from_row(r: &Row) -> Result<Coupon> {
    Ok(Coupon {
        id: CouponId(r.try_get(0)?),
        template: TemplateId::new(r.try_get::<String, _>(1)?).map_err(LoyaltyError::corrupt)?,
        user: UserId::new(r.try_get::<String, _>(2)?).map_err(LoyaltyError::corrupt)?,
        state: CouponState::from_parts(&r.try_get::<String, _>(3)?, r.try_get(4)?)?,
        face_value: Money::from_fen(r.try_get(5)?),
        discount: r.try_get::<Option<i64>, _>(6)?.map(Money::from_fen),
        issued_at: from_us(r.try_get(7)?)?,
        valid_from: from_us(r.try_get(8)?)?,
        expires_at: from_us(r.try_get(9)?)?,
    })
}

fn not_applicable(coupon: impl ToString, reason: NotApplicable) -> LoyaltyError {
    LoyaltyError::CouponNotApplicable { coupon: coupon.to_string(), reason }
}

/// Stores a template; the same definition again is a no-op, a different one
/// under the same id is refused. Returns whether it was new.
pub(crate) async fn create_template(conn: &mut Conn<'_>, env: &Env<'_>, t: &CouponTemplate) -> Result<bool> {
    t.validate()?;
    let spec = serde_json::to_string(t)?;
    let inserted = sql::query(
        "INSERT INTO loyalty_coupon_templates (id, spec, face_fen, quantity_cap, budget_fen, created_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
    )
    .bind(t.id.as_str())
    .bind(&spec)
    .bind(t.offer.face_value().map_or(0, Money::fen))
    .bind(t.quantity_cap.map(|q| q.min(i64::MAX as u64) as i64))
    .bind(t.budget.map(Money::fen))
    .bind(env.now_us)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !inserted && load_template(conn, &t.id).await? != *t {
        return Err(LoyaltyError::Conflict {
            what: "coupon template",
            id: t.id.to_string(),
            reason: "already exists with a different definition".into(),
        });
    }
    Ok(inserted)
}

pub(crate) async fn load_template(conn: &mut Conn<'_>, id: &TemplateId) -> Result<CouponTemplate> {
    let row = sql::query("SELECT spec FROM loyalty_coupon_templates WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| LoyaltyError::NotFound { what: "coupon template", id: id.to_string() })?;
    Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?)
}

/// Whether the member has a paid order other than `except`.
async fn has_ordered(conn: &mut Conn<'_>, user: &UserId, except: Option<&OrderId>) -> Result<bool> {
    let except = except.map_or("", |o| o.as_str());
    let n: i64 = sql::query(
        "SELECT (SELECT COUNT(*) FROM loyalty_orders WHERE user_id = $1 AND paid_at_us IS NOT NULL AND order_id <> $2) \
         + (SELECT COUNT(*) FROM loyalty_coupon_orders WHERE user_id = $1 AND state = 'redeemed' AND order_id <> $2)",
    )
    .bind(user.as_str())
    .bind(except)
    .fetch_one(conn)
    .await?
    .try_get(0)?;
    Ok(n > 0)
}

async fn record_event(
    conn: &mut Conn<'_>,
    coupon: CouponId,
    op_id: Option<i64>,
    from: Option<&str>,
    to: &str,
    order: Option<&OrderId>,
    at_us: i64,
) -> Result<()> {
    sql::query(
        "INSERT INTO loyalty_coupon_events (coupon_id, op_id, from_state, to_state, order_id, at_us) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(coupon.0)
    .bind(op_id)
    .bind(from)
    .bind(to)
    .bind(order.map(|o| o.as_str()))
    .bind(at_us)
    .execute(conn)
    .await?;
    Ok(())
}

/// Issues one coupon of a template to a member.
pub(crate) async fn issue(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &MemberRow,
    op_id: i64,
    template_id: &TemplateId,
) -> Result<Coupon> {
    let t = load_template(conn, template_id).await?;
    match &t.audience {
        Audience::Everyone => {}
        Audience::NewCustomers => {
            if has_ordered(conn, &member.user, None).await? {
                return Err(not_applicable(template_id, NotApplicable::NewCustomersOnly));
            }
        }
        Audience::Tiers { tiers } => {
            if !tiers.contains(&member.tier) {
                let names: Vec<&str> = tiers.iter().map(|t| t.as_str()).collect();
                let reason = NotApplicable::WrongTier { tiers: names.join(","), tier: member.tier.to_string() };
                return Err(not_applicable(template_id, reason));
            }
        }
    }
    let (valid_from, expires_at) = match t.validity {
        Validity::FixedDates { from, until } => {
            let end = until.checked_add_days(Days::new(1)).unwrap_or(chrono::NaiveDate::MAX);
            (env.shop.start_of_day(from), env.shop.start_of_day(end))
        }
        Validity::DaysAfterIssue { days } => {
            let end =
                env.shop.date(env.now).checked_add_days(Days::new(u64::from(days))).unwrap_or(chrono::NaiveDate::MAX);
            (env.now, env.shop.start_of_day(end))
        }
    };
    if expires_at <= env.now {
        return Err(not_applicable(template_id, NotApplicable::Expired { at: expires_at.to_rfc3339() }));
    }
    let held: i64 = sql::query("SELECT COUNT(*) FROM loyalty_coupons WHERE user_id = $1 AND template_id = $2")
        .bind(member.user.as_str())
        .bind(template_id.as_str())
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if held >= i64::from(t.per_user_limit) {
        return Err(LoyaltyError::PerUserLimit {
            user: member.user.to_string(),
            template: template_id.to_string(),
            limit: i64::from(t.per_user_limit),
        });
    }
    let face = t.offer.face_value().map_or(0, Money::fen);
    let took = sql::query(
        "UPDATE loyalty_coupon_templates SET issued_count = issued_count + 1, reserved_fen = reserved_fen + face_fen \
         WHERE id = $1 AND (quantity_cap IS NULL OR issued_count < quantity_cap) \
         AND (budget_fen IS NULL OR reserved_fen + spent_fen + face_fen <= budget_fen)",
    )
    .bind(template_id.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if took != 1 {
        let r = sql::query(
            "SELECT issued_count, quantity_cap, reserved_fen + spent_fen, budget_fen FROM loyalty_coupon_templates \
             WHERE id = $1",
        )
        .bind(template_id.as_str())
        .fetch_one(&mut *conn)
        .await?;
        let (issued, cap): (i64, Option<i64>) = (r.try_get(0)?, r.try_get(1)?);
        if let Some(cap) = cap.filter(|c| issued >= *c) {
            return Err(LoyaltyError::QuantityExhausted { template: template_id.to_string(), cap });
        }
        let budget: Option<i64> = r.try_get(3)?;
        return Err(LoyaltyError::BudgetExhausted {
            template: template_id.to_string(),
            budget: Money::from_fen(budget.unwrap_or_default()).to_string(),
            committed: Money::from_fen(r.try_get(2)?).to_string(),
        });
    }
    let id: i64 = sql::query(
        "INSERT INTO loyalty_coupons (template_id, user_id, state, face_fen, issued_at_us, valid_from_us, \
         expires_at_us, issue_op_id) VALUES ($1, $2, 'available', $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(template_id.as_str())
    .bind(member.user.as_str())
    .bind(face)
    .bind(env.now_us)
    .bind(to_us(valid_from))
    .bind(to_us(expires_at))
    .bind(op_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    record_event(conn, CouponId(id), Some(op_id), None, "available", None, env.now_us).await?;
    Ok(Coupon {
        id: CouponId(id),
        template: template_id.clone(),
        user: member.user.clone(),
        state: CouponState::Available,
        face_value: Money::from_fen(face),
        discount: None,
        issued_at: env.now,
        valid_from,
        expires_at,
    })
}

/// Checks that the coupons can be used together on the checkout and prices
/// them. Reads only.
pub(crate) async fn evaluate(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    user: &UserId,
    checkout: &Checkout,
    ids: &[CouponId],
) -> Result<CheckoutQuote> {
    if ids.is_empty() {
        return Err(LoyaltyError::InvalidInput { what: "coupon list", value: String::new(), reason: "is empty" });
    }
    if let Some(line) = checkout.lines.iter().find(|l| l.amount.fen() < 0) {
        return Err(LoyaltyError::InvalidInput {
            what: "checkout line amount",
            value: line.amount.to_string(),
            reason: "must not be negative",
        });
    }
    let mut templates: HashMap<TemplateId, CouponTemplate> = HashMap::new();
    let mut goods_coupon: Option<CouponId> = None;
    let mut shipping_coupon: Option<CouponId> = None;
    let mut discounts = Vec::new();
    let (mut goods_off, mut shipping_off) = (Money::ZERO, Money::ZERO);
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(not_applicable(id, NotApplicable::Duplicate));
        }
        let sql = format!("SELECT {COUPON_COLUMNS} FROM loyalty_coupons WHERE id = $1");
        let row = sql::query(&sql)
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| LoyaltyError::NotFound { what: "coupon", id: id.to_string() })?;
        let coupon = coupon_from_row(&row)?;
        if coupon.user != *user {
            return Err(not_applicable(id, NotApplicable::NotOwner));
        }
        if coupon.state != CouponState::Available {
            return Err(not_applicable(id, NotApplicable::NotAvailable { state: coupon.state.name().into() }));
        }
        if env.now < coupon.valid_from {
            return Err(not_applicable(id, NotApplicable::NotYetValid { from: coupon.valid_from.to_rfc3339() }));
        }
        if env.now >= coupon.expires_at {
            return Err(not_applicable(id, NotApplicable::Expired { at: coupon.expires_at.to_rfc3339() }));
        }
        if !templates.contains_key(&coupon.template) {
            let t = load_template(conn, &coupon.template).await?;
            templates.insert(coupon.template.clone(), t);
        }
        let t = &templates[&coupon.template];
        if t.audience == Audience::NewCustomers && has_ordered(conn, user, Some(&checkout.order)).await? {
            return Err(not_applicable(id, NotApplicable::NewCustomersOnly));
        }
        let slot = if t.offer.is_shipping() { &mut shipping_coupon } else { &mut goods_coupon };
        if let Some(other) = slot {
            return Err(not_applicable(id, NotApplicable::Incompatible { other: other.0 }));
        }
        *slot = Some(*id);
        let off = discount(t, checkout).map_err(|reason| not_applicable(id, reason))?;
        if t.offer.is_shipping() {
            shipping_off += off;
        } else {
            goods_off += off;
        }
        discounts.push((*id, off));
    }
    let goods = checkout.goods();
    Ok(CheckoutQuote {
        order: checkout.order.clone(),
        discounts,
        goods,
        shipping: checkout.shipping,
        total_discount: goods_off + shipping_off,
        payable: goods - goods_off + checkout.shipping - shipping_off,
    })
}

/// Locks coupons on an order at checkout.
pub(crate) async fn lock(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &MemberRow,
    op_id: i64,
    checkout: &Checkout,
    ids: &[CouponId],
) -> Result<CheckoutQuote> {
    let existing = sql::query("SELECT state, user_id FROM loyalty_coupon_orders WHERE order_id = $1")
        .bind(checkout.order.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(r) = existing {
        let state: String = r.try_get(0)?;
        if state != "released" {
            return Err(LoyaltyError::Conflict {
                what: "order",
                id: checkout.order.to_string(),
                reason: format!("already has coupons {state}"),
            });
        }
    }
    let quote = evaluate(conn, env, &member.user, checkout, ids).await?;
    for (id, off) in &quote.discounts {
        let moved = sql::query(
            "UPDATE loyalty_coupons SET state = 'locked', order_id = $1, discount_fen = $2 \
             WHERE id = $3 AND state = 'available'",
        )
        .bind(checkout.order.as_str())
        .bind(off.fen())
        .bind(id.0)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(not_applicable(id, NotApplicable::NotAvailable { state: "taken concurrently".into() }));
        }
        record_event(conn, *id, Some(op_id), Some("available"), "locked", Some(&checkout.order), env.now_us).await?;
    }
    sql::query(
        "INSERT INTO loyalty_coupon_orders (order_id, user_id, state, goods_fen, shipping_fen, discount_fen, \
         lock_op_id, locked_at_us) VALUES ($1, $2, 'locked', $3, $4, $5, $6, $7) ON CONFLICT (order_id) DO UPDATE \
         SET state = 'locked', goods_fen = excluded.goods_fen, shipping_fen = excluded.shipping_fen, \
         discount_fen = excluded.discount_fen, lock_op_id = excluded.lock_op_id, \
         locked_at_us = excluded.locked_at_us, closed_at_us = NULL",
    )
    .bind(checkout.order.as_str())
    .bind(member.user.as_str())
    .bind(quote.goods.fen())
    .bind(quote.shipping.fen())
    .bind(quote.total_discount.fen())
    .bind(op_id)
    .bind(env.now_us)
    .execute(&mut *conn)
    .await?;
    Ok(quote)
}

async fn locked_order(conn: &mut Conn<'_>, member: &MemberRow, order: &OrderId) -> Result<()> {
    let r = sql::query("SELECT state, user_id FROM loyalty_coupon_orders WHERE order_id = $1")
        .bind(order.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| LoyaltyError::NotFound { what: "order with coupons", id: order.to_string() })?;
    let (state, user): (String, String) = (r.try_get(0)?, r.try_get(1)?);
    if user != member.user.as_str() {
        return Err(LoyaltyError::Conflict {
            what: "order",
            id: order.to_string(),
            reason: format!("belongs to member {user}, not {}", member.user),
        });
    }
    if state != "locked" {
        return Err(LoyaltyError::Conflict {
            what: "order",
            id: order.to_string(),
            reason: format!("has no locked coupons (coupons {state})"),
        });
    }
    Ok(())
}

async fn order_coupons(conn: &mut Conn<'_>, order: &OrderId) -> Result<Vec<(i64, String, i64, i64, i64)>> {
    let rows = sql::query(
        "SELECT id, template_id, face_fen, COALESCE(discount_fen, 0), expires_at_us FROM loyalty_coupons \
         WHERE order_id = $1 AND state = 'locked' ORDER BY id",
    )
    .bind(order.as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?))).collect()
}

/// Marks an order's locked coupons redeemed (the order was paid).
pub(crate) async fn redeem(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &MemberRow,
    op_id: i64,
    order: &OrderId,
) -> Result<OrderCoupons> {
    locked_order(conn, member, order).await?;
    let mut out = OrderCoupons { order: order.clone(), coupons: Vec::new(), discount: Money::ZERO };
    let mut counters = TemplateCounters::default();
    for (id, template, face, off, _) in order_coupons(conn, order).await? {
        let moved = sql::query(
            "UPDATE loyalty_coupons SET state = 'redeemed', closed_at_us = $1 WHERE id = $2 AND state = 'locked'",
        )
        .bind(env.now_us)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved != 1 {
            return Err(LoyaltyError::corrupt(format!("coupon {id} left the locked state during redeem")));
        }
        counters.add(template, face, off);
        record_event(conn, CouponId(id), Some(op_id), Some("locked"), "redeemed", Some(order), env.now_us).await?;
        out.coupons.push((CouponId(id), CouponState::Redeemed { order: order.clone() }));
        out.discount += Money::from_fen(off);
    }
    counters.write(conn).await?;
    close_order(conn, order, "redeemed", env.now_us).await?;
    Ok(out)
}

async fn close_order(conn: &mut Conn<'_>, order: &OrderId, state: &str, at_us: i64) -> Result<()> {
    sql::query("UPDATE loyalty_coupon_orders SET state = $1, closed_at_us = $2 WHERE order_id = $3")
        .bind(state)
        .bind(at_us)
        .bind(order.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives an order's locked coupons back (the order was cancelled); coupons
/// whose validity ended meanwhile become expired.
pub(crate) async fn release(
    conn: &mut Conn<'_>,
    env: &Env<'_>,
    member: &MemberRow,
    op_id: i64,
    order: &OrderId,
) -> Result<OrderCoupons> {
    locked_order(conn, member, order).await?;
    let mut out = OrderCoupons { order: order.clone(), coupons: Vec::new(), discount: Money::ZERO };
    let mut counters = TemplateCounters::default();
    for (id, template, face, off, expires_at_us) in order_coupons(conn, order).await? {
        let expired = expires_at_us <= env.now_us;
        let to = if expired { "expired" } else { "available" };
        sql::query(
            "UPDATE loyalty_coupons SET state = $1, order_id = NULL, discount_fen = NULL, closed_at_us = $2 \
             WHERE id = $3 AND state = 'locked'",
        )
        .bind(to)
        .bind(expired.then_some(env.now_us))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        if expired {
            counters.add(template, face, 0);
        }
        record_event(conn, CouponId(id), Some(op_id), Some("locked"), to, Some(order), env.now_us).await?;
        let state = if expired { CouponState::Expired } else { CouponState::Available };
        out.coupons.push((CouponId(id), state));
        out.discount += Money::from_fen(off);
    }
    counters.write(conn).await?;
    close_order(conn, order, "released", env.now_us).await?;
    Ok(out)
}

/// Changes to template counters, written once per template in template id
/// order, so transactions touching several templates never deadlock.
#[derive(Default)]
struct TemplateCounters(BTreeMap<String, (i64, i64)>);

impl TemplateCounters {
    /// A coupon of `template` stops reserving `face` and spends `spent`.
    fn add(&mut self, template: String, face: i64, spent: i64) {
        let e = self.0.entry(template).or_default();
        e.0 += face;
        e.1 += spent;
    }

    async fn write(self, conn: &mut Conn<'_>) -> Result<()> {
        for (template, (face, spent)) in self.0 {
            sql::query(
                "UPDATE loyalty_coupon_templates SET reserved_fen = reserved_fen - $1, spent_fen = spent_fen + $2 \
                 WHERE id = $3",
            )
            .bind(face)
            .bind(spent)
            .bind(&template)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }
}

/// Expires up to `limit` available coupons whose validity has ended.
/// Returns how many, and whether more are due.
pub(crate) async fn expire(conn: &mut Conn<'_>, env: &Env<'_>, limit: i64) -> Result<(u64, bool)> {
    let rows = sql::query(
        "SELECT id, template_id, face_fen FROM loyalty_coupons WHERE state = 'available' AND expires_at_us <= $1 \
         ORDER BY expires_at_us, id LIMIT $2",
    )
    .bind(env.now_us)
    .bind(limit + 1)
    .fetch_all(&mut *conn)
    .await?;
    let more = rows.len() as i64 > limit;
    let mut n = 0;
    let mut counters = TemplateCounters::default();
    for r in rows.iter().take(limit as usize) {
        let (id, template, face): (i64, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let moved = sql::query(
            "UPDATE loyalty_coupons SET state = 'expired', closed_at_us = $1 WHERE id = $2 AND state = 'available'",
        )
        .bind(env.now_us)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved == 1 {
            counters.add(template, face, 0);
            record_event(conn, CouponId(id), None, Some("available"), "expired", None, env.now_us).await?;
            n += 1;
        }
    }
    counters.write(conn).await?;
    Ok((n, more))
}

/// A member's coupons, newest first, with states as stored (an available
/// coupon past its expiry is reported expired).
pub(crate) async fn list(conn: &mut Conn<'_>, user: &UserId, now_us: i64) -> Result<Vec<Coupon>> {
    let sql = format!("SELECT {COUPON_COLUMNS} FROM loyalty_coupons WHERE user_id = $1 ORDER BY id DESC");
    let rows = sql::query(&sql).bind(user.as_str()).fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            let mut c = coupon_from_row(r)?;
            if c.state == CouponState::Available && to_us(c.expires_at) <= now_us {
                c.state = CouponState::Expired;
            }
            Ok(c)
        })
        .collect()
}
