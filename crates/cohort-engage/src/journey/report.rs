//! What the journeys did, for the console and the API: runs per journey
//! and status, and the newest runs of one journey.

use std::collections::BTreeMap;
use std::str::FromStr;

use sqlx::Row;

use super::{JourneyEngine, RunRecord, RunStatus};
use crate::outbox::Outbox;
use crate::{EngageError, Result};

const STATUSES: [RunStatus; 4] = [RunStatus::Active, RunStatus::Completed, RunStatus::Converted, RunStatus::Exited];

fn status_name(status: RunStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

impl FromStr for RunStatus {
    type Err = EngageError;
    fn from_str(s: &str) -> Result<Self> {
        STATUSES
            .into_iter()
            .find(|&st| status_name(st) == s)
            .ok_or_else(|| EngageError::invalid("run status", s, "expected active, completed, converted or exited"))
    }
}

/// Runs per journey and status (`{"cart_abandonment": {"active": 3, …}}`).
pub async fn run_counts(outbox: &Outbox) -> Result<BTreeMap<String, BTreeMap<String, u64>>> {
    let rows = sqlx::query("SELECT journey, status, COUNT(*) FROM engage_journey_runs GROUP BY journey, status")
        .fetch_all(outbox.pool())
        .await?;
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in &rows {
        let n: i64 = r.try_get(2)?;
        out.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?, n as u64);
    }
    Ok(out)
}

/// The newest `limit` runs of `journey`, of one status or all.
pub async fn runs(
    outbox: &Outbox,
    engine: &JourneyEngine,
    journey: &str,
    status: Option<RunStatus>,
    limit: usize,
) -> Result<Vec<RunRecord>> {
    let ids = sqlx::query(
        "SELECT id FROM engage_journey_runs WHERE journey = $1 AND ($2 = '' OR status = $2) \
         ORDER BY entered_at_us DESC, id DESC LIMIT $3",
    )
    .bind(journey)
    .bind(status.map(status_name).unwrap_or_default())
    .bind(limit as i64)
    .fetch_all(outbox.pool())
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for row in &ids {
        out.push(engine.run(row.try_get(0)?).await?);
    }
    Ok(out)
}
