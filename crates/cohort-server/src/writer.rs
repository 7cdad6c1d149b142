//! Group commit: one writer thread owns the store's write side and the
//! identity graph. Requests hand it their validated messages through a
//! channel and wait; it takes everything queued (waiting at most
//! `commit_linger_ms` for more), resolves identities, writes one
//! transaction and answers every request in it at once. A 200 therefore
//! always means committed. The queue is bounded in messages by a semaphore:
//! a request that does not fit is answered 429 instead of growing memory.

use std::collections::{HashSet, VecDeque};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use cohort_collect::identity::{IdentityGraph, Stitches};
use cohort_collect::segment::{CallType, Message};
use cohort_model::{Batch, Clock, Event, PersonId};
use cohort_store::{EventStore, RejectedRow, StoreError, WriteSource};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// One request's share of a commit.
pub(crate) struct Submission {
    pub messages: Vec<Message>,
    pub refused: Vec<RejectedRow>,
    pub permit: OwnedSemaphorePermit,
    pub reply: oneshot::Sender<Result<(), String>>,
}

/// The handle requests use.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    tx: mpsc::Sender<Submission>,
    permits: Arc<Semaphore>,
    capacity: usize,
}

/// What `submit` refused.
pub(crate) enum SubmitError {
    /// The queue is full.
    Busy,
    /// The writer has stopped.
    Stopped,
}

impl WriterHandle {
    /// Reserves room for `n` messages, or `Busy`.
    pub(crate) fn reserve(&self, n: usize) -> Result<OwnedSemaphorePermit, SubmitError> {
        let n = n.clamp(1, self.capacity) as u32;
        self.permits.clone().try_acquire_many_owned(n).map_err(|_| SubmitError::Busy)
    }

    pub(crate) fn submit(&self, submission: Submission) -> Result<(), SubmitError> {
        self.tx.send(submission).map_err(|_| SubmitError::Stopped)
    }

    /// Messages reserved and not yet committed.
    pub(crate) fn depth(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }
}

/// Settings of the writer thread.
pub(crate) struct WriterConfig {
    pub capacity: usize,
    pub linger: Duration,
    pub max_messages: usize,
    /// How long a `messageId` is remembered (retries within it are stored once).
    pub dedupe_window: chrono::Duration,
    pub clock: Arc<dyn Clock>,
    /// Called after each successful commit, in order (tags, journeys…).
    pub on_commit: Vec<CommitHook>,
}

/// What one group commit stored, handed to every [`CommitHook`].
#[derive(Debug, Default)]
pub struct Committed {
    /// The events stored, with their persons resolved.
    pub events: Vec<Event>,
    /// Every person the commit touched (events, profile writes, both sides
    /// of a merge), sorted, once each.
    pub persons: Vec<PersonId>,
}

/// Called by the writer thread after each successful commit: it must not
/// block (queue the work for another thread).
pub type CommitHook = Arc<dyn Fn(&Committed) + Send + Sync>;

/// The `messageId`s committed within the dedupe window: 128-bit digests in
/// a hash set (about 50 bytes an id), expired in arrival order. The store
/// keeps the ids themselves (`seen_event_ids`) for the next start.
pub(crate) struct SeenIds {
    window: chrono::Duration,
    set: HashSet<u128>,
    order: VecDeque<(DateTime<Utc>, u128)>,
}

impl SeenIds {
    fn digest(id: &str) -> u128 {
        let hash = Sha256::digest(id.as_bytes());
        u128::from_le_bytes(hash[..16].try_into().expect("16 bytes"))
    }

    /// The window as stored, forgetting (in the store too) what is older.
    fn load(store: &dyn EventStore, window: chrono::Duration, now: DateTime<Utc>) -> Result<SeenIds, StoreError> {
        let since = now - window;
        let forgotten = store.forget_seen_event_ids(since)?;
        let mut ids = store.seen_event_ids(since)?;
        ids.sort_by_key(|(_, at)| *at);
        let mut seen = SeenIds { window, set: HashSet::with_capacity(ids.len()), order: VecDeque::new() };
        for (id, at) in ids {
            seen.insert(&id, at);
        }
        tracing::info!(ids = seen.set.len(), forgotten, "message id window loaded");
        Ok(seen)
    }

    /// `false` when `id` was already seen within the window.
    fn insert(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let digest = Self::digest(id);
        if !self.set.insert(digest) {
            return false;
        }
        self.order.push_back((now, digest));
        true
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, digest)) = self.order.front().copied() {
            if now - at < self.window {
                break;
            }
            self.set.remove(&digest);
            self.order.pop_front();
        }
    }
}

