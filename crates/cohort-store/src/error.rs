use thiserror::Error;

/// Errors from a store backend.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The data directory or database could not be opened.
    #[error("cannot open store at {path}: {reason}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
    /// The backend failed a query or write.
    #[error("store backend error: {0}")]
    Backend(String),
    /// Stored data that does not decode into the domain model (a bug or a
    /// hand-edited database).
    #[error("corrupt stored {what}: {reason}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Raised by a scan visitor to stop early; passed through unchanged.
    #[error("{0}")]
    Visitor(String),
}
