//! The reference in-memory store.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use cohort_model::{Batch, Event, EventId, Order, OrderId, PersonId, Product, ProductId, Profile, User, UserId};

use crate::{
    compose_merges, EventStore, IdKind, IdentityLink, ImportRecord, PersonHistory, PersonMerge, RejectedRow, Result,
    StoreStats, WriteSource, WriteSummary, WriteTxn,
};

/// An [`EventStore`] held in memory. Same semantics as the database
/// backends; used by engine tests and as the conformance suite's reference.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: BTreeMap<EventId, Event>,
    orders: BTreeMap<OrderId, Order>,
    users: BTreeMap<UserId, User>,
    products: BTreeMap<ProductId, Product>,
    profiles: BTreeMap<PersonId, Profile>,
    imports: Vec<ImportRecord>,
    rejected: Vec<RejectedRow>,
    links: BTreeMap<(IdKind, String), IdentityLink>,
    merges: Vec<PersonMerge>,
    seen: Vec<(String, DateTime<Utc>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave half a commit behind
        // (commits apply to owned data first), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct MemoryTxn<'a> {
    store: &'a MemoryStore,
    source: WriteSource,
    staged: Batch,
    rejected: Vec<RejectedRow>,
    links: Vec<IdentityLink>,
    merges: Vec<PersonMerge>,
    appended: Vec<Event>,
    seen: Vec<(String, DateTime<Utc>)>,
}

impl WriteTxn for MemoryTxn<'_> {
    fn write(&mut self, batch: &Batch) -> Result<()> {
        self.staged.users.extend_from_slice(&batch.users);
        self.staged.products.extend_from_slice(&batch.products);
        self.staged.events.extend_from_slice(&batch.events);
        self.staged.orders.extend_from_slice(&batch.orders);
        Ok(())
    }

    fn append_events(&mut self, events: &[Event], seen_at: DateTime<Utc>) -> Result<()> {
        self.appended.extend_from_slice(events);
        self.seen.extend(events.iter().map(|e| (e.id.as_str().to_string(), seen_at)));
        Ok(())
    }

    fn reject(&mut self, row: RejectedRow) -> Result<()> {
        self.rejected.push(row);
        Ok(())
    }

    fn link(&mut self, link: IdentityLink) -> Result<()> {
        self.links.push(link);
        Ok(())
    }

    fn merge(&mut self, merge: PersonMerge) -> Result<()> {
        self.merges.push(merge);
        Ok(())
    }

    fn commit(self: Box<Self>, rows_read: u64) -> Result<ImportRecord> {
        let (store, source) = (self.store, self.source.clone());
        let mut inner = store.lock();
        let summary = (*self).apply(&mut inner);
        let record =
            ImportRecord { id: inner.imports.len() as i64 + 1, source, rows_read, summary, finished_at: Utc::now() };
        inner.imports.push(record.clone());
        Ok(record)
    }

    fn commit_stream(self: Box<Self>) -> Result<WriteSummary> {
        let store = self.store;
        let mut inner = store.lock();
        Ok((*self).apply(&mut inner))
    }
}

impl MemoryTxn<'_> {
    fn apply(self, inner: &mut Inner) -> WriteSummary {
        let mut summary = WriteSummary { rows_rejected: self.rejected.len() as u64, ..Default::default() };
        let staged = self.staged;
        for user in staged.users {
            summary.users_upserted += 1;
            match inner.users.entry(user.id.clone()) {
                std::collections::btree_map::Entry::Occupied(mut stored) => stored.get_mut().merge(user),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(user);
                }
            }
        }
        for product in staged.products {
            summary.products_upserted += 1;
            inner.products.insert(product.id.clone(), product);
        }
        for event in staged.events {
            if inner.events.contains_key(&event.id) {
                summary.events_duplicate += 1;
            } else {
                summary.events_new += 1;
                inner.events.insert(event.id.clone(), event);
            }
        }
        for order in staged.orders {
            if let Some(existing) = inner.orders.get_mut(&order.id) {
                summary.orders_duplicate += 1;
                // Lines of a known order can arrive in later batches (an
                // invoice split across files): keep the new line numbers.
                let known: HashSet<u32> = existing.lines.iter().map(|l| l.line_no).collect();
                for line in order.lines {
                    if !known.contains(&line.line_no) {
                        summary.lines_new += 1;
                        existing.lines.push(line);
                    }
                }
                existing.lines.sort_by_key(|l| l.line_no);
            } else {
                let mut order = order;
                let mut seen = HashSet::new();
                order.lines.retain(|l| seen.insert(l.line_no));
                order.lines.sort_by_key(|l| l.line_no);
                summary.orders_new += 1;
                summary.lines_new += order.lines.len() as u64;
                inner.orders.insert(order.id.clone(), order);
            }
        }
        // Appended events skip the id check; a map cannot hold one id twice,
        // so an id already stored keeps its first event here.
        for event in self.appended {
            summary.events_new += 1;
            inner.events.entry(event.id.clone()).or_insert(event);
        }
        inner.seen.extend(self.seen);
        inner.rejected.extend(self.rejected);
        for link in self.links {
            inner.links.insert((link.kind, link.id.clone()), link);
        }
        let moves: BTreeMap<PersonId, PersonId> = compose_merges(&self.merges).into_iter().collect();
        if !moves.is_empty() {
            let moved = |p: &mut Option<PersonId>| {
                if let Some(to) = p.as_ref().and_then(|p| moves.get(p)) {
                    *p = Some(to.clone());
                }
            };
            inner.events.values_mut().for_each(|e| moved(&mut e.person_id));
            inner.orders.values_mut().for_each(|o| moved(&mut o.person_id));
            for link in inner.links.values_mut() {
                if let Some(to) = moves.get(&link.person_id) {
                    link.person_id = to.clone();
                }
            }
        }
        inner.merges.extend(self.merges);
        summary
    }
}

