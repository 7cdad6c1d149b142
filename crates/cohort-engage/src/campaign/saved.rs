//! Campaign definitions kept in the engage store (`engage_campaigns`), so a
//! launched campaign is found, listed and measured by its id alone.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::CampaignSpec;
use crate::db::{from_us, to_us};
use crate::outbox::{DeliveryCounts, Outbox};
use crate::{EngageError, Result};

/// A campaign as saved at launch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedCampaign {
    /// The definition.
    pub spec: CampaignSpec,
    /// Where the audience came from (`audience:7`, `filter:…`, `contacts`).
    pub audience: String,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
}

/// A line of the campaign list: the definition and its delivery so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignSummary {
    /// The campaign.
    #[serde(flatten)]
    pub campaign: SavedCampaign,
    /// Members by arm (`treatment`, `control`, `holdout`, `not_eligible`).
    pub arms: std::collections::BTreeMap<String, u64>,
    /// Its messages by status.
    pub delivery: DeliveryCounts,
}

/// Saves `spec` under its id. Saving the same definition again is a no-op
/// (a launch is retried after a crash); another definition under a used id
/// is refused, so measurement never mixes two campaigns.
pub async fn save(outbox: &Outbox, spec: &CampaignSpec, audience: &str) -> Result<SavedCampaign> {
    if let Some(saved) = get(outbox, &spec.id).await? {
        if saved.spec != *spec {
            return Err(EngageError::invalid(
                "campaign id",
                spec.id.clone(),
                "is taken by another campaign definition: choose a new id",
            ));
        }
        return Ok(saved);
    }
    let json = serde_json::to_string(spec).map_err(EngageError::corrupt)?;
    let now = outbox.clock().now();
    sqlx::query(
        "INSERT INTO engage_campaigns (id, spec, audience, created_at_us) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&spec.id)
    .bind(json)
    .bind(audience)
    .bind(to_us(now))
    .execute(outbox.pool())
    .await?;
    get(outbox, &spec.id).await?.ok_or_else(|| EngageError::corrupt(format!("campaign {} vanished", spec.id)))
}

/// The campaign saved under `id`.
pub async fn get(outbox: &Outbox, id: &str) -> Result<Option<SavedCampaign>> {
    let row = sqlx::query("SELECT spec, audience, created_at_us FROM engage_campaigns WHERE id = $1")
        .bind(id)
        .fetch_optional(outbox.pool())
        .await?;
    row.map(|r| {
        Ok(SavedCampaign {
            spec: serde_json::from_str(&r.try_get::<String, _>(0)?).map_err(EngageError::corrupt)?,
            audience: r.try_get(1)?,
            created_at: from_us(r.try_get(2)?)?,
        })
    })
    .transpose()
}

/// Every saved campaign, newest first, with members per arm and delivery.
pub async fn list(outbox: &Outbox) -> Result<Vec<CampaignSummary>> {
    let ids: Vec<String> = sqlx::query("SELECT id FROM engage_campaigns ORDER BY created_at_us DESC, id")
        .fetch_all(outbox.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(campaign) = get(outbox, &id).await? else { continue };
        let arms = sqlx::query("SELECT arm, COUNT(*) FROM engage_campaign_members WHERE campaign = $1 GROUP BY arm")
            .bind(&id)
            .fetch_all(outbox.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)? as u64)))
            .collect::<Result<_>>()?;
        let delivery = outbox.counts(&id).await?;
        out.push(CampaignSummary { campaign, arms, delivery });
    }
    Ok(out)
}
