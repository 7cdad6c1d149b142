//! Errors of the mining engine.

use std::path::PathBuf;

/// What can go wrong reading baskets or mining them.
#[derive(Debug, thiserror::Error)]
pub enum MiningError {
    /// A threshold is outside its range.
    #[error("invalid `{field}` {value}: {reason}")]
    InvalidThreshold {
        /// The setting (`min_support`, `min_confidence`, …).
        field: &'static str,
        /// The value given.
        value: f64,
        /// Why it is refused.
        reason: &'static str,
    },
    /// There is nothing to mine.
    #[error("no baskets to mine: {0}")]
    NoBaskets(&'static str),
    /// A transactions file could not be read.
    #[error("transactions file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A labelled review file could not be read or holds a bad row.
    #[error("review file {path}: {reason}")]
    ReviewFile {
        /// The file.
        path: PathBuf,
        /// What is wrong (the line and field where there is one).
        reason: String,
    },
    /// A sentiment model file could not be written or read back.
    #[error("sentiment model {path}: {reason}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Training cannot start with what it was given.
    #[error("cannot train the sentiment model: {0}")]
    Training(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] cohort_store::StoreError),
}

/// Result alias of the engine.
pub type Result<T, E = MiningError> = std::result::Result<T, E>;
