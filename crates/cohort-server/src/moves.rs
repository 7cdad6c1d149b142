//! Who moved between segments: `GET /v1/segments/transitions?from=&to=&dimension=`
//! puts everyone in a value tier (or lifecycle stage) as of the end of two
//! shop-local days, with the rules and `[segments]` thresholds `cohort
//! compute` uses at those instants, and counts each (from, to) pair.
//! People not known yet on `from` (no record and no registration by then)
//! come from `not_known`. Each person's profile is built twice from their
//! history (about twice the build time of a recompute; nothing is stored).
//! Defaults: `to` = the day of the latest record, `from` = 30 days before,
//! `dimension` = `value_tier`; a bad parameter is 400 `invalid_input`.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Days, Duration, NaiveDate, Utc};
use cohort_insight::{build_profile_with, default_as_of, lifecycle_stage, value_tier, Catalogue, InsightConfig};
use cohort_model::{LifecycleStage, Profile, ShopTime, ValueTier};
use cohort_store::{EventStore, PersonHistory};
use serde::Serialize;

use crate::analytics::admin_service;
use crate::error::{invalid_input, query_failed};
use crate::AppState;

/// The label of people not known yet at `from`.
const NOT_KNOWN: &str = "not_known";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    ValueTier,
    Lifecycle,
}

impl Dimension {
    fn labels(self) -> Vec<&'static str> {
        match self {
            Dimension::ValueTier => ValueTier::ALL.iter().map(|t| t.as_str()).collect(),
            Dimension::Lifecycle => LifecycleStage::ALL.iter().map(|s| s.as_str()).collect(),
        }
    }

    fn of(self, p: &Profile, cfg: &InsightConfig) -> &'static str {
        match self {
            Dimension::ValueTier => value_tier(p, &cfg.value).as_str(),
            Dimension::Lifecycle => lifecycle_stage(p, &cfg.lifecycle).as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct MovesQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    dimension: Dimension,
}

fn parse(raw: Option<&str>) -> Result<MovesQuery, String> {
    let mut q = MovesQuery { from: None, to: None, dimension: Dimension::ValueTier };
    let date = |k: &str, v: &str| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| format!("{k} {v:?}: expected a date YYYY-MM-DD"))
    };
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "from" => q.from = Some(date(k, v)?),
            "to" => q.to = Some(date(k, v)?),
            "dimension" => {
                q.dimension = match v {
                    "value_tier" => Dimension::ValueTier,
                    "lifecycle" => Dimension::Lifecycle,
                    _ => return Err(format!("dimension {v:?}: expected value_tier or lifecycle")),
                }
            }
            other => return Err(format!("unknown query parameter {other:?} (expected from, to, dimension)")),
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from >= to {
            return Err(format!("from {from}: must be before to ({to})"));
        }
    }
    Ok(q)
}

/// The answer.
#[derive(Debug, Serialize)]
struct Moves {
    dimension: &'static str,
    from: NaiveDate,
    to: NaiveDate,
    /// Rows (`not_known` first), then the segments in display order.
    from_segments: Vec<&'static str>,
    to_segments: Vec<&'static str>,
    /// Every non-empty (from, to) pair, in row then column order.
    cells: Vec<Cell>,
    /// People known on `to`.
    persons: u64,
    /// Of them, in the same segment on both days.
    stayed: u64,
}

#[derive(Debug, Serialize)]
struct Cell {
    from: &'static str,
    to: &'static str,
    persons: u64,
}

/// The last instant of a shop-local day.
fn end_of(shop: &ShopTime, day: NaiveDate) -> DateTime<Utc> {
    shop.start_of_day(day + Days::new(1)) - Duration::microseconds(1)
}

/// Whether anything about the person is known at `at` (as `cohort compute`
/// decides whom to profile).
fn known_at(h: &PersonHistory, at: DateTime<Utc>) -> bool {
    h.events.iter().any(|e| e.timestamp <= at)
        || h.orders.iter().any(|o| o.placed_at <= at)
        || h.user.as_ref().is_some_and(|u| u.registered_at.is_none_or(|t| t <= at))
}

