//! The funnel's SQL: one scan of `events` returning the person, time, step
//! mask, exclusion mask and breakdown value of every event the funnel looks
//! at, in no particular order ([`super::scan`] groups them by person).

use chrono::{DateTime, Duration, Utc};
use cohort_model::ShopTime;

use super::{FunnelMode, FunnelSpec};
use crate::dialect::Dialect;

/// The instants bounding a funnel: first steps in `[start_from,
/// start_until)`, later steps up to `start_until + window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunnelBounds {
    /// Earliest first step (inclusive), if bounded.
    pub start_from: Option<DateTime<Utc>>,
    /// Latest first step (exclusive), if bounded.
    pub start_until: Option<DateTime<Utc>>,
}

impl FunnelBounds {
    /// The bounds of `spec`'s shop-local date range.
    pub fn of(spec: &FunnelSpec, shop: &ShopTime) -> Self {
        FunnelBounds {
            start_from: spec.range.from.map(|d| shop.start_of_day(d)),
            start_until: spec.range.to.map(|d| shop.start_of_day(d + chrono::Days::new(1))),
        }
    }
}

/// Compiles the funnel's event stream query. Columns: `person_id`, `t`
/// (epoch milliseconds), `mask` (bit *k* = matches step *k*), `excl` (bit
/// *x* = matches exclusion *x*), `bd` (breakdown value text or NULL).
pub fn compile(spec: &FunnelSpec, bounds: &FunnelBounds, d: &dyn Dialect) -> String {
    let flags = |preds: Vec<String>| -> String {
        if preds.is_empty() {
            return "0".into();
        }
        preds
            .iter()
            .enumerate()
            .map(|(i, p)| format!("CASE WHEN {p} THEN {} ELSE 0 END", 1_u64 << i))
            .collect::<Vec<_>>()
            .join("\n         + ")
    };
    let steps: Vec<String> = spec.steps.iter().map(|s| d.event_match(&s.event_match())).collect();
    let exclusions: Vec<String> = spec.exclusions.iter().map(|x| d.event_match(&x.event_match())).collect();
    let breakdown = match &spec.breakdown {
        Some(p) => d.to_text(&d.property(p)),
        None => "CAST(NULL AS VARCHAR)".into(),
    };
    let mut filters = vec!["person_id IS NOT NULL".to_string()];
    if let Some(from) = bounds.start_from {
        filters.push(format!("ts >= {}", d.timestamp(from)));
    }
    if let Some(until) = bounds.start_until {
        let end = until + Duration::milliseconds(spec.window.millis());
        filters.push(format!("ts <= {}", d.timestamp(end)));
    }
    filters.extend(spec.filters.iter().map(|f| format!("({})", d.filter(f))));
    // Strict mode needs every event (one in between breaks the chain).
    // Otherwise only the steps' and exclusions' events: a name filter the
    // scan applies before any CASE is evaluated.
    let keep = if spec.mode == FunnelMode::Strict {
        ""
    } else {
        let mut names: Vec<String> = spec
            .steps
            .iter()
            .map(|s| s.event_match().stored_name())
            .chain(spec.exclusions.iter().map(|x| x.event_match().stored_name()))
            .collect();
        names.sort();
        names.dedup();
        let names: Vec<String> = names.iter().map(|n| d.string(n)).collect();
        filters.push(format!("event IN ({})", names.join(", ")));
        "\nWHERE mask <> 0 OR excl <> 0"
    };
    format!(
        "SELECT person_id, t, mask, excl, bd FROM (\n  \
         SELECT person_id, {t} AS t,\n         \
         {mask} AS mask,\n         \
         {excl} AS excl,\n         \
         {breakdown} AS bd\n  \
         FROM events\n  \
         WHERE {filters}\n) AS e{keep}",
        t = d.epoch_millis("ts"),
        mask = flags(steps),
        excl = flags(exclusions),
        filters = filters.join("\n    AND "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::DuckDb;
    use crate::spec::{EventMatch, Property, Window};

    #[test]
    fn snapshot_of_a_compiled_funnel() {
        let mut spec = FunnelSpec::new([
            EventMatch::parse("Product Viewed[category=零食]").unwrap(),
            EventMatch::named("Product Added"),
            EventMatch::named("Order Completed"),
        ]);
        spec.window = Window::days(7);
        spec.breakdown = Some(Property::Platform);
        spec.exclusions.push(super::super::Exclusion {
            event: "Product Removed".into(),
            filters: vec![],
            from_step: 2,
            to_step: 3,
        });
        spec.range.from = Some(chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap());
        spec.range.to = Some(chrono::NaiveDate::from_ymd_opt(2025, 3, 31).unwrap());
        let sql = compile(&spec, &FunnelBounds::of(&spec, &ShopTime::default()), &DuckDb);
        assert_eq!(
            sql,
            "SELECT person_id, t, mask, excl, bd FROM (
  SELECT person_id, epoch_ms(ts) AS t,
         CASE WHEN event = 'Product Viewed' AND (CAST(category AS VARCHAR) = '零食') THEN 1 ELSE 0 END
         + CASE WHEN event = 'Product Added' THEN 2 ELSE 0 END
         + CASE WHEN event = 'Order Completed' THEN 4 ELSE 0 END AS mask,
         CASE WHEN event = 'Product Removed' THEN 1 ELSE 0 END AS excl,
         CAST(platform AS VARCHAR) AS bd
  FROM events
  WHERE person_id IS NOT NULL
    AND ts >= TIMESTAMP '2025-02-28 16:00:00.000000'
    AND ts <= TIMESTAMP '2025-04-07 16:00:00.000000'
    AND event IN ('Order Completed', 'Product Added', 'Product Removed', 'Product Viewed')
) AS e
WHERE mask <> 0 OR excl <> 0"
        );
    }
}
