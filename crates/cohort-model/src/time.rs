//! Shop time: instants are stored in UTC; calendar days, hours of the day and
//! weekends are always computed in the shop's explicit time zone.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::ModelError;

/// The default shop time zone.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// The shop's time zone, and the calendar arithmetic done in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShopTime {
    tz: Tz,
}

impl Default for ShopTime {
    fn default() -> Self {
        ShopTime { tz: DEFAULT_TIME_ZONE }
    }
}

impl ShopTime {
    /// Shop time in the given zone.
    pub fn new(tz: Tz) -> Self {
        ShopTime { tz }
    }

    /// Shop time from an IANA zone name such as `Asia/Shanghai`.
    pub fn from_name(name: &str) -> Result<Self, ModelError> {
        name.parse::<Tz>().map(ShopTime::new).map_err(|_| ModelError::UnknownTimeZone(name.to_string()))
    }

    /// The zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The shop-local calendar date of an instant.
    pub fn date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.tz).date_naive()
    }

    /// The shop-local hour of the day (0–23).
    pub fn hour(&self, at: DateTime<Utc>) -> u32 {
        at.with_timezone(&self.tz).hour()
    }

    /// Whether the instant falls on a Saturday or Sunday, shop time.
    pub fn is_weekend(&self, at: DateTime<Utc>) -> bool {
        matches!(at.with_timezone(&self.tz).weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// Whole calendar days from `earlier` to `later`, counted on shop-local
    /// dates: an order at 23:59 yesterday is 1 day ago at 00:01 today. This is
    /// the reading of "within 30 days" used by every segment threshold.
    pub fn days_between(&self, earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
        (self.date(later) - self.date(earlier)).num_days()
    }

    /// The UTC instant of shop-local midnight starting `date`.
    pub fn start_of_day(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        // Midnight can be skipped by a DST jump in some zones: take the
        // earliest valid local time after it.
        (0..24)
            .find_map(|h| (midnight + chrono::Duration::hours(h)).and_local_timezone(self.tz).earliest())
            .expect("a day has a valid local hour")
            .with_timezone(&Utc)
    }
}

/// A source of "now", injected so cohorts, segments and journeys are
/// deterministic in tests.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn days_are_counted_on_shop_local_dates() {
        let shop = ShopTime::default();
        // 2024-03-01 23:59 Shanghai = 15:59 UTC; next day 00:01 Shanghai = 16:01 UTC.
        let late = Utc.with_ymd_and_hms(2024, 3, 1, 15, 59, 0).unwrap();
        let early_next = Utc.with_ymd_and_hms(2024, 3, 1, 16, 1, 0).unwrap();
        assert_eq!(shop.days_between(late, early_next), 1);
        assert_eq!(shop.hour(early_next), 0);
        // The same instants are the same UTC day.
        let utc = ShopTime::new(chrono_tz::UTC);
        assert_eq!(utc.days_between(late, early_next), 0);
    }

    #[test]
    fn weekend_and_start_of_day_in_shop_zone() {
        let shop = ShopTime::default();
        // Friday 2024-03-01 17:00 UTC is Saturday 01:00 in Shanghai.
        let at = Utc.with_ymd_and_hms(2024, 3, 1, 17, 0, 0).unwrap();
        assert!(shop.is_weekend(at));
        let day = NaiveDate::from_ymd_opt(2024, 3, 2).unwrap();
        assert_eq!(shop.start_of_day(day), Utc.with_ymd_and_hms(2024, 3, 1, 16, 0, 0).unwrap());
        assert!(ShopTime::from_name("Mars/Olympus").is_err());
    }
}
