//! Coupons: templates, what a coupon is worth on an order, and its life
//! cycle (issued → locked on checkout → redeemed, or released on cancel, or
//! expired). The rules here are pure; [`store`] applies them in a
//! transaction.

pub(crate) mod store;

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use cohort_model::{Money, OrderId, ProductId, UserId};
use serde::{Deserialize, Serialize};

use crate::{LoyaltyError, MemberTier, NotApplicable};

/// A coupon template id chosen by the shop (`NEW50`, `SPRING-199-50`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TemplateId(String);

impl TemplateId {
    /// Checks the id is non-blank and at most 100 bytes.
    pub fn new(id: impl Into<String>) -> Result<Self, LoyaltyError> {
        let id = id.into();
        if id.trim().is_empty() || id.len() > 100 {
            return Err(LoyaltyError::InvalidInput {
                what: "coupon template id",
                value: id,
                reason: "must be 1 to 100 bytes and not blank",
            });
        }
        Ok(TemplateId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TemplateId {
    type Error = LoyaltyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TemplateId::new(s)
    }
}

impl From<TemplateId> for String {
    fn from(t: TemplateId) -> String {
        t.0
    }
}

impl fmt::Display for TemplateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An issued coupon's id (assigned by the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CouponId(pub i64);

impl fmt::Display for CouponId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Offer {
    /// A fixed amount off, no minimum ("¥10 off").
    NoThreshold {
        /// Amount off.
        off: Money,
    },
    /// A fixed amount off when the eligible amount reaches `min_spend`
    /// ("满¥199减¥50": exactly ¥199.00 qualifies).
    Threshold {
        /// Minimum eligible amount.
        min_spend: Money,
        /// Amount off.
        off: Money,
    },
    /// A percentage off the eligible amount (rounded half up to the fen),
    /// optionally capped and with a minimum.
    Percentage {
        /// Percent off, 1–99 (20 = "8折").
        percent_off: u32,
        /// Minimum eligible amount (zero for none).
        min_spend: Money,
        /// Largest discount; required when the template has a budget.
        max_off: Option<Money>,
    },
    /// The shipping fee, up to `max_off`.
    FreeShipping {
        /// Largest shipping fee covered.
        max_off: Money,
    },
}

impl Offer {
    /// The most this coupon can take off (reserved against the budget at
    /// issue), or `None` when unbounded.
    pub fn face_value(&self) -> Option<Money> {
        match self {
            Offer::NoThreshold { off } | Offer::Threshold { off, .. } => Some(*off),
            Offer::Percentage { max_off, .. } => *max_off,
            Offer::FreeShipping { max_off } => Some(*max_off),
        }
    }

    /// Whether it discounts shipping (one per order) rather than goods (one
    /// per order).
    pub fn is_shipping(&self) -> bool {
        matches!(self, Offer::FreeShipping { .. })
    }
}

/// Who may receive (and use) coupons of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    /// Every member.
    Everyone,
    /// Members with no paid order yet, checked at issue and again at
    /// checkout (the coupon is for the first order).
    NewCustomers,
    /// Members of these tiers at the time of issue.
    Tiers {
        /// Allowed tiers.
        tiers: Vec<MemberTier>,
    },
}

/// How long an issued coupon is valid. Ends are shop-local midnights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Validity {
    /// From the start of `from` through the end of `until`, shop-local.
    FixedDates {
        /// First valid day.
        from: NaiveDate,
        /// Last valid day.
        until: NaiveDate,
    },
    /// From issue through the end of day `days`, counting the day of issue
    /// as day 1 ("7 days": issued on the 1st, usable through the 7th).
    DaysAfterIssue {
        /// Days of validity, at least 1.
        days: u32,
    },
}

/// A coupon template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CouponTemplate {
    /// The shop's id for it.
    pub id: TemplateId,
    /// Display name.
    pub name: String,
    /// What it takes off.
    pub offer: Offer,
    /// Categories whose items count towards the eligible amount; empty for
    /// the whole order ("category-only" coupons list theirs).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Who may receive it.
    pub audience: Audience,
    /// How long an issued coupon is valid.
    pub validity: Validity,
    /// Most coupons of this template one member may receive.
    pub per_user_limit: u32,
    /// Most coupons of this template issued in total.
    pub quantity_cap: Option<u64>,
    /// Most money the template may cost: face values of unused coupons plus
    /// discounts of redeemed ones never exceed it.
    pub budget: Option<Money>,
}

