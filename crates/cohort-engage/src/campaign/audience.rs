//! The audience adapter: a saved audience or a filter expression of
//! `cohort-audience`, evaluated on the event store, turned into the
//! [`Contact`]s a campaign sends to.
//!
//! Membership is exactly `cohort-audience`'s ([`Members::of`] /
//! [`Members::matching`]: the snapshot of a static audience, the filter's
//! matches at `as_of` for a dynamic one). Each member's address on the
//! campaign's channel comes from the stored user: the phone for SMS, the
//! `email` trait for email, the user id for app push, in-app, WeCom and the
//! console. Members without one are left out before assignment (so both
//! arms lose them alike) and counted. The name comes from the `name` or
//! `nickname` trait, else [`DEFAULT_NAME`]; the send hour from the stored
//! profile's `peak_hour`.
//!
//! **Personal data.** The provider needs the real phone, so this is an
//! engine-side read: the addresses live only in the returned [`Contact`]s
//! (whose `Debug` masks them) and go to the outbox; nothing here is meant
//! to be serialised to an HTTP client.
//!
//! The reads are blocking (the store is DuckDB): an async caller runs
//! [`audience_contacts`] in `spawn_blocking`, or awaits
//! [`StoreAudience::resolve`], which does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cohort_audience::{load_audience, Filter, Members, Pii};
use cohort_model::{PersonId, ShopTime, User};
use cohort_store::{AudienceStore, EventStore, PersonHistory};
use serde::{Deserialize, Serialize};

use super::{AudienceSource, Contact};
use crate::channel::{ChannelKind, Vars};
use crate::{EngageError, Result};

/// The `{{name}}` of a member whose record has no name.
pub const DEFAULT_NAME: &str = "会员";

/// Which people: a saved audience by id, or a filter expression in the
/// audience language (`count(orders) >= 1 and count(orders, 30d) = 0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum AudienceQuery {
    /// A saved audience (`cohort audience create ID …`).
    Saved(String),
    /// A filter evaluated now.
    Filter(String),
}

impl AudienceQuery {
    /// How the campaign records its audience: `audience:ID` or `filter:TEXT`.
    pub fn label(&self) -> String {
        match self {
            AudienceQuery::Saved(id) => format!("audience:{id}"),
            AudienceQuery::Filter(text) => format!("filter:{text}"),
        }
    }
}

/// An audience read from the store, ready for [`super::launch`].
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAudience {
    /// Members with an address on the channel, in person id order.
    pub contacts: Vec<Contact>,
    /// Members of the audience.
    pub members: u64,
    /// Members left out: no address on the channel.
    pub without_address: u64,
    /// [`AudienceQuery::label`].
    pub label: String,
}

/// The members of `query` at `as_of` with their address on `channel`
/// (blocking: it scans the store).
pub fn audience_contacts(
    events: &dyn EventStore,
    tags: &dyn AudienceStore,
    query: &AudienceQuery,
    channel: ChannelKind,
    shop: ShopTime,
    as_of: DateTime<Utc>,
) -> Result<ResolvedAudience> {
    // Membership only: ids, masked output is enough.
    let members = Members::new(events, tags, shop, as_of, Pii::Masked);
    let rows = match query {
        AudienceQuery::Saved(id) => members.of(&load_audience(tags, id)?)?,
        AudienceQuery::Filter(text) => {
            if text.trim().is_empty() {
                return Err(EngageError::invalid("audience filter", text.clone(), "is empty"));
            }
            members.matching(&Filter::parse("campaign audience", text)?)?
        }
    };
    let ids: HashSet<PersonId> = rows.into_iter().map(|r| r.person_id).collect();
    let mut peak: HashMap<PersonId, u8> = HashMap::new();
    events.scan_profiles(&mut |p| {
        if let (true, Some(h)) = (ids.contains(&p.person_id), p.peak_hour) {
            peak.insert(p.person_id, h);
        }
        Ok(())
    })?;
    let mut contacts = Vec::with_capacity(ids.len());
    let mut without_address = 0u64;
    events.scan_histories(&mut |history: PersonHistory| {
        if !ids.contains(&history.person_id) {
            return Ok(());
        }
        match contact_of(&history, channel, peak.get(&history.person_id).copied()) {
            Some(c) => contacts.push(c),
            None => without_address += 1,
        }
        Ok(())
    })?;
    contacts.sort_by(|a, b| a.person.as_str().cmp(b.person.as_str()));
    Ok(ResolvedAudience { contacts, members: ids.len() as u64, without_address, label: query.label() })
}

/// One member as a contact on `channel`, or `None` without an address there.
pub fn contact_of(history: &PersonHistory, channel: ChannelKind, peak_hour: Option<u8>) -> Option<Contact> {
    let user = history.user.as_ref()?;
    let recipient = recipient(user, channel)?;
    let mut vars = Vars::new();
    let name = trait_text(user, &["name", "nickname"]).unwrap_or_else(|| DEFAULT_NAME.to_string());
    vars.insert("name".into(), name);
    vars.insert("user_id".into(), user.id.as_str().to_string());
    if let Some(city) = &user.city {
        vars.insert("city".into(), city.clone());
    }
    Some(Contact { person: history.person_id.clone(), recipient, vars, peak_hour })
}

