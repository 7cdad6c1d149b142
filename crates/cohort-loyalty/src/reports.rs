//! Reports over a period: points usage (redeemed / issued, plan target
//! ≥ 30%) and coupon performance (issued, redeemed, redemption rate,
//! discount cost, GMV driven).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cohort_model::Money;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::Row;

use crate::coupons::TemplateId;
use crate::db::to_us;
use crate::{LoyaltyError, Points};

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// The plan's target for the points usage rate.
pub const POINTS_USAGE_TARGET: f64 = 0.30;

/// Points movements over `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsUsage {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Points earned.
    pub issued: Points,
    /// Points spent in orders and exchanges, less points restored by refunds.
    pub redeemed: Points,
    /// Points that expired.
    pub expired: Points,
    /// Points clawed back by refunds.
    pub clawed_back: Points,
    /// `redeemed / issued` (0 when nothing was issued).
    pub usage_rate: f64,
    /// Whether the rate reaches [`POINTS_USAGE_TARGET`].
    pub meets_target: bool,
}

pub(crate) async fn points_usage(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<PointsUsage> {
    let rows = sqlx::query(
        "SELECT e.account, CAST(SUM(e.amount) AS BIGINT) FROM loyalty_entries e JOIN loyalty_ops o ON o.id = e.op_id \
         WHERE o.at_us >= $1 AND o.at_us < $2 AND e.account LIKE 'shop:%' GROUP BY e.account",
    )
    .bind(to_us(from))
    .bind(to_us(to))
    .fetch_all(conn)
    .await?;
    let mut sums = BTreeMap::new();
    for r in &rows {
        sums.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    let get = |a: &str| sums.get(a).copied().unwrap_or(0);
    let issued = -get("shop:issued");
    let redeemed = get("shop:redeemed");
    let usage_rate = if issued > 0 { redeemed as f64 / issued as f64 } else { 0.0 };
    Ok(PointsUsage {
        from,
        to,
        issued: Points::new(issued),
        redeemed: Points::new(redeemed),
        expired: Points::new(get("shop:expired")),
        clawed_back: Points::new(get("shop:clawback")),
        usage_rate,
        meets_target: usage_rate >= POINTS_USAGE_TARGET,
    })
}

/// One template's (or all templates') coupon figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouponFigures {
    /// Coupons issued in the period.
    pub issued: u64,
    /// Of those, how many have been redeemed.
    pub redeemed: u64,
    /// `redeemed / issued` (0 when none issued).
    pub redemption_rate: f64,
    /// Discounts given by the redeemed coupons.
    pub discount_cost: Money,
    /// Goods value (before discounts) of the orders that redeemed them;
    /// in the total, each order counts once.
    pub gmv: Money,
}

/// Coupon performance for coupons issued in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouponReport {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive).
    pub to: DateTime<Utc>,
    /// Per template, in id order.
    pub templates: Vec<(TemplateId, CouponFigures)>,
    /// All templates together.
    pub total: CouponFigures,
}

fn figures(issued: i64, redeemed: i64, discount: i64, gmv: i64) -> CouponFigures {
    CouponFigures {
        issued: issued.max(0) as u64,
        redeemed: redeemed.max(0) as u64,
        redemption_rate: if issued > 0 { redeemed as f64 / issued as f64 } else { 0.0 },
        discount_cost: Money::from_fen(discount),
        gmv: Money::from_fen(gmv),
    }
}

pub(crate) async fn coupon_report(
    conn: &mut AnyConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CouponReport> {
    let (f, t) = (to_us(from), to_us(to));
    let rows = sqlx::query(
        "SELECT template_id, COUNT(*), \
         CAST(COALESCE(SUM(CASE WHEN state = 'redeemed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN state = 'redeemed' THEN discount_fen ELSE 0 END), 0) AS BIGINT) \
         FROM loyalty_coupons WHERE issued_at_us >= $1 AND issued_at_us < $2 GROUP BY template_id ORDER BY template_id",
    )
    .bind(f)
    .bind(t)
    .fetch_all(&mut *conn)
    .await?;
    let gmv_rows = sqlx::query(
        "SELECT c.template_id, CAST(COALESCE(SUM(o.goods_fen), 0) AS BIGINT) FROM \
         (SELECT DISTINCT template_id, order_id FROM loyalty_coupons \
          WHERE state = 'redeemed' AND issued_at_us >= $1 AND issued_at_us < $2) c \
         JOIN loyalty_coupon_orders o ON o.order_id = c.order_id GROUP BY c.template_id",
    )
    .bind(f)
    .bind(t)
    .fetch_all(&mut *conn)
    .await?;
    let mut gmv = BTreeMap::new();
    for r in &gmv_rows {
        gmv.insert(r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?);
    }
    let total_gmv: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(goods_fen), 0) AS BIGINT) FROM loyalty_coupon_orders WHERE order_id IN \
         (SELECT order_id FROM loyalty_coupons WHERE state = 'redeemed' AND issued_at_us >= $1 AND issued_at_us < $2)",
    )
    .bind(f)
    .bind(t)
    .fetch_one(&mut *conn)
    .await?
    .try_get(0)?;
    let mut templates = Vec::new();
    let (mut issued, mut redeemed, mut discount) = (0, 0, 0);
    for r in &rows {
        let id: String = r.try_get(0)?;
        let (i, rd, d): (i64, i64, i64) = (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        issued += i;
        redeemed += rd;
        discount += d;
        let g = gmv.get(&id).copied().unwrap_or(0);
        templates.push((TemplateId::new(id).map_err(LoyaltyError::corrupt)?, figures(i, rd, d, g)));
    }
    Ok(CouponReport { from, to, templates, total: figures(issued, redeemed, discount, total_gmv) })
}
