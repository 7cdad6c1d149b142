//! Customer lifetime value: BG/NBD for how often a customer will buy and
//! whether they are still alive ([`bgnbd`]), Gamma-Gamma for how much they
//! spend ([`gamma_gamma`]), and their product discounted over a horizon
//! ([`ClvModel`]).
//!
//! Time is counted in shop-local calendar days: a customer's purchases are
//! grouped by day (several orders on one day are one transaction, as
//! `lifetimes`' `summary_data_from_transaction_data(freq="D")` does), the
//! frequency is the number of purchase days after the first, the recency the
//! days from the first to the last, and the age the days from the first to
//! the as-of day. Spend is fitted in major units (yuan) and scores are
//! reported in fen.

pub mod bgnbd;
pub mod gamma_gamma;
mod model;
mod optimize;
mod summary;

pub use bgnbd::{fit_bgnbd, BgNbdFit, BgNbdParams};
pub use gamma_gamma::{fit_gamma_gamma, GammaGammaFit, GammaGammaParams};
pub use model::{ClvModel, ClvScore, ClvSettings, FrequencyRow, HoldoutReport, MODEL_FILE};
pub use summary::{purchase_days, CustomerDays, PurchaseDays};

use serde::{Deserialize, Serialize};

/// One customer's RFM summary in the models' units.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rfm {
    /// Repeat purchase days `x` (purchase days after the first).
    pub frequency: f64,
    /// Days from the first to the last purchase day, `t_x`.
    pub recency: f64,
    /// Days from the first purchase day to the as-of day, `T`.
    pub age: f64,
    /// Mean spend of the repeat purchase days, in major units (0 when `x = 0`).
    pub monetary: f64,
}

/// What can go wrong fitting or scoring lifetime value.
#[derive(Debug, thiserror::Error)]
pub enum ClvError {
    /// Too little data to identify a model.
    #[error("{model}: not enough data, need {need} (got {got})")]
    NotEnoughData {
        /// `bg/nbd` or `gamma-gamma`.
        model: &'static str,
        /// What is needed.
        need: &'static str,
        /// What there was.
        got: usize,
    },
    /// The optimiser found no usable maximum.
    #[error("{model}: fit failed: {reason}")]
    FitFailed {
        /// `bg/nbd` or `gamma-gamma`.
        model: &'static str,
        /// Why.
        reason: String,
    },
    /// A setting is outside its range.
    #[error("invalid clv setting `{field}`: {reason}")]
    InvalidSetting {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// A model file could not be read or written.
    #[error("clv model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cohort_store::StoreError),
}
