use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Platform, UserId};

/// Attributes of a registered user (Segment `identify` traits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: UserId,
    /// Registration instant.
    pub registered_at: Option<DateTime<Utc>>,
    /// Platform the user registered on.
    pub platform: Option<Platform>,
    /// Acquisition channel.
    pub channel: Option<String>,
    /// Birthday (shop-local date).
    pub birthday: Option<NaiveDate>,
    /// Gender as given.
    pub gender: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Phone number (PII: masked in outputs).
    pub phone: Option<String>,
    /// Every other trait.
    pub traits: serde_json::Map<String, serde_json::Value>,
}

impl User {
    /// A user with only an id.
    pub fn new(id: UserId) -> Self {
        User {
            id,
            registered_at: None,
            platform: None,
            channel: None,
            birthday: None,
            gender: None,
            city: None,
            phone: None,
            traits: serde_json::Map::new(),
        }
    }

    /// Folds a later write of the same user into this one, as a CDP merges
    /// `identify` calls: each attribute the later write carries replaces
    /// this one's, an absent attribute keeps this one's, and traits merge
    /// per top-level key (the later value wins; a nested object is replaced
    /// whole, not merged).
    pub fn merge(&mut self, later: User) {
        fn take<T>(slot: &mut Option<T>, later: Option<T>) {
            if later.is_some() {
                *slot = later;
            }
        }
        take(&mut self.registered_at, later.registered_at);
        take(&mut self.platform, later.platform);
        take(&mut self.channel, later.channel);
        take(&mut self.birthday, later.birthday);
        take(&mut self.gender, later.gender);
        take(&mut self.city, later.city);
        take(&mut self.phone, later.phone);
        self.traits.extend(later.traits);
    }
}
