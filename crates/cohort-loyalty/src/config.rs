//! `[loyalty]` configuration: earn rules, redemption, expiry, growth weights,
//! tier thresholds, review period and benefits. Defaults follow the business
//! plan (1 point per ¥1 paid, 5 per review, 10 per share, 1 per daily check-in,
//! 100 points = ¥1, points expire at the end of the following year, transfers
//! off; 9.8 / 9.5 / 9 / 8.5 member prices). Unknown keys are refused and
//! [`LoyaltyConfig::validate`] reports every problem at once.

use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{LoyaltyError, MemberTier};

/// The whole `[loyalty]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoyaltyConfig {
    /// Points: earning, redemption, expiry, transfers.
    pub points: PointsConfig,
    /// Growth value weights (growth decides the membership tier).
    pub growth: GrowthConfig,
    /// Tier thresholds, review period, grace and benefits.
    pub tiers: TierConfig,
}

/// `[loyalty.points]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PointsConfig {
    /// Points earned per whole ¥1 paid (fen are rounded down). Default 1.
    pub per_yuan_paid: i64,
    /// Points for posting a review, capped per shop-local day. Default 5, cap 15.
    pub review: EarnRule,
    /// Points for sharing a product, capped per day. Default 10, cap 30.
    pub share: EarnRule,
    /// Points for the daily check-in, capped per day. Default 1, cap 1.
    pub check_in: EarnRule,
    /// How many points are worth ¥1 when redeemed. Default 100 (1 point = 1 fen).
    pub points_per_yuan: i64,
    /// The largest share of an order's amount that points may pay, in
    /// percent (1–99). Default 50.
    pub max_order_share_percent: u32,
    /// When earned points expire. Default: end of the following year.
    pub expiry: PointsExpiry,
    /// Whether members may transfer points to each other. Default false.
    pub transfers_enabled: bool,
}

impl Default for PointsConfig {
    fn default() -> Self {
        PointsConfig {
            per_yuan_paid: 1,
            review: EarnRule { points: 5, daily_cap: 15 },
            share: EarnRule { points: 10, daily_cap: 30 },
            check_in: EarnRule { points: 1, daily_cap: 1 },
            points_per_yuan: 100,
            max_order_share_percent: 50,
            expiry: PointsExpiry::EndOfFollowingYear,
            transfers_enabled: false,
        }
    }
}

/// Points for one kind of action, and the most a member can earn from that
/// kind in one shop-local day. An action past the cap earns the remainder up
/// to the cap; an action at the cap earns neither points nor growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarnRule {
    /// Points per action.
    pub points: i64,
    /// Most points per member per shop-local day from this kind of action.
    pub daily_cap: i64,
}

/// When earned points expire. Expiry is always at a shop-local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum PointsExpiry {
    /// Points earned in year Y expire at midnight starting 1 January of Y+2.
    EndOfFollowingYear,
    /// Points expire at the midnight that ends day `days` counting the day
    /// they were earned as day 1 (earned on 1 March with 30 days: usable
    /// through 30 March).
    DaysAfterEarning {
        /// Days of validity, at least 1.
        days: u32,
    },
    /// Points never expire.
    Never,
}

impl PointsExpiry {
    /// The shop-local date whose midnight ends the validity of points earned
    /// on `earned`, or `None` if they never expire.
    pub fn expiry_date(self, earned: NaiveDate) -> Option<NaiveDate> {
        match self {
            PointsExpiry::EndOfFollowingYear => NaiveDate::from_ymd_opt(earned.year() + 2, 1, 1),
            PointsExpiry::DaysAfterEarning { days } => earned.checked_add_days(Days::new(u64::from(days))),
            PointsExpiry::Never => None,
        }
    }
}

/// `[loyalty.growth]`: growth value earned per action. Growth is never
/// spent; the growth of the last review period decides the tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrowthConfig {
    /// Growth per whole ¥1 paid. Default 1.
    pub per_yuan_paid: i64,
    /// Growth per review (within the points daily cap). Default 10.
    pub review: i64,
    /// Growth per share (within the cap). Default 5.
    pub share: i64,
    /// Growth per daily check-in (within the cap). Default 1.
    pub check_in: i64,
}

impl Default for GrowthConfig {
    fn default() -> Self {
        GrowthConfig { per_yuan_paid: 1, review: 10, share: 5, check_in: 1 }
    }
}

