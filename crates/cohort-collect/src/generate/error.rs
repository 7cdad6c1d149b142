//! Errors of the synthetic shop generator.

use std::path::PathBuf;

use thiserror::Error;

/// Why generation stopped.
///
/// [`GenerateError::InvalidConfig`] is the user's mistake (a bad
/// `--users` / `--days` / chunk size); the others are faults of the file
/// system while writing the native CSV files
/// ([`GenerateError::is_user_error`] tells them apart).
#[derive(Debug, Error)]
pub enum GenerateError {
    /// A configuration value out of its valid range.
    #[error("invalid generator setting {field} = {value}: {reason}")]
    InvalidConfig {
        /// The setting (`users`, `days`, `chunk_users`, `start`).
        field: &'static str,
        /// The value given, as text.
        value: String,
        /// What is accepted.
        reason: &'static str,
    },
    /// The output directory or a file in it could not be created or written.
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The CSV encoder failed while writing a file.
    #[error("cannot write CSV file {}: {source}", .path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: csv::Error,
    },
}

impl GenerateError {
    /// Whether the error is the caller's mistake (a bad setting) rather than
    /// a fault of the file system.
    pub fn is_user_error(&self) -> bool {
        matches!(self, GenerateError::InvalidConfig { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GenerateError::Io { path: path.into(), source }
    }

    pub(crate) fn csv(path: impl Into<PathBuf>, source: csv::Error) -> Self {
        GenerateError::Csv { path: path.into(), source }
    }
}
