//! The profile API's answer and its in-memory read model.
//!
//! [`PersonView`] is everything `GET /v1/profiles/{user}` shows about one
//! person: registered attributes, the stored profile and its segments,
//! current tags, the last tag changes, model scores and the most recent
//! events. [`PersonView::read`] reads it from the stores (about eight
//! queries, each scanning its table: tens of milliseconds); [`ProfileBook`]
//! keeps one view per person in memory so a lookup is a hash-map read and a
//! JSON rendering (microseconds). Both render through [`PersonView::render`],
//! so the two paths answer the same JSON; the server's tests assert it.
//!
//! The book is loaded in full at start ([`ProfileBook::load`]), refreshed
//! for the persons of each committed batch by the tag update thread
//! ([`ProfileBook::refresh`], from the history it has just read to evaluate
//! tags), and reloaded in full after anything that rewrites many people at
//! once (a tag recompute, a profile compute, a model scoring run).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use chrono::{DateTime, Utc};
use cohort_model::{Event, PersonId, Profile, User};
use cohort_store::{AudienceStore, EventStore, PersonHistory, PersonTag, TagChange};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::pii::{is_pii_key, Pii};
use crate::AudienceError;

/// Tag changes a profile shows (the newest).
pub const TAG_CHANGES_SHOWN: usize = 20;

/// Events each view keeps by default (the profile route's default `events`).
pub const EVENTS_KEPT: usize = 20;

/// One person as the profile API shows it.
#[derive(Debug, Clone)]
pub struct PersonView {
    /// Who.
    pub person_id: PersonId,
    /// Whether the store holds any record of the person (user row, event or
    /// order); a view without one exists only through a stored profile.
    pub has_history: bool,
    /// Registered-user attributes.
    pub user: Option<User>,
    /// The stored profile of the last compute, as JSON (its segments
    /// apart), kept serialised: a third of the memory of the struct.
    pub profile: Option<HeldProfile>,
    /// Current tags, by tag name.
    pub tags: Vec<PersonTag>,
    /// The last [`TAG_CHANGES_SHOWN`] tag changes, oldest first.
    pub tag_history: Vec<TagChange>,
    /// Every `person_scores` row of the person, as JSON.
    pub scores: Vec<Value>,
    /// The most recent events, newest first, kept serialised.
    pub recent: Vec<HeldEvent>,
    /// Whether `recent` holds every event of the person.
    pub all_events: bool,
    /// The JSON of [`PersonView::render`] with [`EVENTS_KEPT`] events,
    /// masked and shown, made on first use (a view never changes: the book
    /// replaces it).
    rendered: [OnceLock<Arc<[u8]>>; 2],
}

/// An event as the book keeps it: its JSON, and whether its properties
/// hold personal data (only those are parsed again, to mask them).
#[derive(Debug, Clone)]
pub struct HeldEvent {
    json: Box<RawValue>,
    has_pii: bool,
}

impl HeldEvent {
    /// Serialises an event.
    pub fn new(e: &Event) -> HeldEvent {
        let json = serde_json::value::to_raw_value(e).unwrap_or_else(|_| RawValue::NULL.to_owned());
        HeldEvent { json, has_pii: e.properties.keys().any(|k| is_pii_key(k)) }
    }

    /// The JSON shown: as stored, or with personal properties masked.
    fn shown(&self, pii: Pii) -> Cow<'_, RawValue> {
        if pii == Pii::Shown || !self.has_pii {
            return Cow::Borrowed(&self.json);
        }
        let mut event: Value = serde_json::from_str(self.json.get()).unwrap_or_default();
        if let Some(Value::Object(props)) = event.get("properties") {
            event["properties"] = Value::Object(pii.traits(props));
        }
        Cow::Owned(serde_json::value::to_raw_value(&event).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }
}

/// A stored profile as the book keeps it: the JSON and its segments.
#[derive(Debug, Clone)]
pub struct HeldProfile {
    json: Box<RawValue>,
    segments: Box<RawValue>,
}

