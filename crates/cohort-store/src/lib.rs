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
//! - histories come back grouped by person, events and orders in time order.

mod error;
mod memory;
mod types;

pub mod conformance;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use types::{ImportRecord, PersonHistory, RejectedRow, StoreStats, WriteSource, WriteSummary};

use cohort_model::{Batch, PersonId, Product, Profile};

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

    /// Rows rejected by imports, oldest first, at most `limit`.
    fn rejected_rows(&self, limit: usize) -> Result<Vec<RejectedRow>>;

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
}

/// An open atomic write. See [`EventStore::begin_write`].
pub trait WriteTxn {
    /// Stages a batch. Ids already stored, or already staged in this
    /// transaction, are counted as duplicates and skipped on commit.
    fn write(&mut self, batch: &Batch) -> Result<()>;

    /// Records a row the importer refused, kept with the import.
    fn reject(&mut self, row: RejectedRow) -> Result<()>;

    /// Makes everything staged visible at once and records the import with
    /// `rows_read`. Returns what was new and what was a duplicate.
    fn commit(self: Box<Self>, rows_read: u64) -> Result<ImportRecord>;
}
