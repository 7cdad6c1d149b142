//! Money as integer fen (hundredths of the shop currency, CNY by default).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// An amount of money in fen (1 yuan = 100 fen). Integer so that sums over
/// millions of order lines are exact; signed so refunds and debts can be
/// represented.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

impl Money {
    /// Zero fen.
    pub const ZERO: Money = Money(0);

    /// An amount from fen.
    pub const fn from_fen(fen: i64) -> Self {
        Money(fen)
    }

    /// An amount from whole yuan.
    pub const fn from_yuan(yuan: i64) -> Self {
        Money(yuan * 100)
    }

    /// The amount in fen.
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// The amount in yuan as a float, for display and statistics only.
    pub fn yuan_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Parses a decimal amount in yuan ("12.5", "-3.99", "0.001").
    ///
    /// Digits past the second decimal place are rounded half-away-from-zero to
    /// the nearest fen; the returned flag says whether rounding changed the
    /// value, so importers can count it instead of hiding it.
    pub fn parse_yuan(text: &str) -> Result<(Money, bool), ModelError> {
        let bad = |reason| ModelError::InvalidMoney { value: text.to_string(), reason };
        let t = text.trim();
        let (negative, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(bad("not a number"));
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a decimal number"));
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad("too large"))? };
        let frac_bytes = frac.as_bytes();
        let digit = |i: usize| frac_bytes.get(i).map_or(0, |b| i64::from(b - b'0'));
        let mut fen = whole
            .checked_mul(100)
            .and_then(|f| f.checked_add(digit(0) * 10 + digit(1)))
            .ok_or_else(|| bad("too large"))?;
        let rest = frac_bytes.get(2..).unwrap_or(&[]);
        let rounded = rest.iter().any(|&b| b != b'0');
        if rest.first().is_some_and(|&b| b >= b'5') {
            fen = fen.checked_add(1).ok_or_else(|| bad("too large"))?;
        }
        Ok((Money(if negative { -fen } else { fen }), rounded))
    }

    /// `self * quantity`, saturating instead of overflowing.
    pub fn times(self, quantity: i64) -> Money {
        Money(self.0.saturating_mul(quantity))
    }
}

impl fmt::Display for Money {
    /// Formats as yuan with two decimals and the ¥ sign: `¥1,234.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}¥{grouped}.{:02}", abs % 100)
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        self.0 += rhs.0;
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 -= rhs.0;
    }
}

impl Neg for Money {
    type Output = Money;
    fn neg(self) -> Money {
        Money(-self.0)
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yuan_to_fen_exactly() {
        assert_eq!(Money::parse_yuan("2.55").unwrap(), (Money::from_fen(255), false));
        assert_eq!(Money::parse_yuan("12").unwrap(), (Money::from_fen(1200), false));
        assert_eq!(Money::parse_yuan("0.5").unwrap(), (Money::from_fen(50), false));
        assert_eq!(Money::parse_yuan("-11062.06").unwrap(), (Money::from_fen(-1_106_206), false));
        assert_eq!(Money::parse_yuan(".75").unwrap(), (Money::from_fen(75), false));
        assert_eq!(Money::parse_yuan("1.50").unwrap(), (Money::from_fen(150), false));
    }

    #[test]
    fn sub_fen_digits_are_rounded_and_flagged() {
        assert_eq!(Money::parse_yuan("0.001").unwrap(), (Money::ZERO, true));
        assert_eq!(Money::parse_yuan("0.005").unwrap(), (Money::from_fen(1), true));
        assert_eq!(Money::parse_yuan("-0.125").unwrap(), (Money::from_fen(-13), true));
        assert_eq!(Money::parse_yuan("3.100").unwrap(), (Money::from_fen(310), false));
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", "abc", "1,5", "1.2.3", "--1", ".", "1e5", "99999999999999999999"] {
            assert!(Money::parse_yuan(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn displays_grouped_yuan() {
        assert_eq!(Money::from_fen(123_450).to_string(), "¥1,234.50");
        assert_eq!(Money::from_fen(-5).to_string(), "-¥0.05");
        assert_eq!(Money::from_fen(100_000_000).to_string(), "¥1,000,000.00");
    }
}
