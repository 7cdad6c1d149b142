//! Connecting to the engage state store, the same way as `cohort-loyalty`:
//! one code path for SQLite and PostgreSQL through `sqlx::Any`, portable SQL
//! with `$n` placeholders, per-backend migrations, and on SQLite WAL with
//! `synchronous=FULL` so an acknowledged enqueue survives a crash.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use crate::EngageError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a connection string names (`sqlite:` or `postgres:`).
    pub fn from_url(url: &str) -> Result<Backend, EngageError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            let shown = url.split('@').next_back().unwrap_or_default().to_string();
            Err(EngageError::invalid("state store url", shown, "expected sqlite:… or postgres://…"))
        }
    }

    /// The statement that opens a write transaction. SQLite takes the write
    /// lock up front so a transaction never fails upgrading a read lock (and
    /// frequency caps are checked and written under the same lock).
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }
}

/// The connection string of a SQLite file (created if missing).
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// Opens a pool on `url` and applies the migrations of its backend.
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<(AnyPool, Backend), EngageError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    if backend == Backend::Sqlite {
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
pub(crate) fn from_us(us: i64) -> Result<DateTime<Utc>, EngageError> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| EngageError::corrupt(format!("timestamp {us} out of range")))
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");

/// A shop-local date as stored: days since 1970-01-01.
pub(crate) fn day_number(date: NaiveDate) -> i64 {
    (date - EPOCH).num_days()
}
