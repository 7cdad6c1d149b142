//! Errors of the recommendation engine.

use std::path::PathBuf;

/// What can go wrong training, loading or evaluating a recommender.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    /// The store holds no usable interaction (no product views, carts,
    /// wishlists or orders with a person).
    #[error("no interactions to train on: import or generate data first")]
    NoInteractions,
    /// A setting is out of range.
    #[error("invalid setting `{field}`: {reason}")]
    InvalidConfig {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The evaluation split leaves nothing on one side.
    #[error("the time split at {cut_off} leaves {side} empty")]
    EmptySplit {
        /// The cut-off instant (RFC 3339).
        cut_off: String,
        /// `training` or `test`.
        side: &'static str,
    },
    /// The model file could not be read or written.
    #[error("model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The model file is not a model of this version.
    #[error("model file {path} is not a Cohort recommender model: {reason}")]
    BadModel {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cohort_store::StoreError),
}

/// Result alias of the engine.
pub type Result<T, E = RecommendError> = std::result::Result<T, E>;
