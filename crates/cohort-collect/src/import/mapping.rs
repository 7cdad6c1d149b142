//! Column mapping: which column (or JSON path) holds which model field.
//!
//! Every record kind has a fixed list of fields, named as in
//! `docs/native-format.md`. By default a field is read from the column of
//! the same name (identity), except in NDJSON events and users where the
//! Segment spec's names come first (`messageId`, `userId`,
//! `properties.price`, `traits.city`…), then the native ones. An explicit
//! mapping replaces the defaults for the fields it names; mapping a field to
//! an empty column (`price=`) stops it being read.

use std::collections::BTreeMap;

use super::{ImportError, RecordKind, SourceFormat};

/// One field of a record kind and where NDJSON looks for it by default.
#[derive(Debug)]
pub(crate) struct FieldSpec {
    /// Field name, also the native column name.
    pub name: &'static str,
    /// Default NDJSON paths, tried in order (empty: just `name`).
    pub ndjson: &'static [&'static str],
}

const fn f(name: &'static str, ndjson: &'static [&'static str]) -> FieldSpec {
    FieldSpec { name, ndjson }
}

const EVENT_FIELDS: &[FieldSpec] = &[
    f("id", &["messageId", "id"]),
    f("person_id", &[]),
    f("user_id", &["userId", "user_id"]),
    f("anonymous_id", &["anonymousId", "anonymous_id"]),
    f("event", &["event", "type"]),
    f("timestamp", &[]),
    f("platform", &["platform", "properties.platform"]),
    f("channel", &["context.channel", "context.campaign.source"]),
    f("product_id", &["properties.product_id", "product_id"]),
    f("category", &["properties.category", "category"]),
    f("price", &["properties.price", "price"]),
    f("quantity", &["properties.quantity", "quantity"]),
    f("order_id", &["properties.order_id", "order_id"]),
    f("revenue", &["properties.revenue", "properties.total", "revenue"]),
    f("discount", &["properties.discount", "discount"]),
    f("coupon", &["properties.coupon", "coupon"]),
    f("query", &["properties.query", "query"]),
    f("rating", &["properties.rating", "rating"]),
    f("review_body", &["properties.review_body", "review_body"]),
    f("properties", &[]),
];

const ORDER_FIELDS: &[FieldSpec] = &[
    f("order_id", &[]),
    f("kind", &[]),
    f("person_id", &[]),
    f("user_id", &[]),
    f("anonymous_id", &[]),
    f("placed_at", &[]),
    f("platform", &[]),
    f("channel", &[]),
    f("total", &[]),
    f("discount", &[]),
    f("shipping", &[]),
    f("coupon", &[]),
    f("refund_of", &[]),
    f("line_no", &[]),
    f("product_id", &[]),
    f("quantity", &[]),
    f("unit_price", &[]),
    f("category", &[]),
    f("properties", &[]),
];

const USER_FIELDS: &[FieldSpec] = &[
    f("user_id", &["userId", "user_id"]),
    f("registered_at", &["traits.createdAt", "traits.created_at", "registered_at"]),
    f("platform", &["traits.platform", "platform"]),
    f("channel", &["traits.channel", "context.campaign.source"]),
    f("birthday", &["traits.birthday", "birthday"]),
    f("gender", &["traits.gender", "gender"]),
    f("city", &["traits.city", "traits.address.city", "city"]),
    f("phone", &["traits.phone", "phone"]),
    f("traits", &[]),
];

const PRODUCT_FIELDS: &[FieldSpec] = &[
    f("product_id", &[]),
    f("name", &[]),
    f("category", &[]),
    f("price", &[]),
    f("brand", &[]),
    f("launched_at", &[]),
    f("consumable", &[]),
    f("in_stock", &[]),
];

/// Top-level keys of Segment messages that are envelope, not data: never
/// copied into `properties` / `traits`.
pub(crate) const SEGMENT_ENVELOPE: &[&str] = &[
    "type",
    "messageId",
    "timestamp",
    "userId",
    "anonymousId",
    "channel",
    "context",
    "integrations",
    "sentAt",
    "receivedAt",
    "originalTimestamp",
    "version",
    "writeKey",
    "_metadata",
    "projectId",
    "request_id",
    "traits",
    "properties",
];

pub(crate) fn specs(kind: RecordKind) -> &'static [FieldSpec] {
    match kind {
        RecordKind::Events => EVENT_FIELDS,
        RecordKind::Orders => ORDER_FIELDS,
        RecordKind::Users => USER_FIELDS,
        RecordKind::Products => PRODUCT_FIELDS,
    }
}

/// Explicit field → column choices for one generic import. Fields it does
/// not name keep their defaults (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    entries: BTreeMap<String, String>,
}

impl ColumnMapping {
    /// No explicit choice: every field at its default column.
    pub fn new() -> Self {
        Self::default()
    }

