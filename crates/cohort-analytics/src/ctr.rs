//! Recommendation click-through rate on the KPI board.
//!
//! The server records every list it serves as a `Recommendation Shown`
//! event (no person: it is the server's record, not the user's activity,
//! so it never counts towards DAU, lifecycle or LTV) whose properties carry
//! `recommendation_id`, `placement`, `user_id` and the `products` shown.
//! The shop sends clicks through the normal Segment ingest as `Product
//! Clicked` (or `Recommendation Clicked`) with the same `recommendation_id`.
//!
//! CTR of a placement = clicked impressions ÷ impressions, where an
//! impression is one served list shown in the board's range and a click is
//! the first click carrying its id, up to the board's `as_of` (repeat
//! clicks on one list count once, so the rate is a share from 0 to 1;
//! clicks naming an unknown id are ignored).

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::dialect::Dialect;
use crate::kpi::{kpi, ratio, Kpi, KpiUnit};

/// Name of the impression event the server records.
pub const IMPRESSION_EVENT: &str = "Recommendation Shown";
/// Names of the click events that carry a `recommendation_id`.
pub const CLICK_EVENTS: [&str; 2] = ["Product Clicked", "Recommendation Clicked"];
/// The property joining clicks to impressions.
pub const ID_PROPERTY: &str = "recommendation_id";

/// One row per placement: `placement, impressions, clicked impressions`.
pub fn compile(
    from: NaiveDate,
    to: NaiveDate,
    as_of: DateTime<Utc>,
    shop: &cohort_model::ShopTime,
    d: &dyn Dialect,
) -> String {
    let lo = d.timestamp(shop.start_of_day(from));
    let hi = d.timestamp(shop.start_of_day(to + Days::new(1)).min(as_of + chrono::Duration::milliseconds(1)));
    // `as_of` may come from a millisecond reading of the latest event while
    // `ts` keeps microseconds: the bound is the end of its millisecond.
    let until = d.timestamp(as_of + chrono::Duration::milliseconds(1));
    let id = d.json_text("properties", ID_PROPERTY);
    let placement = d.json_text("properties", "placement");
    let clicks = CLICK_EVENTS.iter().map(|e| d.string(e)).collect::<Vec<_>>().join(", ");
    format!(
        "WITH shown AS (\n  \
         SELECT DISTINCT {id} AS rec, coalesce({placement}, 'unknown') AS placement FROM events\n  \
         WHERE event = {shown} AND ts >= {lo} AND ts < {hi}\n\
         ), clicked AS (\n  \
         SELECT DISTINCT {id} AS rec FROM events\n  \
         WHERE event IN ({clicks}) AND ts >= {lo} AND ts < {until} AND {id} IS NOT NULL\n\
         )\n\
         SELECT s.placement, count(*) AS impressions, count(c.rec) AS clicked\n\
         FROM shown AS s LEFT JOIN clicked AS c ON c.rec = s.rec\n\
         WHERE s.rec IS NOT NULL GROUP BY s.placement ORDER BY s.placement",
        shown = d.string(IMPRESSION_EVENT),
    )
}

/// The board's CTR KPIs from the rows of [`compile`]: `recommendation_ctr`
/// over every placement, then `recommendation_ctr_<placement>` for each
/// placement served in the range, all against `target`.
pub fn kpis(rows: &[(String, i64, i64)], target: f64) -> Vec<Kpi> {
    let (shown, clicked) = rows.iter().fold((0, 0), |(s, c), r| (s + r.1, c + r.2));
    let overall = kpi("recommendation_ctr", "recommendation CTR (clicked lists / lists served)", None, KpiUnit::Ratio);
    let mut out = vec![Kpi { value: ratio(clicked, shown), ..overall }
        .at_least(target)
        .note(format!("{clicked} of {shown} served lists clicked"))];
    for (placement, shown, clicked) in rows {
        let label = format!("recommendation CTR at {placement}");
        out.push(
            kpi(&format!("recommendation_ctr_{placement}"), &label, ratio(*clicked, *shown), KpiUnit::Ratio)
                .at_least(target)
                .note(format!("{clicked} of {shown} served lists clicked")),
        );
    }
    out
}

/// Runs [`compile`] on `conn` and returns [`kpis`].
pub(crate) fn board(conn: &duckdb::Connection, sql: &str, target: f64) -> crate::error::Result<Vec<Kpi>> {
    tracing::debug!(%sql, "recommendation ctr");
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(kpis(&rows, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overall_and_per_placement_against_the_target() {
        let rows = vec![("cart".to_string(), 2, 1), ("home".to_string(), 4, 0)];
        let k = kpis(&rows, 0.08);
        assert_eq!(k.len(), 3);
        assert_eq!(k[0].key, "recommendation_ctr");
        assert_eq!(k[0].value, Some(1.0 / 6.0));
        assert_eq!(k[0].met, Some(true));
        assert_eq!(k[1].key, "recommendation_ctr_cart");
        assert_eq!(k[1].value, Some(0.5));
        assert_eq!(k[2].value, Some(0.0));
        assert_eq!(k[2].met, Some(false));
        assert_eq!(k[2].note.as_deref(), Some("0 of 4 served lists clicked"));
    }

    #[test]
    fn nothing_served_has_no_value() {
        let k = kpis(&[], 0.08);
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].value, None);
        assert_eq!(k[0].met, None);
    }
}
