//! The `[tags]` table of `cohort.toml`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use cohort_model::ShopTime;
use serde::{Deserialize, Serialize};

use crate::rules::{example_rules, parse_rules, RuleSpec, TagRule};
use crate::AudienceError;

/// Tag rules declared in config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TagsConfig {
    /// Rules, each `{ name, description, when }`. Default: the business
    /// plan's examples (new_parent, pet_owner, price_sensitive, ugc_creator,
    /// app_first, cart_abandoner).
    pub rules: Vec<RuleSpec>,
    /// A TOML file of more `[[rules]]`, relative to the working directory.
    pub rules_file: Option<PathBuf>,
    /// When `cohort serve` recomputes every tag each day, shop-local
    /// `HH:MM` (default `04:00`), or `off`. Time alone changes tags (a view
    /// leaves a 30-day window, a cart's 24 hours pass); events change them
    /// at once.
    pub daily_recompute: String,
}

impl Default for TagsConfig {
    fn default() -> Self {
        TagsConfig { rules: example_rules(), rules_file: None, daily_recompute: "04:00".into() }
    }
}

/// The shape of a rules file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

impl TagsConfig {
    /// Parses every rule (the config's, then the rules file's), reporting
    /// all errors at once.
    pub fn rules(&self) -> Result<Vec<TagRule>, AudienceError> {
        let mut specs = self.rules.clone();
        let mut origin = "cohort.toml [tags]".to_string();
        if let Some(path) = &self.rules_file {
            specs.extend(read_rules_file(path)?);
            origin = format!("cohort.toml [tags] or {}", path.display());
        }
        parse_rules(&specs, &origin)
    }

    /// The shop-local time of the daily recompute; `None` when `off`.
    pub fn daily_recompute_at(&self) -> Result<Option<NaiveTime>, AudienceError> {
        let text = self.daily_recompute.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        NaiveTime::parse_from_str(text, "%H:%M").map(Some).map_err(|_| {
            AudienceError::Invalid(format!(
                "tags.daily_recompute {text:?}: expected a shop-local time HH:MM (e.g. \"04:00\") or \"off\""
            ))
        })
    }

    /// Checks the rules parse and the schedule reads (for the config loader).
    pub fn validate(&self) -> Result<(), AudienceError> {
        let rules = self.rules().map(|_| ());
        let schedule = self.daily_recompute_at().map(|_| ());
        match (rules, schedule) {
            (Err(a), Err(b)) => Err(AudienceError::Invalid(format!("{a}\n{b}"))),
            (r, s) => r.and(s),
        }
    }
}

/// The first instant after `now` at which the shop's clock shows `at`
/// (a time skipped by a daylight-saving jump runs an hour later).
pub fn next_daily(shop: ShopTime, now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let tz = shop.tz();
    let mut day = shop.date(now);
    loop {
        let local = day.and_time(at);
        let instant = tz
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| tz.from_local_datetime(&(local + chrono::Duration::hours(1))).earliest())
            .map(|t| t.with_timezone(&Utc));
        if let Some(t) = instant.filter(|t| *t > now) {
            return t;
        }
        day = day.succ_opt().unwrap_or(day);
    }
}

fn read_rules_file(path: &Path) -> Result<Vec<RuleSpec>, AudienceError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AudienceError::Invalid(format!("tags.rules_file {}: {e}", path.display())))?;
    let file: RulesFile = toml::from_str(&text)
        .map_err(|e| AudienceError::Invalid(format!("tags.rules_file {}: {}", path.display(), e.message())))?;
    Ok(file.rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_bad_rules_are_all_reported() {
        assert_eq!(TagsConfig::default().rules().unwrap().len(), 6);
        let cfg: TagsConfig = toml::from_str(
            "[[rules]]\nname = \"a\"\nwhen = 'count(events, 30d) >'\n[[rules]]\nname = \"b\"\nwhen = '''\ncount(orders) > 1 and\n  bogus = 2'''\n",
        )
        .unwrap();
        let err = cfg.rules().unwrap_err().to_string();
        assert!(err.contains("rule \"a\" (cohort.toml [tags]), line 1, column 21: expected a value"), "{err}");
        assert!(err.contains("rule \"b\" (cohort.toml [tags]), line 2, column 3: unknown name \"bogus\""), "{err}");
        assert!(toml::from_str::<TagsConfig>("rule = []").is_err(), "unknown keys are refused");
    }

    #[test]
    fn the_daily_recompute_runs_at_the_next_shop_local_time() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let four = NaiveTime::from_hms_opt(4, 0, 0).unwrap();
        let shop = ShopTime::default(); // Asia/Shanghai, UTC+8
                                        // 03:00 Shanghai → 04:00 Shanghai the same day = 20:00 UTC the day before.
        assert_eq!(next_daily(shop, at("2026-11-22T19:00:00Z"), four), at("2026-11-22T20:00:00Z"));
        // Exactly 04:00 has run: the next is tomorrow's.
        assert_eq!(next_daily(shop, at("2026-11-22T20:00:00Z"), four), at("2026-11-23T20:00:00Z"));
        // New York: 2026-03-08 02:30 does not exist (clocks jump 02:00 → 03:00).
        let ny = ShopTime::from_name("America/New_York").unwrap();
        let half_two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        assert_eq!(next_daily(ny, at("2026-03-08T05:00:00Z"), half_two), at("2026-03-08T07:30:00Z"));
        let cfg = TagsConfig::default();
        assert_eq!(cfg.daily_recompute_at().unwrap(), Some(four));
        let off = TagsConfig { daily_recompute: "off".into(), ..TagsConfig::default() };
        assert_eq!(off.daily_recompute_at().unwrap(), None);
        let bad = TagsConfig { daily_recompute: "25:00".into(), ..TagsConfig::default() };
        let err = bad.validate().unwrap_err().to_string();
        assert!(err.contains("tags.daily_recompute \"25:00\": expected a shop-local time HH:MM"), "{err}");
    }
}
