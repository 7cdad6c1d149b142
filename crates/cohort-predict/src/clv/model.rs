//! The fitted CLV model: BG/NBD + Gamma-Gamma at an as-of day, per-customer
//! scores, and a calibration/holdout check of the purchase predictions.

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use cohort_model::PersonId;
use serde::{Deserialize, Serialize};

use super::bgnbd::{fit_bgnbd, BgNbdFit};
use super::gamma_gamma::{fit_gamma_gamma, GammaGammaFit};
use super::{ClvError, PurchaseDays, Rfm};

/// File name of the saved model, beside the store.
pub const MODEL_FILE: &str = "clv.model.json";

/// Days per CLV period: the horizon is stepped in 30-day "months", as
/// `lifetimes.GammaGammaFitter.customer_lifetime_value(freq="D")` does.
const MONTH_DAYS: f64 = 30.0;

/// How CLV is computed (`[clv]` in `cohort.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClvSettings {
    /// CLV horizon in 30-day months.
    pub horizon_months: u32,
    /// Discount rate per 30-day month (0.01 ≈ 12.7% a year).
    pub monthly_discount_rate: f64,
    /// "Expected purchases in the next N days" reported per customer.
    pub expected_days: u32,
    /// Last days of history held out to check the purchase predictions
    /// (0 = no check).
    pub holdout_days: u32,
}

impl Default for ClvSettings {
    fn default() -> Self {
        ClvSettings { horizon_months: 12, monthly_discount_rate: 0.01, expected_days: 90, holdout_days: 90 }
    }
}

impl ClvSettings {
    /// Checks ranges, naming the field.
    pub fn validate(&self) -> Result<(), ClvError> {
        let bad = |field, reason: &str| Err(ClvError::InvalidSetting { field, reason: reason.to_string() });
        if self.horizon_months == 0 || self.horizon_months > 120 {
            return bad("horizon_months", "must be 1..=120");
        }
        if !(0.0..1.0).contains(&self.monthly_discount_rate) {
            return bad("monthly_discount_rate", "must be in [0, 1)");
        }
        if self.expected_days == 0 {
            return bad("expected_days", "must be at least 1");
        }
        Ok(())
    }
}

/// Predicted against actual holdout purchases among calibration customers
/// with the same calibration frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyRow {
    /// Calibration repeat frequency (the last row gathers this and above).
    pub frequency: u32,
    /// Customers in the row.
    pub customers: usize,
    /// Mean predicted holdout purchase days.
    pub predicted: f64,
    /// Mean actual holdout purchase days.
    pub actual: f64,
}

/// The calibration/holdout check: fit on all but the last `days`, predict
/// each calibration customer's purchase days in them, compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutReport {
    /// Last calibration day.
    pub calibration_end: NaiveDate,
    /// Holdout length in days.
    pub days: u32,
    /// The calibration fit.
    pub fit: BgNbdFit,
    /// Customers compared (first purchase by the calibration end).
    pub customers: usize,
    /// Sum of predicted holdout purchase days.
    pub predicted_total: f64,
    /// Sum of actual holdout purchase days.
    pub actual_total: usize,
    /// Mean absolute error per customer.
    pub mean_absolute_error: f64,
    /// Correlation of predicted and actual per customer.
    pub correlation: f64,
    /// By calibration frequency 0…6 and 7+.
    pub by_frequency: Vec<FrequencyRow>,
}

/// One customer's lifetime-value prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvScore {
    /// Who.
    pub person_id: PersonId,
    /// The summary it was computed from.
    pub rfm: Rfm,
    /// Probability of still being an active customer.
    pub p_alive: f64,
    /// Expected purchase days in the next [`ClvSettings::expected_days`].
    pub expected_purchases: f64,
    /// Expected spend per purchase day (Gamma-Gamma), fen.
    pub expected_spend_fen: i64,
    /// Discounted expected spend over the horizon, fen.
    pub clv_fen: i64,
}

