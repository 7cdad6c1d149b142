//! Audiences: saved filters over profile fields, tags, segments and event
//! conditions. A dynamic audience is re-evaluated on every read; a static
//! one keeps the members it had when it was created.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, Utc};
use cohort_model::{PersonId, Profile, ShopTime};
use cohort_store::{AudienceStore, EventStore, PersonHistory, StoredAudience};
use serde::{Deserialize, Serialize};

use crate::eval::Subject;
use crate::lang::{self, Expr};
use crate::pii::Pii;
use crate::rules::check_name;
use crate::AudienceError;

/// Static snapshot or dynamic membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AudienceKind {
    /// Members are re-evaluated on every read.
    #[default]
    Dynamic,
    /// Members are frozen when the audience is created.
    Static,
}

impl AudienceKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AudienceKind::Dynamic => "dynamic",
            AudienceKind::Static => "static",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<Self, AudienceError> {
        match s {
            "dynamic" => Ok(AudienceKind::Dynamic),
            "static" => Ok(AudienceKind::Static),
            other => Err(AudienceError::Invalid(format!("audience kind {other:?}: expected static or dynamic"))),
        }
    }
}

/// A parsed audience filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The text.
    pub text: String,
    /// Parsed.
    pub expr: Expr,
}

impl Filter {
    /// Parses a filter; `name` names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<Filter, AudienceError> {
        let expr = lang::parse(text).map_err(|e| AudienceError::Rule {
            rule: name.to_string(),
            origin: "audience filter".into(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.message,
        })?;
        Ok(Filter { text: text.to_string(), expr })
    }
}

/// One member, as output (personal data already masked or not).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberRow {
    /// Who.
    pub person_id: PersonId,
    /// Phone (masked unless allowed).
    pub phone: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// Value tier from the last compute.
    pub value_tier: Option<String>,
    /// Lifecycle stage from the last compute.
    pub lifecycle: Option<String>,
    /// Behaviour type from the last compute.
    pub behaviour: Option<String>,
    /// Current tags.
    pub tags: Vec<String>,
}

/// Which people to read.
enum Selection<'a> {
    Filter(&'a Expr),
    Snapshot(&'a HashSet<PersonId>),
}

/// Reads people for audiences: histories, stored profiles and tags.
pub struct Members<'a> {
    events: &'a dyn EventStore,
    tags: &'a dyn AudienceStore,
    shop: ShopTime,
    as_of: DateTime<Utc>,
    pii: Pii,
}

impl<'a> Members<'a> {
    /// Evaluates at `as_of`, masking personal data as `pii` says.
    pub fn new(
        events: &'a dyn EventStore,
        tags: &'a dyn AudienceStore,
        shop: ShopTime,
        as_of: DateTime<Utc>,
        pii: Pii,
    ) -> Self {
        Members { events, tags, shop, as_of, pii }
    }

    fn scan(&self, selection: Selection<'_>, visit: &mut dyn FnMut(MemberRow)) -> Result<u64, AudienceError> {
        let mut profiles: HashMap<PersonId, Profile> = HashMap::new();
        self.events.scan_profiles(&mut |p| {
            profiles.insert(p.person_id.clone(), p);
            Ok(())
        })?;
        let mut tags: HashMap<PersonId, BTreeSet<String>> = HashMap::new();
        for t in self.tags.person_tags(None)? {
            tags.entry(t.person_id).or_default().insert(t.tag);
        }
        let mut scores: HashMap<PersonId, BTreeMap<String, f64>> = HashMap::new();
        if let Selection::Filter(expr) = &selection {
            let mut models = Vec::new();
            expr.models_used(&mut models);
            models.dedup();
            for model in models {
                for (person, score) in self.tags.scores_of_model(&model)? {
                    scores.entry(person).or_default().insert(model.clone(), score);
                }
            }
        }
        let (empty, no_scores) = (BTreeSet::new(), BTreeMap::new());
        let mut scanned = 0u64;
        self.events.scan_histories(&mut |history: PersonHistory| {
            scanned += 1;
            let profile = profiles.get(&history.person_id);
            let person_tags = tags.get(&history.person_id).unwrap_or(&empty);
            let keep = match &selection {
                Selection::Snapshot(set) => set.contains(&history.person_id),
                Selection::Filter(expr) => Subject::new(&history, profile, Some(person_tags), self.as_of, self.shop)
                    .with_scores(scores.get(&history.person_id).unwrap_or(&no_scores))
                    .matches(expr),
            };
            if keep {
                visit(self.row(&history, profile, person_tags));
            }
            Ok(())
        })?;
        Ok(scanned)
    }

