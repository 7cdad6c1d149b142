//! The engage error type: the caller's mistakes (a bad template, an unknown
//! channel, an invalid experiment) kept apart from internal faults (the
//! database, a corrupt row, an I/O failure).

use thiserror::Error;

/// Everything that can go wrong in the engage engine.
#[derive(Debug, Error)]
pub enum EngageError {
    /// A value that fails validation.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// Which value.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A template refers to a variable the message does not provide.
    #[error("template {template:?} uses variable {{{{{name}}}}} but no value was given")]
    MissingVariable {
        /// The template's name.
        template: String,
        /// The variable.
        name: String,
    },
    /// A message names a channel that is not configured.
    #[error("channel {0} is not configured")]
    ChannelNotConfigured(String),
    /// Something named does not exist.
    #[error("unknown {what} {id:?}")]
    Unknown {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A campaign's offer could not be issued (budget exhausted, unknown
    /// coupon template…); the person's message is withdrawn.
    #[error("offer not issued to {person}: {reason}")]
    OfferNotIssued {
        /// The person.
        person: String,
        /// Why.
        reason: String,
    },
    /// The state store failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The event store (histories, profiles, scores) failed.
    #[error("event store error: {0}")]
    Store(#[from] cohort_store::StoreError),
    /// An audience could not be read: a bad filter or an unknown audience
    /// (the caller's), or its store failing.
    #[error("audience: {0}")]
    Audience(#[from] cohort_audience::AudienceError),
    /// A migration failed.
    #[error("migration error: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A file channel could not be written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A stored row that cannot be read back.
    #[error("corrupt engage data: {0}")]
    Corrupt(String),
}

impl EngageError {
    /// Whether the caller caused it (bad input) rather than an internal fault.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            EngageError::InvalidInput { .. }
                | EngageError::MissingVariable { .. }
                | EngageError::ChannelNotConfigured(_)
                | EngageError::Unknown { .. }
                | EngageError::OfferNotIssued { .. }
        ) || matches!(self, EngageError::Audience(e) if e.is_user_error())
    }

    pub(crate) fn invalid(what: &'static str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        EngageError::InvalidInput { what, value: value.into(), reason: reason.into() }
    }

    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        EngageError::Corrupt(what.to_string())
    }
}
