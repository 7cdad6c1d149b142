//! Effect measurement for a campaign: reach, delivery, opens and clicks
//! where reported, conversion, uplift against the control group with an
//! interval, recovered (incremental) revenue against the cost of coupons,
//! points and messages, ROI, and the plan's targets.
//!
//! The comparison is **intent to treat**: everyone assigned to treatment
//! counts, including those whose message was suppressed or dead-lettered,
//! so the uplift is what launching the campaign does, not what the message
//! does to those it happened to reach (which would flatter it). Outcomes
//! (converted within the window, e.g. 30-day repurchase; revenue; coupon
//! discount redeemed) come from the caller, or from the event store through
//! [`super::measure_from_store`].

use std::collections::HashMap;

use cohort_model::Money;
use serde::{Deserialize, Serialize};

use super::outcomes::StoreOutcomes;
use super::{members, CampaignSpec, Member, Offer, CONTROL, TREATMENT};
use crate::channel::{sms_segments, ChannelKind};
use crate::experiment::bayes::beta_binomial;
use crate::experiment::stats::{srm_check, two_proportion_z, welch_t, Sample, SrmCheck, TestResult};
use crate::outbox::{MessageStatus, Outbox};
use crate::Result;

/// What one person did in the measurement window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonOutcome {
    /// Ordered (the goal) within the window.
    pub converted: bool,
    /// Revenue within the window.
    pub revenue: Money,
    /// Coupon discount of this campaign redeemed.
    pub discount: Money,
}

/// The plan's targets for a campaign type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTargets {
    /// Least conversion rate in the treatment group (wake-up ≥ 8%, recall ≥ 5%).
    pub min_conversion_rate: f64,
    /// Least recovered revenue per unit of cost (3×).
    pub min_revenue_to_cost: f64,
}

impl PlanTargets {
    /// Silent-user wake-up: ≥ 8% wake-up rate, recovered revenue ≥ 3× cost.
    pub const WAKE_UP: PlanTargets = PlanTargets { min_conversion_rate: 0.08, min_revenue_to_cost: 3.0 };
    /// Churned / high-risk recall: ≥ 5% recall rate, ≥ 3× cost.
    pub const RECALL: PlanTargets = PlanTargets { min_conversion_rate: 0.05, min_revenue_to_cost: 3.0 };
}

/// Campaign cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Messages delivered × price (per SMS segment).
    pub messages: Money,
    /// Coupon discounts redeemed by the treatment group.
    pub coupons: Money,
    /// Points bonuses issued × their cost.
    pub points: Money,
    /// Sum.
    pub total: Money,
}

/// The measured effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectReport {
    /// Campaign id.
    pub campaign: String,
    /// Members recorded.
    pub audience: u64,
    /// Treatment group size.
    pub treatment: u64,
    /// Control group size.
    pub control: u64,
    /// Global holdout members.
    pub holdout: u64,
    /// Messages scheduled (reach).
    pub reached: u64,
    /// Messages suppressed.
    pub suppressed: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages dead-lettered.
    pub dead: u64,
    /// Messages not yet sent.
    pub pending: u64,
    /// Opens reported.
    pub opened: u64,
    /// Clicks reported.
    pub clicked: u64,
    /// reached / treatment.
    pub reach_rate: f64,
    /// delivered / reached.
    pub delivery_rate: f64,
    /// Conversion uplift, treatment − control (z-test, 95% interval).
    pub uplift: TestResult,
    /// P(treatment converts better), Beta-Binomial.
    pub chance_to_win: f64,
    /// Revenue per member, Welch test in yuan (None without variance).
    pub revenue_per_member: Option<TestResult>,
    /// Extra conversions caused: uplift × treatment size.
    pub incremental_conversions: f64,
    /// Extra revenue caused: revenue-per-member difference × treatment size.
    pub recovered_revenue: Money,
    /// 95% interval of the recovered revenue.
    pub recovered_revenue_interval: (Money, Money),
    /// What it cost.
    pub cost: Cost,
    /// Recovered revenue − cost.
    pub net: Money,
    /// net / cost.
    pub roi: Option<f64>,
    /// recovered revenue / cost.
    pub revenue_to_cost: Option<f64>,
    /// The plan's targets.
    pub targets: PlanTargets,
    /// Treatment conversion rate ≥ target.
    pub conversion_target_met: bool,
    /// Revenue / cost ≥ target.
    pub revenue_target_met: bool,
    /// Sample-ratio check of control vs treatment.
    pub srm: SrmCheck,
    /// What was read from the event store, when measured from it
    /// ([`super::measure_from_store`]): window, orders, refunds, coupon use
    /// and the 30-day repurchase of recalled members per arm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreOutcomes>,
}

