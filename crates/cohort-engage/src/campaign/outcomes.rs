//! Campaign outcomes read from the event store, so measuring a launched
//! campaign needs nothing but its id.
//!
//! For each member the **attribution window** starts at their assignment
//! (the launch that recorded them, the same instant for both arms, so the
//! comparison stays fair when the treatment's message goes out hours later
//! at the person's peak hour) and lasts `window_days` × 24 h, end excluded.
//! In it:
//!
//! - **converted**: at least one purchase;
//! - **revenue**: the purchases' totals (what was paid) less the refunds of
//!   those purchases the store knows (whenever they came, up to each
//!   purchase's total);
//! - **discount**: the discount of purchases that used the campaign's coupon
//!   (the order's coupon code equals the offer's coupon template id), at
//!   most the coupon's face value per order (an order's discount may also
//!   hold other promotions such as 满减).
//!
//! Purchases are the stored purchase orders plus `Order Completed` events
//! whose order id is not a stored order (a shop sending only events through
//! `cohort serve`); refunds are the stored refund orders (`refund_of`) plus
//! `Order Refunded` events for orders without a stored refund. A fully
//! refunded purchase still counts as a conversion (the person came back).
//!
//! **30-day repurchase of recalled users**: of the members who converted,
//! those with another purchase within 30 days after their first one in the
//! window; a member whose 30 days have not passed at the measurement
//! instant is not counted yet.
//!
//! Members whose person was later merged into another (identity stitching)
//! are read under the person that holds their records now.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cohort_model::{EventName, Money, OrderKind, PersonId};
use cohort_store::{compose_merges, EventStore, PersonHistory};
use serde::Serialize;

use super::measure::{measure, EffectReport, PersonOutcome};
use super::{members, CampaignSpec, Member, Offer, CONTROL, TREATMENT};
use crate::outbox::Outbox;
use crate::{EngageError, Result};

/// The plan's attribution window: an order within 30 days counts.
pub const DEFAULT_WINDOW_DAYS: u32 = 30;
/// Longest window accepted.
pub const MAX_WINDOW_DAYS: u32 = 365;
/// The plan's repurchase horizon for recalled users.
pub const REPURCHASE_DAYS: i64 = 30;

/// Which campaign to measure: a definition, or the id of one saved at launch.
#[derive(Debug, Clone, Copy)]
pub enum CampaignRef<'a> {
    /// This definition.
    Spec(&'a CampaignSpec),
    /// The definition saved under this id ([`super::saved`]).
    Id(&'a str),
}

/// One member's outcome in their window, as read from the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StoreOutcome {
    /// Converted, net revenue and campaign-coupon discount (what
    /// [`measure`] takes).
    pub outcome: PersonOutcome,
    /// Purchases in the window.
    pub orders: u32,
    /// Their totals, before refunds.
    pub gross: Money,
    /// Refunds of those purchases.
    pub refunded: Money,
    /// Purchases in the window that used the campaign's coupon.
    pub coupon_orders: u32,
    /// The first purchase in the window.
    pub first_order_at: Option<DateTime<Utc>>,
    /// Bought again within 30 days of `first_order_at`; `None` when the
    /// member did not convert or those 30 days have not passed yet.
    pub repurchased: Option<bool>,
}

/// 30-day repurchase among one arm's recalled (converted) members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Repurchase {
    /// Members who converted in the window.
    pub recalled: u64,
    /// Of those, whose 30 days after the first order have passed.
    pub observed: u64,
    /// Of those, who bought again within the 30 days.
    pub repurchased: u64,
    /// `repurchased / observed` (None before anyone is observed).
    pub rate: Option<f64>,
}

/// One arm's figures from the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ArmOutcomes {
    /// Members.
    pub members: u64,
    /// Members who converted.
    pub converted: u64,
    /// Purchases in the windows.
    pub orders: u64,
    /// Their totals.
    pub gross: Money,
    /// Refunds of them.
    pub refunded: Money,
    /// gross − refunded.
    pub net: Money,
    /// Purchases with the campaign's coupon.
    pub coupon_orders: u64,
    /// Their campaign-coupon discounts.
    pub coupon_discount: Money,
    /// 30-day repurchase of the recalled.
    pub repurchase: Repurchase,
}

