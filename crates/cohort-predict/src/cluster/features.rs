//! Numeric feature vectors from profiles, and their standardisation.
//!
//! Both models read the same [`Profile`]: clustering describes *how* people
//! shop (hours, weekend, categories, price level, discounts, platforms),
//! churn reads *how recently and how regularly* they buy. Missing values
//! (no orders, no activity) are filled with the training mean, i.e. 0 after
//! standardising, so they pull neither way.

use cohort_model::Profile;
use serde::{Deserialize, Serialize};

/// Hours counted as night (shop time): 22:00–02:00.
pub const NIGHT_HOURS: [usize; 4] = [22, 23, 0, 1];
/// Hours counted as morning (shop time): 06:00–10:00.
pub const MORNING_HOURS: [usize; 4] = [6, 7, 8, 9];

/// Share of activity in `hours`, if any activity.
pub fn hour_share(p: &Profile, hours: &[usize]) -> Option<f64> {
    let total: u32 = p.active_hours.iter().sum();
    (total > 0).then(|| hours.iter().map(|&h| f64::from(p.active_hours[h])).sum::<f64>() / f64::from(total))
}

/// The share of `category` in the person's category mix (0 when absent).
pub fn category_share(p: &Profile, category: &str) -> f64 {
    p.category_shares.iter().find(|(c, _)| c == category).map_or(0.0, |(_, s)| *s)
}

/// Per-feature mean and standard deviation of a training matrix; maps raw
/// values to z-scores (missing → 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    /// Mean of the present values, per feature.
    pub mean: Vec<f64>,
    /// Standard deviation of the present values (1 where constant).
    pub std: Vec<f64>,
}

impl Standardiser {
    /// Fits on rows of raw values (`None` = missing).
    pub fn fit(rows: &[Vec<Option<f64>>], dims: usize) -> Self {
        let mut mean = vec![0.0; dims];
        let mut std = vec![1.0; dims];
        for j in 0..dims {
            let vals: Vec<f64> = rows.iter().filter_map(|r| r[j]).collect();
            if vals.is_empty() {
                continue;
            }
            let m = vals.iter().sum::<f64>() / vals.len() as f64;
            let var = vals.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / vals.len() as f64;
            mean[j] = m;
            std[j] = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        }
        Standardiser { mean, std }
    }

    /// Z-scores of one raw row, written into `out`.
    pub fn transform_into(&self, row: &[Option<f64>], out: &mut Vec<f64>) {
        out.extend(row.iter().enumerate().map(|(j, v)| v.map_or(0.0, |v| (v - self.mean[j]) / self.std[j])));
    }

    /// Z-scores of many rows as one row-major matrix.
    pub fn transform(&self, rows: &[Vec<Option<f64>>]) -> Vec<f64> {
        let mut out = Vec::with_capacity(rows.len() * self.mean.len());
        for r in rows {
            self.transform_into(r, &mut out);
        }
        out
    }

    /// A z-score back to the raw scale.
    pub fn raw(&self, j: usize, z: f64) -> f64 {
        self.mean[j] + z * self.std[j]
    }
}

/// `ln(1 + x)` of a count or amount.
pub fn log1p(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}