    /// The valid field names of a record kind, in native column order.
    pub fn fields(kind: RecordKind) -> Vec<&'static str> {
        specs(kind).iter().map(|s| s.name).collect()
    }

    /// Parses `field=column` pairs (as given to `--map`). The column may be
    /// a dotted JSON path for NDJSON / Parquet, or a 1-based position for a
    /// CSV without header; an empty column unmaps the field. Every unknown
    /// field is reported in one error listing the valid ones.
    pub fn parse_pairs<S: AsRef<str>>(
        kind: RecordKind,
        pairs: impl IntoIterator<Item = S>,
    ) -> Result<Self, ImportError> {
        let mut entries = Vec::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let (field, column) = pair.split_once('=').ok_or_else(|| ImportError::InvalidMapping {
                entry: pair.to_string(),
                reason: "expected field=column".into(),
            })?;
            entries.push((field.trim().to_string(), column.trim().to_string()));
        }
        Self::from_entries(kind, entries)
    }

    /// Parses a TOML table of `field = "column"` strings, e.g. the
    /// `[mapping]` section of an import profile.
    pub fn from_toml(kind: RecordKind, text: &str) -> Result<Self, ImportError> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| ImportError::InvalidMapping { entry: text.to_string(), reason: e.message().to_string() })?;
        let mut entries = Vec::with_capacity(table.len());
        for (field, column) in table {
            let Some(column) = column.as_str() else {
                return Err(ImportError::InvalidMapping {
                    entry: format!("{field} = {column}"),
                    reason: "the column must be a string".into(),
                });
            };
            entries.push((field, column.to_string()));
        }
        Self::from_entries(kind, entries)
    }

    /// Builds a mapping from `(field, column)` pairs, checking every field
    /// name against the kind.
    pub fn from_entries(
        kind: RecordKind,
        entries: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ImportError> {
        let mapping = ColumnMapping { entries: entries.into_iter().collect() };
        mapping.validate(kind)?;
        Ok(mapping)
    }

    /// Checks that every mapped field exists for `kind`.
    pub fn validate(&self, kind: RecordKind) -> Result<(), ImportError> {
        let valid = Self::fields(kind);
        let unknown: Vec<String> = self.entries.keys().filter(|k| !valid.contains(&k.as_str())).cloned().collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ImportError::UnknownFields { kind: kind.as_str(), fields: unknown, valid })
        }
    }

    /// The explicit column of a field, if one was given (`Some("")` when
    /// the field was unmapped).
    pub fn column(&self, field: &str) -> Option<&str> {
        self.entries.get(field).map(String::as_str)
    }

    /// Whether no explicit choice was made.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where the importer looks for `spec`: the explicit column, else the
    /// defaults for the format. The flag says whether the choice was
    /// explicit (a missing explicit CSV column is an error).
    pub(crate) fn candidates(&self, spec: &FieldSpec, format: SourceFormat) -> (Vec<&str>, bool) {
        match self.entries.get(spec.name) {
            Some(col) if col.is_empty() => (Vec::new(), true),
            Some(col) => (vec![col.as_str()], true),
            None if matches!(format, SourceFormat::Ndjson) && !spec.ndjson.is_empty() => (spec.ndjson.to_vec(), false),
            None => (vec![spec.name], false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_unknown_fields_list_the_valid_ones() {
        let m = ColumnMapping::parse_pairs(RecordKind::Events, ["price = Preis", "event=type", "channel="]).unwrap();
        assert_eq!(m.column("price"), Some("Preis"));
        assert_eq!(m.column("channel"), Some(""));
        assert_eq!(m.column("id"), None);
        let err = ColumnMapping::parse_pairs(RecordKind::Events, ["prize=P", "evnt=E", "price=X"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("unknown events field(s) \"evnt\", \"prize\" (valid fields: id, person_id,"), "{msg}");
        assert!(msg.contains("review_body, properties)"), "{msg}");
        let err = ColumnMapping::parse_pairs(RecordKind::Orders, ["order_id"]).unwrap_err();
        assert!(err.to_string().contains("\"order_id\""), "{err}");
    }

    #[test]
    fn toml_tables_parse() {
        let m = ColumnMapping::from_toml(RecordKind::Orders, "order_id = \"InvoiceNo\"\nunit_price = 'UnitPrice'\n")
            .unwrap();
        assert_eq!(m.column("order_id"), Some("InvoiceNo"));
        assert_eq!(m.column("unit_price"), Some("UnitPrice"));
        assert!(ColumnMapping::from_toml(RecordKind::Orders, "order_id = 3").is_err());
        let err = ColumnMapping::from_toml(RecordKind::Users, "colour = \"c\"").unwrap_err();
        assert!(err.to_string().contains("valid fields: user_id, registered_at"), "{err}");
    }

    #[test]
    fn defaults_are_native_names_and_segment_paths_for_ndjson_events() {
        let m = ColumnMapping::parse_pairs(RecordKind::Events, ["quantity=qty"]).unwrap();
        let spec = |name| specs(RecordKind::Events).iter().find(|s| s.name == name).unwrap();
        assert_eq!(m.candidates(spec("price"), SourceFormat::CSV), (vec!["price"], false));
        assert_eq!(m.candidates(spec("price"), SourceFormat::Ndjson).0[0], "properties.price");
        assert_eq!(m.candidates(spec("id"), SourceFormat::Ndjson).0[0], "messageId");
        assert_eq!(m.candidates(spec("price"), SourceFormat::Parquet), (vec!["price"], false));
        assert_eq!(m.candidates(spec("quantity"), SourceFormat::Ndjson), (vec!["qty"], true));
    }
}
