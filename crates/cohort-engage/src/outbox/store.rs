//! The outbox's SQL: enqueue with the contact rules, preferences,
//! engagement, and reads. Portable SQL with `$n` placeholders.

use chrono::{DateTime, Duration, Utc};
use cohort_model::PersonId;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Connection, Row, Transaction};

use super::{Engagement, Enqueued, MessageStatus, NewMessage, Preference, Shared};
use crate::channel::{ChannelKind, MessageClass};
use crate::db::{day_number, from_us, to_us};
use crate::{EngageError, Result};

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageRecord {
    /// Id.
    pub id: i64,
    /// Dedupe key.
    pub dedupe_key: String,
    /// Person.
    pub person_id: String,
    /// Channel.
    pub channel: ChannelKind,
    /// Marketing or transactional.
    pub class: MessageClass,
    /// Campaign / journey.
    pub source: String,
    /// Recipient address.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Status.
    pub status: MessageStatus,
    /// Suppression or dead-letter reason.
    pub reason: String,
    /// When it was asked to go out.
    pub requested_at: DateTime<Utc>,
    /// When it is (or was last) due.
    pub due_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Last HTTP status.
    pub last_http_status: Option<u16>,
    /// Last error.
    pub last_error: String,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptRecord {
    /// Attempt number, from 1.
    pub attempt: u32,
    /// When.
    pub at: DateTime<Utc>,
    /// HTTP status, if any.
    pub http_status: Option<u16>,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
    /// What failed.
    pub error: String,
    /// Round trip, microseconds.
    pub latency_us: i64,
}

/// Messages of one source by status, and engagement.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryCounts {
    /// Messages stored.
    pub total: u64,
    /// Waiting or being sent.
    pub pending: u64,
    /// Accepted by the channel.
    pub delivered: u64,
    /// Dead-lettered.
    pub dead: u64,
    /// Suppressed (caps, unsubscribes, do-not-contact).
    pub suppressed: u64,
    /// Distinct messages opened.
    pub opened: u64,
    /// Distinct messages clicked.
    pub clicked: u64,
}

const MESSAGE_COLUMNS: &str = "id, dedupe_key, person_id, channel, class, source, recipient, subject, body, status, \
     reason, requested_at_us, due_at_us, attempts, delivered_at_us, last_http_status, last_error";

fn message_row(row: &AnyRow) -> Result<MessageRecord> {
    Ok(MessageRecord {
        id: row.try_get(0)?,
        dedupe_key: row.try_get(1)?,
        person_id: row.try_get(2)?,
        channel: row.try_get::<String, _>(3)?.parse()?,
        class: MessageClass::parse(&row.try_get::<String, _>(4)?)?,
        source: row.try_get(5)?,
        recipient: row.try_get(6)?,
        subject: row.try_get(7)?,
        body: row.try_get(8)?,
        status: MessageStatus::parse(&row.try_get::<String, _>(9)?)?,
        reason: row.try_get(10)?,
        requested_at: from_us(row.try_get(11)?)?,
        due_at: from_us(row.try_get(12)?)?,
        attempts: row.try_get::<i64, _>(13)? as u32,
        delivered_at: row.try_get::<Option<i64>, _>(14)?.map(from_us).transpose()?,
        last_http_status: row.try_get::<Option<i64>, _>(15)?.map(|s| s as u16),
        last_error: row.try_get(16)?,
    })
}

