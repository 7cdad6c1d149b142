//! The event store contract.
//!
//! Events, orders, products and users are append-mostly and scanned in bulk;
//! every backend (embedded DuckDB by default, ClickHouse for scale-out)
//! implements [`EventStore`] and must pass the same [`conformance`] suite.
//! [`MemoryStore`] is the reference implementation: small, obviously
//! correct, and used by engine tests that need no database.
//!
//! Guarantees every backend gives:
//! - a [`WriteTxn`] is atomic: nothing is visible until `commit`, and a
//!   dropped (or crashed) transaction leaves no trace;
//! - writes are idempotent: events and orders are deduplicated by id, order
//!   lines by `(order id, line_no)`, users and products are upserted;
//! - histories come back grouped by person, events and orders in time order;
//! - identity links and person merges commit with the rest of a write: a
//!   merge moves every stored event, order and link of one person to
//!   another, so each stored record always carries its resolved person.

mod audience;
mod error;
mod memory;
mod types;

pub mod conformance;

pub use audience::{
    AudienceStore, MemoryAudienceStore, PersonTag, StoredAudience, StoredTagRule, TagChange, TagChangeKind,
};
pub use error::StoreError;
pub use memory::MemoryStore;
pub use types::{
    IdKind, IdentityLink, ImportRecord, PersonHistory, PersonMerge, RejectedRow, StoreStats, WriteSource, WriteSummary,
};

use chrono::{DateTime, Utc};
use cohort_model::{Batch, Event, PersonId, Product, Profile};

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A store of events, orders, products, users and derived profiles.
pub trait EventStore: Send + Sync {
    /// Starts an atomic write. Nothing written through it is visible to
    /// readers until [`WriteTxn::commit`]; dropping it rolls back.
    fn begin_write(&self, source: WriteSource) -> Result<Box<dyn WriteTxn + '_>>;

    /// The completed import whose file had this content checksum, if any.
    fn find_import(&self, checksum: &str) -> Result<Option<ImportRecord>>;

    /// All completed imports, oldest first.
    fn imports(&self) -> Result<Vec<ImportRecord>>;

    /// Rows rejected by imports and by the collector (the dead letters),
    /// oldest first, at most `limit`.
    fn rejected_rows(&self, limit: usize) -> Result<Vec<RejectedRow>>;

    /// Identity links, every one (`person` = `None`) or those resolving to
    /// one person, by kind and id.
    fn identity_links(&self, person: Option<&PersonId>) -> Result<Vec<IdentityLink>>;

    /// Recorded person merges, every one or those from or into one person,
    /// oldest first.
    fn merges(&self, person: Option<&PersonId>) -> Result<Vec<PersonMerge>>;

    /// Row counts and time range.
    fn stats(&self) -> Result<StoreStats>;

    /// The product catalogue.
    fn products(&self) -> Result<Vec<Product>>;

    /// Calls `visit` once per known person (every person id that appears on
    /// an event or order, plus every registered user), in person id order.
    fn scan_histories(&self, visit: &mut dyn FnMut(PersonHistory) -> Result<()>) -> Result<()>;

    /// One person's history, if the person is known.
    fn history(&self, person: &PersonId) -> Result<Option<PersonHistory>>;

    /// Atomically replaces every stored profile with `profiles`.
    fn replace_profiles(&self, profiles: &[Profile]) -> Result<()>;

    /// One person's stored profile.
    fn profile(&self, person: &PersonId) -> Result<Option<Profile>>;

    /// Calls `visit` for every stored profile, in person id order.
    fn scan_profiles(&self, visit: &mut dyn FnMut(Profile) -> Result<()>) -> Result<()>;

    /// Ids of events stored through [`WriteTxn::append_events`] at or after
    /// `since`, with when they were seen: what a collector reloads into its
    /// deduplication window when it starts.
    fn seen_event_ids(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>>;

    /// Forgets the seen ids recorded before `before` (the events stay);
    /// returns how many were forgotten.
    fn forget_seen_event_ids(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// An open atomic write. See [`EventStore::begin_write`].
pub trait WriteTxn {
    /// Stages a batch. Ids already stored, or already staged in this
    /// transaction, are counted as duplicates and skipped on commit.
    fn write(&mut self, batch: &Batch) -> Result<()>;

    /// Stages events the caller has already deduplicated against its own
    /// window of recent ids (the collector's `messageId` window), and records
    /// each id as seen at `seen_at` (see [`EventStore::seen_event_ids`]).
    /// They are appended without looking for their ids among the stored
    /// events, which keeps a continuous producer's commits independent of
    /// the store's size: an id already stored may be stored again, and ids
    /// must not repeat within `events`. Merges of the same write still
    /// apply to them.
    fn append_events(&mut self, events: &[Event], seen_at: DateTime<Utc>) -> Result<()>;

    /// Records a row the importer refused, kept with the import.
    fn reject(&mut self, row: RejectedRow) -> Result<()>;

    /// Points an anonymous or user id at a person (replacing its previous
    /// link) on commit.
    fn link(&mut self, link: IdentityLink) -> Result<()>;

    /// Folds one person into another on commit, after this write's records
    /// and links are stored: every event, order and identity link of
    /// `merge.from` moves to `merge.into`. Merges apply in the order given
    /// (a → b then b → c leaves everything on c); the merge is recorded.
    fn merge(&mut self, merge: PersonMerge) -> Result<()>;

    /// Makes everything staged visible at once and records the import with
    /// `rows_read`. Returns what was new and what was a duplicate.
    fn commit(self: Box<Self>, rows_read: u64) -> Result<ImportRecord>;

    /// Commits like [`WriteTxn::commit`] but records no import: for
    /// continuous producers (the HTTP collector commits many times a
    /// second). Rejected rows are kept all the same.
    fn commit_stream(self: Box<Self>) -> Result<WriteSummary>;
}

/// Composes merges applied in order into one map from every merged-away
/// person to the person that finally holds its records, so a backend can
/// apply a whole write's merges in one pass: a chain (a → b, b → c) becomes
/// a → c, b → c; merging a person that was already merged away in the same
/// write moves nothing (its records left with the first merge).
pub fn compose_merges(merges: &[PersonMerge]) -> Vec<(PersonId, PersonId)> {
    use std::collections::HashMap;
    fn root<'a>(parent: &HashMap<&'a PersonId, &'a PersonId>, mut p: &'a PersonId) -> &'a PersonId {
        while let Some(next) = parent.get(p) {
            p = next;
        }
        p
    }
    let mut parent: HashMap<&PersonId, &PersonId> = HashMap::new();
    let mut order: Vec<&PersonId> = Vec::new();
    for m in merges {
        let into = root(&parent, &m.into);
        if into == &m.from || parent.contains_key(&m.from) {
            continue;
        }
        parent.insert(&m.from, into);
        order.push(&m.from);
    }
    order.into_iter().map(|from| (from.clone(), root(&parent, from).clone())).collect()
}
