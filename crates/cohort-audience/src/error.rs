//! Errors of the tag and audience engine.

use cohort_store::StoreError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    /// A rule or filter does not parse: names the rule, line and column.
    #[error("rule {rule:?} ({origin}), line {line}, column {col}: {message}")]
    Rule {
        /// The rule (or audience) name.
        rule: String,
        /// Where it was declared (`cohort.toml`, `api`, a file).
        origin: String,
        /// 1-based line inside the condition.
        line: u32,
        /// 1-based column inside the condition.
        col: u32,
        /// What is wrong.
        message: String,
    },
    /// A name that cannot be a tag or audience name.
    #[error("invalid {what} name {name:?}: {reason}")]
    InvalidName {
        /// `tag` or `audience`.
        what: &'static str,
        /// The name given.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Several problems, or one that is the caller's (unknown audience, a
    /// rule name taken by the config).
    #[error("{0}")]
    Invalid(String),
    /// Not found.
    #[error("no {what} named {name:?}")]
    NotFound {
        /// `tag rule` or `audience`.
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A webhook export failed: every attempt's outcome, in order.
    #[error("the webhook {url} refused the export after {attempts} attempt(s): {outcomes}")]
    Webhook {
        /// The endpoint.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What each attempt got.
        outcomes: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AudienceError {
    /// Whether the caller can fix it (a bad rule, name or request), as
    /// opposed to an internal fault.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, AudienceError::Store(_))
    }
}
