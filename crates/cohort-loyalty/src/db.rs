//! Connecting to the state store: one code path for SQLite and PostgreSQL
//! through `sqlx::Any`, portable SQL with `$n` placeholders, per-backend
//! migrations, and the SQLite settings that make an acknowledged commit
//! durable (WAL, `synchronous=FULL`, a busy timeout).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Connection, Executor};

use crate::LoyaltyError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server (scale-out).
    Postgres,
}

impl Backend {
    /// The backend a connection string names (`sqlite:` or `postgres:`).
    pub fn from_url(url: &str) -> Result<Backend, LoyaltyError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(LoyaltyError::InvalidInput {
                what: "state store url",
                value: redact(url),
                reason: "expected sqlite:… or postgres://…",
            })
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write
    /// lock up front so a transaction never fails upgrading a read lock.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// The connection string with any password removed, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

/// The connection string of a SQLite file (created if missing).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The file a `sqlite:` connection string names; `None` for other backends
/// and in-memory databases (which only sqlx's own connections share).
pub(crate) fn sqlite_file(url: &str) -> Result<Option<PathBuf>, LoyaltyError> {
    if Backend::from_url(url)? != Backend::Sqlite || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(url)?;
    Ok(Some(options.get_filename().to_path_buf()))
}

/// Opens a pool on `url` and applies the migrations of its backend.
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<(AnyPool, Backend), LoyaltyError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    if backend == Backend::Sqlite {
        // Switch to WAL once, on a single connection, before the pool opens
        // concurrent ones (the journal mode is stored in the file).
        let mut conn = AnyConnection::connect(url).await?;
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.close().await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // Acknowledged = durable: fsync the WAL on every commit.
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(&pool).await?;
    Ok((pool, backend))
}

/// An instant as stored: UTC microseconds since the epoch.
pub(crate) fn to_us(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored instant.
pub(crate) fn from_us(us: i64) -> Result<DateTime<Utc>, LoyaltyError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| LoyaltyError::corrupt(format!("timestamp {us} out of range")))
}

/// Stored value for "never expires".
pub(crate) const NEVER_US: i64 = i64::MAX;

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// A shop-local date as stored: days since 1970-01-01.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    (date - EPOCH).num_days()
}

/// Whether a database error is worth retrying the whole transaction for:
/// SQLite busy/locked, PostgreSQL serialization failure or deadlock.
pub(crate) fn is_transient(e: &LoyaltyError) -> bool {
    let LoyaltyError::Database(sqlx::Error::Database(db)) = e else {
        return matches!(e, LoyaltyError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)));
    };
    let code = db.code().unwrap_or_default();
    matches!(code.as_ref(), "5" | "6" | "517" | "261" | "262" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url_and_redaction() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::from_url("postgres://u:p@h/db").unwrap(), Backend::Postgres);
        let e = Backend::from_url("mysql://u:secret@h/db").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
        assert_eq!(day_number(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}
