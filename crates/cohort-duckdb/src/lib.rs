//! The embedded default event store, on DuckDB.
//!
//! One data directory holds one DuckDB file (`cohort.duckdb`); there is no
//! server. Every write is one DuckDB transaction: rows are appended to
//! connection-local staging tables and moved into the real tables with an
//! anti-join at commit, so a write is atomic, idempotent and never visible
//! half-done, and a crash before commit leaves nothing (DuckDB's WAL only
//! replays committed transactions). The collector's stream commits append
//! events directly (it deduplicates message ids itself, against the window
//! of ids kept in `seen_event_ids`).

mod codec;
mod read;
mod scores;
mod tags;
mod write;

pub use scores::{PersonScore, ScoreOrder, ScoreQuery, ScoreRow};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Product, Profile};
use cohort_store::{
    EventStore, IdentityLink, ImportRecord, PersonHistory, PersonMerge, RejectedRow, Result, StoreError, StoreStats,
    WriteSource, WriteTxn,
};
use duckdb::Connection;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "cohort.duckdb";

const SCHEMA: &str = include_str!("schema.sql");

/// The DuckDB-backed [`EventStore`].
pub struct DuckDbStore {
    /// Readers clone this connection (cheap; they share the database).
    conn: Mutex<Connection>,
    /// The one write connection, kept with its staging tables; its lock
    /// serialises write transactions so two writers never insert the same
    /// new id twice (there is no unique index to stop them).
    writer: Mutex<write::Writer>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for DuckDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbStore").field("path", &self.path).finish()
    }
}

pub(crate) fn backend(e: duckdb::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl DuckDbStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let open_err = |reason: String| StoreError::Open { path: data_dir.display().to_string(), reason };
        std::fs::create_dir_all(data_dir).map_err(|e| open_err(e.to_string()))?;
        let file = data_dir.join(DATABASE_FILE);
        let conn = Connection::open(&file).map_err(|e| open_err(e.to_string()))?;
        Self::init(conn, Some(file))
    }

    /// A private in-memory store, for tests and throw-away work.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        Self::init(conn, None)
    }

    fn init(conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        conn.execute_batch(SCHEMA).map_err(backend)?;
        let writer = write::Writer::new(conn.try_clone().map_err(backend)?)?;
        Ok(DuckDbStore { conn: Mutex::new(conn), writer: Mutex::new(writer), path })
    }

    /// Serialises a derived-table replacement with the store's writes.
    pub(crate) fn writer_lock(&self) -> std::sync::MutexGuard<'_, write::Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The database file, if on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// A new connection to the same database, for one operation. Use it for
    /// ad-hoc SQL (benchmarks, analytics compiled to SQL).
    pub fn connection(&self) -> Result<Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner()).try_clone().map_err(backend)
    }
}

impl EventStore for DuckDbStore {
    fn begin_write(&self, source: WriteSource) -> Result<Box<dyn WriteTxn + '_>> {
        let guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(Box::new(write::DuckDbTxn::begin(guard, source)?))
    }

    fn find_import(&self, checksum: &str) -> Result<Option<ImportRecord>> {
        Ok(read::imports(&self.connection()?, Some(checksum))?.into_iter().next())
    }

    fn imports(&self) -> Result<Vec<ImportRecord>> {
        read::imports(&self.connection()?, None)
    }

    fn rejected_rows(&self, limit: usize) -> Result<Vec<RejectedRow>> {
        read::rejected_rows(&self.connection()?, limit)
    }

    fn identity_links(&self, person: Option<&PersonId>) -> Result<Vec<IdentityLink>> {
        read::identity_links(&self.connection()?, person)
    }

    fn seen_event_ids(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        read::seen_event_ids(&self.connection()?, since)
    }

    fn forget_seen_event_ids(&self, before: DateTime<Utc>) -> Result<u64> {
        let guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        write::forget_seen_event_ids(&guard, before)
    }

    fn merges(&self, person: Option<&PersonId>) -> Result<Vec<PersonMerge>> {
        read::merges(&self.connection()?, person)
    }

    fn stats(&self) -> Result<StoreStats> {
        read::stats(&self.connection()?)
    }

    fn products(&self) -> Result<Vec<Product>> {
        read::products(&self.connection()?)
    }

    fn scan_histories(&self, visit: &mut dyn FnMut(PersonHistory) -> Result<()>) -> Result<()> {
        read::scan_histories(&self.connection()?, None, visit)
    }

    fn history(&self, person: &PersonId) -> Result<Option<PersonHistory>> {
        let mut found = None;
        read::scan_histories(&self.connection()?, Some(person), &mut |h| {
            found = Some(h);
            Ok(())
        })?;
        Ok(found)
    }

    fn replace_profiles(&self, profiles: &[Profile]) -> Result<()> {
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        write::replace_profiles(&self.connection()?, profiles)
    }

    fn profile(&self, person: &PersonId) -> Result<Option<Profile>> {
        let mut found = None;
        read::scan_profiles(&self.connection()?, Some(person), &mut |p| {
            found = Some(p);
            Ok(())
        })?;
        Ok(found)
    }

    fn scan_profiles(&self, visit: &mut dyn FnMut(Profile) -> Result<()>) -> Result<()> {
        read::scan_profiles(&self.connection()?, None, visit)
    }
}