pub(crate) async fn enqueue(shared: &Shared, messages: Vec<NewMessage>) -> Result<Vec<Enqueued>> {
    let _guard = shared.write.lock().await;
    let now = shared.clock.now();
    let mut conn = shared.pool.acquire().await?;
    let mut tx = conn.begin_with(shared.backend.begin_write()).await?;
    let mut out = Vec::with_capacity(messages.len());
    for m in &messages {
        out.push(enqueue_one(shared, &mut tx, m, now).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn enqueue_one(
    shared: &Shared,
    tx: &mut Transaction<'_, Any>,
    m: &NewMessage,
    now: DateTime<Utc>,
) -> Result<Enqueued> {
    if let Some(row) = sqlx::query("SELECT id FROM engage_messages WHERE dedupe_key = $1")
        .bind(&m.dedupe_key)
        .fetch_optional(&mut **tx)
        .await?
    {
        return Ok(Enqueued::Duplicate { id: row.try_get(0)? });
    }
    let rules = &shared.options.rules;
    let requested = m.send_at.unwrap_or(now).max(now);
    let marketing = m.class == MessageClass::Marketing;
    let mut suppressed: Option<String> = None;
    let prefs: Vec<String> =
        sqlx::query("SELECT kind FROM engage_contact_prefs WHERE person_id = $1 AND (channel = $2 OR channel = '*')")
            .bind(m.person.as_str())
            .bind(m.channel.name())
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<std::result::Result<_, _>>()?;
    if prefs.iter().any(|p| p == Preference::DoNotContact.name()) {
        suppressed = Some(Preference::DoNotContact.name().to_string());
    } else if marketing && prefs.iter().any(|p| p == Preference::Unsubscribed.name()) {
        suppressed = Some(Preference::Unsubscribed.name().to_string());
    }
    let due = if marketing { rules.out_of_quiet_hours(shared.shop, requested) } else { requested };
    let day = shared.shop.date(due);
    if suppressed.is_none() && marketing {
        let rows = sqlx::query(
            "SELECT send_day, COUNT(*) FROM engage_messages WHERE person_id = $1 AND class = 'marketing' \
             AND status IN ('pending', 'sending', 'delivered') AND send_day >= $2 AND send_day <= $3 GROUP BY send_day",
        )
        .bind(m.person.as_str())
        .bind(day_number(day) - 6)
        .bind(day_number(day) + 6)
        .fetch_all(&mut **tx)
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for r in rows {
            let d: i64 = r.try_get(0)?;
            let n: i64 = r.try_get(1)?;
            counts.push((day + Duration::days(d - day_number(day)), n as u32));
        }
        if let Some(cap) = rules.cap_broken(day, &counts) {
            suppressed = Some(cap.reason().to_string());
        }
    }
    let status = if suppressed.is_some() { MessageStatus::Suppressed } else { MessageStatus::Pending };
    let id: i64 = sqlx::query(
        "INSERT INTO engage_messages (dedupe_key, person_id, channel, class, source, recipient, subject, body, status, \
         reason, created_at_us, requested_at_us, send_day, due_at_us) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id",
    )
    .bind(&m.dedupe_key)
    .bind(m.person.as_str())
    .bind(m.channel.name())
    .bind(m.class.name())
    .bind(&m.source)
    .bind(&m.recipient)
    .bind(&m.content.subject)
    .bind(&m.content.body)
    .bind(status.name())
    .bind(suppressed.clone().unwrap_or_default())
    .bind(to_us(now))
    .bind(to_us(requested))
    .bind(day_number(day))
    .bind(to_us(due))
    .fetch_one(&mut **tx)
    .await?
    .try_get(0)?;
    Ok(match suppressed {
        Some(reason) => Enqueued::Suppressed { id, reason },
        None => Enqueued::Scheduled { id, due_at: due, deferred: due != requested },
    })
}

pub(crate) async fn set_preference(
    shared: &Shared,
    person: &PersonId,
    channel: Option<ChannelKind>,
    pref: Preference,
    on: bool,
) -> Result<()> {
    let _guard = shared.write.lock().await;
    let channel = channel.map_or("*", ChannelKind::name);
    let q = if on {
        sqlx::query(
            "INSERT INTO engage_contact_prefs (person_id, channel, kind, at_us) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (person_id, channel, kind) DO NOTHING",
        )
        .bind(person.as_str())
        .bind(channel)
        .bind(pref.name())
        .bind(to_us(shared.clock.now()))
    } else {
        sqlx::query("DELETE FROM engage_contact_prefs WHERE person_id = $1 AND channel = $2 AND kind = $3")
            .bind(person.as_str())
            .bind(channel)
            .bind(pref.name())
    };
    q.execute(&shared.pool).await?;
    if on {
        // Pending marketing messages to someone who just opted out are not
        // sent either: the preference is respected everywhere, not only at
        // enqueue.
        let classes = if pref == Preference::DoNotContact { "('marketing', 'transactional')" } else { "('marketing')" };
        let channel_match = if channel == "*" { "1 = 1" } else { "channel = $3" };
        let sql = format!(
            "UPDATE engage_messages SET status = 'suppressed', reason = $2 WHERE person_id = $1 \
             AND status = 'pending' AND class IN {classes} AND {channel_match}"
        );
        let mut q = sqlx::query(&sql).bind(person.as_str()).bind(pref.name());
        if channel != "*" {
            q = q.bind(channel);
        }
        q.execute(&shared.pool).await?;
    }
    Ok(())
}

pub(crate) async fn withdraw(shared: &Shared, id: i64, reason: &str) -> Result<bool> {
    let _guard = shared.write.lock().await;
    let n = sqlx::query(
        "UPDATE engage_messages SET status = 'suppressed', reason = $1 WHERE id = $2 AND status = 'pending'",
    )
    .bind(reason)
    .bind(id)
    .execute(&shared.pool)
    .await?
    .rows_affected();
    Ok(n > 0)
}

pub(crate) async fn record_engagement(shared: &Shared, message_id: i64, kind: Engagement) -> Result<()> {
    message(shared, message_id).await?;
    sqlx::query(
        "INSERT INTO engage_message_events (message_id, kind, at_us) VALUES ($1, $2, $3) \
         ON CONFLICT (message_id, kind) DO NOTHING",
    )
    .bind(message_id)
    .bind(kind.name())
    .bind(to_us(shared.clock.now()))
    .execute(&shared.pool)
    .await?;
    Ok(())
}

pub(crate) async fn message(shared: &Shared, id: i64) -> Result<MessageRecord> {
    let row = sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM engage_messages WHERE id = $1"))
        .bind(id)
        .fetch_optional(&shared.pool)
        .await?
        .ok_or_else(|| EngageError::Unknown { what: "message", id: id.to_string() })?;
    message_row(&row)
}

pub(crate) async fn messages_of(shared: &Shared, source: &str) -> Result<Vec<MessageRecord>> {
    sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM engage_messages WHERE source = $1 ORDER BY id"))
        .bind(source)
        .fetch_all(&shared.pool)
        .await?
        .iter()
        .map(message_row)
        .collect()
}

pub(crate) async fn attempts(shared: &Shared, id: i64) -> Result<Vec<AttemptRecord>> {
    let rows = sqlx::query(
        "SELECT attempt, at_us, http_status, outcome, error, latency_us FROM engage_attempts \
         WHERE message_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&shared.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRecord {
                attempt: r.try_get::<i64, _>(0)? as u32,
                at: from_us(r.try_get(1)?)?,
                http_status: r.try_get::<Option<i64>, _>(2)?.map(|s| s as u16),
                outcome: r.try_get(3)?,
                error: r.try_get(4)?,
                latency_us: r.try_get(5)?,
            })
        })
        .collect()
}