impl HeldProfile {
    /// Serialises a profile.
    pub fn new(p: &Profile) -> HeldProfile {
        let null = || RawValue::NULL.to_owned();
        let segments = Segments {
            value_tier: &p.value_tier,
            lifecycle: &p.lifecycle,
            behaviour: &p.behaviour,
            rfm_segment: &p.rfm_segment,
        };
        HeldProfile {
            json: serde_json::value::to_raw_value(p).unwrap_or_else(|_| null()),
            segments: serde_json::value::to_raw_value(&segments).unwrap_or_else(|_| null()),
        }
    }
}

/// Instants as the store keeps them (microseconds).
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The last `keep` events of a history (kept in time order), newest first.
fn newest(history: &PersonHistory, keep: usize) -> Vec<HeldEvent> {
    history.events.iter().rev().take(keep).map(HeldEvent::new).collect()
}

impl PersonView {
    /// Reads a person from the stores with `events` recent events (the slow
    /// path, and the reference the read model is tested against); `None`
    /// when the store knows neither a history nor a profile.
    pub fn read(
        events: &dyn EventStore,
        tags: &dyn AudienceStore,
        person: &PersonId,
        recent: usize,
    ) -> Result<Option<PersonView>, AudienceError> {
        let history = events.history(person)?;
        let profile = events.profile(person)?;
        if history.is_none() && profile.is_none() {
            return Ok(None);
        }
        let events = tags.recent_events(person, recent)?;
        Ok(Some(PersonView {
            person_id: person.clone(),
            has_history: history.is_some(),
            user: history.and_then(|h| h.user),
            profile: profile.as_ref().map(HeldProfile::new),
            tags: tags.person_tags(Some(person))?,
            tag_history: tags.tag_history(Some(person), TAG_CHANGES_SHOWN)?,
            scores: tags.person_scores(person)?,
            all_events: events.len() < recent,
            recent: events.iter().map(HeldEvent::new).collect(),
            rendered: Default::default(),
        }))
    }

    /// Whether the view can answer a request for `n` events.
    pub fn covers(&self, n: usize) -> bool {
        self.all_events || n <= self.recent.len()
    }

    /// [`PersonView::render`] as JSON bytes; made once per mask for the
    /// default [`EVENTS_KEPT`] events and shared after.
    pub fn render_bytes(&self, pii: Pii, n: usize) -> Arc<[u8]> {
        let json = || Arc::from(serde_json::to_vec(&self.answer(pii, n)).unwrap_or_default());
        if n != EVENTS_KEPT {
            return json();
        }
        self.rendered[usize::from(pii == Pii::Shown)].get_or_init(json).clone()
    }

    /// The profile route's JSON, with `n` recent events and personal data
    /// masked as `pii` says.
    pub fn render(&self, pii: Pii, n: usize) -> Value {
        serde_json::to_value(self.answer(pii, n)).unwrap_or_default()
    }

    /// The answer, borrowing the view (serialised straight to bytes: no
    /// intermediate JSON tree, no copy of an event whose properties need no
    /// mask).
    fn answer(&self, pii: Pii, n: usize) -> Answer<'_> {
        let user = self.user.as_ref().map(|u| {
            json!({
                "registered_at": u.registered_at, "platform": u.platform, "channel": u.channel,
                "city": u.city, "gender": u.gender,
                "birthday": u.birthday.map(|b| if pii == Pii::Shown { b.to_string() } else { b.format("%Y").to_string() }),
                "phone": u.phone.as_deref().map(|p| pii.phone(p)),
                "traits": pii.traits(&u.traits),
            })
        });
        Answer {
            person_id: &self.person_id,
            user,
            segments: self.profile.as_ref().map(|p| &*p.segments),
            tags: self.tags.iter().map(|t| TagSince { tag: &t.tag, since: t.since }).collect(),
            tag_history: &self.tag_history,
            scores: &self.scores,
            recent_events: self.recent.iter().take(n).map(|e| e.shown(pii)).collect(),
            profile: self.profile.as_ref().map(|p| &*p.json),
            pii: if pii == Pii::Shown { "shown" } else { "masked" },
        }
    }
}

