//! The contract for what the tag and audience engine keeps: each person's
//! current tags, the history of tags gained and lost, tag rules managed
//! through the API, saved audiences (with the members of static
//! snapshots), and the per-person reads the profile API needs.
//!
//! [`MemoryAudienceStore`] is the reference implementation; the DuckDB store
//! implements the same trait on its own tables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use cohort_model::{Event, PersonId};
use serde::{Deserialize, Serialize};

use crate::{EventStore, Result};

/// Whether a tag was gained or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TagChangeKind {
    /// The person now has the tag.
    Gained,
    /// The person no longer has the tag.
    Lost,
}

impl TagChangeKind {
    /// Stored name (`gained`, `lost`).
    pub fn as_str(self) -> &'static str {
        match self {
            TagChangeKind::Gained => "gained",
            TagChangeKind::Lost => "lost",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gained" => Some(TagChangeKind::Gained),
            "lost" => Some(TagChangeKind::Lost),
            _ => None,
        }
    }
}

/// One tag gained or lost by one person: a row of the tag history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    /// Who.
    pub person_id: PersonId,
    /// The tag (its rule's name).
    pub tag: String,
    /// Gained or lost.
    pub change: TagChangeKind,
    /// When the change was evaluated (the evaluation's as-of instant).
    pub at: DateTime<Utc>,
    /// What found it: `batch` (a full recompute) or `incremental` (events).
    pub source: String,
}

/// A tag a person has now, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonTag {
    /// Who.
    pub person_id: PersonId,
    /// The tag.
    pub tag: String,
    /// When it was gained.
    pub since: DateTime<Utc>,
}

/// A tag rule kept in the store (rules created through the API; rules from
/// `cohort.toml` are not stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTagRule {
    /// Tag name.
    pub name: String,
    /// What it means, for people.
    pub description: String,
    /// The condition, in the rule language.
    pub condition: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A saved audience.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAudience {
    /// Id (a slug chosen at creation).
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The filter, in the rule language.
    pub filter: String,
    /// `static` (members frozen at creation) or `dynamic` (re-evaluated on
    /// every read).
    pub kind: String,
    /// Creation instant (for a static audience, the snapshot instant).
    pub created_at: DateTime<Utc>,
}

/// Storage of tags, tag history, tag rules and audiences.
pub trait AudienceStore: Send + Sync {
    /// Current tags of every person (`None`) or of one person, by person
    /// then tag.
    fn person_tags(&self, person: Option<&PersonId>) -> Result<Vec<PersonTag>>;

    /// Applies gains and losses atomically: a gain adds the current tag
    /// (since `at`), a loss removes it, and every change is appended to the
    /// history.
    fn apply_tag_changes(&self, changes: &[TagChange]) -> Result<()>;

    /// The tag history of everyone or one person, oldest first; at most the
    /// `limit` most recent changes.
    fn tag_history(&self, person: Option<&PersonId>, limit: usize) -> Result<Vec<TagChange>>;

    /// Tag rules created through the API, by name.
    fn tag_rules(&self) -> Result<Vec<StoredTagRule>>;

    /// Creates or replaces a stored rule.
    fn put_tag_rule(&self, rule: &StoredTagRule) -> Result<()>;

    /// Deletes a stored rule; whether it existed.
    fn delete_tag_rule(&self, name: &str) -> Result<bool>;

    /// Saved audiences, by id.
    fn audiences(&self) -> Result<Vec<StoredAudience>>;

    /// Creates or replaces an audience; `members` is the snapshot of a
    /// static audience (replacing any earlier one).
    fn put_audience(&self, audience: &StoredAudience, members: Option<&[PersonId]>) -> Result<()>;

    /// Deletes an audience and its snapshot; whether it existed.
    fn delete_audience(&self, id: &str) -> Result<bool>;

    /// The snapshot of a static audience, in person id order.
    fn audience_snapshot(&self, id: &str) -> Result<Vec<PersonId>>;

    /// A person's most recent events, newest first.
    fn recent_events(&self, person: &PersonId, limit: usize) -> Result<Vec<Event>>;

    /// Every row of the per-person model scores (churn, CLV, cluster,
    /// sentiment…) for a person, as JSON objects; empty where the backend
    /// keeps no scores.
    fn person_scores(&self, person: &PersonId) -> Result<Vec<serde_json::Value>>;

    /// Every person's score of one model (`churn`, `clv`…), for `score(…)`
    /// in audience filters; empty where the backend keeps no scores.
    fn scores_of_model(&self, _model: &str) -> Result<Vec<(PersonId, f64)>> {
        Ok(Vec::new())
    }

