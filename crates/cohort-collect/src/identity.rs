//! Identity stitching: which person each anonymous and user id belongs to.
//!
//! Rules:
//! - a visitor's anonymous id (one per device / platform) is its own person
//!   until it is seen with a user id;
//! - the first time an anonymous id is seen with a user id (`identify`, or
//!   any call carrying both), it is linked to that user's person and the
//!   visitor is merged into it: every event stored before login now belongs
//!   to the user;
//! - an anonymous id already linked to one user and later seen with another
//!   (a shared device) is re-pointed to the new user for what follows;
//!   nothing already stored moves, and two users are never merged this way;
//! - `alias(previousId → userId)` merges the person of `previousId` (a user
//!   id or an anonymous id) into the person of `userId`, with all its ids;
//! - a user id that was never aliased is its own person.
//!
//! [`IdentityGraph`] holds the current links in memory (loaded from the
//! store's [`IdentityLink`]s) and reports each change as links and merges to
//! write in the same transaction as the events they concern.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cohort_model::{AnonymousId, PersonId, UserId};
use cohort_store::{IdKind, IdentityLink, PersonMerge};

/// Links and merges produced while resolving messages, to be written with
/// them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stitches {
    /// New or changed links.
    pub links: Vec<IdentityLink>,
    /// Persons folded into others, in order.
    pub merges: Vec<PersonMerge>,
}

impl Stitches {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.merges.is_empty()
    }
}

type Key = (IdKind, String);

/// The current person of every linked id.
#[derive(Debug, Default, Clone)]
pub struct IdentityGraph {
    person: HashMap<Key, PersonId>,
    members: HashMap<PersonId, Vec<Key>>,
}