fn count(store: &dyn EventStore, cfg: &InsightConfig, q: &MovesQuery) -> Result<Moves, String> {
    let shop = cfg.shop_time().map_err(|e| e.to_string())?;
    let to = match q.to {
        Some(d) => d,
        None => {
            let last = default_as_of(store).map_err(|e| e.to_string())?;
            shop.date(last.ok_or("the store is empty: import or generate data first")?)
        }
    };
    let from = q.from.unwrap_or(to - Days::new(30));
    if from >= to {
        return Err(format!("from {from}: must be before to ({to})"));
    }
    let (from_at, to_at) = (end_of(&shop, from), end_of(&shop, to));
    let labels = q.dimension.labels();
    let index = |l: &str| labels.iter().position(|x| *x == l).expect("a label of the dimension");
    // Row 0 is not_known; row i + 1 is labels[i].
    let mut grid = vec![vec![0u64; labels.len()]; labels.len() + 1];
    let catalogue: Catalogue = store.products().map_err(|e| e.to_string())?.into_iter().collect();
    store
        .scan_histories(&mut |h| {
            if !known_at(&h, to_at) {
                return Ok(());
            }
            let now = q.dimension.of(&build_profile_with(&h, &catalogue, to_at, &shop, cfg), cfg);
            let before = known_at(&h, from_at)
                .then(|| q.dimension.of(&build_profile_with(&h, &catalogue, from_at, &shop, cfg), cfg));
            grid[before.map_or(0, |b| index(b) + 1)][index(now)] += 1;
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    let from_segments: Vec<&'static str> = std::iter::once(NOT_KNOWN).chain(labels.iter().copied()).collect();
    let mut cells = Vec::new();
    for (r, row) in grid.iter().enumerate() {
        for (c, &n) in row.iter().enumerate() {
            if n > 0 {
                cells.push(Cell { from: from_segments[r], to: labels[c], persons: n });
            }
        }
    }
    Ok(Moves {
        dimension: if q.dimension == Dimension::ValueTier { "value_tier" } else { "lifecycle" },
        from,
        to,
        persons: grid.iter().flatten().sum(),
        stayed: (0..labels.len()).map(|i| grid[i + 1][i]).sum(),
        from_segments,
        to_segments: labels,
        cells,
    })
}

/// `GET /v1/segments/transitions`.
pub(crate) async fn transitions(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let service = match admin_service(&state, &headers) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let q = match parse(raw.as_deref()) {
        Ok(q) => q,
        Err(message) => return invalid_input(message),
    };
    let cfg = service.segments_config().clone();
    let store = service.store().clone();
    match tokio::task::spawn_blocking(move || count(store.as_ref(), &cfg, &q)).await {
        Ok(Ok(moves)) => Json(moves).into_response(),
        Ok(Err(message)) if message.starts_with("from ") => invalid_input(message),
        Ok(Err(e)) => query_failed(e),
        Err(e) => query_failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let q = parse(Some("from=2025-06-01&to=2025-07-01&dimension=lifecycle")).unwrap();
        assert_eq!(
            (q.from, q.to, q.dimension),
            ("2025-06-01".parse().ok(), "2025-07-01".parse().ok(), Dimension::Lifecycle)
        );
        assert_eq!(parse(None).unwrap().dimension, Dimension::ValueTier);
        assert_eq!(parse(Some("from=June")).unwrap_err(), "from \"June\": expected a date YYYY-MM-DD");
        assert_eq!(
            parse(Some("from=2025-07-01&to=2025-07-01")).unwrap_err(),
            "from 2025-07-01: must be before to (2025-07-01)"
        );
        assert_eq!(parse(Some("dimension=rfm")).unwrap_err(), "dimension \"rfm\": expected value_tier or lifecycle");
        assert!(parse(Some("since=2025-01-01")).unwrap_err().starts_with("unknown query parameter \"since\""));
    }
}
