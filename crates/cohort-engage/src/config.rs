//! The `[engage]` section of `cohort.toml`: where messages go, which
//! journeys run, and how often `cohort serve`'s scheduler works.
//!
//! ```toml
//! [engage]
//! playbooks = ["post_first_order", "cart_abandonment", "new_user_plan"]  # default: every playbook
//! cart_abandonment_hours = 4
//! dispatch_every_s = 30
//! tick_every_s = 60
//! daily_entry_hour = 9          # silent tiers, churn recall, replenishment, birthdays
//!
//! [engage.entry]                # thresholds of that daily job
//! light_min_days = 30
//!
//! [engage.channels]
//! sms = { kind = "webhook", url = "https://sms-gateway.example/send", secret = "…" }
//! email = { kind = "file", path = "mail.jsonl" }
//!
//! [[engage.journeys]]   # journeys of your own, as `JourneySpec`
//! id = "vip_thanks"
//! …
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::channel::{ChannelKind, Sink};
use crate::journey::entry::EntrySettings;
use crate::journey::{playbooks, JourneySpec};
use crate::{EngageError, Result};

/// Where messages of a channel without a configured sink go: this file in
/// the store's directory (one JSON line per message), so a fresh install
/// sends nothing anywhere and every message can be read back.
pub const DEFAULT_OUTBOX_FILE: &str = "engage-outbox.jsonl";

/// The `[engage]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngageConfig {
    /// Run journeys and deliver messages inside `cohort serve`.
    pub enabled: bool,
    /// Built-in playbooks to run, by id (`journey::playbooks`); default all.
    pub playbooks: Vec<String>,
    /// Hours without an order before the cart reminder.
    pub cart_abandonment_hours: i64,
    /// Journeys of the shop's own.
    pub journeys: Vec<JourneySpec>,
    /// A sink per channel; channels not named write to [`DEFAULT_OUTBOX_FILE`].
    pub channels: BTreeMap<String, Sink>,
    /// Seconds between outbox delivery rounds.
    pub dispatch_every_s: u64,
    /// Seconds between journey ticks (waits that ended, timeouts).
    pub tick_every_s: u64,
    /// Share of people held out of every campaign, in basis points.
    pub holdout_bp: u64,
    /// Salt of the global holdout (changing it reshuffles who is held out).
    pub holdout_salt: String,
    /// Shop-local hour at which `cohort serve` runs the daily entry job
    /// (silent tiers, churn recall, replenishment, birthdays).
    pub daily_entry_hour: u32,
    /// Thresholds of the daily entry job (`[engage.entry]`).
    pub entry: EntrySettings,
    /// Days back a cart or wishlist add counts for a price drop.
    pub price_drop_window_days: u32,
}

impl Default for EngageConfig {
    fn default() -> Self {
        EngageConfig {
            enabled: true,
            playbooks: playbooks::all().into_iter().map(|j| j.id).collect(),
            cart_abandonment_hours: 4,
            journeys: Vec::new(),
            channels: BTreeMap::new(),
            dispatch_every_s: 30,
            tick_every_s: 60,
            holdout_bp: 0,
            holdout_salt: "global-holdout".into(),
            daily_entry_hour: 9,
            entry: EntrySettings::default(),
            price_drop_window_days: 30,
        }
    }
}

