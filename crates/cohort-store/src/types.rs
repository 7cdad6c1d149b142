use chrono::{DateTime, Utc};
use cohort_model::{Event, Order, PersonId, User};
use serde::{Deserialize, Serialize};

/// Where a write comes from; recorded with the import.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteSource {
    /// Importer or producer name (`online-retail`, `taobao`, `csv`, `generate`, `http`).
    pub kind: String,
    /// The file, if any.
    pub file: Option<String>,
    /// SHA-256 of the file content, so the same file is recognised when
    /// imported again.
    pub checksum: Option<String>,
}

/// What one committed write added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WriteSummary {
    /// New events stored.
    pub events_new: u64,
    /// Events skipped because their id was already stored.
    pub events_duplicate: u64,
    /// New orders (and refunds) stored.
    pub orders_new: u64,
    /// Orders skipped because their id was already stored.
    pub orders_duplicate: u64,
    /// New order lines stored.
    pub lines_new: u64,
    /// Users inserted or updated.
    pub users_upserted: u64,
    /// Products inserted or updated.
    pub products_upserted: u64,
    /// Rejected rows recorded.
    pub rows_rejected: u64,
}

/// A completed import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// Sequence number.
    pub id: i64,
    /// Where it came from.
    pub source: WriteSource,
    /// Source rows read.
    pub rows_read: u64,
    /// What was added.
    pub summary: WriteSummary,
    /// Commit instant.
    pub finished_at: DateTime<Utc>,
}

/// A source row an importer refused, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// File (or `-` for a stream).
    pub file: String,
    /// 1-based line (or record) number.
    pub line: u64,
    /// Why, naming the field: `column "UnitPrice": invalid money amount "abc"`.
    pub reason: String,
    /// The raw row, truncated to 1 KiB.
    pub raw: String,
}

/// Row counts and time range of the store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StoreStats {
    /// Events.
    pub events: u64,
    /// Orders and refunds.
    pub orders: u64,
    /// Order lines.
    pub order_lines: u64,
    /// Products.
    pub products: u64,
    /// Registered users.
    pub users: u64,
    /// Distinct persons on events and orders.
    pub persons: u64,
    /// Stored profiles.
    pub profiles: u64,
    /// Earliest event or order.
    pub first_at: Option<DateTime<Utc>>,
    /// Latest event or order.
    pub last_at: Option<DateTime<Utc>>,
}

/// Everything stored about one person, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonHistory {
    /// Who.
    pub person_id: PersonId,
    /// Registered-user attributes, when the person id is a known user.
    pub user: Option<User>,
    /// Events, by timestamp (ties by id).
    pub events: Vec<Event>,
    /// Orders and refunds with lines, by `placed_at` (ties by id).
    pub orders: Vec<Order>,
}

/// Which kind of id an [`IdentityLink`] maps to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// A device / platform scoped visitor id (Segment `anonymousId`).
    Anonymous,
    /// A logged-in user id (Segment `userId`), or an aliased previous id.
    User,
}

impl IdKind {
    /// The stored name (`anonymous`, `user`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdKind::Anonymous => "anonymous",
            IdKind::User => "user",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<IdKind> {
        match s {
            "anonymous" => Some(IdKind::Anonymous),
            "user" => Some(IdKind::User),
            _ => None,
        }
    }
}

/// The current person behind one anonymous or user id. A later link for the
/// same `(kind, id)` replaces the earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    /// Anonymous or user id.
    pub kind: IdKind,
    /// The id as sent.
    pub id: String,
    /// The person it resolves to.
    pub person_id: PersonId,
    /// What established the link (`identify`, `track`, `alias`).
    pub via: String,
    /// When (the message's timestamp).
    pub at: DateTime<Utc>,
}

/// One person folded into another: every event, order and identity link of
/// `from` now belongs to `into`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonMerge {
    /// The person that no longer exists on its own (an anonymous visitor, or
    /// an aliased user).
    pub from: PersonId,
    /// The person that absorbed it.
    pub into: PersonId,
    /// What caused it (`identify`, `track`, `alias`).
    pub via: String,
    /// When (the message's timestamp).
    pub at: DateTime<Utc>,
}
