//! Sticky assignment: the first assignment of a unit to an experiment is
//! stored, and every later call returns it, so changing an experiment's
//! weights (ramping 10% → 50%) never moves someone who already saw an arm.

use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use super::{Assignment, Experiment, Holdout};
use crate::db::to_us;
use crate::{EngageError, Result};

fn encode(a: &Assignment) -> String {
    match a {
        Assignment::Holdout => "holdout".to_string(),
        Assignment::NotEligible => "not_eligible".to_string(),
        Assignment::Arm(name) => format!("arm:{name}"),
    }
}

fn decode(s: &str) -> Result<Assignment> {
    match s {
        "holdout" => Ok(Assignment::Holdout),
        "not_eligible" => Ok(Assignment::NotEligible),
        other => other
            .strip_prefix("arm:")
            .map(|n| Assignment::Arm(n.to_string()))
            .ok_or_else(|| EngageError::corrupt(format!("assignment {other:?}"))),
    }
}

/// The stored assignment of each unit, assigning (and storing) those seen
/// for the first time. One transaction for the whole list.
pub async fn assign(
    pool: &AnyPool,
    experiment: &Experiment,
    holdout: Option<&Holdout>,
    units: &[&str],
    now: DateTime<Utc>,
) -> Result<Vec<Assignment>> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        let fresh = experiment.assign(holdout, unit);
        sqlx::query(
            "INSERT INTO engage_assignments (experiment, person_id, arm, at_us) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (experiment, person_id) DO NOTHING",
        )
        .bind(&experiment.id)
        .bind(*unit)
        .bind(encode(&fresh))
        .bind(to_us(now))
        .execute(&mut *tx)
        .await?;
        let stored: String = sqlx::query("SELECT arm FROM engage_assignments WHERE experiment = $1 AND person_id = $2")
            .bind(&experiment.id)
            .bind(*unit)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        out.push(decode(&stored)?);
    }
    tx.commit().await?;
    Ok(out)
}