    fn row(&self, history: &PersonHistory, profile: Option<&Profile>, tags: &BTreeSet<String>) -> MemberRow {
        let user = history.user.as_ref();
        MemberRow {
            person_id: history.person_id.clone(),
            phone: user.and_then(|u| u.phone.as_deref()).map(|p| self.pii.phone(p)),
            city: user.and_then(|u| u.city.clone()),
            gender: user.and_then(|u| u.gender.clone()),
            value_tier: profile.map(|p| p.value_tier.as_str().to_string()),
            lifecycle: profile.map(|p| p.lifecycle.as_str().to_string()),
            behaviour: profile.map(|p| p.behaviour.as_str().to_string()),
            tags: tags.iter().cloned().collect(),
        }
    }

    /// Everyone matching a filter, in person id order.
    pub fn matching(&self, filter: &Filter) -> Result<Vec<MemberRow>, AudienceError> {
        let mut rows = Vec::new();
        self.scan(Selection::Filter(&filter.expr), &mut |r| rows.push(r))?;
        Ok(rows)
    }

    /// The members of an audience, in person id order: the snapshot of a
    /// static audience, the filter's matches now for a dynamic one.
    pub fn of(&self, audience: &Audience) -> Result<Vec<MemberRow>, AudienceError> {
        let mut rows = Vec::new();
        match audience.kind {
            AudienceKind::Dynamic => {
                self.scan(Selection::Filter(&audience.filter.expr), &mut |r| rows.push(r))?;
            }
            AudienceKind::Static => {
                let set: HashSet<PersonId> = self.tags.audience_snapshot(&audience.id)?.into_iter().collect();
                self.scan(Selection::Snapshot(&set), &mut |r| rows.push(r))?;
            }
        }
        Ok(rows)
    }
}

/// A saved audience.
#[derive(Debug, Clone, PartialEq)]
pub struct Audience {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// The filter.
    pub filter: Filter,
    /// Static or dynamic.
    pub kind: AudienceKind,
    /// When it was created (the snapshot instant of a static audience).
    pub created_at: DateTime<Utc>,
}

impl Audience {
    /// Checks the id and parses the filter.
    pub fn new(
        id: &str,
        name: &str,
        description: &str,
        filter: &str,
        kind: AudienceKind,
        created_at: DateTime<Utc>,
    ) -> Result<Audience, AudienceError> {
        check_name("audience", id)?;
        Ok(Audience {
            id: id.to_string(),
            name: if name.is_empty() { id.to_string() } else { name.to_string() },
            description: description.to_string(),
            filter: Filter::parse(id, filter)?,
            kind,
            created_at,
        })
    }

    /// From its stored form.
    pub fn from_stored(s: &StoredAudience) -> Result<Audience, AudienceError> {
        Audience::new(&s.id, &s.name, &s.description, &s.filter, AudienceKind::parse(&s.kind)?, s.created_at)
    }

    /// Its stored form.
    pub fn to_stored(&self) -> StoredAudience {
        StoredAudience {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            filter: self.filter.text.clone(),
            kind: self.kind.as_str().to_string(),
            created_at: self.created_at,
        }
    }

    /// Saves it; a static audience's members are evaluated now (at
    /// `as_of`) and frozen.
    pub fn save(&self, members: &Members<'_>, store: &dyn AudienceStore) -> Result<u64, AudienceError> {
        match self.kind {
            AudienceKind::Static => {
                let ids: Vec<PersonId> = members.matching(&self.filter)?.into_iter().map(|r| r.person_id).collect();
                store.put_audience(&self.to_stored(), Some(&ids))?;
                Ok(ids.len() as u64)
            }
            AudienceKind::Dynamic => {
                let n = members.matching(&self.filter)?.len() as u64;
                store.put_audience(&self.to_stored(), None)?;
                Ok(n)
            }
        }
    }
}

