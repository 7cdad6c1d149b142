//! Errors of the analytics engine: the caller's impossible specs, kept apart
//! from faults of the store underneath.

use std::fmt;

use cohort_store::StoreError;
use thiserror::Error;

/// One problem in a query spec, named by its field path (`steps[2].event`,
/// `window`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SpecIssue {
    /// Path of the offending field, e.g. `steps[1].within`.
    pub field: String,
    /// What is wrong with it, naming the bad value.
    pub reason: String,
}

impl SpecIssue {
    /// An issue at `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        SpecIssue { field: field.into(), reason: reason.into() }
    }
}

impl fmt::Display for SpecIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Everything that can go wrong running an analysis.
///
/// `InvalidSpec` is the caller's mistake (an HTTP layer maps it to 400);
/// `Store` and `Query` are internal faults (500).
#[derive(Debug, Error)]
pub enum AnalyticsError {
    /// The spec cannot be run; every problem found is listed.
    #[error("invalid query: {}", join(.0))]
    InvalidSpec(Vec<SpecIssue>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The compiled SQL failed on the backend.
    #[error("analytics query failed: {0}")]
    Query(String),
}

impl AnalyticsError {
    /// Whether the error is the caller's mistake rather than a fault.
    pub fn is_user_error(&self) -> bool {
        matches!(self, AnalyticsError::InvalidSpec(_))
    }

    /// The spec issues, when the spec was invalid.
    pub fn issues(&self) -> &[SpecIssue] {
        match self {
            AnalyticsError::InvalidSpec(issues) => issues,
            _ => &[],
        }
    }
}

impl From<duckdb::Error> for AnalyticsError {
    fn from(e: duckdb::Error) -> Self {
        AnalyticsError::Query(e.to_string())
    }
}

fn join(issues: &[SpecIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Result alias of the analytics engine.
pub type Result<T, E = AnalyticsError> = std::result::Result<T, E>;

/// Collects spec issues and turns them into one error at the end.
#[derive(Debug, Default)]
pub(crate) struct Issues(pub(crate) Vec<SpecIssue>);

impl Issues {
    pub(crate) fn push(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(SpecIssue::new(field, reason));
    }

    pub(crate) fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AnalyticsError::InvalidSpec(self.0))
        }
    }
}
