//! Shop-local time in SQL without the backend knowing time zones: the UTC
//! offsets of the shop's zone over the data's time range, as a list of
//! transitions that compiles to a `CASE` (a single `+ offset` for zones
//! without daylight saving, such as Asia/Shanghai).

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};
use cohort_model::ShopTime;

/// The zone's UTC offsets between two instants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneOffsets {
    /// Offset (seconds east of UTC) before the first transition.
    pub initial: i32,
    /// `(instant, new offset)` in time order.
    pub transitions: Vec<(DateTime<Utc>, i32)>,
}

fn offset_at(shop: &ShopTime, at: DateTime<Utc>) -> i32 {
    shop.tz().offset_from_utc_datetime(&at.naive_utc()).fix().local_minus_utc()
}

impl ZoneOffsets {
    /// The offsets of `shop`'s zone from `from` to `to` (a day of margin is
    /// added on both sides).
    pub fn between(shop: &ShopTime, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        let from = DateTime::from_timestamp(from.timestamp() - 86_400, 0).expect("in range");
        let to = to + Duration::days(1);
        let initial = offset_at(shop, from);
        let mut transitions = Vec::new();
        let mut current = initial;
        let mut at = from;
        let step = Duration::hours(6);
        while at < to {
            let next = at + step;
            let offset = offset_at(shop, next);
            if offset != current {
                // bisect to the second
                let (mut lo, mut hi) = (at.timestamp(), next.timestamp());
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    let mid_at = DateTime::from_timestamp(mid, 0).expect("in range");
                    if offset_at(shop, mid_at) == current {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                transitions.push((DateTime::from_timestamp(hi, 0).expect("in range"), offset));
                current = offset;
            }
            at = next;
        }
        ZoneOffsets { initial, transitions }
    }

    /// A fixed offset (for tests).
    pub fn fixed(offset_seconds: i32) -> Self {
        ZoneOffsets { initial: offset_seconds, transitions: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_is_fixed_and_london_changes_twice_a_year() {
        let from = Utc.with_ymd_and_hms(2011, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2011, 12, 31, 0, 0, 0).unwrap();
        assert_eq!(ZoneOffsets::between(&ShopTime::default(), from, to), ZoneOffsets::fixed(8 * 3600));
        let london = ZoneOffsets::between(&ShopTime::from_name("Europe/London").unwrap(), from, to);
        assert_eq!(london.initial, 0);
        assert_eq!(
            london.transitions,
            vec![
                (Utc.with_ymd_and_hms(2011, 3, 27, 1, 0, 0).unwrap(), 3600),
                (Utc.with_ymd_and_hms(2011, 10, 30, 1, 0, 0).unwrap(), 0)
            ]
        );
    }
}