/// The address on a channel: the phone for SMS (the `phone` attribute, else
/// a `phone` / `mobile` trait), the `email` trait for email, the user id
/// elsewhere.
fn recipient(user: &User, channel: ChannelKind) -> Option<String> {
    match channel {
        ChannelKind::Sms => user
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .or_else(|| trait_text(user, &["phone", "mobile"])),
        ChannelKind::Email => trait_text(user, &["email"]).filter(|e| e.contains('@')),
        ChannelKind::AppPush | ChannelKind::InApp | ChannelKind::WeCom | ChannelKind::Console => {
            Some(user.id.as_str().to_string())
        }
    }
}

fn trait_text(user: &User, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| {
        user.traits.get(*k).and_then(|v| v.as_str()).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    })
}

/// A `cohort-audience` audience on the store as an [`AudienceSource`].
#[derive(Clone)]
pub struct StoreAudience {
    /// Histories and profiles.
    pub events: Arc<dyn EventStore>,
    /// Tags, saved audiences, model scores.
    pub tags: Arc<dyn AudienceStore>,
    /// Which people.
    pub query: AudienceQuery,
    /// The campaign's channel (which address to read).
    pub channel: ChannelKind,
    /// The shop's time zone.
    pub shop: ShopTime,
    /// When to evaluate a dynamic audience or a filter.
    pub as_of: DateTime<Utc>,
}

impl StoreAudience {
    /// Reads the audience on a blocking thread.
    pub async fn resolve(self) -> Result<ResolvedAudience> {
        tokio::task::spawn_blocking(move || {
            audience_contacts(&*self.events, &*self.tags, &self.query, self.channel, self.shop, self.as_of)
        })
        .await
        .map_err(|e| EngageError::corrupt(format!("audience read stopped: {e}")))?
    }
}

impl AudienceSource for StoreAudience {
    fn contacts(&self) -> Result<Vec<Contact>> {
        Ok(audience_contacts(&*self.events, &*self.tags, &self.query, self.channel, self.shop, self.as_of)?.contacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cohort_model::UserId;

    fn history(id: &str, phone: Option<&str>, traits: serde_json::Value) -> PersonHistory {
        let mut user = User::new(UserId::new(id).unwrap());
        user.phone = phone.map(str::to_string);
        user.city = Some("上海".into());
        user.traits = traits.as_object().unwrap().clone();
        PersonHistory { person_id: PersonId::new(id).unwrap(), user: Some(user), events: vec![], orders: vec![] }
    }

    #[test]
    fn addresses_per_channel_and_names() {
        let h = history("u1", Some("13912345678"), serde_json::json!({"name": "李雷", "email": "li@example.com"}));
        let sms = contact_of(&h, ChannelKind::Sms, Some(21)).unwrap();
        assert_eq!(sms.recipient, "13912345678");
        assert_eq!(sms.vars["name"], "李雷");
        assert_eq!(sms.vars["city"], "上海");
        assert_eq!(sms.peak_hour, Some(21));
        assert_eq!(contact_of(&h, ChannelKind::Email, None).unwrap().recipient, "li@example.com");
        assert_eq!(contact_of(&h, ChannelKind::AppPush, None).unwrap().recipient, "u1");
        assert_eq!(contact_of(&h, ChannelKind::WeCom, None).unwrap().recipient, "u1");
        // The real phone goes to the provider, but never into logs.
        let debug = format!("{sms:?}");
        assert!(debug.contains("139****5678") && !debug.contains("13912345678"), "{debug}");

        // A phone kept only as a trait; no name: the default; a bad email is no address.
        let h = history("u2", None, serde_json::json!({"mobile": " 13700001111 ", "email": "none"}));
        let c = contact_of(&h, ChannelKind::Sms, None).unwrap();
        assert_eq!((c.recipient.as_str(), c.vars["name"].as_str()), ("13700001111", DEFAULT_NAME));
        assert!(contact_of(&h, ChannelKind::Email, None).is_none());
        assert!(contact_of(&history("u3", Some("  "), serde_json::json!({})), ChannelKind::Sms, None).is_none());
        // An anonymous person (no user record) has no address anywhere.
        let anon =
            PersonHistory { person_id: PersonId::new("a1").unwrap(), user: None, events: vec![], orders: vec![] };
        assert!(contact_of(&anon, ChannelKind::AppPush, None).is_none());
    }

    #[test]
    fn labels() {
        assert_eq!(AudienceQuery::Saved("silent".into()).label(), "audience:silent");
        assert_eq!(AudienceQuery::Filter("count(orders) > 0".into()).label(), "filter:count(orders) > 0");
    }
}