/// The profile route's answer.
#[derive(Serialize)]
struct Answer<'a> {
    person_id: &'a PersonId,
    user: Option<Value>,
    segments: Option<&'a RawValue>,
    tags: Vec<TagSince<'a>>,
    tag_history: &'a [TagChange],
    scores: &'a [Value],
    recent_events: Vec<Cow<'a, RawValue>>,
    profile: Option<&'a RawValue>,
    pii: &'static str,
}

#[derive(Serialize)]
struct Segments<'a> {
    value_tier: &'a cohort_model::ValueTier,
    lifecycle: &'a cohort_model::LifecycleStage,
    behaviour: &'a cohort_model::BehaviourType,
    rfm_segment: &'a Option<cohort_model::RfmSegment>,
}

#[derive(Serialize)]
struct TagSince<'a> {
    tag: &'a str,
    since: DateTime<Utc>,
}

/// What a lookup in the book found.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// The book is still loading: read the stores.
    NotReady,
    /// The store knows nobody by that id.
    Missing,
    /// The person's view.
    Found(Arc<PersonView>),
}

/// What a full load did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BookReport {
    /// Persons held.
    pub persons: u64,
    /// Events held (at most [`ProfileBook::keep`] a person).
    pub events: u64,
    /// Wall-clock milliseconds.
    pub millis: f64,
}

/// One [`PersonView`] per person, in memory.
#[derive(Debug)]
pub struct ProfileBook {
    keep: usize,
    people: RwLock<HashMap<PersonId, Arc<PersonView>>>,
    ready: AtomicBool,
}

impl ProfileBook {
    /// An empty book (not ready) keeping `keep` events a person.
    pub fn new(keep: usize) -> Self {
        ProfileBook { keep: keep.max(1), people: RwLock::new(HashMap::new()), ready: AtomicBool::new(false) }
    }