/// `[loyalty.tiers]`: thresholds, review and benefits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TierConfig {
    /// Growth over the review period needed for silver. Default 1,000
    /// (about ¥1,000 spent in a year).
    pub silver: i64,
    /// Growth needed for gold. Default 5,000.
    pub gold: i64,
    /// Growth needed for diamond. Default 20,000.
    pub diamond: i64,
    /// Length of the rolling window whose growth counts, and how often a
    /// tier is reviewed, in days. Default 365.
    pub review_period_days: u32,
    /// Days between a failed review and the downgrade; growth that
    /// requalifies within the grace keeps the tier. Default 30.
    pub grace_days: u32,
    /// Benefits per tier.
    pub benefits: BenefitsTable,
    /// Coupon template issued as the birthday coupon, if any.
    pub birthday_template: Option<String>,
    /// Coupon template issued as the monthly free-shipping coupons, if any.
    pub free_shipping_template: Option<String>,
}

impl Default for TierConfig {
    fn default() -> Self {
        TierConfig {
            silver: 1_000,
            gold: 5_000,
            diamond: 20_000,
            review_period_days: 365,
            grace_days: 30,
            benefits: BenefitsTable::default(),
            birthday_template: None,
            free_shipping_template: None,
        }
    }
}

impl TierConfig {
    /// The growth needed for a tier (0 for normal).
    pub fn threshold(&self, tier: MemberTier) -> i64 {
        match tier {
            MemberTier::Normal => 0,
            MemberTier::Silver => self.silver,
            MemberTier::Gold => self.gold,
            MemberTier::Diamond => self.diamond,
        }
    }

    /// The highest tier a growth value qualifies for.
    pub fn tier_for(&self, growth: i64) -> MemberTier {
        MemberTier::ALL.into_iter().rev().find(|t| growth >= self.threshold(*t)).unwrap_or(MemberTier::Normal)
    }
}

/// Benefits of each tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenefitsTable {
    /// Normal members: 9.8 (98% price).
    pub normal: TierBenefits,
    /// Silver: 9.5, birthday coupon, 1 free-shipping coupon a month.
    pub silver: TierBenefits,
    /// Gold: 9, birthday coupon, 2 free-shipping coupons, priority service.
    pub gold: TierBenefits,
    /// Diamond: 8.5, birthday coupon, 4 free-shipping coupons, priority
    /// service, early access.
    pub diamond: TierBenefits,
}

impl BenefitsTable {
    /// The benefits of a tier.
    pub fn of(&self, tier: MemberTier) -> &TierBenefits {
        match tier {
            MemberTier::Normal => &self.normal,
            MemberTier::Silver => &self.silver,
            MemberTier::Gold => &self.gold,
            MemberTier::Diamond => &self.diamond,
        }
    }
}

impl Default for BenefitsTable {
    fn default() -> Self {
        let b = |price_percent, birthday_coupon, monthly_free_shipping_coupons, priority_service, early_access| {
            TierBenefits {
                price_percent,
                birthday_coupon,
                monthly_free_shipping_coupons,
                priority_service,
                early_access,
            }
        };
        BenefitsTable {
            normal: b(98, false, 0, false, false),
            silver: b(95, true, 1, false, false),
            gold: b(90, true, 2, true, false),
            diamond: b(85, true, 4, true, true),
        }
    }
}

/// What a tier gives its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBenefits {
    /// Member price as a percentage of list price (95 = "9.5折").
    pub price_percent: u32,
    /// Whether a birthday coupon is granted each year.
    pub birthday_coupon: bool,
    /// Free-shipping coupons granted each month.
    pub monthly_free_shipping_coupons: u32,
    /// Priority customer service.
    pub priority_service: bool,
    /// Early access to new products and sales.
    pub early_access: bool,
}

impl TierBenefits {
    /// The member price of a list price in fen, rounded half up to the fen.
    pub fn member_price(&self, list: cohort_model::Money) -> cohort_model::Money {
        let fen = list.fen() * i64::from(self.price_percent);
        cohort_model::Money::from_fen((fen + 50).div_euclid(100))
    }
}