impl CouponTemplate {
    /// Checks the template and reports the first problem.
    pub fn validate(&self) -> Result<(), LoyaltyError> {
        let bad = |reason: &'static str| {
            Err(LoyaltyError::InvalidInput { what: "coupon template", value: self.id.to_string(), reason })
        };
        let positive = |m: &Money| m.fen() > 0;
        match &self.offer {
            Offer::NoThreshold { off } if !positive(off) => return bad("off must be positive"),
            Offer::Threshold { min_spend, off } if !positive(off) || min_spend < off => {
                return bad("off must be positive and not above min_spend")
            }
            Offer::Percentage { percent_off, .. } if !(1..=99).contains(percent_off) => {
                return bad("percent_off must be 1..=99")
            }
            Offer::Percentage { max_off: Some(m), .. } | Offer::FreeShipping { max_off: m } if !positive(m) => {
                return bad("max_off must be positive")
            }
            Offer::Percentage { max_off: None, .. } if self.budget.is_some() => {
                return bad("a percentage coupon with a budget needs max_off")
            }
            _ => {}
        }
        match self.validity {
            Validity::FixedDates { from, until } if until < from => return bad("validity ends before it starts"),
            Validity::DaysAfterIssue { days: 0 } => return bad("validity days must be at least 1"),
            _ => {}
        }
        if self.per_user_limit == 0 {
            return bad("per_user_limit must be at least 1");
        }
        if self.budget.is_some_and(|b| b.fen() <= 0) {
            return bad("budget must be positive");
        }
        if let Audience::Tiers { tiers } = &self.audience {
            if tiers.is_empty() {
                return bad("a tier-only coupon needs at least one tier");
            }
        }
        Ok(())
    }
}

/// A coupon's life-cycle state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CouponState {
    /// Issued and unused.
    Available,
    /// Held by an order at checkout.
    Locked {
        /// The order.
        order: OrderId,
    },
    /// Used by a paid order.
    Redeemed {
        /// The order.
        order: OrderId,
    },
    /// Validity ended unused.
    Expired,
}

impl CouponState {
    /// The name stored in the database.
    pub fn name(&self) -> &'static str {
        match self {
            CouponState::Available => "available",
            CouponState::Locked { .. } => "locked",
            CouponState::Redeemed { .. } => "redeemed",
            CouponState::Expired => "expired",
        }
    }

    pub(crate) fn from_parts(state: &str, order: Option<String>) -> Result<Self, LoyaltyError> {
        let parse = |o: Option<String>| {
            o.ok_or_else(|| LoyaltyError::corrupt(format!("coupon {state} without an order")))
                .and_then(|o| OrderId::new(o).map_err(LoyaltyError::corrupt))
        };
        Ok(match state {
            "available" => CouponState::Available,
            "locked" => CouponState::Locked { order: parse(order)? },
            "redeemed" => CouponState::Redeemed { order: parse(order)? },
            "expired" => CouponState::Expired,
            other => return Err(LoyaltyError::corrupt(format!("coupon state {other:?}"))),
        })
    }
}

/// An issued coupon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Its id.
    pub id: CouponId,
    /// Its template.
    pub template: TemplateId,
    /// Its holder.
    pub user: UserId,
    /// Where it is in its life cycle.
    pub state: CouponState,
    /// The most it can take off (zero for an uncapped percentage).
    pub face_value: Money,
    /// The discount it gave (locked or redeemed coupons).
    pub discount: Option<Money>,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it becomes usable.
    pub valid_from: DateTime<Utc>,
    /// The shop-local midnight at which it stops being usable.
    pub expires_at: DateTime<Utc>,
}

/// One line of an order at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutLine {
    /// The product.
    pub product: ProductId,
    /// Its category, for category-only coupons.
    pub category: Option<String>,
    /// Line amount (unit price × quantity).
    pub amount: Money,
}

/// An order at checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkout {
    /// The order.
    pub order: OrderId,
    /// Its lines.
    pub lines: Vec<CheckoutLine>,
    /// Shipping fee.
    pub shipping: Money,
}

impl Checkout {
    /// Sum of line amounts.
    pub fn goods(&self) -> Money {
        self.lines.iter().map(|l| l.amount).sum()
    }
}

/// The discounts coupons give an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutQuote {
    /// The order.
    pub order: OrderId,
    /// Discount per coupon.
    pub discounts: Vec<(CouponId, Money)>,
    /// Goods amount before discounts.
    pub goods: Money,
    /// Shipping fee before discounts.
    pub shipping: Money,
    /// All discounts.
    pub total_discount: Money,
    /// What is left to pay.
    pub payable: Money,
}

/// Coupons moved by a redeem or release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCoupons {
    /// The order.
    pub order: OrderId,
    /// The coupons, with their new state.
    pub coupons: Vec<(CouponId, CouponState)>,
    /// Total discount of the coupons (redeemed or given back).
    pub discount: Money,
}

