//! The small value types of the loyalty domain: points, idempotency keys,
//! member tiers, ledger accounts and entries. Each is a newtype or an enum so
//! that a points amount cannot be confused with money or a count, and a tier
//! or account cannot be a free-form string.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};
use std::str::FromStr;

use chrono::{DateTime, Utc};
use cohort_model::UserId;
use serde::{Deserialize, Serialize};

use crate::LoyaltyError;

/// An amount of loyalty points. Signed so ledger entries can carry debits
/// (negative) and credits (positive); balances a member can spend are never
/// negative.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Points(i64);

impl Points {
    /// No points.
    pub const ZERO: Points = Points(0);

    /// An amount of points.
    pub const fn new(points: i64) -> Self {
        Points(points)
    }

    /// The amount as an integer.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whether the amount is strictly positive.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Points) -> Points {
        Points(self.0.min(other.0))
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} points", self.0)
    }
}

impl Add for Points {
    type Output = Points;
    fn add(self, rhs: Points) -> Points {
        Points(self.0 + rhs.0)
    }
}

impl AddAssign for Points {
    fn add_assign(&mut self, rhs: Points) {
        self.0 += rhs.0;
    }
}

impl Sub for Points {
    type Output = Points;
    fn sub(self, rhs: Points) -> Points {
        Points(self.0 - rhs.0)
    }
}

impl SubAssign for Points {
    fn sub_assign(&mut self, rhs: Points) {
        self.0 -= rhs.0;
    }
}

impl Neg for Points {
    type Output = Points;
    fn neg(self) -> Points {
        Points(-self.0)
    }
}

impl Sum for Points {
    fn sum<I: Iterator<Item = Points>>(iter: I) -> Points {
        Points(iter.map(|p| p.0).sum())
    }
}

/// Longest idempotency key accepted, in bytes.
const MAX_KEY_LEN: usize = 400;

/// The caller's unique name for one operation (an order event id, a message
/// id, a job run id). Repeating a key returns the original result; reusing it
/// for a different request is refused.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks the key is non-blank and at most 400 bytes.
    pub fn new(key: impl Into<String>) -> Result<Self, LoyaltyError> {
        let key = key.into();
        if key.trim().is_empty() {
            return Err(LoyaltyError::InvalidInput {
                what: "idempotency key",
                value: key,
                reason: "must not be blank",
            });
        }
        if key.len() > MAX_KEY_LEN {
            return Err(LoyaltyError::InvalidInput {
                what: "idempotency key",
                value: key,
                reason: "longer than 400 bytes",
            });
        }
        Ok(IdempotencyKey(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = LoyaltyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdempotencyKey::new(s)
    }
}

impl From<IdempotencyKey> for String {
    fn from(k: IdempotencyKey) -> String {
        k.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A membership tier, lowest first (the derived order is the tier order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberTier {
    /// Every member starts here.
    Normal,
    /// 银卡.
    Silver,
    /// 金卡.
    Gold,
    /// 钻石.
    Diamond,
}

impl MemberTier {
    /// All tiers, lowest first.
    pub const ALL: [MemberTier; 4] = [MemberTier::Normal, MemberTier::Silver, MemberTier::Gold, MemberTier::Diamond];

    /// The stable lowercase name stored in the database and config.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberTier::Normal => "normal",
            MemberTier::Silver => "silver",
            MemberTier::Gold => "gold",
            MemberTier::Diamond => "diamond",
        }
    }
}

impl fmt::Display for MemberTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MemberTier {
    type Err = LoyaltyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MemberTier::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| LoyaltyError::InvalidInput {
            what: "member tier",
            value: s.to_string(),
            reason: "expected normal, silver, gold or diamond",
        })
    }
}

/// A ledger account. Member accounts hold what the shop owes a member
/// (`available`) or what a member owes the shop (`debt`, never positive);
/// shop accounts are the other side of every movement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    /// Points a member can spend: `member:{id}:available`. Never negative.
    MemberAvailable(UserId),
    /// Points clawed back beyond what a member had: `member:{id}:debt`.
    /// Never positive; later credits repay it first.
    MemberDebt(UserId),
    /// Source of every point earned: `shop:issued`.
    ShopIssued,
    /// Sink of points spent in orders or exchanged for goods (and source of
    /// points restored by refunds): `shop:redeemed`.
    ShopRedeemed,
    /// Sink of points that reached their expiry: `shop:expired`.
    ShopExpired,
    /// Sink of points taken back when their order was refunded: `shop:clawback`.
    ShopClawback,
}

impl Account {
    /// The member this account belongs to, if it is a member account.
    pub fn member(&self) -> Option<&UserId> {
        match self {
            Account::MemberAvailable(u) | Account::MemberDebt(u) => Some(u),
            _ => None,
        }
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::MemberAvailable(u) => write!(f, "member:{u}:available"),
            Account::MemberDebt(u) => write!(f, "member:{u}:debt"),
            Account::ShopIssued => f.write_str("shop:issued"),
            Account::ShopRedeemed => f.write_str("shop:redeemed"),
            Account::ShopExpired => f.write_str("shop:expired"),
            Account::ShopClawback => f.write_str("shop:clawback"),
        }
    }
}

impl FromStr for Account {
    type Err = LoyaltyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || LoyaltyError::InvalidInput { what: "ledger account", value: s.to_string(), reason: "unknown" };
        match s {
            "shop:issued" => return Ok(Account::ShopIssued),
            "shop:redeemed" => return Ok(Account::ShopRedeemed),
            "shop:expired" => return Ok(Account::ShopExpired),
            "shop:clawback" => return Ok(Account::ShopClawback),
            _ => {}
        }
        let rest = s.strip_prefix("member:").ok_or_else(bad)?;
        if let Some(id) = rest.strip_suffix(":available") {
            return Ok(Account::MemberAvailable(UserId::new(id).map_err(|_| bad())?));
        }
        if let Some(id) = rest.strip_suffix(":debt") {
            return Ok(Account::MemberDebt(UserId::new(id).map_err(|_| bad())?));
        }
        Err(bad())
    }
}

/// One line of the append-only ledger. The entries of one operation always
/// sum to zero: a debit on one account is a credit on another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The operation that wrote it.
    pub operation: i64,
    /// What kind of operation (`order_paid`, `redeem`, `refund`, `expire`, …).
    pub kind: String,
    /// When the operation was committed.
    pub at: DateTime<Utc>,
    /// The account moved.
    pub account: Account,
    /// Signed amount: positive credits the account, negative debits it.
    pub amount: Points,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_including_colons_in_ids() {
        for text in ["member:u1:available", "member:a:b:debt", "shop:issued", "shop:clawback"] {
            assert_eq!(text.parse::<Account>().unwrap().to_string(), text);
        }
        assert!("member:u1:other".parse::<Account>().is_err());
        assert!("bank:x".parse::<Account>().is_err());
    }

    #[test]
    fn tiers_are_ordered_and_parse() {
        assert!(MemberTier::Normal < MemberTier::Silver && MemberTier::Gold < MemberTier::Diamond);
        assert_eq!("gold".parse::<MemberTier>().unwrap(), MemberTier::Gold);
        assert!("platinum".parse::<MemberTier>().unwrap_err().to_string().contains("platinum"));
    }

    #[test]
    fn keys_refuse_blank_and_long() {
        assert!(IdempotencyKey::new(" ").is_err());
        assert!(IdempotencyKey::new("k".repeat(401)).is_err());
        assert_eq!(IdempotencyKey::new("order-1:paid").unwrap().as_str(), "order-1:paid");
    }
}
