//! The durable outbox. A message is written to the state store first
//! (enqueue), with the contact rules applied in the same transaction:
//! do-not-contact and unsubscribes suppress it, quiet hours defer it,
//! frequency caps across all channels suppress it. A dispatcher then claims
//! due messages under a lease, delivers them through their channel's sink
//! and records every attempt: delivered, retried later with exponential
//! backoff, or dead-lettered after N failures (or at once on a permanent
//! refusal). A dispatcher that dies mid-send leaves its claims to expire, so
//! delivery is at least once; receivers deduplicate on the message id.
//!
//! ```text
//! enqueue ─► [pending] ─claim─► [sending] ─2xx─► [delivered]
//!    │           ▲                  │ ├─5xx/timeout, attempts < N─► [pending, due += backoff]
//!    │           └──── lease expiry ┘ └─4xx, or attempts = N──────► [dead]
//!    └─ do-not-contact / unsubscribed / cap ─► [suppressed]
//! ```

mod dispatch;
mod store;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cohort_model::{Clock, PersonId, ShopTime};
use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use tokio::sync::Mutex;

use crate::channel::{ChannelKind, MessageClass, Rendered, Sink};
use crate::db::{self, Backend};
use crate::policy::ContactRules;
use crate::{EngageError, Result};

pub use dispatch::DispatchReport;
pub use store::{AttemptRecord, DeliveryCounts, MessageRecord};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its due time (or for a retry).
    Pending,
    /// Claimed by a dispatcher.
    Sending,
    /// Accepted by the channel.
    Delivered,
    /// Given up on after N failures or a permanent refusal.
    Dead,
    /// Never sent: do-not-contact, unsubscribed or over a frequency cap.
    Suppressed,
}

impl MessageStatus {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Dead => "dead",
            MessageStatus::Suppressed => "suppressed",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => MessageStatus::Pending,
            "sending" => MessageStatus::Sending,
            "delivered" => MessageStatus::Delivered,
            "dead" => MessageStatus::Dead,
            "suppressed" => MessageStatus::Suppressed,
            other => return Err(EngageError::corrupt(format!("message status {other:?}"))),
        })
    }
}

/// A person's contact preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// No marketing messages (transactional ones still go).
    Unsubscribed,
    /// No messages at all (complaint, legal hold, deceased).
    DoNotContact,
}

impl Preference {
    /// The stored name, also the suppression reason.
    pub fn name(self) -> &'static str {
        match self {
            Preference::Unsubscribed => "unsubscribed",
            Preference::DoNotContact => "do_not_contact",
        }
    }
}

/// Engagement a channel or the shop reports back for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engagement {
    /// Opened / read.
    Opened,
    /// Link clicked.
    Clicked,
}

impl Engagement {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Engagement::Opened => "opened",
            Engagement::Clicked => "clicked",
        }
    }
}

/// A message to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Idempotency key: the same key never yields a second message.
    pub dedupe_key: String,
    /// The person.
    pub person: PersonId,
    /// The channel.
    pub channel: ChannelKind,
    /// Marketing or transactional.
    pub class: MessageClass,
    /// Campaign or journey id (empty for none).
    pub source: String,
    /// Phone, device token, WeCom id, email address or inbox id.
    pub recipient: String,
    /// The filled template.
    pub content: Rendered,
    /// When to send (`None`: now).
    pub send_at: Option<DateTime<Utc>>,
}

/// What enqueueing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Stored and due at `due_at` (`deferred`: moved out of quiet hours).
    Scheduled {
        /// Message id.
        id: i64,
        /// When it will be sent.
        due_at: DateTime<Utc>,
        /// Whether quiet hours moved it.
        deferred: bool,
    },
    /// Stored but never to be sent.
    Suppressed {
        /// Message id.
        id: i64,
        /// `do_not_contact`, `unsubscribed`, `frequency_cap_day` or `frequency_cap_week`.
        reason: String,
    },
    /// The dedupe key was already used: the earlier message stands.
    Duplicate {
        /// The earlier message's id.
        id: i64,
    },
}

impl Enqueued {
    /// The message id.
    pub fn id(&self) -> i64 {
        match self {
            Enqueued::Scheduled { id, .. } | Enqueued::Suppressed { id, .. } | Enqueued::Duplicate { id } => *id,
        }
    }
}

/// Outbox settings.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Contact rules (caps, quiet hours).
    pub rules: ContactRules,
    /// Sinks by channel; a message to a channel without one is refused.
    pub sinks: HashMap<ChannelKind, Sink>,
    /// How long a claim lasts before another dispatcher may take it over.
    pub lease: Duration,
    /// Webhook requests in flight at once.
    pub concurrency: usize,
    /// Pool size.
    pub max_connections: u32,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            rules: ContactRules::default(),
            sinks: HashMap::new(),
            lease: Duration::minutes(5),
            concurrency: 64,
            max_connections: 8,
        }
    }
}