pub(crate) async fn counts(shared: &Shared, source: &str) -> Result<DeliveryCounts> {
    let mut c = DeliveryCounts::default();
    let rows = sqlx::query("SELECT status, COUNT(*) FROM engage_messages WHERE source = $1 GROUP BY status")
        .bind(source)
        .fetch_all(&shared.pool)
        .await?;
    for r in rows {
        let n = r.try_get::<i64, _>(1)? as u64;
        c.total += n;
        match MessageStatus::parse(&r.try_get::<String, _>(0)?)? {
            MessageStatus::Pending | MessageStatus::Sending => c.pending += n,
            MessageStatus::Delivered => c.delivered += n,
            MessageStatus::Dead => c.dead += n,
            MessageStatus::Suppressed => c.suppressed += n,
        }
    }
    let rows = sqlx::query(
        "SELECT e.kind, COUNT(*) FROM engage_message_events e JOIN engage_messages m ON m.id = e.message_id \
         WHERE m.source = $1 GROUP BY e.kind",
    )
    .bind(source)
    .fetch_all(&shared.pool)
    .await?;
    for r in rows {
        let n = r.try_get::<i64, _>(1)? as u64;
        match r.try_get::<String, _>(0)?.as_str() {
            "opened" => c.opened += n,
            "clicked" => c.clicked += n,
            _ => {}
        }
    }
    Ok(c)
}
