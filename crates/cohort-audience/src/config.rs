//! The `[tags]` table of `cohort.toml`.

use std::path::{Path, PathBuf};

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
}

impl Default for TagsConfig {
    fn default() -> Self {
        TagsConfig { rules: example_rules(), rules_file: None }
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

    /// Checks the rules parse (for the config loader).
    pub fn validate(&self) -> Result<(), AudienceError> {
        self.rules().map(|_| ())
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
}