pub(crate) struct Shared {
    pub pool: AnyPool,
    pub backend: Backend,
    pub shop: ShopTime,
    pub clock: Arc<dyn Clock>,
    pub options: OutboxOptions,
    pub client: reqwest::Client,
    /// One writer at a time in this process: caps are read and written
    /// under it (and under SQLite's write lock across processes).
    pub write: Mutex<()>,
}

/// The outbox.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

impl Outbox {
    /// Opens the store at `url` (`sqlite://…?mode=rwc` or `postgres://…`)
    /// and applies migrations.
    pub async fn open(url: &str, shop: ShopTime, clock: Arc<dyn Clock>, options: OutboxOptions) -> Result<Outbox> {
        options.rules.validate()?;
        let (pool, backend) = db::connect(url, options.max_connections.max(2)).await?;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(options.concurrency.max(1))
            .build()
            .map_err(|e| EngageError::invalid("http client", "", e.to_string()))?;
        Ok(Outbox { shared: Arc::new(Shared { pool, backend, shop, clock, options, client, write: Mutex::new(()) }) })
    }

    /// Opens (creating if needed) a SQLite file.
    pub async fn open_sqlite(
        path: &Path,
        shop: ShopTime,
        clock: Arc<dyn Clock>,
        options: OutboxOptions,
    ) -> Result<Outbox> {
        Outbox::open(&db::sqlite_url(path), shop, clock, options).await
    }

    /// The contact rules in force.
    pub fn rules(&self) -> &ContactRules {
        &self.shared.options.rules
    }

    /// The state store's pool (for campaign and experiment tables).
    pub fn pool(&self) -> &AnyPool {
        &self.shared.pool
    }

    /// The backend.
    pub fn backend(&self) -> Backend {
        self.shared.backend
    }

    /// The injected clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.shared.clock
    }

    /// The shop's time zone.
    pub fn shop(&self) -> ShopTime {
        self.shared.shop
    }

    /// Enqueues one message (one durable transaction).
    pub async fn enqueue(&self, message: NewMessage) -> Result<Enqueued> {
        let mut out = self.enqueue_batch(vec![message]).await?;
        out.pop().ok_or_else(|| EngageError::corrupt("empty enqueue result"))
    }

    /// Enqueues many messages in one transaction (one fsync), in order: a
    /// later message sees the caps used by an earlier one.
    pub async fn enqueue_batch(&self, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>> {
        for m in &messages {
            if !self.shared.options.sinks.contains_key(&m.channel) {
                return Err(EngageError::ChannelNotConfigured(m.channel.to_string()));
            }
            if m.dedupe_key.is_empty() || m.dedupe_key.len() > 200 {
                return Err(EngageError::invalid("dedupe key", &m.dedupe_key, "must be 1 to 200 bytes"));
            }
        }
        store::enqueue(&self.shared, messages).await
    }

    /// Claims due messages (at most `limit`), delivers them and records the
    /// outcomes.
    pub async fn dispatch_due(&self, limit: usize) -> Result<DispatchReport> {
        dispatch::dispatch_due(&self.shared, limit).await
    }

    /// Dispatches in batches of `batch` until nothing is due at the clock's
    /// current time.
    pub async fn drain(&self, batch: usize) -> Result<DispatchReport> {
        let mut total = DispatchReport::default();
        loop {
            let r = self.dispatch_due(batch).await?;
            if r.claimed == 0 {
                return Ok(total);
            }
            total.add(&r);
        }
    }

    /// Sets a contact preference; `channel` `None` means every channel.
    pub async fn set_preference(
        &self,
        person: &PersonId,
        channel: Option<ChannelKind>,
        pref: Preference,
    ) -> Result<()> {
        store::set_preference(&self.shared, person, channel, pref, true).await
    }

    /// Removes a contact preference (re-subscribe).
    pub async fn clear_preference(
        &self,
        person: &PersonId,
        channel: Option<ChannelKind>,
        pref: Preference,
    ) -> Result<()> {
        store::set_preference(&self.shared, person, channel, pref, false).await
    }

    /// Withdraws a pending message (suppressed with `reason`); false when it
    /// was no longer pending (already sent or suppressed).
    pub async fn withdraw(&self, id: i64, reason: &str) -> Result<bool> {
        store::withdraw(&self.shared, id, reason).await
    }

    /// Records an open or click reported for a message (idempotent).
    pub async fn record_engagement(&self, message_id: i64, kind: Engagement) -> Result<()> {
        store::record_engagement(&self.shared, message_id, kind).await
    }

    /// One message.
    pub async fn message(&self, id: i64) -> Result<MessageRecord> {
        store::message(&self.shared, id).await
    }

    /// A message's delivery attempts, in order.
    pub async fn attempts(&self, id: i64) -> Result<Vec<AttemptRecord>> {
        store::attempts(&self.shared, id).await
    }

    /// Messages of a campaign or journey (`source`).
    pub async fn messages_of(&self, source: &str) -> Result<Vec<MessageRecord>> {
        store::messages_of(&self.shared, source).await
    }

    /// Counts by status and engagement for a source.
    pub async fn counts(&self, source: &str) -> Result<DeliveryCounts> {
        store::counts(&self.shared, source).await
    }
}
