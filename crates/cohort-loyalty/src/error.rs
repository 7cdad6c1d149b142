//! The loyalty error type: the caller's mistakes (not enough points, a coupon
//! that does not apply, an exhausted budget, a reused key) kept apart from
//! internal faults (the database, a corrupt row, a stopped writer).

use thiserror::Error;

use crate::Points;

/// Why a coupon cannot be used on an order or issued to a member.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotApplicable {
    /// The coupon belongs to another member.
    #[error("it belongs to another member")]
    NotOwner,
    /// The coupon is not in the `available` state.
    #[error("it is {state}")]
    NotAvailable {
        /// Its current state.
        state: String,
    },
    /// The validity window has not started.
    #[error("it is not valid before {from}")]
    NotYetValid {
        /// Start of validity (RFC 3339).
        from: String,
    },
    /// The validity window has ended.
    #[error("it expired at {at}")]
    Expired {
        /// End of validity (RFC 3339).
        at: String,
    },
    /// The eligible amount is below the threshold.
    #[error("eligible amount {eligible} is below the threshold {threshold}")]
    BelowThreshold {
        /// Eligible amount, formatted.
        eligible: String,
        /// Threshold, formatted.
        threshold: String,
    },
    /// No order line is in the coupon's categories.
    #[error("no item in categories {categories}")]
    NoEligibleItem {
        /// The coupon's categories, comma separated.
        categories: String,
    },
    /// A free-shipping coupon on an order without a shipping fee.
    #[error("the order has no shipping fee")]
    NoShippingFee,
    /// Only for members without a previous order.
    #[error("it is for new customers only")]
    NewCustomersOnly,
    /// Only for some tiers.
    #[error("it is for tiers {tiers} only, the member is {tier}")]
    WrongTier {
        /// The allowed tiers, comma separated.
        tiers: String,
        /// The member's tier.
        tier: String,
    },
    /// Two coupons of the same kind on one order.
    #[error("it cannot be combined with coupon {other} (one discount and one free-shipping coupon per order)")]
    Incompatible {
        /// The other coupon's id.
        other: i64,
    },
    /// The same coupon listed twice.
    #[error("it is listed twice")]
    Duplicate,
}

/// Everything that can go wrong in the loyalty engine.
#[derive(Debug, Error)]
pub enum LoyaltyError {
    /// A value that fails validation.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// Which value.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Invalid configuration; every problem found is listed.
    #[error("invalid loyalty config: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// A redemption, exchange or transfer asking for more than the member has.
    #[error("insufficient points for member {user}: requested {requested}, available {available}")]
    InsufficientPoints {
        /// The member.
        user: String,
        /// What was asked for.
        requested: Points,
        /// What the member can spend now.
        available: Points,
    },
    /// A redemption above the share of the order points may pay.
    #[error("redeeming {requested} on order {order} exceeds the limit of {limit} ({percent}% of the order)")]
    RedemptionLimit {
        /// The order.
        order: String,
        /// Points asked for (including earlier redemptions on the order).
        requested: Points,
        /// The most points the order accepts.
        limit: Points,
        /// The configured share.
        percent: u32,
    },
    /// The same idempotency key was used before with a different request.
    #[error("idempotency key {key:?} was already used for a different request")]
    KeyReused {
        /// The key.
        key: String,
    },
    /// A coupon that cannot be used or issued, with the reason.
    #[error("coupon {coupon} is not applicable: {reason}")]
    CouponNotApplicable {
        /// The coupon id (or template id when issuing).
        coupon: String,
        /// Why.
        reason: NotApplicable,
    },
    /// Issuing would exceed the template's budget.
    #[error("coupon budget exhausted for template {template}: budget {budget}, committed {committed}")]
    BudgetExhausted {
        /// The template.
        template: String,
        /// The template's budget, formatted.
        budget: String,
        /// Face value already reserved or spent, formatted.
        committed: String,
    },
    /// Issuing would exceed the template's total quantity.
    #[error("coupon quantity exhausted for template {template}: all {cap} issued")]
    QuantityExhausted {
        /// The template.
        template: String,
        /// The cap.
        cap: i64,
    },
    /// The member already holds the most coupons of a template allowed.
    #[error("member {user} already received {limit} coupon(s) of template {template}")]
    PerUserLimit {
        /// The member.
        user: String,
        /// The template.
        template: String,
        /// The limit.
        limit: i64,
    },
    /// A referenced thing that does not exist.
    #[error("unknown {what} {id:?}")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A request that conflicts with what is stored (an order paid twice, a
    /// template id reused with another definition, a refund above the paid
    /// amount).
    #[error("{what} {id:?}: {reason}")]
    Conflict {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
        /// The conflict.
        reason: String,
    },
    /// Points transfers are switched off in the configuration.
    #[error("points transfers are disabled (set loyalty.points.transfers_enabled = true)")]
    TransfersDisabled,
    /// Internal: the database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Internal: a migration failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// Internal: stored data that cannot be read back.
    #[error("corrupt loyalty data: {0}")]
    Corrupt(String),
    /// Internal: the writer task stopped (the store is shutting down).
    #[error("the loyalty writer stopped")]
    WriterStopped,
}