/// What the measurement read from the store ([`EffectReport::store`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreOutcomes {
    /// Attribution window in days.
    pub window_days: u32,
    /// The measurement instant (the outbox clock).
    pub measured_at: DateTime<Utc>,
    /// Whether every member's window had ended by then (if not, conversion
    /// is still growing).
    pub window_complete: bool,
    /// The coupon code counted as the campaign's.
    pub coupon_code: Option<String>,
    /// Treatment group.
    pub treatment: ArmOutcomes,
    /// Control group.
    pub control: ArmOutcomes,
    /// Global holdout (not in the comparison; shown for reference).
    pub holdout: ArmOutcomes,
}

/// A purchase, from an order or an `Order Completed` event.
pub(crate) struct Purchase<'a> {
    pub id: &'a str,
    pub at: DateTime<Utc>,
    pub total: Money,
    pub discount: Money,
    pub coupon: Option<&'a str>,
}

/// Every purchase of a history, stored orders first, then events whose
/// order is not stored; in time order.
pub(crate) fn purchases(history: &PersonHistory) -> Vec<Purchase<'_>> {
    let mut out: Vec<Purchase<'_>> = history
        .orders
        .iter()
        .filter(|o| o.kind == OrderKind::Purchase)
        .map(|o| Purchase {
            id: o.id.as_str(),
            at: o.placed_at,
            total: o.total,
            discount: o.discount,
            coupon: o.coupon.as_deref(),
        })
        .collect();
    let mut seen: HashSet<&str> = out.iter().map(|p| p.id).collect();
    for e in history.events.iter().filter(|e| e.name == EventName::OrderCompleted) {
        let id = e.order_id.as_ref().map_or(e.id.as_str(), |o| o.as_str());
        if seen.insert(id) {
            out.push(Purchase {
                id,
                at: e.timestamp,
                total: e.revenue.unwrap_or(Money::ZERO),
                discount: e.discount.unwrap_or(Money::ZERO),
                coupon: e.coupon.as_deref(),
            });
        }
    }
    out.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(b.id)));
    out
}

/// Refunded amount per original order: stored refunds with `refund_of`,
/// and `Order Refunded` events for orders that have no stored refund.
fn refunds(history: &PersonHistory) -> HashMap<&str, Money> {
    let mut out: HashMap<&str, Money> = HashMap::new();
    for o in history.orders.iter().filter(|o| o.kind == OrderKind::Refund) {
        if let Some(of) = &o.refund_of {
            *out.entry(of.as_str()).or_default() += o.total;
        }
    }
    let stored: HashSet<&str> = out.keys().copied().collect();
    let mut seen: HashSet<&str> = HashSet::new();
    for e in history.events.iter().filter(|e| e.name == EventName::OrderRefunded) {
        let (Some(order), Some(amount)) = (&e.order_id, e.revenue) else { continue };
        if stored.contains(order.as_str()) || !seen.insert(e.id.as_str()) {
            continue;
        }
        *out.entry(order.as_str()).or_default() += amount;
    }
    out
}

/// The campaign's coupon code and face value: the coupon template id.
fn coupon_of(offer: &Offer) -> Option<(&str, Money)> {
    match offer {
        Offer::Coupon { template, face_value, .. } => Some((template.as_str(), *face_value)),
        _ => None,
    }
}

