//! Errors of the insight engine.

use std::fmt;

use cohort_store::StoreError;
use thiserror::Error;

/// One problem in the `[segments]` configuration, named by its dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path of the offending key, e.g. `segments.value.window_days`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigIssue {
    /// An issue at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigIssue { path: path.into(), message: message.into() }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything that can go wrong computing profiles and segments.
///
/// `Config` and `Io` are the user's mistakes (a bad `cohort.toml`, a missing
/// file); `Store` is a fault of the storage backend, passed through.
#[derive(Debug, Error)]
pub enum InsightError {
    /// The segment configuration is invalid; every problem found is listed.
    #[error("invalid segment configuration: {}", join_issues(.issues))]
    Config {
        /// All problems found, in file order where possible.
        issues: Vec<ConfigIssue>,
    },
    /// A configuration file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl InsightError {
    /// The configuration issues, empty for other errors.
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            InsightError::Config { issues } => issues,
            _ => &[],
        }
    }
}

fn join_issues(issues: &[ConfigIssue]) -> String {
    issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
