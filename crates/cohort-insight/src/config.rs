//! The `[segments]` section of `cohort.toml`: every segmentation threshold,
//! with the business plan's figures as defaults.
//!
//! ```toml
//! [segments]
//! time_zone = "Asia/Shanghai"
//!
//! [segments.value]
//! window_days = 365
//! high_min_orders = 3
//! high_min_monetary_fen = 50000   # ¥500
//!
//! [segments.lifecycle]
//! new_max_registration_days = 7
//!
//! [segments.behaviour]
//! sharer_min_shares_90d = 3
//! ```
//!
//! The structs deserialise with `deny_unknown_fields` so the CLI can embed
//! [`InsightConfig`] in its own project config; [`InsightConfig::from_table`]
//! and [`InsightConfig::from_toml_str`] additionally report every bad key at
//! once, each named by its dotted path.

use std::path::Path;

use cohort_model::{Money, ShopTime};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigIssue, InsightError};

/// Name of the project-config table holding [`InsightConfig`].
pub const SECTION: &str = "segments";

/// Segmentation settings (`[segments]` in `cohort.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsightConfig {
    /// IANA time zone in which calendar days, hours and weekends are counted.
    pub time_zone: String,
    /// Value tiers and quantile RFM (`[segments.value]`).
    pub value: ValueTierConfig,
    /// Lifecycle stages (`[segments.lifecycle]`).
    pub lifecycle: LifecycleConfig,
    /// Behaviour types (`[segments.behaviour]`).
    pub behaviour: BehaviourConfig,
}

impl Default for InsightConfig {
    fn default() -> Self {
        InsightConfig {
            time_zone: "Asia/Shanghai".to_string(),
            value: ValueTierConfig::default(),
            lifecycle: LifecycleConfig::default(),
            behaviour: BehaviourConfig::default(),
        }
    }
}

/// Value tier thresholds. Recency is shop-local days since the last
/// purchase; orders and monetary are counted within `window_days`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValueTierConfig {
    /// Look-back window, in days, for the F and M of value tiers and RFM.
    pub window_days: u32,
    /// High value: last purchase at most this many days ago.
    pub high_max_recency_days: u32,
    /// High value: at least this many purchases in the window.
    pub high_min_orders: u32,
    /// High value: at least this much spent in the window, in fen.
    pub high_min_monetary_fen: Money,
    /// Potential: last purchase at most this many days ago.
    pub potential_max_recency_days: u32,
    /// Potential: at least this many purchases in the window.
    pub potential_min_orders: u32,
    /// Potential: at most this many purchases in the window.
    pub potential_max_orders: u32,
    /// Potential: at least this much spent in the window, in fen.
    pub potential_min_monetary_fen: Money,
    /// Potential: strictly less than this spent in the window, in fen.
    pub potential_max_monetary_fen: Money,
    /// Low value: last purchase at least this many days ago.
    pub low_min_recency_days: u32,
    /// Low value: at most this many purchases in the window (1 = exactly
    /// one, since a buyer in the window has at least one).
    pub low_max_orders: u32,
    /// Low value: strictly less than this spent in the window, in fen.
    pub low_max_monetary_fen: Money,
}

impl Default for ValueTierConfig {
    fn default() -> Self {
        ValueTierConfig {
            window_days: 365,
            high_max_recency_days: 30,
            high_min_orders: 3,
            high_min_monetary_fen: Money::from_yuan(500),
            potential_max_recency_days: 30,
            potential_min_orders: 1,
            potential_max_orders: 2,
            potential_min_monetary_fen: Money::from_yuan(200),
            potential_max_monetary_fen: Money::from_yuan(500),
            low_min_recency_days: 90,
            low_max_orders: 1,
            low_max_monetary_fen: Money::from_yuan(200),
        }
    }
}

/// Lifecycle thresholds, in shop-local days. Stages are tried in order:
/// new, then active / silent light / medium / heavy by the inclusive upper
/// bounds on days without activity, else churned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifecycleConfig {
    /// New: registered at most this many days ago.
    pub new_max_registration_days: u32,
    /// Active: at most this many days without activity.
    pub active_max_inactive_days: u32,
    /// Silent (light): at most this many days without activity.
    pub silent_light_max_inactive_days: u32,
    /// Silent (medium): at most this many days without activity.
    pub silent_medium_max_inactive_days: u32,
    /// Silent (heavy): at most this many days without activity; beyond it,
    /// churned.
    pub silent_heavy_max_inactive_days: u32,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            new_max_registration_days: 7,
            active_max_inactive_days: 29,
            silent_light_max_inactive_days: 45,
            silent_medium_max_inactive_days: 60,
            silent_heavy_max_inactive_days: 90,
        }
    }
}

/// Behaviour type thresholds, all over the last 90 days. Types are tried in
/// the order of the fields; the first that matches wins, else casual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BehaviourConfig {
    /// Social sharer: at least this many products shared.
    pub sharer_min_shares_90d: u32,
    /// Price comparer: at least this many days with ≥ 3 distinct products of
    /// one category viewed.
    pub comparer_min_comparison_days_90d: u32,
    /// Searcher: at least this many searches …
    pub searcher_min_searches_90d: u32,
    /// … and searches at least this percentage of product views.
    pub searcher_min_search_percent_of_views: u32,
    /// Browser: at least this many product views …
    pub browser_min_views_90d: u32,
    /// … and at least this many views per purchase (50 = conversion ≤ 2%).
    pub browser_min_views_per_order: u32,
}

impl Default for BehaviourConfig {
    fn default() -> Self {
        BehaviourConfig {
            sharer_min_shares_90d: 3,
            comparer_min_comparison_days_90d: 2,
            searcher_min_searches_90d: 5,
            searcher_min_search_percent_of_views: 30,
            browser_min_views_90d: 20,
            browser_min_views_per_order: 50,
        }
    }
}

