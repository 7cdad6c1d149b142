//! What a file holds (record kind) and how it is encoded (source format).

use std::fmt;
use std::path::Path;

use super::ImportError;

/// What the rows of a generic file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Behaviour events, one per row.
    Events,
    /// Order lines, one per row, order fields repeated on each line.
    Orders,
    /// Registered users and their attributes.
    Users,
    /// The product catalogue.
    Products,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 4] = [RecordKind::Events, RecordKind::Orders, RecordKind::Users, RecordKind::Products];

    /// The kind's name (`events`, `orders`, `users`, `products`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Events => "events",
            RecordKind::Orders => "orders",
            RecordKind::Users => "users",
            RecordKind::Products => "products",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for RecordKind {
    type Err = ImportError;

    /// Accepts the plural names and their singulars, any case.
    fn from_str(s: &str) -> Result<Self, ImportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "events" | "event" => Ok(RecordKind::Events),
            "orders" | "order" => Ok(RecordKind::Orders),
            "users" | "user" => Ok(RecordKind::Users),
            "products" | "product" => Ok(RecordKind::Products),
            _ => Err(ImportError::UnknownKind(s.to_string())),
        }
    }
}

/// How a generic file is encoded. Any of them may be gzip-compressed, which
/// is recognised by a `.gz` suffix (see [`is_gzip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// Delimited text.
    Csv {
        /// Field separator (`b','`, `b'\t'`, `b';'`…).
        delimiter: u8,
        /// Whether the first line names the columns. Without a header,
        /// columns are named by their 1-based position (`1`, `2`, …).
        has_header: bool,
    },
    /// One JSON object per line (Segment / RudderStack exports). A file whose
    /// first non-blank character is `[` is read as one JSON array of objects.
    Ndjson,
    /// Apache Parquet, read row by row; nested groups become JSON objects, so
    /// dotted paths such as `properties.price` work as for NDJSON.
    Parquet,
}

impl SourceFormat {
    /// Comma-separated with a header, the native format.
    pub const CSV: SourceFormat = SourceFormat::Csv { delimiter: b',', has_header: true };

    /// The format named by the file's extension, ignoring a trailing `.gz`:
    /// `.csv` (comma, header), `.tsv` (tab, header), `.ndjson` / `.jsonl` /
    /// `.json`, `.parquet`. Case-insensitive.
    pub fn detect(path: &Path) -> Result<SourceFormat, ImportError> {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.').map_or("", |(_, ext)| ext);
        match ext {
            "csv" => Ok(SourceFormat::CSV),
            "tsv" | "tab" => Ok(SourceFormat::Csv { delimiter: b'\t', has_header: true }),
            "ndjson" | "jsonl" | "json" => Ok(SourceFormat::Ndjson),
            "parquet" | "pq" => Ok(SourceFormat::Parquet),
            _ => Err(ImportError::UnknownFormat { path: path.display().to_string() }),
        }
    }

    /// Short name, recorded as the import's source kind (`csv`, `ndjson`, `parquet`).
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Csv { .. } => "csv",
            SourceFormat::Ndjson => "ndjson",
            SourceFormat::Parquet => "parquet",
        }
    }

    /// Whether rows are JSON-like objects addressed by dotted paths.
    pub(crate) fn is_json_like(self) -> bool {
        !matches!(self, SourceFormat::Csv { .. })
    }
}

/// Whether the file is gzip-compressed, judged by a `.gz` suffix (any case).
pub fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_from_the_name() {
        let detect = |p: &str| SourceFormat::detect(Path::new(p)).ok();
        assert_eq!(detect("events.csv"), Some(SourceFormat::CSV));
        assert_eq!(detect("dir.v2/Events.CSV.GZ"), Some(SourceFormat::CSV));
        assert_eq!(detect("x.tsv"), Some(SourceFormat::Csv { delimiter: b'\t', has_header: true }));
        assert_eq!(detect("segment.jsonl.gz"), Some(SourceFormat::Ndjson));
        assert_eq!(detect("a.ndjson"), Some(SourceFormat::Ndjson));
        assert_eq!(detect("a.json"), Some(SourceFormat::Ndjson));
        assert_eq!(detect("part-0.parquet"), Some(SourceFormat::Parquet));
        assert_eq!(detect("notes.txt"), None);
        assert_eq!(detect("archive.gz"), None);
        let err = SourceFormat::detect(Path::new("notes.txt")).unwrap_err();
        assert!(err.to_string().contains("\"notes.txt\""), "{err}");
        assert!(is_gzip(Path::new("a.csv.GZ")));
        assert!(!is_gzip(Path::new("a.csv")));
    }

    #[test]
    fn kinds_parse_singular_and_plural() {
        assert_eq!("Orders".parse::<RecordKind>().unwrap(), RecordKind::Orders);
        assert_eq!("user".parse::<RecordKind>().unwrap(), RecordKind::Users);
        assert!("carts".parse::<RecordKind>().unwrap_err().to_string().contains("\"carts\""));
    }
}
