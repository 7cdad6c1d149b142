//! The shop's calendar: traffic and conversion multipliers per day
//! (weekends, 618, Double 11, Double 12, the Spring Festival) and the
//! shop-local hour-of-day curves.

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use cohort_model::ShopTime;

use super::rng::{Cumulative, ShopRng};

/// A shop-wide promotion or holiday that moves traffic and conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Campaign {
    /// 年货节: the New-Year-goods festival in the weeks before the Spring Festival.
    NewYearGoods,
    /// 春节: the Spring Festival, when couriers stop and traffic dips.
    SpringFestival,
    /// 618: the mid-year sale, June 1–18, peaking on the 18th.
    Mid618,
    /// 双11: Singles' Day, pre-sales from late October, peaking on November 11.
    Double11,
    /// 双12: a smaller echo on December 12.
    Double12,
}

impl Campaign {
    /// The name written to the `campaign` event property.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Campaign::NewYearGoods => "new_year_goods",
            Campaign::SpringFestival => "spring_festival",
            Campaign::Mid618 => "618",
            Campaign::Double11 => "double11",
            Campaign::Double12 => "double12",
        }
    }

    /// Whether this is one of the big sales that wake dormant users up.
    pub(crate) fn is_big_sale(self) -> bool {
        matches!(self, Campaign::Mid618 | Campaign::Double11)
    }
}

/// One shop-local day of the simulated period.
#[derive(Debug, Clone)]
pub(crate) struct Day {
    /// Unix seconds of shop-local midnight.
    pub start: i64,
    /// Unix seconds of the next shop-local midnight.
    pub end: i64,
    /// Visit multiplier (1 = an ordinary weekday).
    pub traffic: f64,
    /// Purchase-intent multiplier (1 = ordinary).
    pub conversion: f64,
    /// Saturday or Sunday.
    pub weekend: bool,
    /// The promotion or holiday running, if any.
    pub campaign: Option<Campaign>,
}

/// Every day of the period, precomputed once per generator.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    /// The days, index 0 = the start date.
    pub days: Vec<Day>,
    /// Unix seconds of the period start (inclusive).
    pub start: i64,
    /// Unix seconds of the period end (exclusive).
    pub end: i64,
}

impl Calendar {
    /// The calendar of `days` days from `start` in the shop's zone.
    pub(crate) fn new(start: NaiveDate, days: u32, shop: ShopTime) -> Self {
        let days: Vec<Day> = (0..days)
            .map(|d| {
                let date = start + Duration::days(i64::from(d));
                let (traffic, conversion, campaign) = seasonality(date);
                let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
                Day {
                    start: shop.start_of_day(date).timestamp(),
                    end: shop.start_of_day(date + Duration::days(1)).timestamp(),
                    traffic: traffic * if weekend { 1.12 } else { 1.0 },
                    conversion,
                    weekend,
                    campaign,
                }
            })
            .collect();
        let start = days[0].start;
        let end = days[days.len() - 1].end;
        Calendar { days, start, end }
    }
}

/// Traffic and conversion multipliers and the campaign for a date.
fn seasonality(date: NaiveDate) -> (f64, f64, Option<Campaign>) {
    let days_to =
        |month, day| NaiveDate::from_ymd_opt(date.year(), month, day).map_or(i64::MAX, |peak| (peak - date).num_days());
    // 618: June 1–18, rising steeply over the last days.
    let to_618 = days_to(6, 18);
    if (0..=17).contains(&to_618) {
        let heat = (-(to_618 as f64) / 3.0).exp();
        return (1.5 + 3.0 * heat, 1.2 + 0.8 * heat, Some(Campaign::Mid618));
    }
    // Double 11: pre-sales from October 22, peak on November 11.
    let to_d11 = days_to(11, 11);
    if (0..=20).contains(&to_d11) {
        let heat = (-(to_d11 as f64) / 3.0).exp();
        return (1.5 + 4.0 * heat, 1.25 + 1.0 * heat, Some(Campaign::Double11));
    }
    let to_d12 = days_to(12, 12);
    if (0..=2).contains(&to_d12) {
        let heat = (-(to_d12 as f64) / 1.5).exp();
        return (1.2 + 1.0 * heat, 1.1 + 0.3 * heat, Some(Campaign::Double12));
    }
    // The Spring Festival of this year, or of next year for late-December dates.
    for year in [date.year(), date.year() + 1] {
        let offset = (date - spring_festival(year)).num_days();
        if (-7..=7).contains(&offset) {
            return (0.5, 0.7, Some(Campaign::SpringFestival));
        }
        if (-25..=-8).contains(&offset) {
            return (1.25, 1.1, Some(Campaign::NewYearGoods));
        }
    }
    (1.0, 1.0, None)
}