impl EventStore for MemoryStore {
    fn begin_write(&self, source: WriteSource) -> Result<Box<dyn WriteTxn + '_>> {
        Ok(Box::new(MemoryTxn {
            store: self,
            source,
            staged: Batch::default(),
            rejected: Vec::new(),
            links: Vec::new(),
            merges: Vec::new(),
            appended: Vec::new(),
            seen: Vec::new(),
        }))
    }

    fn find_import(&self, checksum: &str) -> Result<Option<ImportRecord>> {
        Ok(self.lock().imports.iter().find(|r| r.source.checksum.as_deref() == Some(checksum)).cloned())
    }

    fn imports(&self) -> Result<Vec<ImportRecord>> {
        Ok(self.lock().imports.clone())
    }

    fn rejected_rows(&self, limit: usize) -> Result<Vec<RejectedRow>> {
        Ok(self.lock().rejected.iter().take(limit).cloned().collect())
    }

    fn identity_links(&self, person: Option<&PersonId>) -> Result<Vec<IdentityLink>> {
        let inner = self.lock();
        Ok(inner.links.values().filter(|l| person.is_none_or(|p| &l.person_id == p)).cloned().collect())
    }

    fn seen_event_ids(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        Ok(self.lock().seen.iter().filter(|(_, at)| *at >= since).cloned().collect())
    }

    fn forget_seen_event_ids(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut inner = self.lock();
        let was = inner.seen.len();
        inner.seen.retain(|(_, at)| *at >= before);
        Ok((was - inner.seen.len()) as u64)
    }

    fn merges(&self, person: Option<&PersonId>) -> Result<Vec<PersonMerge>> {
        let inner = self.lock();
        Ok(inner.merges.iter().filter(|m| person.is_none_or(|p| &m.from == p || &m.into == p)).cloned().collect())
    }

    fn stats(&self) -> Result<StoreStats> {
        let inner = self.lock();
        let persons: BTreeSet<&PersonId> = inner
            .events
            .values()
            .filter_map(|e| e.person_id.as_ref())
            .chain(inner.orders.values().filter_map(|o| o.person_id.as_ref()))
            .collect();
        let instants = inner.events.values().map(|e| e.timestamp).chain(inner.orders.values().map(|o| o.placed_at));
        let (first_at, last_at) =
            instants.fold((None, None), |(lo, hi): (Option<DateTime<Utc>>, Option<DateTime<Utc>>), t| {
                (Some(lo.map_or(t, |l| l.min(t))), Some(hi.map_or(t, |h| h.max(t))))
            });
        Ok(StoreStats {
            events: inner.events.len() as u64,
            orders: inner.orders.len() as u64,
            order_lines: inner.orders.values().map(|o| o.lines.len() as u64).sum(),
            products: inner.products.len() as u64,
            users: inner.users.len() as u64,
            persons: persons.len() as u64,
            profiles: inner.profiles.len() as u64,
            first_at,
            last_at,
        })
    }

    fn products(&self) -> Result<Vec<Product>> {
        Ok(self.lock().products.values().cloned().collect())
    }

    fn scan_histories(&self, visit: &mut dyn FnMut(PersonHistory) -> Result<()>) -> Result<()> {
        let histories: Vec<PersonHistory> = {
            let inner = self.lock();
            let mut people: BTreeMap<PersonId, PersonHistory> = BTreeMap::new();
            for user in inner.users.values() {
                let p = PersonId::from(user.id.clone());
                people.entry(p.clone()).or_insert_with(|| empty_history(p)).user = Some(user.clone());
            }
            for event in inner.events.values() {
                if let Some(p) = &event.person_id {
                    people.entry(p.clone()).or_insert_with(|| empty_history(p.clone())).events.push(event.clone());
                }
            }
            for order in inner.orders.values() {
                if let Some(p) = &order.person_id {
                    people.entry(p.clone()).or_insert_with(|| empty_history(p.clone())).orders.push(order.clone());
                }
            }
            for (person, history) in people.iter_mut() {
                if history.user.is_none() {
                    history.user = UserId::new(person.as_str()).ok().and_then(|u| inner.users.get(&u).cloned());
                }
                history.events.sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
                history.orders.sort_by(|a, b| (a.placed_at, &a.id).cmp(&(b.placed_at, &b.id)));
            }
            people.into_values().collect()
        };
        for history in histories {
            visit(history)?;
        }
        Ok(())
    }

    fn history(&self, person: &PersonId) -> Result<Option<PersonHistory>> {
        let mut found = None;
        self.scan_histories(&mut |h| {
            if &h.person_id == person {
                found = Some(h);
            }
            Ok(())
        })?;
        Ok(found)
    }

    fn replace_profiles(&self, profiles: &[Profile]) -> Result<()> {
        let fresh = profiles.iter().map(|p| (p.person_id.clone(), p.clone())).collect();
        self.lock().profiles = fresh;
        Ok(())
    }

    fn profile(&self, person: &PersonId) -> Result<Option<Profile>> {
        Ok(self.lock().profiles.get(person).cloned())
    }

    fn scan_profiles(&self, visit: &mut dyn FnMut(Profile) -> Result<()>) -> Result<()> {
        let profiles: Vec<Profile> = self.lock().profiles.values().cloned().collect();
        profiles.into_iter().try_for_each(visit)
    }
}

fn empty_history(person_id: PersonId) -> PersonHistory {
    PersonHistory { person_id, user: None, events: Vec::new(), orders: Vec::new() }
}