impl ClvScore {
    /// `active` / `at risk` / `lapsed` by P(alive) (the label `person_scores` keeps).
    pub fn alive_label(&self) -> &'static str {
        if self.p_alive >= 0.7 {
            "active"
        } else if self.p_alive >= 0.3 {
            "at risk"
        } else {
            "lapsed"
        }
    }

    /// What `person_scores` keeps beside the score (`cohort clv fit` and the
    /// server's training job store the same).
    pub fn detail(&self, model: &ClvModel) -> serde_json::Value {
        serde_json::json!({
            "unit": "fen",
            "clv_fen": self.clv_fen,
            "p_alive": self.p_alive,
            "expected_purchases": self.expected_purchases,
            "expected_days": model.settings.expected_days,
            "expected_spend_fen": self.expected_spend_fen,
            "horizon_months": model.settings.horizon_months,
            "frequency": self.rfm.frequency,
            "recency_days": self.rfm.recency,
            "age_days": self.rfm.age,
            "as_of": model.as_of,
        })
    }
}

/// A fitted model with its diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClvModel {
    /// Last day of history used (the observation end, shop-local).
    pub as_of: NaiveDate,
    /// The unit of recency, age and `alpha`.
    pub time_unit: String,
    /// Settings used.
    pub settings: ClvSettings,
    /// Purchase model.
    pub bgnbd: BgNbdFit,
    /// Spend model.
    pub gamma_gamma: GammaGammaFit,
    /// Calibration/holdout check, when `holdout_days > 0` and enough history.
    pub holdout: Option<HoldoutReport>,
    /// Seconds the BG/NBD full-period fit took (summary and holdout excluded).
    pub bgnbd_seconds: f64,
    /// Seconds the Gamma-Gamma fit took.
    pub gamma_gamma_seconds: f64,
    /// Customers the scores could not be computed for (non-convergent
    /// series); they get no score rather than a NaN.
    pub unscored: usize,
}

impl ClvModel {
    /// Fits both models on the purchases up to `as_of` (default: the day of
    /// the last purchase) and scores every customer.
    pub fn fit(
        data: &PurchaseDays,
        as_of: NaiveDate,
        settings: ClvSettings,
    ) -> Result<(ClvModel, Vec<ClvScore>), ClvError> {
        settings.validate()?;
        let summaries: Vec<(&PersonId, Rfm)> =
            data.customers.iter().filter_map(|c| Some((&c.person_id, c.rfm(as_of)?))).collect();
        let rfm: Vec<Rfm> = summaries.iter().map(|s| s.1).collect();
        let started = Instant::now();
        let bgnbd = fit_bgnbd(&rfm)?;
        let bgnbd_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let gamma_gamma = fit_gamma_gamma(&rfm)?;
        let gamma_gamma_seconds = started.elapsed().as_secs_f64();
        let holdout = if settings.holdout_days > 0 { holdout(data, as_of, settings.holdout_days)? } else { None };
        let mut model = ClvModel {
            as_of,
            time_unit: "day".into(),
            settings,
            bgnbd,
            gamma_gamma,
            holdout,
            bgnbd_seconds,
            gamma_gamma_seconds,
            unscored: 0,
        };
        let mut scores = Vec::with_capacity(summaries.len());
        for (person, rfm) in summaries {
            match model.score(person, rfm) {
                Some(s) => scores.push(s),
                None => model.unscored += 1,
            }
        }
        Ok((model, scores))
    }