/// The first day of the lunar new year (from a table; an approximation for
/// years outside it).
pub(crate) fn spring_festival(year: i32) -> NaiveDate {
    const TABLE: [(u32, u32); 26] = [
        (2, 14), // 2010
        (2, 3),
        (1, 23),
        (2, 10),
        (1, 31),
        (2, 19), // 2015
        (2, 8),
        (1, 28),
        (2, 16),
        (2, 5),
        (1, 25), // 2020
        (2, 12),
        (2, 1),
        (1, 22),
        (2, 10),
        (1, 29), // 2025
        (2, 17),
        (2, 6),
        (1, 26),
        (2, 13),
        (2, 3), // 2030
        (1, 23),
        (2, 11),
        (1, 31),
        (2, 19),
        (2, 8), // 2035
    ];
    let (month, day) = usize::try_from(year - 2010).ok().and_then(|i| TABLE.get(i).copied()).unwrap_or((2, 5));
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or(NaiveDate::MIN)
}

/// Relative session starts per shop-local hour for most people: quiet
/// nights, a morning rise, a lunch bump and the evening peak at 20–22h.
const DAY_HOURS: [f64; 24] = [
    1.5, 0.8, 0.4, 0.2, 0.2, 0.3, 0.8, 1.8, 2.8, 3.2, 3.6, 3.8, 4.2, 3.8, 3.4, 3.4, 3.5, 3.6, 4.0, 5.0, 6.5, 7.0, 5.8,
    3.2,
];

/// Hour curves for the two kinds of people.
#[derive(Debug, Clone)]
pub(crate) struct HourCurves {
    day: Cumulative,
    night: Cumulative,
}

impl HourCurves {
    pub(crate) fn new() -> Self {
        let night = DAY_HOURS.iter().enumerate().map(|(h, w)| match h {
            22 => 8.0,
            23 => 10.0,
            0 => 9.0,
            1 => 6.0,
            _ => w * 0.12,
        });
        HourCurves { day: Cumulative::new(DAY_HOURS), night: Cumulative::new(night) }
    }

    /// A shop-local hour for a session start.
    pub(crate) fn hour(&self, rng: &mut ShopRng, night_owl: bool) -> u32 {
        let curve = if night_owl { &self.night } else { &self.day };
        curve.sample(rng) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_calendar_peaks_on_618_and_double_11_and_dips_at_spring_festival() {
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), 365, ShopTime::default());
        let day = |m, d| &cal.days[(NaiveDate::from_ymd_opt(2025, m, d).unwrap().ordinal0()) as usize];
        assert!(day(6, 18).traffic > 3.5 && day(6, 18).campaign == Some(Campaign::Mid618));
        assert!(day(11, 11).traffic > 4.5 && day(11, 11).conversion > 2.0);
        assert!(day(1, 30).traffic < 0.6, "2025 Spring Festival is January 29");
        assert!((day(3, 12).traffic - 1.0).abs() < 1e-9);
        assert_eq!(cal.end - cal.start, 365 * 86_400);
    }
}
