//! The project config file, layered: defaults → `cohort.toml` → `COHORT_*`
//! environment → command-line flags. Every problem in the file is reported
//! at once, each named by its dotted path.

use std::path::Path;

use anyhow::{bail, Context as _};
use cohort_analytics::KpiTargets;
use cohort_engage::config::EngageConfig;
use cohort_insight::InsightConfig;
use cohort_loyalty::LoyaltyConfig;
use cohort_predict::churn::ChurnSettings;
use cohort_predict::cluster::ClusterSettings;
use cohort_predict::clv::ClvSettings;
use cohort_predict::replenish::ReplenishSettings;
use cohort_recommend::RecommendConfig;
use cohort_server::ServerConfig;

/// `cohort.toml` (see `cohort.example.toml` for every setting).
#[derive(Debug, Clone, PartialEq)]
pub struct CohortConfig {
    /// Shop time zone, IANA name (top-level `time_zone`). Default `Asia/Shanghai`.
    pub time_zone: String,
    /// `[segments]`: value tiers, lifecycle, behaviour types.
    pub segments: InsightConfig,
    /// `[server]`: the collection service (`cohort serve`).
    pub server: ServerConfig,
    /// `[kpi]`: targets the KPI board is shown against (`cohort kpi`).
    pub kpi: KpiTargets,
    /// `[loyalty]`: earn rules, growth weights, tiers and benefits.
    pub loyalty: LoyaltyConfig,
    /// `[recommend]`: recommender training and ranking (`cohort recommend`, `cohort serve`).
    pub recommend: RecommendConfig,
    /// `[tags]`: tag rules (`cohort tags`, `cohort serve`).
    pub tags: cohort_audience::TagsConfig,
    /// `[clusters]`: behaviour clustering (`cohort clusters`).
    pub clusters: ClusterSettings,
    /// `[churn]`: churn-risk model (`cohort churn`).
    pub churn: ChurnSettings,
    /// `[clv]`: lifetime value horizon, discounting and holdout (`cohort clv fit`).
    pub clv: ClvSettings,
    /// `[replenish]`: re-purchase interval thresholds (`cohort replenish`).
    pub replenish: ReplenishSettings,
    /// `[engage]`: channels, journeys and the scheduler of `cohort serve`.
    pub engage: EngageConfig,
}

impl Default for CohortConfig {
    fn default() -> Self {
        CohortConfig {
            time_zone: cohort_model::DEFAULT_TIME_ZONE.name().to_string(),
            segments: InsightConfig::default(),
            server: ServerConfig::default(),
            kpi: KpiTargets::default(),
            loyalty: LoyaltyConfig::default(),
            recommend: RecommendConfig::default(),
            tags: cohort_audience::TagsConfig::default(),
            clusters: ClusterSettings::default(),
            churn: ChurnSettings::default(),
            clv: ClvSettings::default(),
            replenish: ReplenishSettings::default(),
            engage: EngageConfig::default(),
        }
    }
}

