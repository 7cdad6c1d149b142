//! Batch recompute and incremental update of tags. Both evaluate a person
//! with the same [`TagEngine::evaluate`] and store only the difference with
//! the person's current tags, so the history holds exactly one `gained` or
//! `lost` per change.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Profile, ShopTime};
use cohort_store::{AudienceStore, EventStore, PersonHistory, PersonTag, TagChange, TagChangeKind};
use serde::Serialize;

use crate::eval::Subject;
use crate::rules::TagRule;
use crate::AudienceError;

/// Changes are written in chunks of this many during a recompute.
const APPLY_CHUNK: usize = 50_000;

/// The tag rules and the shop's calendar.
#[derive(Debug, Clone)]
pub struct TagEngine {
    rules: Vec<TagRule>,
    shop: ShopTime,
}

/// What a full recompute did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecomputeReport {
    /// The instant evaluated.
    pub as_of: DateTime<Utc>,
    /// Rules evaluated.
    pub rules: usize,
    /// Persons evaluated.
    pub persons: u64,
    /// Tags gained.
    pub gained: u64,
    /// Tags lost.
    pub lost: u64,
    /// Persons holding each tag afterwards, by tag.
    pub counts: Vec<(String, u64)>,
    /// Wall-clock milliseconds.
    pub millis: f64,
}

/// One person of an incremental update, as read and stored.
#[derive(Debug, Clone, Copy)]
pub struct PersonUpdate<'a> {
    /// Who.
    pub person: &'a PersonId,
    /// The history read after the commit (`None`: no records left).
    pub history: Option<&'a PersonHistory>,
    /// The stored profile.
    pub profile: Option<&'a Profile>,
    /// The person's tags before the update.
    pub before: &'a [PersonTag],
    /// The changes stored for the person, in order.
    pub changes: &'a [TagChange],
}

/// A rule's dry run: who would match now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// The rule.
    pub rule: String,
    /// Persons evaluated.
    pub persons: u64,
    /// Persons matching.
    pub matched: u64,
    /// The first matching persons, in person id order.
    pub sample: Vec<PersonId>,
}

impl TagEngine {
    /// An engine over `rules`, counting days in `shop` time.
    pub fn new(rules: Vec<TagRule>, shop: ShopTime) -> Self {
        TagEngine { rules, shop }
    }

    /// The rules.
    pub fn rules(&self) -> &[TagRule] {
        &self.rules
    }

    /// The shop's calendar.
    pub fn shop(&self) -> ShopTime {
        self.shop
    }

    /// The tags a person has at `as_of`.
    pub fn evaluate(
        &self,
        history: &PersonHistory,
        profile: Option<&Profile>,
        as_of: DateTime<Utc>,
    ) -> BTreeSet<String> {
        let subject = Subject::new(history, profile, None, as_of, self.shop);
        self.rules.iter().filter(|r| subject.matches(&r.expr)).map(|r| r.name.clone()).collect()
    }

    /// Re-evaluates everyone at `as_of` and stores the differences.
    pub fn recompute_all(
        &self,
        events: &dyn EventStore,
        tags: &dyn AudienceStore,
        as_of: DateTime<Utc>,
    ) -> Result<RecomputeReport, AudienceError> {
        self.recompute_all_with_progress(events, tags, as_of, &mut |_| {})
    }