/// The discount one coupon gives a checkout, or why it does not apply.
pub(crate) fn discount(template: &CouponTemplate, checkout: &Checkout) -> Result<Money, NotApplicable> {
    let eligible: Money = if template.categories.is_empty() {
        checkout.goods()
    } else {
        checkout
            .lines
            .iter()
            .filter(|l| l.category.as_ref().is_some_and(|c| template.categories.contains(c)))
            .map(|l| l.amount)
            .sum()
    };
    if !template.offer.is_shipping() && eligible.fen() <= 0 {
        return Err(if template.categories.is_empty() {
            NotApplicable::BelowThreshold { eligible: eligible.to_string(), threshold: Money::from_fen(1).to_string() }
        } else {
            NotApplicable::NoEligibleItem { categories: template.categories.join(",") }
        });
    }
    let below =
        |min: Money| NotApplicable::BelowThreshold { eligible: eligible.to_string(), threshold: min.to_string() };
    let off = match &template.offer {
        Offer::NoThreshold { off } => *off,
        Offer::Threshold { min_spend, off } => {
            if eligible < *min_spend {
                return Err(below(*min_spend));
            }
            *off
        }
        Offer::Percentage { percent_off, min_spend, max_off } => {
            if eligible < *min_spend {
                return Err(below(*min_spend));
            }
            let raw = Money::from_fen((eligible.fen() * i64::from(*percent_off) + 50).div_euclid(100));
            max_off.map_or(raw, |m| raw.min(m))
        }
        Offer::FreeShipping { max_off } => {
            if checkout.shipping.fen() <= 0 {
                return Err(NotApplicable::NoShippingFee);
            }
            return Ok(checkout.shipping.min(*max_off));
        }
    };
    Ok(off.min(eligible))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(offer: Offer, categories: &[&str]) -> CouponTemplate {
        CouponTemplate {
            id: TemplateId::new("t").unwrap(),
            name: "t".into(),
            offer,
            categories: categories.iter().map(|c| c.to_string()).collect(),
            audience: Audience::Everyone,
            validity: Validity::DaysAfterIssue { days: 7 },
            per_user_limit: 1,
            quantity_cap: None,
            budget: None,
        }
    }

    fn checkout(lines: &[(&str, i64)], shipping: i64) -> Checkout {
        Checkout {
            order: OrderId::new("o1").unwrap(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (c, fen))| CheckoutLine {
                    product: ProductId::new(format!("p{i}")).unwrap(),
                    category: Some(c.to_string()),
                    amount: Money::from_fen(*fen),
                })
                .collect(),
            shipping: Money::from_fen(shipping),
        }
    }

    #[test]
    fn threshold_is_inclusive_to_the_fen() {
        let t = template(Offer::Threshold { min_spend: Money::from_yuan(199), off: Money::from_yuan(50) }, &[]);
        assert_eq!(discount(&t, &checkout(&[("a", 19_900)], 0)), Ok(Money::from_yuan(50)));
        let err = discount(&t, &checkout(&[("a", 19_899)], 0)).unwrap_err();
        assert_eq!(err.to_string(), "eligible amount ¥198.99 is below the threshold ¥199.00");
    }

    #[test]
    fn category_only_counts_its_lines() {
        let t = template(Offer::Threshold { min_spend: Money::from_yuan(100), off: Money::from_yuan(20) }, &["tea"]);
        assert!(discount(&t, &checkout(&[("tea", 5_000), ("snacks", 9_000)], 0)).is_err());
        assert_eq!(discount(&t, &checkout(&[("tea", 10_000), ("snacks", 9_000)], 0)), Ok(Money::from_yuan(20)));
        assert!(matches!(discount(&t, &checkout(&[("snacks", 90_000)], 0)), Err(NotApplicable::NoEligibleItem { .. })));
    }

    #[test]
    fn percentage_rounds_and_caps_and_no_threshold_never_exceeds_goods() {
        let t = template(Offer::Percentage { percent_off: 15, min_spend: Money::ZERO, max_off: None }, &[]);
        assert_eq!(discount(&t, &checkout(&[("a", 1_003)], 0)), Ok(Money::from_fen(150)));
        let t = template(
            Offer::Percentage { percent_off: 50, min_spend: Money::ZERO, max_off: Some(Money::from_yuan(30)) },
            &[],
        );
        assert_eq!(discount(&t, &checkout(&[("a", 10_000)], 0)), Ok(Money::from_yuan(30)));
        let t = template(Offer::NoThreshold { off: Money::from_yuan(10) }, &[]);
        assert_eq!(discount(&t, &checkout(&[("a", 500)], 0)), Ok(Money::from_fen(500)));
    }

    #[test]
    fn free_shipping_needs_a_fee_and_is_capped() {
        let t = template(Offer::FreeShipping { max_off: Money::from_yuan(10) }, &[]);
        assert_eq!(discount(&t, &checkout(&[("a", 100)], 1_200)), Ok(Money::from_yuan(10)));
        assert_eq!(discount(&t, &checkout(&[("a", 100)], 0)), Err(NotApplicable::NoShippingFee));
    }

    #[test]
    fn templates_are_validated() {
        let mut t = template(Offer::Percentage { percent_off: 20, min_spend: Money::ZERO, max_off: None }, &[]);
        t.validate().unwrap();
        t.budget = Some(Money::from_yuan(100));
        assert!(t.validate().unwrap_err().to_string().contains("needs max_off"));
        let t = template(Offer::Threshold { min_spend: Money::from_yuan(10), off: Money::from_yuan(50) }, &[]);
        assert!(t.validate().is_err());
    }
}
