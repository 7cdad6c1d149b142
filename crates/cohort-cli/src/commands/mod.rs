//! One module per subcommand.

pub mod analytics;
pub mod audience;
pub mod basket;
pub mod campaign;
pub mod churn;
pub mod clusters;
pub mod clv;
pub mod compute;
pub mod demo;
pub mod experiment;
pub mod generate;
pub mod import;
pub mod journey;
pub mod keys;
pub mod points;
pub mod profile;
pub mod recommend;
pub mod rejected;
pub mod replenish;
pub mod reviews;
pub mod segments;
pub mod serve;
pub mod status;
pub mod tags;
pub mod users;

use std::path::Path;

use anyhow::Context as _;
use cohort_duckdb::DuckDbStore;
use cohort_model::ShopTime;

use crate::config::CohortConfig;

/// What every command needs: the opened store and the layered config.
pub struct Context {
    /// The embedded store.
    pub store: DuckDbStore,
    /// Loaded config.
    pub config: CohortConfig,
    /// The shop's time zone.
    pub shop: ShopTime,
    /// No progress bars.
    pub quiet: bool,
}

impl Context {
    pub fn new(store_dir: &Path, config: &Path, time_zone: Option<&str>, quiet: bool) -> anyhow::Result<Self> {
        let explicit = config != Path::new("cohort.toml");
        let mut config = CohortConfig::load(config, explicit)?;
        if let Some(tz) = time_zone {
            config.set_time_zone(tz.to_string());
        }
        let shop = ShopTime::from_name(&config.time_zone).context("config field `time_zone`")?;
        let store = DuckDbStore::open(store_dir)?;
        let quiet = quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr());
        Ok(Context { store, config, shop, quiet })
    }
}

impl Context {
    /// Formats an instant in shop time, `2025-06-18 20:15`.
    pub fn shop_time_fmt(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&self.shop.tz()).format("%Y-%m-%d %H:%M").to_string()
    }
}