impl EngageConfig {
    /// The journeys to run: the chosen playbooks, then the shop's own.
    /// Unknown playbook ids, duplicate ids and invalid journeys are all
    /// reported at once.
    pub fn journeys(&self) -> Result<Vec<JourneySpec>> {
        if self.daily_entry_hour > 23 {
            return Err(EngageError::invalid(
                "engage.daily_entry_hour",
                self.daily_entry_hour.to_string(),
                "must be an hour of the day, 0 to 23",
            ));
        }
        self.entry.validate()?;
        if self.cart_abandonment_hours <= 0 {
            return Err(EngageError::invalid(
                "engage.cart_abandonment_hours",
                self.cart_abandonment_hours.to_string(),
                "must be at least 1",
            ));
        }
        let mut shipped = playbooks::all();
        for j in &mut shipped {
            if j.id == "cart_abandonment" {
                *j = playbooks::cart_abandonment(self.cart_abandonment_hours);
            }
        }
        let mut problems = Vec::new();
        let mut out = Vec::new();
        for id in &self.playbooks {
            match shipped.iter().find(|j| &j.id == id) {
                Some(j) => out.push(j.clone()),
                None => problems.push(format!(
                    "unknown playbook {id:?} (known: {})",
                    shipped.iter().map(|j| j.id.as_str()).collect::<Vec<_>>().join(", ")
                )),
            }
        }
        out.extend(self.journeys.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        for j in &out {
            if !seen.insert(j.id.as_str()) {
                problems.push(format!("journey id {:?} is used twice", j.id));
            }
            if let Err(e) = j.validate() {
                problems.push(e.to_string());
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(EngageError::invalid("engage.journeys", "", problems.join(" | ")))
        }
    }

    /// A sink for every channel: the configured ones, the rest appending to
    /// [`DEFAULT_OUTBOX_FILE`] in `dir`. File paths are relative to `dir`.
    pub fn sinks(&self, dir: &Path) -> Result<HashMap<ChannelKind, Sink>> {
        let fallback = Sink::File { path: dir.join(DEFAULT_OUTBOX_FILE) };
        let mut sinks: HashMap<ChannelKind, Sink> =
            ChannelKind::ALL.into_iter().map(|c| (c, fallback.clone())).collect();
        for (name, sink) in &self.channels {
            let channel = name.parse::<ChannelKind>()?;
            let sink = match sink {
                Sink::File { path } if path.is_relative() => Sink::File { path: dir.join(path) },
                other => other.clone(),
            };
            sinks.insert(channel, sink);
        }
        Ok(sinks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_run_every_playbook_with_the_configured_cart_delay() {
        let config: EngageConfig = toml::from_str("cart_abandonment_hours = 6").unwrap();
        let journeys = config.journeys().unwrap();
        assert_eq!(journeys.len(), playbooks::all().len());
        let cart = journeys.iter().find(|j| j.id == "cart_abandonment").unwrap();
        assert_eq!(cart, &playbooks::cart_abandonment(6));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let config: EngageConfig = toml::from_str(r#"playbooks = ["birthday", "birthday", "nope"]"#).unwrap();
        let e = config.journeys().unwrap_err().to_string();
        assert!(e.contains(r#"unknown playbook "nope""#), "{e}");
        assert!(e.contains(r#"journey id "birthday" is used twice"#), "{e}");
        let bad: Result<EngageConfig, _> = toml::from_str("chanels = {}");
        assert!(bad.unwrap_err().to_string().contains("unknown field `chanels`"));
    }

    #[test]
    fn unnamed_channels_write_beside_the_store() {
        let config: EngageConfig = toml::from_str(
            r#"[channels]
               sms = { kind = "webhook", url = "http://127.0.0.1:9/sms", secret = "s" }
               email = { kind = "file", path = "mail.jsonl" }"#,
        )
        .unwrap();
        let sinks = config.sinks(Path::new("/shop")).unwrap();
        assert!(matches!(sinks[&ChannelKind::Sms], Sink::Webhook(_)));
        assert_eq!(sinks[&ChannelKind::Email], Sink::File { path: "/shop/mail.jsonl".into() });
        assert_eq!(sinks[&ChannelKind::AppPush], Sink::File { path: Path::new("/shop").join(DEFAULT_OUTBOX_FILE) });
        let unknown: EngageConfig = toml::from_str(r#"channels = { fax = { kind = "console" } }"#).unwrap();
        assert!(unknown.sinks(Path::new("/shop")).unwrap_err().to_string().contains("fax"));
    }
}
