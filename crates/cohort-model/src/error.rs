use thiserror::Error;

/// A value that does not fit the domain model. Messages name the bad value.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    /// A money amount that is not a decimal number with at most two places
    /// (or that overflows).
    #[error("invalid money amount {value:?}: {reason}")]
    InvalidMoney {
        /// The text that was given.
        value: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A platform name outside app / mini_program / web / store.
    #[error("unknown platform {0:?} (expected app, mini_program, web or store)")]
    UnknownPlatform(String),
    /// An IANA time zone name that chrono-tz does not know.
    #[error("unknown time zone {0:?} (expected an IANA name such as Asia/Shanghai)")]
    UnknownTimeZone(String),
    /// An id that is empty or too long.
    #[error("invalid {kind}: {reason}")]
    InvalidId {
        /// Which id.
        kind: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}
