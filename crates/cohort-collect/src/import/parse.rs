//! Cell parsers shared by every importer. Each returns the reason a value
//! was refused, naming the value; callers prefix the column.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use cohort_model::{Money, Platform};

/// How money columns are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MoneyUnit {
    /// Decimal yuan (`19.90`), exact to the fen; sub-fen digits are rounded
    /// and counted.
    #[default]
    Yuan,
    /// Whole fen (`1990`).
    Fen,
}

/// Parses a money amount. The flag says whether sub-fen digits were rounded.
pub(crate) fn money(text: &str, unit: MoneyUnit) -> Result<(Money, bool), String> {
    match unit {
        MoneyUnit::Yuan => Money::parse_yuan(text).map_err(|e| e.to_string()),
        MoneyUnit::Fen => whole_number(text)
            .map(|fen| (Money::from_fen(fen), false))
            .ok_or_else(|| format!("invalid money amount {text:?}: not a whole number of fen")),
    }
}

/// Parses an integer; a float-formatted integer such as `17850.0` (common in
/// spreadsheet and pandas exports) is accepted.
pub(crate) fn integer(text: &str) -> Result<i64, String> {
    whole_number(text).ok_or_else(|| format!("invalid integer {text:?}"))
}

fn whole_number(text: &str) -> Option<i64> {
    let t = text.trim_ascii();
    if let Ok(n) = t.parse() {
        return Some(n);
    }
    match t.split_once('.') {
        Some((whole, zeros)) if !whole.is_empty() && zeros.bytes().all(|b| b == b'0') => whole.parse().ok(),
        _ => None,
    }
}

/// Parses `true` / `false` (also `1`/`0`, `yes`/`no`, `t`/`f`, `y`/`n`).
pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "t" | "y" => Ok(true),
        "false" | "0" | "no" | "f" | "n" => Ok(false),
        _ => Err(format!("invalid boolean {text:?} (expected true or false)")),
    }
}

/// Parses a calendar date `YYYY-MM-DD`.
pub(crate) fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("invalid date {text:?}: expected YYYY-MM-DD"))
}

/// Parses a platform name (`app`, `mini_program`, `web`, `store` and SDK spellings).
pub(crate) fn platform(text: &str) -> Result<Platform, String> {
    text.parse::<Platform>().map_err(|e| e.to_string())
}

/// Parses instants and checks they are plausible, remembering the last
/// text parsed (exports repeat the same timestamp on consecutive rows).
#[derive(Debug)]
pub(crate) struct InstantParser {
    tz: Tz,
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
    last_text: String,
    last: Option<DateTime<Utc>>,
}

impl InstantParser {
    /// Naive timestamps are read in `tz`; instants before 2000-01-01 UTC or
    /// more than one day after `now` are refused.
    pub(crate) fn new(tz: Tz, now: DateTime<Utc>) -> Self {
        InstantParser {
            tz,
            earliest: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().expect("valid instant"),
            latest: now + Duration::days(1),
            last_text: String::new(),
            last: None,
        }
    }

    /// Parses RFC 3339; naive `YYYY-MM-DD HH:MM:SS[.fff]`, `YYYY-MM-DDTHH:MM:SS[.fff]`
    /// or `YYYY-MM-DD` in the parser's zone; integer Unix seconds (≤ 1e11) or
    /// milliseconds.
    pub(crate) fn parse(&mut self, text: &str) -> Result<DateTime<Utc>, String> {
        let text = text.trim_ascii();
        if let Some(last) = self.last {
            if self.last_text == text {
                return Ok(last);
            }
        }
        let at = self.parse_uncached(text)?;
        if at < self.earliest {
            return Err(format!("timestamp {text:?} is before 2000-01-01"));
        }
        if at > self.latest {
            return Err(format!("timestamp {text:?} is more than 1 day in the future"));
        }
        self.last_text.clear();
        self.last_text.push_str(text);
        self.last = Some(at);
        Ok(at)
    }

    fn parse_uncached(&self, text: &str) -> Result<DateTime<Utc>, String> {
        let bad = || {
            format!("invalid timestamp {text:?}: expected RFC 3339, YYYY-MM-DD HH:MM:SS, YYYY-MM-DD or Unix seconds")
        };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let n: i64 = text.parse().map_err(|_| bad())?;
            let at =
                if n <= 100_000_000_000 { DateTime::from_timestamp(n, 0) } else { DateTime::from_timestamp_millis(n) };
            return at.ok_or_else(bad);
        }
        if let Some(naive) = naive_fast(text) {
            return self.local(naive).ok_or_else(bad);
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(at.with_timezone(&Utc));
        }
        for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
                return self.local(naive).ok_or_else(bad);
            }
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return self.local(day.and_time(NaiveTime::MIN)).ok_or_else(bad);
        }
        Err(bad())
    }

    /// A shop-local wall-clock time as an instant: the earlier of two on a
    /// DST fold, the hour after on a DST gap.
    fn local(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        self.tz
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| self.tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
            .map(|at| at.with_timezone(&Utc))
    }
}

