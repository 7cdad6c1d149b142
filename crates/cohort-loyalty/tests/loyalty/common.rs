//! Shared fixtures: a settable clock, stores on SQLite (temp file) or on a
//! fresh PostgreSQL database, and short constructors.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use cohort_loyalty::{IdempotencyKey, Loyalty, LoyaltyConfig, VerifyReport};
use cohort_model::{Clock, Money, OrderId, ShopTime, UserId};
use sqlx::Connection;

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock(Mutex::new(at)))
    }
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// Where a conformance case runs.
#[derive(Debug, Clone)]
pub enum Target {
    /// A new SQLite file in a temp dir.
    Sqlite,
    /// A new database on this PostgreSQL server (admin connection string).
    Postgres(String),
}

/// A conformance case.
pub type Case = fn(Target) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A store under test with its clock.
pub struct Harness {
    pub loyalty: Arc<Loyalty>,
    pub clock: Arc<ManualClock>,
    _dir: Option<tempfile::TempDir>,
}

static DB_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Target {
    /// Opens a fresh, empty store with the clock at 2024-03-01 10:00 Shanghai.
    pub async fn open(&self, config: LoyaltyConfig) -> Harness {
        let clock = ManualClock::new(shanghai(2024, 3, 1, 10, 0, 0));
        let shop = ShopTime::default();
        match self {
            Target::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let loyalty =
                    Loyalty::open_sqlite(&dir.path().join("loyalty.db"), config, shop, clock.clone()).await.unwrap();
                Harness { loyalty: Arc::new(loyalty), clock, _dir: Some(dir) }
            }
            Target::Postgres(admin) => {
                let name =
                    format!("cohort_loyalty_{}_{}", std::process::id(), DB_COUNTER.fetch_add(1, Ordering::SeqCst));
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                let url = format!("{base}/{name}");
                let loyalty = Loyalty::open(&url, config, shop, clock.clone()).await.unwrap();
                Harness { loyalty: Arc::new(loyalty), clock, _dir: None }
            }
        }
    }
}

impl Harness {
    /// Verifies the store and panics with the problems if any.
    pub async fn assert_verified(&self) -> VerifyReport {
        let report = self.loyalty.verify().await.unwrap();
        assert!(report.is_ok(), "verify found problems: {:#?}", report.problems);
        report
    }
}

/// A UTC instant from a Shanghai wall-clock time.
pub fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(y, m, d, h, min, s).unwrap().with_timezone(&Utc)
}

pub fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::new(k).unwrap()
}

pub fn user(u: &str) -> UserId {
    UserId::new(u).unwrap()
}

pub fn order(o: &str) -> OrderId {
    OrderId::new(o).unwrap()
}

pub fn yuan(y: i64) -> Money {
    Money::from_yuan(y)
}

pub fn fen(f: i64) -> Money {
    Money::from_fen(f)
}