impl LoyaltyError {
    /// Whether the caller caused this error (and retrying the same request
    /// will fail the same way), as opposed to an internal fault that a retry
    /// with the same idempotency key may get past.
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            LoyaltyError::Database(_)
                | LoyaltyError::Migration(_)
                | LoyaltyError::Corrupt(_)
                | LoyaltyError::WriterStopped
        )
    }

    /// A stable machine-readable code for API clients (`insufficient_points`,
    /// `coupon_expired`, `budget_exhausted`, `threshold_not_met`, …).
    pub fn code(&self) -> &'static str {
        match self {
            LoyaltyError::InvalidInput { .. } => "invalid_input",
            LoyaltyError::InvalidConfig(_) => "invalid_config",
            LoyaltyError::InsufficientPoints { .. } => "insufficient_points",
            LoyaltyError::RedemptionLimit { .. } => "redemption_limit",
            LoyaltyError::KeyReused { .. } => "idempotency_key_reused",
            LoyaltyError::CouponNotApplicable { reason, .. } => match reason {
                NotApplicable::NotOwner => "coupon_not_owned",
                NotApplicable::NotAvailable { .. } => "coupon_not_available",
                NotApplicable::NotYetValid { .. } => "coupon_not_yet_valid",
                NotApplicable::Expired { .. } => "coupon_expired",
                NotApplicable::BelowThreshold { .. } => "threshold_not_met",
                NotApplicable::NoEligibleItem { .. } => "no_eligible_item",
                NotApplicable::NoShippingFee => "no_shipping_fee",
                NotApplicable::NewCustomersOnly => "new_customers_only",
                NotApplicable::WrongTier { .. } => "wrong_tier",
                NotApplicable::Incompatible { .. } => "coupons_incompatible",
                NotApplicable::Duplicate => "coupon_listed_twice",
            },
            LoyaltyError::BudgetExhausted { .. } => "budget_exhausted",
            LoyaltyError::QuantityExhausted { .. } => "quantity_exhausted",
            LoyaltyError::PerUserLimit { .. } => "per_user_limit",
            LoyaltyError::NotFound { .. } => "not_found",
            LoyaltyError::Conflict { .. } => "conflict",
            LoyaltyError::TransfersDisabled => "transfers_disabled",
            LoyaltyError::Database(_) | LoyaltyError::Migration(_) | LoyaltyError::Corrupt(_) => "internal",
            LoyaltyError::WriterStopped => "shutting_down",
        }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        LoyaltyError::Corrupt(what.to_string())
    }
}

impl From<serde_json::Error> for LoyaltyError {
    fn from(e: serde_json::Error) -> Self {
        LoyaltyError::Corrupt(format!("stored json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_values() {
        let e = LoyaltyError::InsufficientPoints {
            user: "u1".into(),
            requested: Points::new(50),
            available: Points::new(7),
        };
        assert_eq!(e.to_string(), "insufficient points for member u1: requested 50 points, available 7 points");
        assert!(e.is_user_error());
        let e = LoyaltyError::KeyReused { key: "k1".into() };
        assert!(e.to_string().contains("\"k1\""));
        assert!(!LoyaltyError::WriterStopped.is_user_error());
        let e = LoyaltyError::CouponNotApplicable {
            coupon: "7".into(),
            reason: NotApplicable::BelowThreshold { eligible: "¥198.99".into(), threshold: "¥199.00".into() },
        };
        assert_eq!(e.to_string(), "coupon 7 is not applicable: eligible amount ¥198.99 is below the threshold ¥199.00");
    }
}