    /// Events kept a person.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Whether the first load finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Persons held.
    pub fn len(&self) -> usize {
        self.people.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the book holds nobody.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A person's view.
    pub fn get(&self, person: &PersonId) -> Lookup {
        if !self.is_ready() {
            return Lookup::NotReady;
        }
        match self.people.read().unwrap_or_else(|e| e.into_inner()).get(person) {
            Some(view) => Lookup::Found(view.clone()),
            None => Lookup::Missing,
        }
    }

    /// Reads everyone from the stores (one scan of the histories, one of the
    /// profiles, the tags, the tag history and the scores) and replaces the
    /// book's contents at once; lookups see the old contents until then.
    /// The caller keeps other writers out while it runs.
    pub fn load(&self, events: &dyn EventStore, tags: &dyn AudienceStore) -> Result<BookReport, AudienceError> {
        let started = std::time::Instant::now();
        let mut profiles: HashMap<PersonId, Profile> = HashMap::new();
        events.scan_profiles(&mut |p| {
            profiles.insert(p.person_id.clone(), p);
            Ok(())
        })?;
        let mut current: HashMap<PersonId, Vec<PersonTag>> = HashMap::new();
        for t in tags.person_tags(None)? {
            current.entry(t.person_id.clone()).or_default().push(t);
        }
        let mut changes: HashMap<PersonId, Vec<TagChange>> = HashMap::new();
        for c in tags.tag_history(None, usize::MAX)? {
            changes.entry(c.person_id.clone()).or_default().push(c);
        }
        let mut scores: HashMap<PersonId, Vec<Value>> = HashMap::new();
        tags.scan_person_scores(&mut |person, row| {
            scores.entry(person).or_default().push(row);
            Ok(())
        })?;
        let mut people: HashMap<PersonId, Arc<PersonView>> = HashMap::with_capacity(profiles.len());
        let mut held_events = 0u64;
        let mut view = |person: PersonId, history: Option<PersonHistory>, profile: Option<Profile>| {
            let mut tag_history = changes.remove(&person).unwrap_or_default();
            tag_history.drain(..tag_history.len().saturating_sub(TAG_CHANGES_SHOWN));
            let recent = history.as_ref().map(|h| newest(h, self.keep)).unwrap_or_default();
            held_events += recent.len() as u64;
            PersonView {
                has_history: history.is_some(),
                all_events: history.as_ref().is_none_or(|h| h.events.len() <= self.keep),
                user: history.and_then(|h| h.user),
                profile: profile.as_ref().map(HeldProfile::new),
                tags: current.remove(&person).unwrap_or_default(),
                tag_history,
                scores: scores.remove(&person).unwrap_or_default(),
                recent,
                person_id: person,
                rendered: Default::default(),
            }
        };
        events.scan_histories(&mut |history| {
            let person = history.person_id.clone();
            let profile = profiles.remove(&person);
            people.insert(person.clone(), Arc::new(view(person, Some(history), profile)));
            Ok(())
        })?;
        // Profiles of people the store no longer holds records of (merged
        // away since the last compute) still answer.
        for (person, profile) in profiles {
            people.insert(person.clone(), Arc::new(view(person, None, Some(profile))));
        }
        let report = BookReport {
            persons: people.len() as u64,
            events: held_events,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        };
        *self.people.write().unwrap_or_else(|e| e.into_inner()) = people;
        self.ready.store(true, Ordering::Release);
        tracing::info!(persons = report.persons, events = report.events, millis = report.millis, "profile book loaded");
        Ok(report)
    }

    /// Replaces one person's view after a commit touched them: `history`
    /// and `profile` as just read from the store, `tags` the person's tags
    /// before `changes` (the changes just stored for them, in order). The
    /// tag history and scores carry over from the old view; a person the
    /// book did not hold reads them from `store`.
    pub fn refresh(
        &self,
        store: &dyn AudienceStore,
        history: Option<&PersonHistory>,
        person: &PersonId,
        profile: Option<&Profile>,
        tags: &[PersonTag],
        changes: &[TagChange],
    ) -> Result<(), AudienceError> {
        if history.is_none() && profile.is_none() {
            self.people.write().unwrap_or_else(|e| e.into_inner()).remove(person);
            return Ok(());
        }
        let old = match self.get(person) {
            Lookup::Found(view) => Some(view),
            _ => None,
        };
        let (mut tag_history, scores) = match &old {
            Some(v) => {
                let mut h = v.tag_history.clone();
                h.extend(changes.iter().map(|c| TagChange { at: micros(c.at), ..c.clone() }));
                (h, v.scores.clone())
            }
            // The changes are stored already: the history read includes them.
            None => (store.tag_history(Some(person), TAG_CHANGES_SHOWN)?, store.person_scores(person)?),
        };
        tag_history.drain(..tag_history.len().saturating_sub(TAG_CHANGES_SHOWN));
        let mut current: Vec<PersonTag> = tags.to_vec();
        for c in changes {
            current.retain(|t| t.tag != c.tag);
            if c.change == cohort_store::TagChangeKind::Gained {
                current.push(PersonTag { person_id: person.clone(), tag: c.tag.clone(), since: micros(c.at) });
            }
        }
        current.sort_by(|a, b| a.tag.cmp(&b.tag));
        let view = PersonView {
            person_id: person.clone(),
            has_history: history.is_some(),
            user: history.and_then(|h| h.user.clone()),
            profile: profile.map(HeldProfile::new),
            tags: current,
            tag_history,
            scores,
            recent: history.map(|h| newest(h, self.keep)).unwrap_or_default(),
            all_events: history.is_none_or(|h| h.events.len() <= self.keep),
            rendered: Default::default(),
        };
        self.people.write().unwrap_or_else(|e| e.into_inner()).insert(person.clone(), Arc::new(view));
        Ok(())
    }
}