    /// Every row of the per-person model scores, by person, each person's
    /// rows in the order [`AudienceStore::person_scores`] gives them (for
    /// the profile read model's load); nothing where the backend keeps no
    /// scores.
    fn scan_person_scores(&self, _visit: &mut dyn FnMut(PersonId, serde_json::Value) -> Result<()>) -> Result<()> {
        Ok(())
    }

    /// A fingerprint of the derived per-person tables the profile API shows
    /// (stored profiles, model scores) that changes when a compute or a
    /// scoring run rewrites them; `None` where the backend cannot tell.
    fn derived_version(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

/// The reference [`AudienceStore`], in memory, reading events from an
/// [`EventStore`].
pub struct MemoryAudienceStore {
    events: Arc<dyn EventStore>,
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    tags: BTreeMap<(PersonId, String), DateTime<Utc>>,
    history: Vec<TagChange>,
    rules: BTreeMap<String, StoredTagRule>,
    audiences: BTreeMap<String, StoredAudience>,
    snapshots: BTreeMap<String, BTreeSet<PersonId>>,
}

impl std::fmt::Debug for MemoryAudienceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAudienceStore").finish_non_exhaustive()
    }
}

impl MemoryAudienceStore {
    /// An empty store beside `events`.
    pub fn new(events: Arc<dyn EventStore>) -> Self {
        MemoryAudienceStore { events, inner: Mutex::new(MemoryInner::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl AudienceStore for MemoryAudienceStore {
    fn person_tags(&self, person: Option<&PersonId>) -> Result<Vec<PersonTag>> {
        let inner = self.lock();
        Ok(inner
            .tags
            .iter()
            .filter(|((p, _), _)| person.is_none_or(|want| want == p))
            .map(|((p, t), since)| PersonTag { person_id: p.clone(), tag: t.clone(), since: *since })
            .collect())
    }

    fn apply_tag_changes(&self, changes: &[TagChange]) -> Result<()> {
        let mut inner = self.lock();
        for c in changes {
            let key = (c.person_id.clone(), c.tag.clone());
            match c.change {
                TagChangeKind::Gained => {
                    inner.tags.insert(key, c.at);
                }
                TagChangeKind::Lost => {
                    inner.tags.remove(&key);
                }
            }
            inner.history.push(c.clone());
        }
        Ok(())
    }

    fn tag_history(&self, person: Option<&PersonId>, limit: usize) -> Result<Vec<TagChange>> {
        let inner = self.lock();
        let all: Vec<TagChange> =
            inner.history.iter().filter(|c| person.is_none_or(|p| p == &c.person_id)).cloned().collect();
        Ok(all[all.len().saturating_sub(limit)..].to_vec())
    }

    fn tag_rules(&self) -> Result<Vec<StoredTagRule>> {
        Ok(self.lock().rules.values().cloned().collect())
    }

    fn put_tag_rule(&self, rule: &StoredTagRule) -> Result<()> {
        self.lock().rules.insert(rule.name.clone(), rule.clone());
        Ok(())
    }

    fn delete_tag_rule(&self, name: &str) -> Result<bool> {
        Ok(self.lock().rules.remove(name).is_some())
    }

    fn audiences(&self) -> Result<Vec<StoredAudience>> {
        Ok(self.lock().audiences.values().cloned().collect())
    }

    fn put_audience(&self, audience: &StoredAudience, members: Option<&[PersonId]>) -> Result<()> {
        let mut inner = self.lock();
        inner.audiences.insert(audience.id.clone(), audience.clone());
        inner.snapshots.remove(&audience.id);
        if let Some(members) = members {
            inner.snapshots.insert(audience.id.clone(), members.iter().cloned().collect());
        }
        Ok(())
    }

    fn delete_audience(&self, id: &str) -> Result<bool> {
        let mut inner = self.lock();
        inner.snapshots.remove(id);
        Ok(inner.audiences.remove(id).is_some())
    }

    fn audience_snapshot(&self, id: &str) -> Result<Vec<PersonId>> {
        Ok(self.lock().snapshots.get(id).map(|s| s.iter().cloned().collect()).unwrap_or_default())
    }

    fn recent_events(&self, person: &PersonId, limit: usize) -> Result<Vec<Event>> {
        let mut events = self.events.history(person)?.map(|h| h.events).unwrap_or_default();
        events.reverse();
        events.truncate(limit);
        Ok(events)
    }

    fn person_scores(&self, _person: &PersonId) -> Result<Vec<serde_json::Value>> {
        Ok(Vec::new())
    }
}
