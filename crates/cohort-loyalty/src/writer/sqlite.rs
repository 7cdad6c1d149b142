//! The SQLite writer: one thread that owns one rusqlite connection and runs
//! the same commands as the sqlx writer, in-thread. sqlx runs a SQLite
//! connection on its own worker thread and every statement is a round trip
//! to it; at a dozen statements per operation those thread switches were a
//! third of the writer's time, and more on a busy machine, where each switch
//! waits for a core.
//!
//! Group commit as in the sqlx writer: the thread drains the queue, runs the
//! batch in one `BEGIN IMMEDIATE` transaction, commits (`synchronous=FULL`:
//! the WAL is fsynced before COMMIT returns) and only then replies. A batch
//! runs without savepoints first (each costs a copy of every page the request
//! touches); if a request is refused, the batch is rolled back and runs again
//! with that request and the ones after it in savepoints, so a refused request
//! is rolled back alone and its neighbours stand. After a refusal the next
//! batch starts with savepoints. A transient failure (busy) retries the batch;
//! an internal fault re-runs its requests one by one so only the faulty one
//! fails.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{Job, Shared, MAX_ATTEMPTS};
use crate::command::{self, Env, Reply};
use crate::db;
use crate::sql::{self, Conn};
use crate::LoyaltyError;

type Result<T, E = LoyaltyError> = std::result::Result<T, E>;

/// Prepared statements kept per connection: every statement the writer runs
/// (multi-row inserts have one text per row count) fits.
const STATEMENT_CACHE: usize = 512;

/// Opens the writer's connection with the settings that make a commit
/// durable before it is acknowledged.
pub(crate) fn open(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path).map_err(sql::lite_error)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(Duration::from_secs(10)).map_err(sql::lite_error)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(sql::lite_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LoyaltyError::corrupt(format!("state store journal mode is {mode}, not wal")));
    }
    // Acknowledged = durable: the WAL is fsynced on every commit. Savepoint
    // undo pages stay in memory (a temp file per savepoint was a third of
    // the writer's time); they are only needed until the savepoint is
    // released. A 64 MiB page cache keeps the hot b-tree pages of many
    // members.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536;",
    )
    .map_err(sql::lite_error)?;
    Ok(conn)
}

/// Starts the writer thread on `conn`, draining batches of at most
/// `max_batch` requests.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    mut conn: rusqlite::Connection,
    max_batch: usize,
) -> Result<(mpsc::Sender<Job>, Vec<JoinHandle<()>>)> {
    let max_batch = max_batch.max(1);
    let (tx, mut rx) = mpsc::channel::<Job>(max_batch * 4);
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new().name("loyalty-writer".into()).spawn(move || {
        // Dropped when the queue closes: `Loyalty::close` awaits it.
        let _done = done_tx;
        let mut state = WriterState::default();
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            run_now(process(&shared, &mut conn, batch, &mut state));
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "loyalty writer thread did not start");
        return Err(LoyaltyError::WriterStopped);
    }
    let handle = tokio::spawn(async move {
        let _ = done_rx.await;
    });
    Ok((tx, vec![handle]))
}

/// Runs a future that never waits: the commands are async because they are
/// shared with the sqlx writer, but on the in-thread connection every
/// statement completes when called, so one poll finishes them.
fn run_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
}

async fn process(shared: &Shared, conn: &mut rusqlite::Connection, batch: Vec<Job>, state: &mut WriterState) {
    let mut attempt = 0;
    // Requests from this index on run in savepoints. Optimistic first (none)
    // unless the last batch had a refusal: a savepoint costs a copy of every
    // page the request touches.
    let mut savepoints_from = if state.refused_lately { 0 } else { batch.len() };
    loop {
        match run_batch(shared, conn, &batch, savepoints_from).await {
            Ok(Ok(results)) => {
                state.refused_lately = results.iter().any(Result::is_err);
                tracing::trace!(batch = batch.len(), savepoints_from, "loyalty batch committed");
                for (job, result) in batch.into_iter().zip(results) {
                    // The caller may have given up waiting; the operation stands.
                    let _ = job.reply.send(result);
                }
                return;
            }
            // A request outside the savepoints was refused: the batch was
            // rolled back; run it again with that request and the rest in
            // savepoints (the bound only moves down, so this ends).
            Ok(Err(refused)) => savepoints_from = refused,
            Err(e) if db::is_transient(&e) && attempt + 1 < MAX_ATTEMPTS => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "loyalty batch retried");
                std::thread::sleep(Duration::from_millis(2u64 << attempt.min(8)));
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(batch = batch.len(), error = %e, "loyalty batch failed; re-running one by one");
                for job in batch {
                    Box::pin(process(shared, conn, vec![job], state)).await;
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

/// What the writer remembers between batches.
#[derive(Debug, Default)]
struct WriterState {
    /// The last batch had a refused request: start the next with savepoints.
    refused_lately: bool,
}

/// Runs a batch in one transaction and commits; requests from
/// `savepoints_from` on each run in a savepoint. `Ok(Err(i))`: request `i`,
/// outside the savepoints, was refused, and the batch was rolled back. Any
/// error or refusal leaves nothing behind.
async fn run_batch(
    shared: &Shared,
    conn: &mut rusqlite::Connection,
    batch: &[Job],
    savepoints_from: usize,
) -> Result<Result<Vec<Result<Reply>>, usize>> {
    sql::lite_exec(conn, "BEGIN IMMEDIATE")?;
    let applied = match apply(shared, conn, batch, savepoints_from).await {
        Ok(Ok(results)) => sql::lite_exec(conn, "COMMIT").map(|()| Ok(results)).map_err(LoyaltyError::from),
        other => other,
    };
    if !matches!(applied, Ok(Ok(_))) && !conn.is_autocommit() {
        // Best effort: a failed rollback leaves the connection to SQLite's
        // own recovery, and the error already goes to the callers.
        let _ = sql::lite_exec(conn, "ROLLBACK");
    }
    applied
}

async fn apply(
    shared: &Shared,
    conn: &mut rusqlite::Connection,
    batch: &[Job],
    savepoints_from: usize,
) -> Result<Result<Vec<Result<Reply>>, usize>> {
    let mut results = Vec::with_capacity(batch.len());
    for (i, job) in batch.iter().enumerate() {
        let env = Env::new(&shared.config, shared.shop, shared.clock.now());
        let savepoint = i >= savepoints_from;
        if savepoint {
            sql::lite_exec(conn, "SAVEPOINT loyalty_op")?;
        }
        match command::execute(&mut Conn::Sqlite(conn), &env, job.key.as_ref(), &job.cmd).await {
            Ok(reply) => {
                if savepoint {
                    sql::lite_exec(conn, "RELEASE loyalty_op")?;
                }
                results.push(Ok(reply));
            }
            Err(e) if e.is_user_error() && !savepoint => return Ok(Err(i)),
            Err(e) if e.is_user_error() => {
                sql::lite_exec(conn, "ROLLBACK TO loyalty_op")?;
                sql::lite_exec(conn, "RELEASE loyalty_op")?;
                results.push(Err(e));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Ok(results))
}
