//! Dispatching: claim due messages under a lease (one short transaction),
//! deliver them outside any transaction (webhooks concurrently, files in one
//! write), then record every outcome in one transaction.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use serde::Serialize;
use sqlx::{Connection, Row};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Shared;
use crate::channel::webhook::{self, WebhookConfig};
use crate::channel::{file, Attempt, ChannelKind, Envelope, Sink};
use crate::db::to_us;
use crate::Result;

/// What one dispatch round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DispatchReport {
    /// Messages claimed.
    pub claimed: u64,
    /// Delivered.
    pub delivered: u64,
    /// Failed and scheduled for another attempt.
    pub retried: u64,
    /// Dead-lettered.
    pub dead: u64,
}

impl DispatchReport {
    pub(crate) fn add(&mut self, other: &DispatchReport) {
        self.claimed += other.claimed;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

/// Retry policy for the local sinks (they rarely fail; a full disk may recover).
fn local_policy() -> WebhookConfig {
    WebhookConfig::new("", "")
}

pub(crate) async fn dispatch_due(shared: &Arc<Shared>, limit: usize) -> Result<DispatchReport> {
    let now = shared.clock.now();
    let claimed = claim(shared, limit, now).await?;
    let mut report = DispatchReport { claimed: claimed.len() as u64, ..DispatchReport::default() };
    if claimed.is_empty() {
        return Ok(report);
    }
    // Deliver: outcome per claimed message, same order.
    let mut outcomes: Vec<Option<(Attempt, i64)>> = vec![None; claimed.len()];
    let mut tasks = JoinSet::new();
    let permits = Arc::new(Semaphore::new(shared.options.concurrency.max(1)));
    let mut files: Vec<(std::path::PathBuf, Vec<usize>)> = Vec::new();
    let mut console: Vec<usize> = Vec::new();
    for (i, env) in claimed.iter().enumerate() {
        match shared.options.sinks.get(&env.channel) {
            Some(Sink::Webhook(config)) => {
                let (client, config, env) = (shared.client.clone(), config.clone(), env.clone());
                let permits = Arc::clone(&permits);
                let now_s = now.timestamp();
                tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let start = Instant::now();
                    let attempt = webhook::post(&client, &config, &env, now_s).await;
                    (i, attempt, start.elapsed().as_micros() as i64)
                });
            }
            Some(Sink::File { path }) => match files.iter_mut().find(|(p, _)| p == path) {
                Some((_, idx)) => idx.push(i),
                None => files.push((path.clone(), vec![i])),
            },
            Some(Sink::Console) => console.push(i),
            None => {
                let error = format!("channel {} is no longer configured", env.channel);
                outcomes[i] = Some((Attempt::Permanent { http_status: None, error }, 0));
            }
        }
    }
    for (path, idx) in files {
        let start = Instant::now();
        let batch: Vec<&Envelope> = idx.iter().map(|&i| &claimed[i]).collect();
        let results = file::write_file(&path, &batch);
        let us = start.elapsed().as_micros() as i64;
        for (i, a) in idx.into_iter().zip(results) {
            outcomes[i] = Some((a, us));
        }
    }
    if !console.is_empty() {
        let batch: Vec<&Envelope> = console.iter().map(|&i| &claimed[i]).collect();
        for (i, a) in console.iter().zip(file::write_console(&batch)) {
            outcomes[*i] = Some((a, 0));
        }
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, attempt, us)) => outcomes[i] = Some((attempt, us)),
            Err(e) => tracing::error!(error = %e, "webhook task failed"),
        }
    }
    // Record.
    let _guard = shared.write.lock().await;
    let mut conn = shared.pool.acquire().await?;
    let mut tx = conn.begin_with(shared.backend.begin_write()).await?;
    for (env, outcome) in claimed.iter().zip(outcomes) {
        // A task that panicked leaves its claim to expire and be retried.
        let Some((attempt, latency_us)) = outcome else { continue };
        let policy = match shared.options.sinks.get(&env.channel) {
            Some(Sink::Webhook(c)) => c.clone(),
            _ => local_policy(),
        };
        let (status, outcome, due, reason) = match &attempt {
            Attempt::Delivered { .. } => ("delivered", "delivered", now, String::new()),
            Attempt::Transient { .. } if env.attempt < policy.max_attempts => {
                let wait = Duration::from_std(policy.backoff(env.attempt)).unwrap_or(Duration::hours(1));
                ("pending", "retry", now + wait, String::new())
            }
            Attempt::Transient { .. } => ("dead", "dead", now, format!("failed {} attempts", env.attempt)),
            Attempt::Permanent { .. } => ("dead", "dead", now, "refused by the channel".to_string()),
        };
        let error = match &attempt {
            Attempt::Delivered { .. } => String::new(),
            Attempt::Transient { error, .. } | Attempt::Permanent { error, .. } => error.clone(),
        };
        match outcome {
            "delivered" => report.delivered += 1,
            "retry" => report.retried += 1,
            _ => report.dead += 1,
        }
        let http = attempt.http_status().map(i64::from);
        sqlx::query(
            "INSERT INTO engage_attempts (message_id, attempt, at_us, http_status, outcome, error, latency_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(env.id)
        .bind(i64::from(env.attempt))
        .bind(to_us(now))
        .bind(http)
        .bind(outcome)
        .bind(&error)
        .bind(latency_us)
        .execute(&mut *tx)
        .await?;
        // Only our own claim: if the lease expired and another dispatcher
        // took the message over, its attempt count differs and it records.
        sqlx::query(
            "UPDATE engage_messages SET status = $1, due_at_us = $2, reason = $3, last_http_status = $4, \
             last_error = $5, delivered_at_us = CASE WHEN $1 = 'delivered' THEN $6 ELSE delivered_at_us END \
             WHERE id = $7 AND status = 'sending' AND attempts = $8",
        )
        .bind(status)
        .bind(to_us(due))
        .bind(&reason)
        .bind(http)
        .bind(&error)
        .bind(to_us(now))
        .bind(env.id)
        .bind(i64::from(env.attempt))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    tracing::debug!(
        claimed = report.claimed,
        delivered = report.delivered,
        retried = report.retried,
        dead = report.dead,
        "outbox dispatch"
    );
    Ok(report)
}

/// Claims up to `limit` due messages (pending and due, or sending with an
/// expired lease), oldest due first. The due condition is repeated outside
/// the subquery so PostgreSQL re-checks it on a row another dispatcher
/// claimed meanwhile (it re-evaluates the outer condition after a row lock
/// wait), and two dispatchers never claim the same message.
async fn claim(shared: &Shared, limit: usize, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<Envelope>> {
    let _guard = shared.write.lock().await;
    let lease_until = now + shared.options.lease;
    let mut conn = shared.pool.acquire().await?;
    let mut tx = conn.begin_with(shared.backend.begin_write()).await?;
    let rows = sqlx::query(
        "UPDATE engage_messages SET status = 'sending', attempts = attempts + 1, lease_until_us = $1 \
         WHERE id IN (SELECT id FROM engage_messages \
            WHERE (status = 'pending' AND due_at_us <= $2) OR (status = 'sending' AND lease_until_us <= $2) \
            ORDER BY due_at_us, id LIMIT $3) \
         AND ((status = 'pending' AND due_at_us <= $2) OR (status = 'sending' AND lease_until_us <= $2)) \
         RETURNING id, channel, person_id, recipient, subject, body, source, attempts",
    )
    .bind(to_us(lease_until))
    .bind(to_us(now))
    .bind(limit as i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Envelope {
            id: r.try_get(0)?,
            channel: r.try_get::<String, _>(1)?.parse::<ChannelKind>()?,
            person_id: r.try_get(2)?,
            recipient: r.try_get(3)?,
            subject: r.try_get(4)?,
            body: r.try_get(5)?,
            source: r.try_get(6)?,
            attempt: r.try_get::<i64, _>(7)? as u32,
        });
    }
    out.sort_by_key(|e| e.id);
    Ok(out)
}
