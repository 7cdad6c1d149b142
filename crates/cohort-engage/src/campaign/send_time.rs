//! Send-time optimisation: each person at the hour they are usually active
//! (the profile's `peak_hour`, shop time), the first such hour at or after
//! the campaign's start. A peak inside quiet hours is not used (the message
//! would only be held to 08:00); the person gets the start time instead.

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use cohort_model::ShopTime;

use crate::policy::{local_instant, ContactRules};

/// The send time for someone whose peak hour is `peak_hour`.
pub fn peak_send_time(
    not_before: DateTime<Utc>,
    peak_hour: Option<u8>,
    shop: ShopTime,
    rules: &ContactRules,
) -> DateTime<Utc> {
    let Some(hour) = peak_hour.filter(|h| *h < 24) else { return not_before };
    let at_hour = NaiveTime::from_hms_opt(u32::from(hour), 0, 0).expect("hour < 24");
    if rules.is_quiet(at_hour) {
        return not_before;
    }
    let local = not_before.with_timezone(&shop.tz());
    if local.hour() == u32::from(hour) {
        return not_before;
    }
    let today = local_instant(shop, local.date_naive(), at_hour);
    if today >= not_before {
        today
    } else {
        local_instant(shop, local.date_naive() + Duration::days(1), at_hour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sends_at_the_next_peak_hour_outside_quiet_hours() {
        let shop = ShopTime::default();
        let rules = ContactRules::default();
        // Start 10:30 Shanghai (02:30 UTC).
        let start = Utc.with_ymd_and_hms(2024, 5, 1, 2, 30, 0).unwrap();
        // Peak 20:00 → 20:00 the same day (12:00 UTC).
        assert_eq!(peak_send_time(start, Some(20), shop, &rules), Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap());
        // Peak 09:00 → tomorrow 09:00 (01:00 UTC May 2).
        assert_eq!(peak_send_time(start, Some(9), shop, &rules), Utc.with_ymd_and_hms(2024, 5, 2, 1, 0, 0).unwrap());
        // Peak 10:00 is the current hour → now.
        assert_eq!(peak_send_time(start, Some(10), shop, &rules), start);
        // Peak 23:00 is in quiet hours; no peak known → start.
        assert_eq!(peak_send_time(start, Some(23), shop, &rules), start);
        assert_eq!(peak_send_time(start, None, shop, &rules), start);
    }
}