impl InsightConfig {
    /// Reads the `[segments]` table of a `cohort.toml` document (absent:
    /// defaults). Other top-level tables belong to other sections and are
    /// not looked at. Every bad key is reported at once.
    pub fn from_toml_str(text: &str) -> Result<Self, InsightError> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| InsightError::Config {
            issues: vec![ConfigIssue::new("cohort.toml", e.to_string().trim_end().to_string())],
        })?;
        match doc.get(SECTION) {
            None => Ok(InsightConfig::default()),
            Some(toml::Value::Table(table)) => InsightConfig::from_table(table),
            Some(other) => Err(InsightError::Config {
                issues: vec![ConfigIssue::new(SECTION, format!("expected a table, found {}", other.type_str()))],
            }),
        }
    }

    /// Reads the `[segments]` table of the `cohort.toml` file at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, InsightError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| InsightError::Io { path: path.display().to_string(), source })?;
        InsightConfig::from_toml_str(&text)
    }

    /// Builds the config from the contents of the `[segments]` table,
    /// reporting every unknown key, wrongly typed value and inconsistent
    /// threshold at once.
    pub fn from_table(table: &toml::Table) -> Result<Self, InsightError> {
        let mut issues = Vec::new();
        let mut cfg = InsightConfig::default();
        for (key, value) in table {
            let path = format!("{SECTION}.{key}");
            match key.as_str() {
                "time_zone" => match value.as_str() {
                    Some(zone) => cfg.time_zone = zone.to_string(),
                    None => {
                        issues.push(ConfigIssue::new(path, format!("expected a string, found {}", value.type_str())))
                    }
                },
                "value" => cfg.value = section(value, &path, &mut issues),
                "lifecycle" => cfg.lifecycle = section(value, &path, &mut issues),
                "behaviour" => cfg.behaviour = section(value, &path, &mut issues),
                _ => issues.push(ConfigIssue::new(
                    path,
                    format!("unknown field `{key}`, expected one of `time_zone`, `value`, `lifecycle`, `behaviour`"),
                )),
            }
        }
        issues.extend(cfg.check());
        if issues.is_empty() {
            Ok(cfg)
        } else {
            Err(InsightError::Config { issues })
        }
    }

    /// Checks a config built another way (e.g. embedded in the CLI's project
    /// config): every inconsistent threshold is reported at once.
    pub fn validate(&self) -> Result<(), InsightError> {
        let issues = self.check();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(InsightError::Config { issues })
        }
    }

    /// The shop time of `time_zone`.
    pub fn shop_time(&self) -> Result<ShopTime, InsightError> {
        ShopTime::from_name(&self.time_zone).map_err(|e| InsightError::Config {
            issues: vec![ConfigIssue::new(format!("{SECTION}.time_zone"), e.to_string())],
        })
    }

    fn check(&self) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        if let Err(InsightError::Config { issues: tz }) = self.shop_time() {
            issues.extend(tz);
        }
        let v = &self.value;
        let mut require = |ok: bool, path: &str, message: String| {
            if !ok {
                issues.push(ConfigIssue::new(format!("{SECTION}.{path}"), message));
            }
        };
        require(v.window_days >= 1, "value.window_days", "must be at least 1".into());
        require(
            v.potential_min_orders <= v.potential_max_orders,
            "value.potential_min_orders",
            format!("must not exceed potential_max_orders ({})", v.potential_max_orders),
        );
        require(
            v.potential_min_monetary_fen < v.potential_max_monetary_fen,
            "value.potential_min_monetary_fen",
            format!("must be below potential_max_monetary_fen ({})", v.potential_max_monetary_fen.fen()),
        );
        let l = &self.lifecycle;
        let bounds = [
            ("active_max_inactive_days", l.active_max_inactive_days),
            ("silent_light_max_inactive_days", l.silent_light_max_inactive_days),
            ("silent_medium_max_inactive_days", l.silent_medium_max_inactive_days),
            ("silent_heavy_max_inactive_days", l.silent_heavy_max_inactive_days),
        ];
        for pair in bounds.windows(2) {
            let ((lo_name, lo), (hi_name, hi)) = (pair[0], pair[1]);
            require(lo < hi, &format!("lifecycle.{hi_name}"), format!("must be greater than {lo_name} ({lo})"));
        }
        let b = &self.behaviour;
        require(
            b.browser_min_views_per_order >= 1,
            "behaviour.browser_min_views_per_order",
            "must be at least 1".into(),
        );
        issues
    }
}

/// Deserialises one sub-table; on failure, retries key by key so that every
/// bad key is reported with its own path, and returns the defaults.
fn section<T: DeserializeOwned + Default>(value: &toml::Value, path: &str, issues: &mut Vec<ConfigIssue>) -> T {
    match value.clone().try_into::<T>() {
        Ok(parsed) => parsed,
        Err(whole) => {
            let before = issues.len();
            if let Some(table) = value.as_table() {
                for (key, item) in table {
                    let single = toml::Table::from_iter([(key.clone(), item.clone())]);
                    if let Err(e) = toml::Value::Table(single).try_into::<T>() {
                        issues.push(ConfigIssue::new(format!("{path}.{key}"), e.message().to_string()));
                    }
                }
            }
            if issues.len() == before {
                issues.push(ConfigIssue::new(path, whole.message().to_string()));
            }
            T::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_toml() {
        let cfg = InsightConfig::default();
        let text = toml::to_string(&cfg).unwrap();
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(InsightConfig::from_table(&table).unwrap(), cfg);
        cfg.validate().unwrap();
    }
}