/// Loads one saved audience.
pub fn load(store: &dyn AudienceStore, id: &str) -> Result<Audience, AudienceError> {
    let stored = store.audiences()?.into_iter().find(|a| a.id == id);
    let stored = stored.ok_or_else(|| AudienceError::NotFound { what: "audience", name: id.to_string() })?;
    Audience::from_stored(&stored)
}

/// A dimension to break an audience down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Value tier.
    ValueTier,
    /// Lifecycle stage.
    Lifecycle,
    /// Behaviour type.
    Behaviour,
    /// City.
    City,
    /// Gender.
    Gender,
    /// Tags (a member counts once per tag).
    Tag,
}

impl std::str::FromStr for Dimension {
    type Err = AudienceError;
    fn from_str(s: &str) -> Result<Self, AudienceError> {
        Ok(match s {
            "value_tier" => Dimension::ValueTier,
            "lifecycle" => Dimension::Lifecycle,
            "behaviour" | "behavior" => Dimension::Behaviour,
            "city" => Dimension::City,
            "gender" => Dimension::Gender,
            "tag" | "tags" => Dimension::Tag,
            other => {
                return Err(AudienceError::Invalid(format!(
                    "unknown breakdown {other:?} (value_tier, lifecycle, behaviour, city, gender, tag)"
                )))
            }
        })
    }
}

/// Members per value of a dimension, largest first (`(none)` for missing).
pub fn breakdown(rows: &[MemberRow], by: Dimension) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let none = || "(none)".to_string();
    for r in rows {
        let keys: Vec<String> = match by {
            Dimension::ValueTier => vec![r.value_tier.clone().unwrap_or_else(none)],
            Dimension::Lifecycle => vec![r.lifecycle.clone().unwrap_or_else(none)],
            Dimension::Behaviour => vec![r.behaviour.clone().unwrap_or_else(none)],
            Dimension::City => vec![r.city.clone().unwrap_or_else(none)],
            Dimension::Gender => vec![r.gender.clone().unwrap_or_else(none)],
            Dimension::Tag => r.tags.clone(),
        };
        for k in keys {
            *counts.entry(k).or_default() += 1;
        }
    }
    let mut out: Vec<(String, u64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// A stable pseudo-random sample of `n` members: those whose person id
/// hashes lowest (FNV-1a), so the same audience gives the same sample.
pub fn sample(rows: &[MemberRow], n: usize) -> Vec<MemberRow> {
    fn fnv(s: &str) -> u64 {
        s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    }
    let mut keyed: Vec<(u64, &MemberRow)> = rows.iter().map(|r| (fnv(r.person_id.as_str()), r)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.person_id.cmp(&b.1.person_id)));
    keyed.into_iter().take(n).map(|(_, r)| r.clone()).collect()
}

/// One page of members after `cursor` (a person id; `None` = from the
/// start), and the cursor of the next page if there is one.
pub fn page(rows: &[MemberRow], cursor: Option<&str>, limit: usize) -> (Vec<MemberRow>, Option<String>) {
    let start = cursor.map_or(0, |c| rows.partition_point(|r| r.person_id.as_str() <= c));
    let end = (start + limit.max(1)).min(rows.len());
    let next = (end < rows.len()).then(|| rows[end - 1].person_id.as_str().to_string());
    (rows[start..end].to_vec(), next)
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A header and one line per member; tags joined with `|`.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

/// Writes members in a format.
pub fn export(rows: &[MemberRow], format: ExportFormat, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        ExportFormat::Ndjson => {
            for r in rows {
                serde_json::to_writer(&mut *out, r)?;
                out.write_all(b"\n")?;
            }
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["person_id", "phone", "city", "gender", "value_tier", "lifecycle", "behaviour", "tags"])?;
            for r in rows {
                let o = |s: &Option<String>| s.clone().unwrap_or_default();
                w.write_record([
                    r.person_id.as_str().to_string(),
                    o(&r.phone),
                    o(&r.city),
                    o(&r.gender),
                    o(&r.value_tier),
                    o(&r.lifecycle),
                    o(&r.behaviour),
                    r.tags.join("|"),
                ])?;
            }
            w.flush()?;
        }
    }
    Ok(())
}
