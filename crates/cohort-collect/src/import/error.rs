//! Errors of the bulk importers.

use cohort_store::StoreError;
use thiserror::Error;

/// Why an import stopped. Nothing was committed when one of these is
/// returned: the file's transaction was dropped and the store is unchanged.
///
/// Variants up to [`ImportError::BadRow`] are the user's mistakes (a bad
/// mapping, a file in an unknown shape, a bad row under `--strict`); the rest
/// are faults of the file system, the file's encoding or the store
/// ([`ImportError::is_user_error`] tells them apart).
#[derive(Debug, Error)]
pub enum ImportError {
    /// The file name does not end in a known extension.
    #[error(
        "cannot tell the format of {path:?} from its name (expected .csv, .tsv, .ndjson, .jsonl, .json or .parquet, \
         optionally followed by .gz)"
    )]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// A record kind name other than events / orders / users / products.
    #[error("unknown record kind {0:?} (expected events, orders, users or products)")]
    UnknownKind(String),
    /// A mapping entry that is not `field=column`.
    #[error("invalid mapping entry {entry:?}: {reason}")]
    InvalidMapping {
        /// The entry as given.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// Mapping entries naming fields the record kind does not have.
    #[error("unknown {kind} field(s) {} (valid fields: {})", quoted(.fields), .valid.join(", "))]
    UnknownFields {
        /// The record kind being mapped.
        kind: &'static str,
        /// The unknown field names, all of them.
        fields: Vec<String>,
        /// Every valid field name of the kind.
        valid: Vec<&'static str>,
    },
    /// A column named by an explicit mapping, or one the importer needs, is
    /// not in the file's header.
    #[error("{file}: no column {column:?} for field {field} (columns in the file: {})", quoted(.available))]
    MissingColumn {
        /// The file.
        file: String,
        /// The field that needs it.
        field: String,
        /// The column looked for.
        column: String,
        /// The header's columns.
        available: Vec<String>,
    },
    /// The file has no header, or a header that cannot be read.
    #[error("{file}: bad header: {reason}")]
    BadHeader {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A row was refused and the import runs in strict mode.
    #[error("{file}:{line}: {reason}")]
    BadRow {
        /// The file.
        file: String,
        /// 1-based physical line (record number for Parquet / JSON arrays).
        line: u64,
        /// Why, naming the column.
        reason: String,
    },
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid CSV / gzip / JSON / Parquet as a whole.
    #[error("{file}: cannot decode {format}: {reason}")]
    Decode {
        /// The file.
        file: String,
        /// Which format.
        format: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The store refused a write or a lookup.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

impl ImportError {
    /// Whether the error is the user's to fix (mapping, file shape, bad data)
    /// rather than a fault of the disk, the decoder or the store.
    pub fn is_user_error(&self) -> bool {
        !matches!(self, ImportError::Io { .. } | ImportError::Decode { .. } | ImportError::Store(_))
    }
}

fn quoted(items: &[impl AsRef<str>]) -> String {
    items.iter().map(|s| format!("{:?}", s.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_bad_value() {
        let e = ImportError::UnknownFields { kind: "events", fields: vec!["prize".into()], valid: vec!["id", "price"] };
        assert_eq!(e.to_string(), "unknown events field(s) \"prize\" (valid fields: id, price)");
        assert!(e.is_user_error());
        let e = ImportError::BadRow { file: "a.csv".into(), line: 3, reason: "column \"x\": bad".into() };
        assert_eq!(e.to_string(), "a.csv:3: column \"x\": bad");
    }
}