/// One member's outcome in `[start, start + window)`, given what is known
/// at `as_of` (`history` is `None` for a person the store does not know).
pub fn outcome_of(
    history: Option<&PersonHistory>,
    start: DateTime<Utc>,
    window: Duration,
    coupon: Option<(&str, Money)>,
    as_of: DateTime<Utc>,
) -> StoreOutcome {
    let Some(history) = history else { return StoreOutcome::default() };
    let all = purchases(history);
    let refunded_of = refunds(history);
    let end = start + window;
    let mut s = StoreOutcome::default();
    for p in all.iter().filter(|p| p.at >= start && p.at < end) {
        s.orders += 1;
        s.gross += p.total;
        let refunded = refunded_of.get(p.id).copied().unwrap_or(Money::ZERO).min(p.total).max(Money::ZERO);
        s.refunded += refunded;
        if let Some((code, face)) = coupon {
            if p.coupon == Some(code) {
                s.coupon_orders += 1;
                s.outcome.discount += p.discount.min(face).max(Money::ZERO);
            }
        }
        s.first_order_at.get_or_insert(p.at);
    }
    s.outcome.converted = s.orders > 0;
    s.outcome.revenue = s.gross - s.refunded;
    if let Some(first) = s.first_order_at {
        let horizon = first + Duration::days(REPURCHASE_DAYS);
        let again = all.iter().any(|p| p.at > first && p.at <= horizon && p.at <= as_of);
        s.repurchased = if again {
            Some(true)
        } else if horizon <= as_of {
            Some(false)
        } else {
            None
        };
    }
    s
}

/// Checks an attribution window.
pub fn window(days: u32) -> Result<Duration> {
    if days == 0 || days > MAX_WINDOW_DAYS {
        return Err(EngageError::invalid(
            "attribution window",
            days.to_string(),
            format!("must be between 1 and {MAX_WINDOW_DAYS} days"),
        ));
    }
    Ok(Duration::days(i64::from(days)))
}