    /// [`TagEngine::recompute_all`], telling `progress` the persons done
    /// every 1,000 persons (for a job's progress bar).
    pub fn recompute_all_with_progress(
        &self,
        events: &dyn EventStore,
        tags: &dyn AudienceStore,
        as_of: DateTime<Utc>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RecomputeReport, AudienceError> {
        let started = Instant::now();
        let mut profiles: HashMap<PersonId, Profile> = HashMap::new();
        events.scan_profiles(&mut |p| {
            profiles.insert(p.person_id.clone(), p);
            Ok(())
        })?;
        let mut current: HashMap<PersonId, BTreeSet<String>> = HashMap::new();
        for t in tags.person_tags(None)? {
            current.entry(t.person_id).or_default().insert(t.tag);
        }
        let mut changes: Vec<TagChange> = Vec::new();
        let mut counts: HashMap<String, u64> = HashMap::new();
        let (mut persons, mut gained, mut lost) = (0u64, 0u64, 0u64);
        let mut failed: Option<AudienceError> = None;
        events
            .scan_histories(&mut |history| {
                persons += 1;
                if persons % 1000 == 0 {
                    progress(persons);
                }
                let now = self.evaluate(&history, profiles.get(&history.person_id), as_of);
                let before = current.remove(&history.person_id).unwrap_or_default();
                for t in &now {
                    *counts.entry(t.clone()).or_default() += 1;
                }
                let diff = diff(&history.person_id, &before, &now, as_of, "batch");
                gained += diff.iter().filter(|c| c.change == TagChangeKind::Gained).count() as u64;
                lost += diff.iter().filter(|c| c.change == TagChangeKind::Lost).count() as u64;
                changes.extend(diff);
                if changes.len() >= APPLY_CHUNK {
                    if let Err(e) = tags.apply_tag_changes(&changes) {
                        failed = Some(e.into());
                        return Err(cohort_store::StoreError::Backend("tag write failed".into()));
                    }
                    changes.clear();
                }
                Ok(())
            })
            .map_err(|e| failed.take().unwrap_or(e.into()))?;
        // People no longer in the store (merged into another) lose their tags.
        for (person, before) in current {
            let diff = diff(&person, &before, &BTreeSet::new(), as_of, "batch");
            lost += diff.len() as u64;
            changes.extend(diff);
        }
        tags.apply_tag_changes(&changes)?;
        progress(persons);
        let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
        counts.sort();
        let report = RecomputeReport {
            as_of,
            rules: self.rules.len(),
            persons,
            gained,
            lost,
            counts,
            millis: started.elapsed().as_secs_f64() * 1000.0,
        };
        tracing::info!(persons, gained, lost, millis = report.millis, "tags recomputed");
        Ok(report)
    }

    /// Re-evaluates the given persons at `as_of` (after their events were
    /// committed) and stores the differences; returns them.
    pub fn update_persons(
        &self,
        events: &dyn EventStore,
        tags: &dyn AudienceStore,
        persons: &[PersonId],
        as_of: DateTime<Utc>,
    ) -> Result<Vec<TagChange>, AudienceError> {
        self.update_persons_observed(events, tags, persons, as_of, &mut |_| Ok(()))
    }

    /// [`TagEngine::update_persons`], then `observe` once per person (in
    /// person id order) with what was read and stored, after the changes
    /// are stored: the profile read model refreshes from it.
    pub fn update_persons_observed(
        &self,
        events: &dyn EventStore,
        tags: &dyn AudienceStore,
        persons: &[PersonId],
        as_of: DateTime<Utc>,
        observe: &mut dyn FnMut(PersonUpdate<'_>) -> Result<(), AudienceError>,
    ) -> Result<Vec<TagChange>, AudienceError> {
        let mut changes = Vec::new();
        let unique: BTreeSet<&PersonId> = persons.iter().collect();
        let mut read = Vec::with_capacity(unique.len());
        for person in unique {
            let before = tags.person_tags(Some(person))?;
            let history = events.history(person)?;
            let profile = events.profile(person)?;
            let now = match &history {
                Some(history) => self.evaluate(history, profile.as_ref(), as_of),
                None => BTreeSet::new(),
            };
            let names: BTreeSet<String> = before.iter().map(|t| t.tag.clone()).collect();
            let first = changes.len();
            changes.extend(diff(person, &names, &now, as_of, "incremental"));
            read.push((person, history, profile, before, first..changes.len()));
        }
        if !changes.is_empty() {
            tags.apply_tag_changes(&changes)?;
        }
        for (person, history, profile, before, range) in &read {
            observe(PersonUpdate {
                person,
                history: history.as_ref(),
                profile: profile.as_ref(),
                before,
                changes: &changes[range.clone()],
            })?;
        }
        Ok(changes)
    }

    /// Evaluates one rule over everyone without storing anything.
    pub fn dry_run(
        &self,
        rule: &TagRule,
        events: &dyn EventStore,
        as_of: DateTime<Utc>,
        sample: usize,
    ) -> Result<DryRun, AudienceError> {
        let mut profiles: HashMap<PersonId, Profile> = HashMap::new();
        events.scan_profiles(&mut |p| {
            profiles.insert(p.person_id.clone(), p);
            Ok(())
        })?;
        let mut run = DryRun { rule: rule.name.clone(), persons: 0, matched: 0, sample: Vec::new() };
        events.scan_histories(&mut |history| {
            run.persons += 1;
            let subject = Subject::new(&history, profiles.get(&history.person_id), None, as_of, self.shop);
            if subject.matches(&rule.expr) {
                run.matched += 1;
                if run.sample.len() < sample {
                    run.sample.push(history.person_id.clone());
                }
            }
            Ok(())
        })?;
        Ok(run)
    }
}

/// The changes from `before` to `now`, losses first.
pub fn diff(
    person: &PersonId,
    before: &BTreeSet<String>,
    now: &BTreeSet<String>,
    at: DateTime<Utc>,
    source: &str,
) -> Vec<TagChange> {
    let change = |tag: &String, change| TagChange {
        person_id: person.clone(),
        tag: tag.clone(),
        change,
        at,
        source: source.to_string(),
    };
    before
        .difference(now)
        .map(|t| change(t, TagChangeKind::Lost))
        .chain(now.difference(before).map(|t| change(t, TagChangeKind::Gained)))
        .collect()
}