impl IdentityGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// The graph of stored links.
    pub fn from_links(links: impl IntoIterator<Item = IdentityLink>) -> Self {
        let mut graph = Self::new();
        for link in links {
            graph.set((link.kind, link.id), link.person_id);
        }
        graph
    }

    /// Linked ids.
    pub fn len(&self) -> usize {
        self.person.len()
    }

    /// Whether no id is linked.
    pub fn is_empty(&self) -> bool {
        self.person.is_empty()
    }

    fn set(&mut self, key: Key, person: PersonId) {
        if let Some(old) = self.person.insert(key.clone(), person.clone()) {
            if let Some(keys) = self.members.get_mut(&old) {
                keys.retain(|k| k != &key);
            }
        }
        self.members.entry(person).or_default().push(key);
    }

    fn lookup(&self, kind: IdKind, id: &str) -> Option<&PersonId> {
        self.person.get(&(kind, id.to_string()))
    }

    /// The person of a user id: its own unless aliased.
    pub fn user_person(&self, user: &UserId) -> PersonId {
        self.lookup(IdKind::User, user.as_str()).cloned().unwrap_or_else(|| user.clone().into())
    }

    /// The person of an anonymous id: its linked user's, else its own.
    pub fn anonymous_person(&self, anonymous: &AnonymousId) -> PersonId {
        self.lookup(IdKind::Anonymous, anonymous.as_str()).cloned().unwrap_or_else(|| anonymous.clone().into())
    }

    /// Resolves the sender of a `track` / `page` / `screen` / `identify`,
    /// linking an anonymous id seen with a user id (see the module rules).
    /// `None` when the message carries neither id.
    pub fn resolve(
        &mut self,
        user: Option<&UserId>,
        anonymous: Option<&AnonymousId>,
        via: &str,
        at: DateTime<Utc>,
        out: &mut Stitches,
    ) -> Option<PersonId> {
        let Some(user) = user else { return anonymous.map(|a| self.anonymous_person(a)) };
        let person = self.user_person(user);
        let Some(anonymous) = anonymous else { return Some(person) };
        match self.lookup(IdKind::Anonymous, anonymous.as_str()) {
            Some(current) if current == &person => {}
            Some(_) => {
                // A shared device: what follows belongs to the new user.
                self.link(IdKind::Anonymous, anonymous.as_str(), &person, via, at, out);
            }
            None => {
                self.link(IdKind::Anonymous, anonymous.as_str(), &person, via, at, out);
                let visitor: PersonId = anonymous.clone().into();
                if visitor != person {
                    out.merges.push(PersonMerge { from: visitor, into: person.clone(), via: via.into(), at });
                }
            }
        }
        Some(person)
    }

    /// `alias`: the person of `previous` (a user id, else an anonymous id,
    /// else a new id) is merged into the person of `user`. Returns the
    /// surviving person.
    pub fn alias(&mut self, previous: &str, user: &UserId, at: DateTime<Utc>, out: &mut Stitches) -> PersonId {
        let into = self.user_person(user);
        let known = [IdKind::User, IdKind::Anonymous].into_iter().find_map(|k| self.lookup(k, previous).cloned());
        let from = known.clone().unwrap_or_else(|| PersonId::new(previous).expect("previousId validated"));
        if from == into {
            return into;
        }
        // Every id of the merged person follows it.
        for key in self.members.remove(&from).unwrap_or_default() {
            self.set(key, into.clone());
        }
        if known.is_none() {
            // Unknown previous id: it may come back as either kind.
            self.link(IdKind::Anonymous, previous, &into, "alias", at, out);
        }
        self.link(IdKind::User, previous, &into, "alias", at, out);
        out.merges.push(PersonMerge { from, into: into.clone(), via: "alias".into(), at });
        into
    }

    fn link(&mut self, kind: IdKind, id: &str, person: &PersonId, via: &str, at: DateTime<Utc>, out: &mut Stitches) {
        self.set((kind, id.to_string()), person.clone());
        out.links.push(IdentityLink { kind, id: id.to_string(), person_id: person.clone(), via: via.into(), at });
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use cohort_store::{EventStore, MemoryStore, WriteSource};

    use super::*;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap()
    }

    fn u(id: &str) -> UserId {
        UserId::new(id).unwrap()
    }

    fn a(id: &str) -> AnonymousId {
        AnonymousId::new(id).unwrap()
    }

    #[test]
    fn a_visitor_becomes_the_user_on_login_once() {
        let mut g = IdentityGraph::new();
        let mut out = Stitches::default();
        assert_eq!(g.resolve(None, Some(&a("dev-1")), "track", at(), &mut out).unwrap().as_str(), "dev-1");
        assert!(out.is_empty(), "an anonymous visitor alone changes nothing");
        assert_eq!(
            g.resolve(Some(&u("alice")), Some(&a("dev-1")), "identify", at(), &mut out).unwrap().as_str(),
            "alice"
        );
        assert_eq!(out.links.len(), 1);
        assert_eq!((out.merges[0].from.as_str(), out.merges[0].into.as_str()), ("dev-1", "alice"));
        assert_eq!(g.resolve(None, Some(&a("dev-1")), "track", at(), &mut out).unwrap().as_str(), "alice");
        g.resolve(Some(&u("alice")), Some(&a("dev-1")), "track", at(), &mut out);
        assert_eq!((out.links.len(), out.merges.len()), (1, 1), "a known link is not repeated");
    }

    #[test]
    fn a_shared_device_repoints_without_merging_users() {
        let mut g = IdentityGraph::new();
        let mut out = Stitches::default();
        g.resolve(Some(&u("alice")), Some(&a("pad")), "identify", at(), &mut out);
        g.resolve(Some(&u("bob")), Some(&a("pad")), "identify", at(), &mut out);
        assert_eq!(out.merges.len(), 1, "only the visitor merge, never alice into bob");
        assert_eq!(g.anonymous_person(&a("pad")).as_str(), "bob");
        assert_eq!(g.user_person(&u("alice")).as_str(), "alice");
    }

    #[test]
    fn alias_moves_every_id_of_the_person() {
        let mut g = IdentityGraph::new();
        let mut out = Stitches::default();
        g.resolve(Some(&u("old")), Some(&a("web-1")), "identify", at(), &mut out);
        g.resolve(Some(&u("old")), Some(&a("app-1")), "identify", at(), &mut out);
        assert_eq!(g.alias("old", &u("new"), at(), &mut out).as_str(), "new");
        for dev in ["web-1", "app-1"] {
            assert_eq!(g.anonymous_person(&a(dev)).as_str(), "new");
        }
        assert_eq!(g.user_person(&u("old")).as_str(), "new");
        let last = out.merges.last().unwrap();
        assert_eq!((last.from.as_str(), last.into.as_str(), last.via.as_str()), ("old", "new", "alias"));
        let before = out.merges.len();
        g.alias("old", &u("new"), at(), &mut out);
        assert_eq!(out.merges.len(), before, "aliasing again changes nothing");
        // An alias from an anonymous id works the same.
        g.resolve(None, Some(&a("tv")), "track", at(), &mut out);
        g.alias("tv", &u("new"), at(), &mut out);
        assert_eq!(g.anonymous_person(&a("tv")).as_str(), "new");
    }

    #[test]
    fn stitches_written_to_a_store_reload_into_the_same_graph() {
        let store = MemoryStore::new();
        let mut g = IdentityGraph::new();
        let mut out = Stitches::default();
        g.resolve(Some(&u("alice")), Some(&a("dev")), "identify", at(), &mut out);
        g.alias("alice", &u("alice2"), at(), &mut out);
        let mut txn = store.begin_write(WriteSource::default()).unwrap();
        for link in out.links {
            txn.link(link).unwrap();
        }
        for merge in out.merges {
            txn.merge(merge).unwrap();
        }
        txn.commit_stream().unwrap();
        let reloaded = IdentityGraph::from_links(store.identity_links(None).unwrap());
        assert_eq!(reloaded.anonymous_person(&a("dev")), g.anonymous_person(&a("dev")));
        assert_eq!(reloaded.user_person(&u("alice")).as_str(), "alice2");
    }
}