/// Measures a launched campaign given each person's outcome (people
/// missing from `outcomes` did nothing).
pub async fn measure(
    outbox: &Outbox,
    spec: &CampaignSpec,
    outcomes: &HashMap<String, PersonOutcome>,
) -> Result<EffectReport> {
    let members = members(outbox, &spec.id).await?;
    let messages = outbox.messages_of(&spec.id).await?;
    let counts = outbox.counts(&spec.id).await?;
    let mut message_cost = Money::ZERO;
    for m in messages.iter().filter(|m| m.status == MessageStatus::Delivered) {
        let units = if m.channel == ChannelKind::Sms { i64::from(sms_segments(&m.body)) } else { 1 };
        message_cost += spec.message_cost.times(units);
    }
    let mut report = compute(spec, &members, outcomes, message_cost)?;
    report.delivered = counts.delivered;
    report.dead = counts.dead;
    report.pending = counts.pending;
    report.opened = counts.opened;
    report.clicked = counts.clicked;
    report.delivery_rate = ratio(counts.delivered, report.reached);
    Ok(report)
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The pure part of [`measure`]: from members, outcomes and message cost.
pub fn compute(
    spec: &CampaignSpec,
    members: &[Member],
    outcomes: &HashMap<String, PersonOutcome>,
    message_cost: Money,
) -> Result<EffectReport> {
    let none = PersonOutcome::default();
    let group = |arm: &str| -> Vec<(&Member, &PersonOutcome)> {
        members.iter().filter(|m| m.arm == arm).map(|m| (m, outcomes.get(&m.person_id).unwrap_or(&none))).collect()
    };
    let (treated, control) = (group(TREATMENT), group(CONTROL));
    let conv = |g: &[(&Member, &PersonOutcome)]| g.iter().filter(|(_, o)| o.converted).count() as u64;
    let (nt, nc) = (treated.len() as u64, control.len() as u64);
    let uplift = two_proportion_z((conv(&control), nc), (conv(&treated), nt), 0.95)?;
    let bayes = beta_binomial((conv(&control), nc), (conv(&treated), nt), (1.0, 1.0))?;
    let yuan = |g: &[(&Member, &PersonOutcome)]| g.iter().map(|(_, o)| o.revenue.yuan_f64()).collect::<Vec<f64>>();
    let revenue_per_member = welch_t(&Sample::of(&yuan(&control)), &Sample::of(&yuan(&treated)), 0.95).ok();
    let to_money = |yuan: f64| Money::from_fen((yuan * 100.0).round() as i64);
    let (recovered, interval) = match &revenue_per_member {
        Some(r) => {
            (to_money(r.difference * nt as f64), (to_money(r.ci_low * nt as f64), to_money(r.ci_high * nt as f64)))
        }
        None => (Money::ZERO, (Money::ZERO, Money::ZERO)),
    };
    let coupons: Money = treated.iter().map(|(_, o)| o.discount).sum();
    let issued = treated.iter().filter(|(m, _)| m.offer_issued).count() as i64;
    let points = match &spec.offer {
        Offer::PointsBonus { cost, .. } => cost.times(issued),
        _ => Money::ZERO,
    };
    let total = message_cost + coupons + points;
    let cost = Cost { messages: message_cost, coupons, points, total };
    let net = recovered - total;
    let (roi, revenue_to_cost) = if total.fen() > 0 {
        (Some(net.fen() as f64 / total.fen() as f64), Some(recovered.fen() as f64 / total.fen() as f64))
    } else {
        (None, None)
    };
    let reached = treated.iter().filter(|(m, _)| m.outcome == "scheduled").count() as u64;
    let suppressed = treated.iter().filter(|(m, _)| m.outcome.starts_with("suppressed")).count() as u64;
    let experiment = spec.experiment()?;
    let srm = srm_check(&[nc, nt], &experiment.expected_shares())?;
    Ok(EffectReport {
        campaign: spec.id.clone(),
        audience: members.len() as u64,
        treatment: nt,
        control: nc,
        holdout: members.iter().filter(|m| m.arm == "holdout").count() as u64,
        reached,
        suppressed,
        delivered: 0,
        dead: 0,
        pending: 0,
        opened: 0,
        clicked: 0,
        reach_rate: ratio(reached, nt),
        delivery_rate: 0.0,
        incremental_conversions: uplift.difference * nt as f64,
        conversion_target_met: uplift.treatment >= spec.targets.min_conversion_rate,
        revenue_target_met: revenue_to_cost.is_some_and(|r| r >= spec.targets.min_revenue_to_cost),
        uplift,
        chance_to_win: bayes.chance_to_win,
        revenue_per_member,
        recovered_revenue: recovered,
        recovered_revenue_interval: interval,
        cost,
        net,
        roi,
        revenue_to_cost,
        targets: spec.targets,
        srm,
        store: None,
    })
}