/// `YYYY-MM-DD HH:MM:SS` (or with `T`), the most common export shape,
/// without going through chrono's format machinery.
fn naive_fast(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let day = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    day.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(tz: Tz) -> InstantParser {
        InstantParser::new(tz, Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap())
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn timestamps_in_every_accepted_shape() {
        let mut p = parser(chrono_tz::Asia::Shanghai);
        assert_eq!(p.parse("2025-05-18T12:34:56Z").unwrap(), utc(2025, 5, 18, 12, 34, 56));
        assert_eq!(p.parse("2025-05-18T20:34:56+08:00").unwrap(), utc(2025, 5, 18, 12, 34, 56));
        assert_eq!(p.parse("2025-05-18 20:34:56.250+08:00").unwrap().timestamp_millis() % 1000, 250);
        assert_eq!(p.parse("2025-05-18 20:34:56").unwrap(), utc(2025, 5, 18, 12, 34, 56));
        assert_eq!(p.parse("2025-05-18T20:34:56").unwrap(), utc(2025, 5, 18, 12, 34, 56));
        assert_eq!(p.parse("2025-05-18 20:34:56.5").unwrap().timestamp_millis() % 1000, 500);
        assert_eq!(p.parse("2025-05-18").unwrap(), utc(2025, 5, 17, 16, 0, 0));
        assert_eq!(p.parse("1511544070").unwrap(), utc(2017, 11, 24, 17, 21, 10));
        assert_eq!(p.parse("1511544070123").unwrap().timestamp_millis(), 1_511_544_070_123);
        // the cache answers repeated text
        assert_eq!(p.parse(" 1511544070 ").unwrap(), utc(2017, 11, 24, 17, 21, 10));
    }

    #[test]
    fn naive_times_follow_the_zone_and_its_dst() {
        let mut p = parser(chrono_tz::Europe::London);
        assert_eq!(p.parse("2010-12-01 08:26:00").unwrap(), utc(2010, 12, 1, 8, 26, 0));
        assert_eq!(p.parse("2011-06-01 08:26:00").unwrap(), utc(2011, 6, 1, 7, 26, 0));
        // 01:30 does not exist on 2011-03-27 in London: read as the hour after.
        assert_eq!(p.parse("2011-03-27 01:30:00").unwrap(), utc(2011, 3, 27, 1, 30, 0));
        // 01:30 happens twice on 2011-10-30: the earlier one.
        assert_eq!(p.parse("2011-10-30 01:30:00").unwrap(), utc(2011, 10, 30, 0, 30, 0));
    }

    #[test]
    fn implausible_or_malformed_timestamps_are_refused() {
        let mut p = parser(chrono_tz::UTC);
        assert!(p.parse("1999-12-31 23:59:59").unwrap_err().contains("before 2000-01-01"));
        assert!(p.parse("2025-06-02T00:00:01Z").unwrap_err().contains("in the future"));
        assert!(p.parse("2025-06-01T23:00:00Z").is_ok());
        for bad in ["", "yesterday", "2025-13-01", "2025-02-30 10:00:00", "12/05/2024", "-5"] {
            let err = p.parse(bad).unwrap_err();
            assert!(err.contains(&format!("{:?}", bad.trim())), "{err}");
        }
    }

    #[test]
    fn money_in_yuan_or_fen() {
        assert_eq!(money("19.90", MoneyUnit::Yuan).unwrap(), (Money::from_fen(1990), false));
        assert_eq!(money("0.001", MoneyUnit::Yuan).unwrap(), (Money::ZERO, true));
        assert_eq!(money("abc", MoneyUnit::Yuan).unwrap_err(), "invalid money amount \"abc\": not a decimal number");
        assert_eq!(money("1990", MoneyUnit::Fen).unwrap(), (Money::from_fen(1990), false));
        assert!(money("19.9", MoneyUnit::Fen).unwrap_err().contains("\"19.9\""));
    }

    #[test]
    fn integers_booleans_dates_platforms() {
        assert_eq!(integer("17850.0"), Ok(17850));
        assert_eq!(integer("-3"), Ok(-3));
        assert!(integer("3.5").unwrap_err().contains("\"3.5\""));
        assert!(integer(".0").is_err());
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("0"), Ok(false));
        assert!(boolean("maybe").is_err());
        assert_eq!(date("1990-02-03").unwrap(), NaiveDate::from_ymd_opt(1990, 2, 3).unwrap());
        assert!(date("03/02/1990").is_err());
        assert_eq!(platform("ios"), Ok(Platform::App));
        assert!(platform("fax").unwrap_err().contains("\"fax\""));
    }
}