/// Starts the writer thread. It stops when every handle is dropped, after
/// committing what was queued.
pub(crate) fn start(
    store: Arc<dyn EventStore>,
    config: WriterConfig,
    metrics: Metrics,
) -> Result<(WriterHandle, std::thread::JoinHandle<()>), StoreError> {
    let graph = IdentityGraph::from_links(store.identity_links(None)?);
    tracing::info!(links = graph.len(), "identity graph loaded");
    let seen = SeenIds::load(store.as_ref(), config.dedupe_window, config.clock.now())?;
    let (tx, rx) = mpsc::channel::<Submission>();
    let permits = Arc::new(Semaphore::new(config.capacity));
    let handle = WriterHandle { tx, permits, capacity: config.capacity };
    // The thread holds no sender, so the loop ends once every handle is gone.
    let (permits, capacity) = (handle.permits.clone(), handle.capacity);
    let thread = std::thread::Builder::new()
        .name("cohort-writer".into())
        .spawn(move || {
            let depth_of = move || capacity - permits.available_permits();
            run(store, graph, seen, rx, config, metrics, depth_of);
        })
        .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
    Ok((handle, thread))
}

fn run(
    store: Arc<dyn EventStore>,
    mut graph: IdentityGraph,
    mut seen: SeenIds,
    rx: mpsc::Receiver<Submission>,
    config: WriterConfig,
    metrics: Metrics,
    depth: impl Fn() -> usize,
) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut count = group[0].messages.len() + group[0].refused.len();
        let deadline = Instant::now() + config.linger;
        while count < config.max_messages {
            let next = match rx.try_recv() {
                Ok(s) => s,
                Err(_) => match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(s) => s,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                },
            };
            count += next.messages.len() + next.refused.len();
            group.push(next);
        }
        let started = Instant::now();
        let now = config.clock.now();
        seen.expire(now);
        let result = commit(store.as_ref(), &mut graph, &mut seen, now, &group);
        metrics.commit_seconds.observe(started.elapsed().as_secs_f64());
        metrics.commit_messages.observe(count as f64);
        let reply = match result {
            Ok(committed) => {
                for hook in &config.on_commit {
                    hook(&committed);
                }
                for s in &group {
                    for m in &s.messages {
                        metrics.accepted.with_label_values(&[m.call.as_str()]).inc();
                    }
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, messages = count, "group commit failed; nothing of it was stored");
                // The graph and the window may hold links and ids of the
                // failed write: reload them.
                match store.identity_links(None) {
                    Ok(links) => graph = IdentityGraph::from_links(links),
                    Err(e) => tracing::error!(error = %e, "cannot reload the identity graph"),
                }
                match SeenIds::load(store.as_ref(), config.dedupe_window, now) {
                    Ok(ids) => seen = ids,
                    Err(e) => tracing::error!(error = %e, "cannot reload the message id window"),
                }
                Err(e.to_string())
            }
        };
        for s in group {
            // Room first, then the answer: a client that reads /metrics or
            // /readyz right after its 200 must not see its own messages queued.
            drop(s.permit);
            let _ = s.reply.send(reply.clone());
        }
        metrics.queue_depth.set(depth() as i64);
    }
    tracing::info!("writer stopped: every queued message was committed");
}

/// Resolves identities, drops events whose `messageId` is in the window and
/// writes one transaction for the whole group.
fn commit(
    store: &dyn EventStore,
    graph: &mut IdentityGraph,
    seen: &mut SeenIds,
    now: DateTime<Utc>,
    group: &[Submission],
) -> Result<Committed, StoreError> {
    let mut batch = Batch::default();
    let mut events: Vec<Event> = Vec::new();
    let mut stitches = Stitches::default();
    for m in group.iter().flat_map(|s| &s.messages) {
        let via = m.call.as_str();
        match m.call {
            CallType::Track | CallType::Page | CallType::Screen => {
                let Some(event) = &m.event else { continue };
                // Identities resolve even for a retry: links are idempotent.
                let person =
                    graph.resolve(m.user_id.as_ref(), m.anonymous_id.as_ref(), via, m.timestamp, &mut stitches);
                if !seen.insert(event.id.as_str(), now) {
                    continue;
                }
                let mut event = event.clone();
                event.person_id = person;
                events.push(event);
            }
            CallType::Identify => {
                graph.resolve(m.user_id.as_ref(), m.anonymous_id.as_ref(), via, m.timestamp, &mut stitches);
                batch.users.extend(m.user.clone());
            }
            CallType::Alias => {
                if let (Some(previous), Some(user)) = (&m.previous_id, &m.user_id) {
                    graph.alias(previous, user, m.timestamp, &mut stitches);
                }
            }
            CallType::Group => {}
        }
    }
    let mut txn = store.begin_write(WriteSource { kind: "http".into(), file: None, checksum: None })?;
    txn.append_events(&events, now)?;
    if !batch.users.is_empty() {
        txn.write(&batch)?;
    }
    for row in group.iter().flat_map(|s| &s.refused) {
        txn.reject(row.clone())?;
    }
    for link in stitches.links {
        txn.link(link)?;
    }
    // Both sides of a merge: the absorbed person's tags go, the other's change.
    let merges_into: Vec<PersonId> = stitches.merges.iter().flat_map(|m| [m.from.clone(), m.into.clone()]).collect();
    for merge in stitches.merges {
        txn.merge(merge)?;
    }
    txn.commit_stream()?;
    let mut persons: Vec<PersonId> = events.iter().filter_map(|e| e.person_id.clone()).collect();
    persons.extend(batch.users.iter().map(|u| PersonId::from(u.id.clone())));
    persons.extend(merges_into);
    persons.sort();
    persons.dedup();
    Ok(Committed { events, persons })
}
