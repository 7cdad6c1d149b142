//! Labelled churn datasets at a cut-off, from the store's histories.

use chrono::{DateTime, Duration, Utc};
use cohort_insight::{build_profile_with, Catalogue, InsightConfig};
use cohort_model::{OrderKind, PersonId, Profile};
use cohort_store::{EventStore, PersonHistory};

use super::{features, is_eligible, ChurnError, ChurnSettings};

/// The people eligible at one cut-off, their raw features and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledSet {
    /// The cut-off: features use records up to it, labels the next
    /// `horizon_days`.
    pub cut_off: DateTime<Utc>,
    /// Who, by row.
    pub people: Vec<PersonId>,
    /// Raw feature values by row (`None` = missing), in [`super::FEATURES`] order.
    pub rows: Vec<Vec<Option<f64>>>,
    /// Churned (no purchase in the window after the cut-off), by row.
    pub labels: Vec<bool>,
}

impl LabelledSet {
    fn new(cut_off: DateTime<Utc>) -> Self {
        LabelledSet { cut_off, people: Vec::new(), rows: Vec::new(), labels: Vec::new() }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether no one is eligible.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Share of churners.
    pub fn churn_rate(&self) -> f64 {
        self.labels.iter().filter(|&&l| l).count() as f64 / self.len().max(1) as f64
    }

    /// Adds one person if eligible at this cut-off.
    pub fn push(&mut self, history: &PersonHistory, profile: &Profile, horizon_days: u32) {
        let end = self.cut_off + Duration::days(i64::from(horizon_days));
        let bought = history
            .orders
            .iter()
            .any(|o| o.kind == OrderKind::Purchase && o.placed_at > self.cut_off && o.placed_at <= end);
        self.people.push(history.person_id.clone());
        self.rows.push(features(profile));
        self.labels.push(!bought);
    }
}

/// Builds one labelled set per cut-off in a single scan of the store.
/// Labels need `cut_off + horizon` to lie within the data.
pub fn build_sets(
    store: &dyn EventStore,
    insight: &InsightConfig,
    settings: &ChurnSettings,
    cut_offs: &[DateTime<Utc>],
) -> Result<Vec<LabelledSet>, ChurnError> {
    let shop = insight.shop_time().map_err(|e| ChurnError::Setting { field: "time_zone", reason: e.to_string() })?;
    let catalogue: Catalogue = store.products()?.into_iter().collect();
    let mut sets: Vec<LabelledSet> = cut_offs.iter().map(|&c| LabelledSet::new(c)).collect();
    store.scan_histories(&mut |history| {
        for set in &mut sets {
            if !history.orders.iter().any(|o| o.kind == OrderKind::Purchase && o.placed_at <= set.cut_off) {
                continue;
            }
            let profile = build_profile_with(&history, &catalogue, set.cut_off, &shop, insight);
            if is_eligible(&profile, settings) {
                set.push(&history, &profile, settings.horizon_days);
            }
        }
        Ok(())
    })?;
    Ok(sets)
}