impl LoyaltyConfig {
    /// Checks every rule and reports all problems at once.
    pub fn validate(&self) -> Result<(), LoyaltyError> {
        let mut problems = Vec::new();
        let p = &self.points;
        if p.per_yuan_paid < 0 {
            problems.push(format!("points.per_yuan_paid must not be negative, got {}", p.per_yuan_paid));
        }
        for (name, rule) in [("review", p.review), ("share", p.share), ("check_in", p.check_in)] {
            if rule.points < 0 || rule.daily_cap < 0 {
                problems.push(format!("points.{name} must not be negative, got {rule:?}"));
            }
        }
        if !(1..=10_000).contains(&p.points_per_yuan) {
            problems.push(format!("points.points_per_yuan must be 1..=10000, got {}", p.points_per_yuan));
        }
        if !(1..=99).contains(&p.max_order_share_percent) {
            problems.push(format!("points.max_order_share_percent must be 1..=99, got {}", p.max_order_share_percent));
        }
        if let PointsExpiry::DaysAfterEarning { days: 0 } = p.expiry {
            problems.push("points.expiry.days must be at least 1, got 0".to_string());
        }
        let g = &self.growth;
        for (name, v) in [("per_yuan_paid", g.per_yuan_paid), ("review", g.review), ("share", g.share)] {
            if v < 0 {
                problems.push(format!("growth.{name} must not be negative, got {v}"));
            }
        }
        if g.check_in < 0 {
            problems.push(format!("growth.check_in must not be negative, got {}", g.check_in));
        }
        let t = &self.tiers;
        if !(0 < t.silver && t.silver < t.gold && t.gold < t.diamond) {
            problems.push(format!(
                "tiers thresholds must satisfy 0 < silver < gold < diamond, got {} / {} / {}",
                t.silver, t.gold, t.diamond
            ));
        }
        if t.review_period_days == 0 {
            problems.push("tiers.review_period_days must be at least 1, got 0".to_string());
        }
        for tier in MemberTier::ALL {
            let pct = t.benefits.of(tier).price_percent;
            if !(1..=100).contains(&pct) {
                problems.push(format!("tiers.benefits.{tier}.price_percent must be 1..=100, got {pct}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(LoyaltyError::InvalidConfig(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::Money;

    #[test]
    fn defaults_follow_the_plan_and_validate() {
        let c = LoyaltyConfig::default();
        c.validate().unwrap();
        assert_eq!(c.points.points_per_yuan, 100);
        assert_eq!(c.points.check_in, EarnRule { points: 1, daily_cap: 1 });
        assert!(!c.points.transfers_enabled);
        let prices: Vec<u32> = MemberTier::ALL.iter().map(|t| c.tiers.benefits.of(*t).price_percent).collect();
        assert_eq!(prices, [98, 95, 90, 85]);
        assert_eq!(c.tiers.tier_for(999), MemberTier::Normal);
        assert_eq!(c.tiers.tier_for(1_000), MemberTier::Silver);
        assert_eq!(c.tiers.tier_for(20_000), MemberTier::Diamond);
        assert_eq!(c.tiers.benefits.silver.member_price(Money::from_fen(1999)), Money::from_fen(1899));
    }

    #[test]
    fn parses_toml_and_refuses_unknown_keys() {
        let c: LoyaltyConfig = toml::from_str(
            "[points]\nper_yuan_paid = 2\nexpiry = { rule = \"days_after_earning\", days = 30 }\n[tiers]\ngrace_days = 7\n",
        )
        .unwrap();
        assert_eq!(c.points.per_yuan_paid, 2);
        assert_eq!(c.points.expiry, PointsExpiry::DaysAfterEarning { days: 30 });
        assert_eq!(c.tiers.grace_days, 7);
        assert_eq!(c.tiers.gold, 5_000);
        assert!(toml::from_str::<LoyaltyConfig>("[points]\nper_yuan = 2\n").is_err());
    }

    #[test]
    fn validation_reports_all_problems() {
        let mut c = LoyaltyConfig::default();
        c.points.max_order_share_percent = 100;
        c.tiers.gold = 100;
        c.tiers.benefits.gold.price_percent = 0;
        let LoyaltyError::InvalidConfig(problems) = c.validate().unwrap_err() else { panic!() };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn expiry_dates() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        assert_eq!(PointsExpiry::EndOfFollowingYear.expiry_date(d), NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(PointsExpiry::DaysAfterEarning { days: 30 }.expiry_date(d), NaiveDate::from_ymd_opt(2024, 3, 31));
        assert_eq!(PointsExpiry::Never.expiry_date(d), None);
    }
}