impl CohortConfig {
    /// Loads `path`; a missing file is fine only when it was not named explicitly.
    pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read config {}", path.display())),
        };
        Self::parse(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    /// Parses the text of a `cohort.toml`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let doc: toml::Table = text.parse()?;
        let mut config = CohortConfig::default();
        let mut issues = Vec::new();
        for (key, value) in &doc {
            match (key.as_str(), value) {
                ("time_zone", toml::Value::String(tz)) => config.time_zone = tz.clone(),
                ("time_zone", other) => {
                    issues.push(format!("time_zone: expected a string, found {}", other.type_str()))
                }
                (cohort_insight::SECTION, toml::Value::Table(table)) => match InsightConfig::from_table(table) {
                    Ok(segments) => config.segments = segments,
                    Err(e) => issues.push(e.to_string()),
                },
                (cohort_insight::SECTION, other) => {
                    issues.push(format!("segments: expected a table, found {}", other.type_str()))
                }
                ("server", toml::Value::Table(table)) => match table.clone().try_into::<ServerConfig>() {
                    Ok(server) => config.server = server,
                    Err(e) => issues.push(format!("server: {}", e.message())),
                },
                ("server", other) => issues.push(format!("server: expected a table, found {}", other.type_str())),
                (cohort_analytics::kpi::SECTION, toml::Value::Table(table)) => {
                    match table.clone().try_into::<KpiTargets>() {
                        Ok(kpi) => match kpi.validate() {
                            Ok(()) => config.kpi = kpi,
                            Err(e) => issues.extend(e.issues().iter().map(ToString::to_string)),
                        },
                        Err(e) => issues.push(format!("kpi: {}", e.message())),
                    }
                }
                (cohort_analytics::kpi::SECTION, other) => {
                    issues.push(format!("kpi: expected a table, found {}", other.type_str()))
                }
                ("loyalty", toml::Value::Table(table)) => match table.clone().try_into::<LoyaltyConfig>() {
                    Ok(loyalty) => match loyalty.validate() {
                        Ok(()) => config.loyalty = loyalty,
                        Err(e) => issues.push(format!("loyalty: {e}")),
                    },
                    Err(e) => issues.push(format!("loyalty: {}", e.message())),
                },
                ("loyalty", other) => issues.push(format!("loyalty: expected a table, found {}", other.type_str())),
                ("recommend", toml::Value::Table(table)) => match table.clone().try_into::<RecommendConfig>() {
                    Ok(recommend) => match recommend.validate() {
                        Ok(()) => config.recommend = recommend,
                        Err(e) => issues.push(format!("recommend: {e}")),
                    },
                    Err(e) => issues.push(format!("recommend: {}", e.message())),
                },
                ("recommend", other) => issues.push(format!("recommend: expected a table, found {}", other.type_str())),
                ("tags", toml::Value::Table(table)) => match table.clone().try_into::<cohort_audience::TagsConfig>() {
                    Ok(tags) => match tags.validate() {
                        Ok(()) => config.tags = tags,
                        Err(e) => issues.push(format!("tags: {e}")),
                    },
                    Err(e) => issues.push(format!("tags: {}", e.message())),
                },
                ("tags", other) => issues.push(format!("tags: expected a table, found {}", other.type_str())),
                ("clusters", toml::Value::Table(table)) => match table.clone().try_into::<ClusterSettings>() {
                    Ok(clusters) => match clusters.validate() {
                        Ok(()) => config.clusters = clusters,
                        Err(e) => issues.push(format!("clusters: {e}")),
                    },
                    Err(e) => issues.push(format!("clusters: {}", e.message())),
                },
                ("clusters", other) => issues.push(format!("clusters: expected a table, found {}", other.type_str())),
                ("churn", toml::Value::Table(table)) => match table.clone().try_into::<ChurnSettings>() {
                    Ok(churn) => match churn.validate() {
                        Ok(()) => config.churn = churn,
                        Err(e) => issues.push(format!("churn: {e}")),
                    },
                    Err(e) => issues.push(format!("churn: {}", e.message())),
                },
                ("churn", other) => issues.push(format!("churn: expected a table, found {}", other.type_str())),
                ("clv", toml::Value::Table(table)) => match table.clone().try_into::<ClvSettings>() {
                    Ok(clv) => match clv.validate() {
                        Ok(()) => config.clv = clv,
                        Err(e) => issues.push(e.to_string()),
                    },
                    Err(e) => issues.push(format!("clv: {}", e.message())),
                },
                ("clv", other) => issues.push(format!("clv: expected a table, found {}", other.type_str())),
                ("replenish", toml::Value::Table(table)) => match table.clone().try_into::<ReplenishSettings>() {
                    Ok(replenish) => match replenish.validate() {
                        Ok(()) => config.replenish = replenish,
                        Err(e) => issues.push(format!("replenish.{e}")),
                    },
                    Err(e) => issues.push(format!("replenish: {}", e.message())),
                },
                ("replenish", other) => issues.push(format!("replenish: expected a table, found {}", other.type_str())),
                ("engage", toml::Value::Table(table)) => match table.clone().try_into::<EngageConfig>() {
                    Ok(engage) => match engage.journeys() {
                        Ok(_) => config.engage = engage,
                        Err(e) => issues.push(e.to_string()),
                    },
                    Err(e) => issues.push(format!("engage: {}", e.message())),
                },
                ("engage", other) => issues.push(format!("engage: expected a table, found {}", other.type_str())),
                (other, _) => issues.push(format!(
                    "{other}: unknown setting (expected time_zone, [segments], [server], [kpi], [loyalty], \
                     [recommend], [clusters], [churn], [clv], [replenish] or [engage])"
                )),
            }
        }
        let segments_zone = doc.get(cohort_insight::SECTION).and_then(|s| s.get("time_zone"));
        if segments_zone.is_some_and(|z| z.as_str() != Some(config.time_zone.as_str())) {
            issues.push("segments.time_zone: set the shop time zone once, as the top-level `time_zone`".into());
        }
        if !issues.is_empty() {
            bail!("{}", issues.join("\n"));
        }
        config.set_time_zone(config.time_zone.clone());
        Ok(config)
    }

    /// Sets the shop time zone everywhere it is used.
    pub fn set_time_zone(&mut self, tz: String) {
        self.segments.time_zone = tz.clone();
        self.time_zone = tz;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_the_defaults() {
        let example = include_str!("../../../cohort.example.toml");
        assert_eq!(CohortConfig::parse(example).unwrap(), CohortConfig::default());
    }

    #[test]
    fn loyalty_rules_are_read_and_checked() {
        let config = CohortConfig::parse("[loyalty.points]\nper_yuan_paid = 2\n").unwrap();
        assert_eq!(config.loyalty.points.per_yuan_paid, 2);
        assert_eq!(config.loyalty.tiers, cohort_loyalty::TierConfig::default(), "the rest keeps its defaults");
        let err = CohortConfig::parse("[loyalty.points]\nper_yuan = 2\n").unwrap_err().to_string();
        assert!(err.contains("loyalty") && err.contains("per_yuan"), "{err}");
        let err = CohortConfig::parse("[loyalty.tiers]\nsilver = 9000\ngold = 5000\n").unwrap_err().to_string();
        assert!(err.contains("loyalty") && err.contains("silver"), "{err}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = CohortConfig::parse("time_zon = 'x'\n[segments.value]\nwindow_dayz = 3\n").unwrap_err().to_string();
        assert!(err.contains("time_zon: unknown setting"), "{err}");
        assert!(err.contains("window_dayz"), "{err}");
    }

    #[test]
    fn recommend_settings_are_read_and_checked() {
        let text = "[recommend]\nhalf_life_days = 90\nhidden = [\"POST\"]\n[recommend.als]\nfactors = 8\n\
                    [[recommend.pins]]\nplacement = \"home\"\nproduct = \"sku1\"\nposition = 0\n";
        let config = CohortConfig::parse(text).unwrap();
        assert_eq!(config.recommend.half_life_days, 90.0);
        assert_eq!(config.recommend.als.factors, 8);
        assert_eq!(config.recommend.als.iterations, 12, "the rest keeps its defaults");
        assert_eq!(config.recommend.hidden[0].as_str(), "POST");
        assert_eq!(config.recommend.pins[0].product.as_str(), "sku1");
        let err = CohortConfig::parse("[recommend]\nhalf_life = 9\n").unwrap_err().to_string();
        assert!(err.contains("recommend") && err.contains("half_life"), "{err}");
        let err = CohortConfig::parse("[recommend]\nneighbours = 0\n").unwrap_err().to_string();
        assert!(err.contains("recommend") && err.contains("neighbours"), "{err}");
    }

    #[test]
    fn kpi_targets_are_read_and_checked() {
        let config = CohortConfig::parse("[kpi]\nrepurchase_7d_min = 0.2\ncac_max_fen = 3000").unwrap();
        assert_eq!(config.kpi.repurchase_7d_min, 0.2);
        assert_eq!(config.kpi.retention_30d_min, 0.4);
        assert_eq!(config.kpi.cac_max_fen, 3000);
        let err = CohortConfig::parse("[kpi]\nretention_30d_min = 40\n").unwrap_err().to_string();
        assert!(err.contains("kpi.retention_30d_min: must be a share from 0 to 1, got 40"), "{err}");
        let err = CohortConfig::parse("[kpi]\ncac_max = 1\n").unwrap_err().to_string();
        assert!(err.contains("kpi: unknown field `cac_max`"), "{err}");
    }

    #[test]
    fn clv_and_replenish_settings_are_read_and_checked() {
        let config = CohortConfig::parse("[clv]\nhorizon_months = 24\n[replenish]\nlevel = \"category\"\n").unwrap();
        assert_eq!(config.clv.horizon_months, 24);
        assert_eq!(config.clv.holdout_days, 90, "the rest keeps its defaults");
        assert_eq!(config.replenish.level, cohort_predict::replenish::ReplenishLevel::Category);
        let err = CohortConfig::parse("[clv]\nmonthly_discount_rate = 2\n").unwrap_err().to_string();
        assert!(err.contains("monthly_discount_rate"), "{err}");
        let err = CohortConfig::parse("[replenish]\nmin_repeat_rate = 1.5\n").unwrap_err().to_string();
        assert!(err.contains("replenish.min_repeat_rate"), "{err}");
        let err = CohortConfig::parse("[replenish]\nmin_buyers = 3\n").unwrap_err().to_string();
        assert!(err.contains("replenish") && err.contains("min_buyers"), "{err}");
    }

    #[test]
    fn the_time_zone_is_set_once() {
        let config = CohortConfig::parse("time_zone = 'Europe/London'").unwrap();
        assert_eq!(config.segments.time_zone, "Europe/London");
        assert!(CohortConfig::parse("[segments]\ntime_zone = 'UTC'").is_err());
    }
}
