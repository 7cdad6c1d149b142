//! Cohort's loyalty and offers core: membership tiers by growth value, a
//! double-entry points ledger and coupons, on a transactional state store.
//!
//! This is money-like data, so the crate is built around three guarantees:
//!
//! - **Nothing lost**: a write is acknowledged only after its transaction
//!   commits durably (SQLite in WAL mode with `synchronous=FULL`, or
//!   PostgreSQL). Writes are queued to a writer that commits them in
//!   batches (group commit), each request in its own savepoint.
//! - **Nothing counted twice**: every operation carries an
//!   [`IdempotencyKey`]; repeating it returns the original result, reusing it
//!   for a different request is refused. Coupon states and template counters
//!   change only by compare-and-set updates.
//! - **Everything re-derivable**: the ledger is append-only and every
//!   operation's entries sum to zero; balances, lots and coupon counters are
//!   caches that [`Loyalty::verify`] recomputes and checks
//!   (`cohort points verify`).
//!
//! The same code runs on SQLite (embedded default) and PostgreSQL: every
//! statement is portable SQL run through one query layer (`sql`), on
//! `sqlx::Any` or, for the SQLite writer, an in-thread rusqlite connection;
//! only the migrations differ per backend. See `docs/loyalty.md` for the
//! design and the rules.

mod command;
mod config;
mod coupons;
mod db;
mod error;
mod ledger;
mod points;
mod reports;
mod service;
mod sql;
mod tiers;
mod types;
mod verify;
mod writer;

pub use command::Sweep;
pub use config::{
    BenefitsTable, EarnRule, GrowthConfig, LoyaltyConfig, PointsConfig, PointsExpiry, TierBenefits, TierConfig,
};
pub use coupons::{
    Audience, Checkout, CheckoutLine, CheckoutQuote, Coupon, CouponId, CouponState, CouponTemplate, Offer,
    OrderCoupons, TemplateId, Validity,
};
pub use db::{sqlite_url, Backend};
pub use error::{LoyaltyError, NotApplicable};
pub use points::{Activity, ActivityReceipt, PointsBalance, RedeemReceipt, Redemption, RefundReceipt, TransferReceipt};
pub use reports::{CouponFigures, CouponReport, PointsUsage, POINTS_USAGE_TARGET};
pub use service::{Loyalty, StoreOptions};
pub use tiers::{Membership, TierChange, TierChangeReason, TierReview};
pub use types::{Account, IdempotencyKey, LedgerEntry, MemberTier, Points};
pub use verify::VerifyReport;

/// Result alias for loyalty operations.
pub type Result<T, E = LoyaltyError> = std::result::Result<T, E>;