    /// The score of one customer's summary; `None` when a series does not
    /// converge or a value is not finite.
    pub fn score(&self, person: &PersonId, rfm: Rfm) -> Option<ClvScore> {
        let bg = self.bgnbd.params;
        let Rfm { frequency: x, recency: tx, age: t, monetary: m } = rfm;
        let p_alive = bg.p_alive(x, tx, t);
        let expected_purchases = bg.expected_purchases(f64::from(self.settings.expected_days), x, tx, t)?;
        let spend = self.gamma_gamma.params.expected_spend(x, m)?;
        let mut clv = 0.0;
        let mut previous = 0.0;
        for i in 1..=self.settings.horizon_months {
            let cumulative = bg.expected_purchases(MONTH_DAYS * f64::from(i), x, tx, t)?;
            clv += (cumulative - previous) * spend / (1.0 + self.settings.monthly_discount_rate).powi(i as i32);
            previous = cumulative;
        }
        let finite = [p_alive, expected_purchases, spend, clv].iter().all(|v| v.is_finite());
        finite.then(|| ClvScore {
            person_id: person.clone(),
            rfm,
            p_alive,
            expected_purchases,
            expected_spend_fen: (spend * 100.0).round() as i64,
            clv_fen: (clv * 100.0).round() as i64,
        })
    }

    /// Writes the model as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ClvError> {
        let err = |e: &dyn std::fmt::Display| ClvError::ModelFile { path: path.into(), reason: e.to_string() };
        let json = serde_json::to_string_pretty(self).map_err(|e| err(&e))?;
        std::fs::write(path, json).map_err(|e| err(&e))
    }

    /// Reads a model written by [`ClvModel::save`].
    pub fn load(path: &Path) -> Result<ClvModel, ClvError> {
        let err = |e: &dyn std::fmt::Display| ClvError::ModelFile { path: path.into(), reason: e.to_string() };
        let text = std::fs::read_to_string(path).map_err(|e| err(&e))?;
        serde_json::from_str(&text).map_err(|e| err(&format!("not a Cohort clv model: {e}")))
    }
}

/// Fits BG/NBD on the history up to `as_of − days` and compares its
/// predictions for the last `days` with what happened. `None` when the
/// calibration period has too few customers to fit.
fn holdout(data: &PurchaseDays, as_of: NaiveDate, days: u32) -> Result<Option<HoldoutReport>, ClvError> {
    let calibration_end = as_of - Duration::days(i64::from(days));
    let pairs: Vec<(Rfm, usize)> = data
        .customers
        .iter()
        .filter_map(|c| Some((c.rfm(calibration_end)?, c.purchases_between(calibration_end, as_of))))
        .collect();
    let rfm: Vec<Rfm> = pairs.iter().map(|p| p.0).collect();
    let fit = match fit_bgnbd(&rfm) {
        Ok(fit) => fit,
        Err(ClvError::NotEnoughData { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut predicted = Vec::with_capacity(pairs.len());
    let mut actual = Vec::with_capacity(pairs.len());
    let mut rows: Vec<(usize, f64, f64)> = vec![(0, 0.0, 0.0); 8];
    for (r, a) in &pairs {
        let Some(p) = fit.params.expected_purchases(f64::from(days), r.frequency, r.recency, r.age) else { continue };
        predicted.push(p);
        actual.push(*a as f64);
        let row = &mut rows[(r.frequency as usize).min(7)];
        row.0 += 1;
        row.1 += p;
        row.2 += *a as f64;
    }
    let n = predicted.len().max(1) as f64;
    let mae = predicted.iter().zip(&actual).map(|(p, a)| (p - a).abs()).sum::<f64>() / n;
    Ok(Some(HoldoutReport {
        calibration_end,
        days,
        customers: predicted.len(),
        predicted_total: predicted.iter().sum(),
        actual_total: actual.iter().sum::<f64>() as usize,
        mean_absolute_error: mae,
        correlation: super::gamma_gamma::correlation(&predicted, &actual),
        by_frequency: rows
            .into_iter()
            .enumerate()
            .filter(|(_, r)| r.0 > 0)
            .map(|(f, (c, p, a))| FrequencyRow {
                frequency: f as u32,
                customers: c,
                predicted: p / c as f64,
                actual: a / c as f64,
            })
            .collect(),
        fit,
    }))
}
