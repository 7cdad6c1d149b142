//! The writer: every write goes through a small number of writers (on a
//! SQLite file, one thread with its own connection: [`sqlite`]; here, sqlx
//! tasks for PostgreSQL and in-memory SQLite) that drain the request queue
//! in batches and commit each batch as one transaction: group commit. A batch
//! first runs without savepoints; if a request is refused, the batch is
//! rolled back and runs again with a savepoint per request, so a refused
//! request leaves no trace while its neighbours commit. A reply is sent only
//! after the commit, so an acknowledged operation is durable. Transient
//! failures (SQLite busy, PostgreSQL deadlock or serialization failure) retry
//! the batch; an internal fault re-runs the batch's requests one by one so
//! only the faulty one fails.

use std::sync::Arc;
use std::time::Duration;

use cohort_model::{Clock, ShopTime};
use sqlx::{AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use crate::command::{self, Command, Env, Reply};
use crate::db::{self, Backend};
use crate::sql::Conn;
use crate::{IdempotencyKey, LoyaltyConfig, LoyaltyError};

pub(crate) mod sqlite;

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// Most attempts for a batch that keeps failing transiently.
const MAX_ATTEMPTS: u32 = 8;

/// One queued request.
pub(crate) struct Job {
    pub key: Option<IdempotencyKey>,
    pub cmd: Command,
    pub reply: oneshot::Sender<Result<Reply>>,
}

/// What every writer shares.
pub(crate) struct Shared {
    pub pool: AnyPool,
    pub backend: Backend,
    pub config: LoyaltyConfig,
    pub shop: ShopTime,
    pub clock: Arc<dyn Clock>,
}

/// Starts `writers` writer tasks draining one queue in batches of at most
/// `max_batch`.
pub(crate) fn spawn(shared: Arc<Shared>, writers: usize, max_batch: usize) -> (mpsc::Sender<Job>, Vec<JoinHandle<()>>) {
    let (tx, rx) = mpsc::channel::<Job>(max_batch.max(1) * writers.max(1) * 4);
    let rx = Arc::new(Mutex::new(rx));
    let handles = (0..writers.max(1))
        .map(|_| {
            let rx = Arc::clone(&rx);
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else { return };
                        let mut batch = vec![first];
                        while batch.len() < max_batch {
                            match rx.try_recv() {
                                Ok(job) => batch.push(job),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    process(&shared, batch).await;
                }
            })
        })
        .collect();
    (tx, handles)
}

async fn process(shared: &Shared, batch: Vec<Job>) {
    let mut attempt = 0;
    // Optimistic first: no savepoints. A refused request then rolls the
    // batch back and the batch runs again with a savepoint per request.
    let mut savepoints = batch.len() == 1;
    loop {
        match run_batch(shared, &batch, savepoints).await {
            Ok(Some(results)) => {
                tracing::trace!(batch = batch.len(), savepoints, "loyalty batch committed");
                for (job, result) in batch.into_iter().zip(results) {
                    // The caller may have given up waiting; the operation stands.
                    let _ = job.reply.send(result);
                }
                return;
            }
            Ok(None) => savepoints = true,
            Err(e) if db::is_transient(&e) && attempt + 1 < MAX_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "loyalty batch retried");
                tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(8))).await;
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(batch = batch.len(), error = %e, "loyalty batch failed; re-running one by one");
                for job in batch {
                    Box::pin(process(shared, vec![job])).await;
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "loyalty operation failed");
                if let Some(job) = batch.into_iter().next() {
                    let _ = job.reply.send(Err(e));
                }
                return;
            }
        }
    }
}

/// Runs a batch in one transaction. With `savepoints`, each request runs in
/// its own savepoint and a refused request is rolled back alone (a batch of
/// one needs none: the transaction is its savepoint). Without, the first
/// refusal rolls everything back and returns `None`.
async fn run_batch(shared: &Shared, batch: &[Job], savepoints: bool) -> Result<Option<Vec<Result<Reply>>>> {
    let mut conn = shared.pool.acquire().await?;
    let mut tx = conn.begin_with(shared.backend.begin_write()).await?;
    let mut results = Vec::with_capacity(batch.len());
    if let [job] = batch {
        let env = Env::new(&shared.config, shared.shop, shared.clock.now());
        return match command::execute(&mut Conn::Any(&mut tx), &env, job.key.as_ref(), &job.cmd).await {
            Ok(reply) => {
                tx.commit().await?;
                Ok(Some(vec![Ok(reply)]))
            }
            Err(e) if e.is_user_error() => {
                tx.rollback().await?;
                Ok(Some(vec![Err(e)]))
            }
            Err(e) => Err(e),
        };
    }
    for job in batch {
        let env = Env::new(&shared.config, shared.shop, shared.clock.now());
        if !savepoints {
            match command::execute(&mut Conn::Any(&mut tx), &env, job.key.as_ref(), &job.cmd).await {
                Ok(reply) => results.push(Ok(reply)),
                Err(e) if e.is_user_error() => {
                    tx.rollback().await?;
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        let mut savepoint = Connection::begin(&mut *tx).await?;
        match command::execute(&mut Conn::Any(&mut savepoint), &env, job.key.as_ref(), &job.cmd).await {
            Ok(reply) => {
                savepoint.commit().await?;
                results.push(Ok(reply));
            }
            Err(e) if e.is_user_error() => {
                savepoint.rollback().await?;
                results.push(Err(e));
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(Some(results))
}