/// Reads every member's outcome from the store (blocking: one scan of the
/// histories), keyed by person id.
pub fn outcomes_from_store(
    store: &dyn EventStore,
    members: &[Member],
    offer: &Offer,
    window_days: u32,
    as_of: DateTime<Utc>,
) -> Result<HashMap<String, StoreOutcome>> {
    let window = window(window_days)?;
    let coupon = coupon_of(offer);
    // Where each member's records are now (after merges).
    let moved: HashMap<PersonId, PersonId> = compose_merges(&store.merges(None)?).into_iter().collect();
    let mut wanted: HashMap<PersonId, Vec<&Member>> = HashMap::new();
    for m in members {
        let person = PersonId::new(m.person_id.as_str())
            .map_err(|e| EngageError::corrupt(format!("member {:?}: {e}", m.person_id)))?;
        let holder = moved.get(&person).cloned().unwrap_or(person);
        wanted.entry(holder).or_default().push(m);
    }
    let mut out: HashMap<String, StoreOutcome> =
        members.iter().map(|m| (m.person_id.clone(), StoreOutcome::default())).collect();
    store.scan_histories(&mut |history| {
        if let Some(ms) = wanted.get(&history.person_id) {
            for m in ms {
                out.insert(m.person_id.clone(), outcome_of(Some(&history), m.assigned_at, window, coupon, as_of));
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// Sums one arm.
fn arm(members: &[Member], outcomes: &HashMap<String, StoreOutcome>, name: &str) -> ArmOutcomes {
    let mut a = ArmOutcomes::default();
    for m in members.iter().filter(|m| m.arm == name) {
        let o = outcomes.get(&m.person_id).copied().unwrap_or_default();
        a.members += 1;
        a.converted += u64::from(o.outcome.converted);
        a.orders += u64::from(o.orders);
        a.gross += o.gross;
        a.refunded += o.refunded;
        a.coupon_orders += u64::from(o.coupon_orders);
        a.coupon_discount += o.outcome.discount;
        if o.outcome.converted {
            a.repurchase.recalled += 1;
        }
        if let Some(again) = o.repurchased {
            a.repurchase.observed += 1;
            a.repurchase.repurchased += u64::from(again);
        }
    }
    a.net = a.gross - a.refunded;
    a.repurchase.rate =
        (a.repurchase.observed > 0).then(|| a.repurchase.repurchased as f64 / a.repurchase.observed as f64);
    a
}

/// Measures a launched campaign from the event store: every member's
/// outcome in their `window_days` attribution window (the plan's 30 by
/// default, [`DEFAULT_WINDOW_DAYS`]) feeds [`measure`], and the report
/// carries what was read ([`EffectReport::store`]). The store scan runs on
/// a blocking thread.
pub async fn measure_from_store(
    outbox: &Outbox,
    store: Arc<dyn EventStore>,
    campaign: CampaignRef<'_>,
    window_days: u32,
) -> Result<EffectReport> {
    window(window_days)?;
    let spec = match campaign {
        CampaignRef::Spec(spec) => spec.clone(),
        CampaignRef::Id(id) => {
            super::saved::get(outbox, id)
                .await?
                .ok_or_else(|| EngageError::Unknown { what: "campaign", id: id.to_string() })?
                .spec
        }
    };
    let members = members(outbox, &spec.id).await?;
    if members.is_empty() {
        return Err(EngageError::invalid("campaign", spec.id.clone(), "has not been launched: no members recorded"));
    }
    let as_of = outbox.clock().now();
    let offer = spec.offer.clone();
    let (members, outcomes) = tokio::task::spawn_blocking(move || {
        let outcomes = outcomes_from_store(&*store, &members, &offer, window_days, as_of)?;
        Ok::<_, EngageError>((members, outcomes))
    })
    .await
    .map_err(|e| EngageError::corrupt(format!("outcome read stopped: {e}")))??;
    let plain: HashMap<String, PersonOutcome> = outcomes.iter().map(|(k, v)| (k.clone(), v.outcome)).collect();
    let mut report = measure(outbox, &spec, &plain).await?;
    let last_start = members.iter().map(|m| m.assigned_at).max().unwrap_or(as_of);
    report.store = Some(StoreOutcomes {
        window_days,
        measured_at: as_of,
        window_complete: last_start + Duration::days(i64::from(window_days)) <= as_of,
        coupon_code: coupon_of(&spec.offer).map(|(c, _)| c.to_string()),
        treatment: arm(&members, &outcomes, TREATMENT),
        control: arm(&members, &outcomes, CONTROL),
        holdout: arm(&members, &outcomes, "holdout"),
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use cohort_model::{Event, EventId, Order, OrderId};

    fn at(day: i64, hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap() + Duration::days(day) + Duration::hours(hour)
    }

    fn order(id: &str, when: DateTime<Utc>, total: i64, discount: i64, coupon: Option<&str>) -> Order {
        Order {
            id: OrderId::new(id).unwrap(),
            kind: OrderKind::Purchase,
            person_id: Some(PersonId::new("p").unwrap()),
            user_id: None,
            anonymous_id: None,
            placed_at: when,
            platform: None,
            channel: None,
            total: Money::from_fen(total),
            discount: Money::from_fen(discount),
            shipping: Money::ZERO,
            coupon: coupon.map(str::to_string),
            refund_of: None,
            properties: serde_json::Map::new(),
            lines: vec![],
        }
    }

    fn refund(id: &str, of: &str, when: DateTime<Utc>, total: i64) -> Order {
        let mut o = order(id, when, total, 0, None);
        o.kind = OrderKind::Refund;
        o.refund_of = Some(OrderId::new(of).unwrap());
        o
    }

    fn event(id: &str, name: EventName, when: DateTime<Utc>, order: &str, revenue: i64) -> Event {
        let mut e = Event::new(EventId::new(id).unwrap(), Some(PersonId::new("p").unwrap()), name, when);
        e.order_id = Some(OrderId::new(order).unwrap());
        e.revenue = Some(Money::from_fen(revenue));
        e
    }

    fn history(orders: Vec<Order>, events: Vec<Event>) -> PersonHistory {
        PersonHistory { person_id: PersonId::new("p").unwrap(), user: None, events, orders }
    }

    const W: i64 = 30;

    #[test]
    fn window_bounds_refunds_and_coupon() {
        let start = at(0, 0);
        let coupon = Some(("WAKE10", Money::from_yuan(10)));
        let h = history(
            vec![
                order("before", start - Duration::microseconds(1), 9_000, 0, Some("WAKE10")),
                order("first", start, 12_000, 1_500, Some("WAKE10")), // 满减 + coupon: ¥10 counted
                order("second", at(10, 0), 8_000, 500, Some("SAVE5")),
                order("last_in", start + Duration::days(W) - Duration::microseconds(1), 5_000, 0, None),
                order("after", start + Duration::days(W), 7_000, 0, Some("WAKE10")),
                refund("r1", "first", at(40, 0), 2_000), // refund after the window still counts
                refund("r2", "before", at(5, 0), 9_000), // refund of an earlier order does not
            ],
            vec![
                // The stored order's event: not a second purchase.
                event("e1", EventName::OrderCompleted, start, "first", 12_000),
                // A refund event for an order with a stored refund: not counted twice.
                event("e2", EventName::OrderRefunded, at(40, 0), "first", 2_000),
            ],
        );
        let o = outcome_of(Some(&h), start, Duration::days(W), coupon, at(60, 0));
        assert_eq!(o.orders, 3);
        assert_eq!(o.gross, Money::from_fen(12_000 + 8_000 + 5_000));
        assert_eq!(o.refunded, Money::from_fen(2_000));
        assert_eq!(o.outcome.revenue, Money::from_fen(23_000));
        assert_eq!((o.coupon_orders, o.outcome.discount), (1, Money::from_fen(1_000)));
        assert!(o.outcome.converted);
        assert_eq!(o.first_order_at, Some(start));
        // Bought again on day 10, within 30 days of the first order.
        assert_eq!(o.repurchased, Some(true));
        // Without a coupon offer no discount is attributed.
        assert_eq!(outcome_of(Some(&h), start, Duration::days(W), None, at(60, 0)).outcome.discount, Money::ZERO);
    }

    #[test]
    fn events_only_shops_and_repurchase_horizon() {
        let start = at(0, 0);
        // Events only (HTTP ingest): purchases and a partial refund from events.
        let h = history(
            vec![],
            vec![
                event("e1", EventName::OrderCompleted, at(3, 0), "o1", 10_000),
                event("e1b", EventName::OrderCompleted, at(3, 0), "o1", 10_000), // resent: same order
                event("e2", EventName::OrderRefunded, at(6, 0), "o1", 2_500),
                event("e3", EventName::OrderCompleted, at(3 + 31, 0), "o2", 4_000), // 31 days later
            ],
        );
        let o = outcome_of(Some(&h), start, Duration::days(W), None, at(80, 0));
        assert_eq!((o.orders, o.gross, o.refunded), (1, Money::from_fen(10_000), Money::from_fen(2_500)));
        assert_eq!(o.outcome.revenue, Money::from_fen(7_500));
        assert_eq!(o.repurchased, Some(false), "the next order came after 30 days");
        // Measured before the 30 days after the first order have passed: not observed yet.
        let early = outcome_of(Some(&h), start, Duration::days(W), None, at(20, 0));
        assert_eq!(early.repurchased, None);
        // A refund larger than the order never makes revenue negative.
        let h = history(vec![order("o", at(1, 0), 1_000, 0, None), refund("r", "o", at(2, 0), 5_000)], vec![]);
        assert_eq!(outcome_of(Some(&h), start, Duration::days(W), None, at(80, 0)).outcome.revenue, Money::ZERO);
        // Unknown person, no order: nothing.
        assert_eq!(outcome_of(None, start, Duration::days(W), None, at(80, 0)), StoreOutcome::default());
        let h = history(vec![order("o", at(-1, 0), 1_000, 0, None)], vec![]);
        let none = outcome_of(Some(&h), start, Duration::days(W), None, at(80, 0));
        assert!(!none.outcome.converted && none.repurchased.is_none());
    }

    #[test]
    fn window_validation() {
        assert_eq!(window(30).unwrap(), Duration::days(30));
        let err = window(0).unwrap_err().to_string();
        assert!(err.contains("attribution window") && err.contains("between 1 and 365"), "{err}");
        assert!(window(366).is_err());
    }
}
