//! Contact rules every marketing message obeys, whatever its channel:
//! frequency caps (per shop-local day and per any 7 consecutive days) and
//! quiet hours (default 22:00–08:00 shop time; a message due inside them is
//! deferred to their end, never dropped). Pure functions; the outbox applies
//! them inside the enqueue transaction.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use cohort_model::ShopTime;
use serde::{Deserialize, Serialize};

use crate::EngageError;

/// The contact rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContactRules {
    /// Most marketing messages per person per shop-local day, all channels.
    pub max_per_day: u32,
    /// Most marketing messages per person in any 7 consecutive shop-local days.
    pub max_per_week: u32,
    /// Start of quiet hours, shop time.
    pub quiet_start: NaiveTime,
    /// End of quiet hours, shop time (before the start: the window spans midnight).
    pub quiet_end: NaiveTime,
}

impl Default for ContactRules {
    fn default() -> Self {
        ContactRules {
            max_per_day: 1,
            max_per_week: 3,
            quiet_start: NaiveTime::from_hms_opt(22, 0, 0).expect("valid"),
            quiet_end: NaiveTime::from_hms_opt(8, 0, 0).expect("valid"),
        }
    }
}

impl ContactRules {
    /// Checks the caps are consistent.
    pub fn validate(&self) -> Result<(), EngageError> {
        if self.max_per_week < self.max_per_day {
            return Err(EngageError::invalid(
                "contact rules",
                format!("max_per_day {} max_per_week {}", self.max_per_day, self.max_per_week),
                "max_per_week must be at least max_per_day",
            ));
        }
        Ok(())
    }

    /// Whether shop-local time `t` is inside quiet hours.
    pub fn is_quiet(&self, t: NaiveTime) -> bool {
        let (s, e) = (self.quiet_start, self.quiet_end);
        if s == e {
            false
        } else if s < e {
            t >= s && t < e
        } else {
            t >= s || t < e
        }
    }

    /// `at`, or the end of the quiet hours it falls in.
    pub fn out_of_quiet_hours(&self, shop: ShopTime, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&shop.tz());
        let t = local.time();
        if !self.is_quiet(t) {
            return at;
        }
        let date = local.date_naive();
        // After the start on a window spanning midnight, the end is tomorrow.
        let end_date =
            if self.quiet_start > self.quiet_end && t >= self.quiet_start { date + Duration::days(1) } else { date };
        local_instant(shop, end_date, self.quiet_end)
    }

    /// Whether one more marketing message on `day` keeps every cap, given
    /// the person's marketing messages per day around it (`counts` holds
    /// `(day, count)` for days within 6 of `day`). Returns the cap that
    /// would be broken.
    pub fn cap_broken(&self, day: NaiveDate, counts: &[(NaiveDate, u32)]) -> Option<CapBroken> {
        let on = |d: NaiveDate| counts.iter().filter(|(c, _)| *c == d).map(|(_, n)| *n).sum::<u32>();
        if on(day) + 1 > self.max_per_day {
            return Some(CapBroken::Day);
        }
        // Every 7-day window holding `day`: starting 6 days before to on it.
        for start in 0..7 {
            let first = day - Duration::days(6 - start);
            let total: u32 = (0..7).map(|i| on(first + Duration::days(i))).sum();
            if total + 1 > self.max_per_week {
                return Some(CapBroken::Week);
            }
        }
        None
    }
}

/// Which frequency cap a message would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapBroken {
    /// The per-day cap.
    Day,
    /// The 7-day cap.
    Week,
}

impl CapBroken {
    /// The suppression reason stored on the message.
    pub fn reason(self) -> &'static str {
        match self {
            CapBroken::Day => "frequency_cap_day",
            CapBroken::Week => "frequency_cap_week",
        }
    }
}

/// The UTC instant of a shop-local date and time (the earliest one when a
/// DST change makes it ambiguous, the next valid one when it is skipped).
pub(crate) fn local_instant(shop: ShopTime, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    (0..3)
        .find_map(|h| (naive + Duration::hours(h)).and_local_timezone(shop.tz()).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| shop.start_of_day(date))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, day).unwrap()
    }

    #[test]
    fn quiet_hours_defer_to_eight_shop_time() {
        let rules = ContactRules::default();
        let shop = ShopTime::default(); // Asia/Shanghai, UTC+8
                                        // 21:59 Shanghai = 13:59 UTC: not quiet.
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 13, 59, 0).unwrap();
        assert_eq!(rules.out_of_quiet_hours(shop, at), at);
        // 22:00 Shanghai → 08:00 next day Shanghai = 00:00 UTC May 2.
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 14, 0, 0).unwrap();
        assert_eq!(rules.out_of_quiet_hours(shop, at), Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap());
        // 03:30 Shanghai May 2 (19:30 UTC May 1) → 08:00 the same local day.
        let at = Utc.with_ymd_and_hms(2024, 5, 1, 19, 30, 0).unwrap();
        assert_eq!(rules.out_of_quiet_hours(shop, at), Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap());
        // 08:00 exactly is allowed.
        let at = Utc.with_ymd_and_hms(2024, 5, 2, 0, 0, 0).unwrap();
        assert_eq!(rules.out_of_quiet_hours(shop, at), at);
        // A window inside one day (12:00–14:00).
        let noon = ContactRules {
            quiet_start: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
            quiet_end: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
            ..ContactRules::default()
        };
        assert!(noon.is_quiet(NaiveTime::from_hms_opt(13, 0, 0).unwrap()));
        assert!(!noon.is_quiet(NaiveTime::from_hms_opt(23, 0, 0).unwrap()));
    }

    #[test]
    fn caps_per_day_and_any_seven_days() {
        let rules = ContactRules::default(); // 1/day, 3/week
        assert_eq!(rules.cap_broken(d(10), &[]), None);
        assert_eq!(rules.cap_broken(d(10), &[(d(10), 1)]), Some(CapBroken::Day));
        assert_eq!(rules.cap_broken(d(10), &[(d(4), 1), (d(6), 1)]), None);
        assert_eq!(rules.cap_broken(d(10), &[(d(4), 1), (d(6), 1), (d(8), 1)]), Some(CapBroken::Week));
        // May 3 is 7 days before May 10: outside every window with May 10.
        assert_eq!(rules.cap_broken(d(10), &[(d(3), 1), (d(6), 1), (d(8), 1)]), None);
        // Messages already scheduled after the day count too.
        assert_eq!(rules.cap_broken(d(10), &[(d(12), 1), (d(14), 1), (d(16), 1)]), Some(CapBroken::Week));
        assert_eq!(rules.cap_broken(d(10), &[(d(12), 1), (d(14), 1), (d(17), 1)]), None);
        assert!(ContactRules { max_per_day: 4, ..ContactRules::default() }.validate().is_err());
    }
}
