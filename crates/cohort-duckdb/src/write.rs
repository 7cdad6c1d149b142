//! Atomic, idempotent writes through connection-local staging tables.

use std::sync::MutexGuard;

use chrono::DateTime;
use chrono::Utc;
use cohort_model::{Batch, Event, Profile};
use cohort_store::{
    compose_merges, IdentityLink, ImportRecord, PersonMerge, RejectedRow, Result, StoreError, WriteSource,
    WriteSummary, WriteTxn,
};
use duckdb::types::Value;
use duckdb::{appender_params_from_iter, params, Appender, Connection};

use crate::backend;
use crate::codec::{date, int, json_map, opt_ts, text, ts};

/// Staging tables mirror the real ones plus a `seq` column recording arrival
/// order (first event wins; last product attributes win; users merge). They are
/// created once per writer connection and emptied by every commit.
const STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS stage_events AS SELECT *, 0::BIGINT AS seq FROM events LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_orders AS SELECT *, 0::BIGINT AS seq FROM orders LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_lines AS SELECT *, 0::BIGINT AS seq FROM order_lines LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_users AS SELECT *, 0::BIGINT AS seq FROM users LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_products AS SELECT *, 0::BIGINT AS seq FROM products LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_rejected AS SELECT * EXCLUDE (import_id) FROM rejected_rows LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_links AS SELECT *, 0::BIGINT AS seq FROM identity_links LIMIT 0;
CREATE TEMP TABLE IF NOT EXISTS stage_moves (from_person VARCHAR, into_person VARCHAR);
";

/// The merged user rows of `stage_users`: per user, each column's latest
/// non-NULL value and the traits objects merged key by key (latest wins).
/// Only users with more than one traits object go through the per-key merge.
const MERGE_USERS: &str = "
INSERT INTO users
WITH several AS (
    SELECT user_id FROM stage_users WHERE traits IS NOT NULL GROUP BY user_id HAVING count(*) > 1
),
pairs AS (
    SELECT user_id, seq, traits, unnest(json_keys(traits)) AS k
    FROM stage_users SEMI JOIN several USING (user_id)
    WHERE traits IS NOT NULL
),
latest AS (
    SELECT user_id, k,
           arg_max(json_extract(traits, '/' || replace(replace(k, '~', '~0'), '/', '~1')), seq) AS v
    FROM pairs GROUP BY user_id, k
),
merged AS (SELECT user_id, json_group_object(k, v)::VARCHAR AS traits FROM latest GROUP BY user_id),
cols AS (
    SELECT user_id,
           arg_max(registered_at, seq) FILTER (WHERE registered_at IS NOT NULL) AS registered_at,
           arg_max(platform, seq) FILTER (WHERE platform IS NOT NULL) AS platform,
           arg_max(channel, seq) FILTER (WHERE channel IS NOT NULL) AS channel,
           arg_max(birthday, seq) FILTER (WHERE birthday IS NOT NULL) AS birthday,
           arg_max(gender, seq) FILTER (WHERE gender IS NOT NULL) AS gender,
           arg_max(city, seq) FILTER (WHERE city IS NOT NULL) AS city,
           arg_max(phone, seq) FILTER (WHERE phone IS NOT NULL) AS phone,
           max(traits) AS single_traits
    FROM stage_users GROUP BY user_id
)
SELECT c.user_id, c.registered_at, c.platform, c.channel, c.birthday, c.gender, c.city, c.phone,
       coalesce(m.traits, c.single_traits)
FROM cols c LEFT JOIN merged m USING (user_id)
";

const STAGING_TABLES: [&str; 8] = [
    "stage_events",
    "stage_orders",
    "stage_lines",
    "stage_users",
    "stage_products",
    "stage_rejected",
    "stage_links",
    "stage_moves",
];

/// The store's one write connection, kept across transactions with its
/// staging tables and prepared statements: a commit costs only the
/// statements for what it holds.
pub(crate) struct Writer {
    conn: Connection,
    /// A transaction ended without a commit: its staged rows were rolled
    /// back, but the next one empties the staging tables to be sure.
    dirty: bool,
}

impl Writer {
    pub(crate) fn new(conn: Connection) -> Result<Self> {
        conn.execute_batch(STAGING).map_err(backend)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Writer { conn, dirty: false })
    }
}

/// DuckDB 2.0.0 reads back broken columns (every value NULL to
/// `count(DISTINCT)`, yet not `IS NULL`) from a temp table that received more
/// than a row group (122,880 rows) in one appender flush; flushing well below
/// that size avoids it. Regression test: `a_write_spanning_several_row_groups_arrives_whole`.
const FLUSH_EVERY: usize = 60_000;

/// An appender into one staging table that flushes often enough to stay
/// clear of the bug above, and reports flush errors (the appender's `Drop`
/// swallows them).
struct Stage<'c> {
    appender: Appender<'c>,
    rows: usize,
}

impl<'c> Stage<'c> {
    fn new(conn: &'c Connection, table: &str) -> duckdb::Result<Self> {
        Ok(Stage { appender: conn.appender_to_catalog_and_db(table, "temp", "main")?, rows: 0 })
    }

    /// An appender into a table of the database itself.
    fn stored(conn: &'c Connection, table: &str) -> duckdb::Result<Self> {
        Ok(Stage { appender: conn.appender(table)?, rows: 0 })
    }

    fn append_row(&mut self, row: impl duckdb::AppenderParams) -> duckdb::Result<()> {
        self.appender.append_row(row)?;
        self.rows += 1;
        if self.rows.is_multiple_of(FLUSH_EVERY) {
            self.appender.flush()?;
        }
        Ok(())
    }

    fn finish(mut self) -> duckdb::Result<()> {
        self.appender.flush()
    }
}

pub(crate) struct DuckDbTxn<'a> {
    writer: MutexGuard<'a, Writer>,
    source: WriteSource,
    seq: i64,
    staged_events: u64,
    staged_orders: u64,
    staged_users: u64,
    staged_products: u64,
    appended_events: u64,
    rejected: u64,
    links: Vec<IdentityLink>,
    merges: Vec<PersonMerge>,
    open: bool,
}

impl<'a> DuckDbTxn<'a> {
    pub(crate) fn begin(mut writer: MutexGuard<'a, Writer>, source: WriteSource) -> Result<Self> {
        if writer.dirty {
            for table in STAGING_TABLES {
                writer.conn.execute(&format!("DELETE FROM temp.{table}"), []).map_err(backend)?;
            }
        }
        writer.conn.execute_batch("BEGIN TRANSACTION").map_err(backend)?;
        writer.dirty = true;
        Ok(DuckDbTxn {
            writer,
            source,
            seq: 0,
            staged_events: 0,
            staged_orders: 0,
            staged_users: 0,
            staged_products: 0,
            appended_events: 0,
            rejected: 0,
            links: Vec::new(),
            merges: Vec::new(),
            open: true,
        })
    }

    fn next_seq(&mut self) -> i64 {
        self.seq += 1;
        self.seq
    }

    fn stage(&mut self, batch: &Batch) -> duckdb::Result<()> {
        let mut seq = self.seq;
        let mut next = || {
            seq += 1;
            seq
        };
        {
            let mut app = Stage::new(&self.writer.conn, "stage_events")?;
            for e in &batch.events {
                app.append_row(appender_params_from_iter(event_row(e, Some(next()))))?;
            }
            app.finish()?;
        }
        {
            let mut orders = Stage::new(&self.writer.conn, "stage_orders")?;
            let mut lines = Stage::new(&self.writer.conn, "stage_lines")?;
            for o in &batch.orders {
                orders.append_row(params![
                    o.id.as_str(),
                    o.kind.as_str(),
                    text(o.person_id.as_ref().map(|p| p.as_str())),
                    text(o.user_id.as_ref().map(|u| u.as_str())),
                    text(o.anonymous_id.as_ref().map(|a| a.as_str())),
                    ts(o.placed_at),
                    text(o.platform.map(|p| p.as_str())),
                    text(o.channel.as_deref()),
                    o.total.fen(),
                    o.discount.fen(),
                    o.shipping.fen(),
                    text(o.coupon.as_deref()),
                    text(o.refund_of.as_ref().map(|r| r.as_str())),
                    json_map(&o.properties),
                    next(),
                ])?;
                for l in &o.lines {
                    lines.append_row(params![
                        o.id.as_str(),
                        l.line_no,
                        l.product_id.as_str(),
                        l.quantity,
                        l.unit_price.fen(),
                        text(l.category.as_deref()),
                        next(),
                    ])?;
                }
            }
            orders.finish()?;
            lines.finish()?;
        }
        {
            let mut app = Stage::new(&self.writer.conn, "stage_users")?;
            for u in &batch.users {
                app.append_row(params![
                    u.id.as_str(),
                    opt_ts(u.registered_at),
                    text(u.platform.map(|p| p.as_str())),
                    text(u.channel.as_deref()),
                    date(u.birthday),
                    text(u.gender.as_deref()),
                    text(u.city.as_deref()),
                    text(u.phone.as_deref()),
                    json_map(&u.traits),
                    next(),
                ])?;
            }
            app.finish()?;
        }
        {
            let mut app = Stage::new(&self.writer.conn, "stage_products")?;
            for p in &batch.products {
                app.append_row(params![
                    p.id.as_str(),
                    text(p.name.as_deref()),
                    text(p.category.as_deref()),
                    int(p.price.map(|m| m.fen())),
                    text(p.brand.as_deref()),
                    opt_ts(p.launched_at),
                    p.consumable,
                    p.in_stock,
                    next(),
                ])?;
            }
            app.finish()?;
        }
        self.seq = seq;
        Ok(())
    }

    fn count(&self, sql: &str) -> Result<u64> {
        let mut statement = self.writer.conn.prepare_cached(sql).map_err(backend)?;
        statement.query_row([], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(backend)
    }

    fn exec(&self, sql: &str) -> Result<u64> {
        let mut statement = self.writer.conn.prepare_cached(sql).map_err(backend)?;
        statement.execute([]).map(|n| n as u64).map_err(backend)
    }

    /// Stores this write's identity links (latest per `(kind, id)` wins),
    /// then moves everything of each merged person to its final person.
    fn apply_identity(&mut self) -> Result<()> {
        if !self.links.is_empty() {
            let run = || -> duckdb::Result<()> {
                let mut app = Stage::new(&self.writer.conn, "stage_links")?;
                for (seq, l) in self.links.iter().enumerate() {
                    app.append_row(params![
                        l.kind.as_str(),
                        l.id.as_str(),
                        l.person_id.as_str(),
                        l.via.as_str(),
                        ts(l.at),
                        seq as i64
                    ])?;
                }
                app.finish()
            };
            run().map_err(backend)?;
            self.exec("DELETE FROM identity_links l USING stage_links s WHERE l.kind = s.kind AND l.id = s.id")?;
            self.exec(
                "INSERT INTO identity_links SELECT * EXCLUDE (seq) FROM stage_links
                 QUALIFY row_number() OVER (PARTITION BY kind, id ORDER BY seq DESC) = 1",
            )?;
            self.exec("DELETE FROM temp.stage_links")?;
        }
        if self.merges.is_empty() {
            return Ok(());
        }
        let moves = compose_merges(&self.merges);
        let first = self.count("SELECT coalesce(max(seq), 0) + 1 FROM person_merges")? as i64;
        let run = || -> duckdb::Result<()> {
            let mut app = Stage::new(&self.writer.conn, "stage_moves")?;
            for (from, into) in &moves {
                app.append_row(params![from.as_str(), into.as_str()])?;
            }
            app.finish()?;
            let mut app = self.writer.conn.appender("person_merges")?;
            for (i, m) in self.merges.iter().enumerate() {
                app.append_row(params![first + i as i64, m.from.as_str(), m.into.as_str(), m.via.as_str(), ts(m.at)])?;
            }
            app.flush()
        };
        run().map_err(backend)?;
        if !moves.is_empty() {
            for table in ["events", "orders", "identity_links"] {
                self.exec(&format!(
                    "UPDATE {table} SET person_id = m.into_person FROM stage_moves m WHERE {table}.person_id = m.from_person"
                ))?;
            }
            self.exec("DELETE FROM temp.stage_moves")?;
        }
        Ok(())
    }

    fn apply(&mut self, rows_read: Option<u64>) -> Result<(WriteSummary, Option<ImportRecord>)> {
        let mut summary =
            WriteSummary { rows_rejected: self.rejected, events_new: self.appended_events, ..Default::default() };
        // Only the statements for what was staged run: a stream commit of
        // appended events alone is BEGIN, two appends and COMMIT.
        if self.staged_events > 0 {
            summary.events_new += self.exec(
                "INSERT INTO events SELECT * EXCLUDE (seq) FROM (
                     SELECT s.* FROM stage_events s ANTI JOIN events e ON e.event_id = s.event_id
                     QUALIFY row_number() OVER (PARTITION BY s.event_id ORDER BY s.seq) = 1
                 ) ORDER BY person_id, ts",
            )?;
            summary.events_duplicate = self.staged_events + self.appended_events - summary.events_new;
            self.exec("DELETE FROM temp.stage_events")?;
        }
        if self.staged_orders > 0 {
            summary.orders_new = self.exec(
                "INSERT INTO orders SELECT * EXCLUDE (seq) FROM (
                     SELECT s.* FROM stage_orders s ANTI JOIN orders o ON o.order_id = s.order_id
                     QUALIFY row_number() OVER (PARTITION BY s.order_id ORDER BY s.seq) = 1
                 ) ORDER BY person_id, placed_at",
            )?;
            summary.orders_duplicate = self.staged_orders - summary.orders_new;
            summary.lines_new = self.exec(
                "INSERT INTO order_lines SELECT * EXCLUDE (seq) FROM (
                     SELECT s.* FROM stage_lines s
                     ANTI JOIN order_lines l ON l.order_id = s.order_id AND l.line_no = s.line_no
                     QUALIFY row_number() OVER (PARTITION BY s.order_id, s.line_no ORDER BY s.seq) = 1
                 ) ORDER BY order_id, line_no",
            )?;
            self.exec("DELETE FROM temp.stage_orders")?;
            self.exec("DELETE FROM temp.stage_lines")?;
        }
        if self.staged_users > 0 {
            summary.users_upserted = self.count("SELECT count(DISTINCT user_id) FROM stage_users")?;
            // Users merge (as `MemoryStore` does, through `User::merge`): the
            // stored row joins the staged ones as the oldest (seq 0), each
            // attribute is the latest non-NULL one and traits merge per
            // top-level key, the latest value winning.
            self.exec(
                "INSERT INTO stage_users SELECT u.*, 0 FROM users u
                 SEMI JOIN stage_users s ON s.user_id = u.user_id",
            )?;
            self.exec("DELETE FROM users WHERE user_id IN (SELECT user_id FROM stage_users)")?;
            self.exec(MERGE_USERS)?;
            self.exec("DELETE FROM temp.stage_users")?;
        }
        if self.staged_products > 0 {
            summary.products_upserted = self.count("SELECT count(DISTINCT product_id) FROM stage_products")?;
            self.exec("DELETE FROM products WHERE product_id IN (SELECT product_id FROM stage_products)")?;
            self.exec(
                "INSERT INTO products SELECT * EXCLUDE (seq) FROM stage_products
                 QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY seq DESC) = 1",
            )?;
            self.exec("DELETE FROM temp.stage_products")?;
        }
        self.apply_identity()?;
        let Some(rows_read) = rows_read else {
            // A stream commit: dead letters are kept under import 0.
            if self.rejected > 0 {
                self.exec("INSERT INTO rejected_rows SELECT 0, * FROM stage_rejected")?;
                self.exec("DELETE FROM temp.stage_rejected")?;
            }
            self.finish()?;
            return Ok((summary, None));
        };
        let id = self.count("SELECT coalesce(max(import_id), 0) + 1 FROM imports")? as i64;
        if self.rejected > 0 {
            self.writer
                .conn
                .execute("INSERT INTO rejected_rows SELECT ?, * FROM stage_rejected", params![id])
                .map_err(backend)?;
            self.exec("DELETE FROM temp.stage_rejected")?;
        }
        let finished_at = Utc::now();
        let summary_json = serde_json::to_string(&summary).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.writer
            .conn
            .execute(
                "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![
                    id,
                    self.source.kind.as_str(),
                    text(self.source.file.as_deref()),
                    text(self.source.checksum.as_deref()),
                    rows_read as i64,
                    summary_json,
                    ts(finished_at),
                ],
            )
            .map_err(backend)?;
        self.finish()?;
        // Round-trip through the stored precision (microseconds).
        let finished_at = crate::codec::from_micros("import", finished_at.timestamp_micros())?;
        Ok((summary, Some(ImportRecord { id, source: self.source.clone(), rows_read, summary, finished_at })))
    }
}

impl DuckDbTxn<'_> {
    /// Commits; every staging table was emptied by the statements that read it.
    fn finish(&mut self) -> Result<()> {
        self.writer.conn.execute_batch("COMMIT").map_err(backend)?;
        self.open = false;
        self.writer.dirty = false;
        Ok(())
    }

    fn append(&mut self, events: &[Event], seen_at: DateTime<Utc>) -> duckdb::Result<()> {
        let conn = &self.writer.conn;
        let mut app = Stage::stored(conn, "events")?;
        for e in events {
            app.append_row(appender_params_from_iter(event_row(e, None)))?;
        }
        app.finish()?;
        let mut seen = Stage::stored(conn, "seen_event_ids")?;
        for e in events {
            seen.append_row(params![e.id.as_str(), ts(seen_at)])?;
        }
        seen.finish()
    }
}

impl WriteTxn for DuckDbTxn<'_> {
    fn write(&mut self, batch: &Batch) -> Result<()> {
        self.stage(batch).map_err(backend)?;
        self.staged_events += batch.events.len() as u64;
        self.staged_orders += batch.orders.len() as u64;
        self.staged_users += batch.users.len() as u64;
        self.staged_products += batch.products.len() as u64;
        Ok(())
    }

    fn append_events(&mut self, events: &[Event], seen_at: DateTime<Utc>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.append(events, seen_at).map_err(backend)?;
        self.appended_events += events.len() as u64;
        Ok(())
    }

    fn reject(&mut self, row: RejectedRow) -> Result<()> {
        let _ = self.next_seq();
        self.writer
            .conn
            .execute(
                "INSERT INTO temp.stage_rejected VALUES (?, ?, ?, ?)",
                params![row.file, row.line as i64, row.reason, row.raw],
            )
            .map_err(backend)?;
        self.rejected += 1;
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

    fn commit(mut self: Box<Self>, rows_read: u64) -> Result<ImportRecord> {
        let (_, record) = self.apply(Some(rows_read))?;
        record.ok_or_else(|| StoreError::Backend("import commit recorded no import".into()))
    }

    fn commit_stream(mut self: Box<Self>) -> Result<WriteSummary> {
        self.apply(None).map(|(summary, _)| summary)
    }
}

impl Drop for DuckDbTxn<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing staged becomes visible: roll back (also what DuckDB does
            // when the connection closes or the process dies).
            if let Err(e) = self.writer.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback of an abandoned write failed");
            }
        }
    }
}

/// An event's columns, in table order, with the staging `seq` when staged.
fn event_row(e: &Event, seq: Option<i64>) -> Vec<Value> {
    let mut row = vec![
        Value::Text(e.id.as_str().to_string()),
        text(e.person_id.as_ref().map(|p| p.as_str())),
        text(e.user_id.as_ref().map(|u| u.as_str())),
        text(e.anonymous_id.as_ref().map(|a| a.as_str())),
        Value::Text(e.name.as_str().to_string()),
        ts(e.timestamp),
        text(e.platform.map(|p| p.as_str())),
        text(e.channel.as_deref()),
        text(e.product_id.as_ref().map(|p| p.as_str())),
        text(e.category.as_deref()),
        int(e.price.map(|m| m.fen())),
        int(e.quantity),
        text(e.order_id.as_ref().map(|o| o.as_str())),
        int(e.revenue.map(|m| m.fen())),
        int(e.discount.map(|m| m.fen())),
        text(e.coupon.as_deref()),
        text(e.query.as_deref()),
        e.rating.map_or(Value::Null, Value::UTinyInt),
        text(e.review_body.as_deref()),
        json_map(&e.properties),
    ];
    row.extend(seq.map(Value::BigInt));
    row
}

/// Deletes the seen ids recorded before `before`.
pub(crate) fn forget_seen_event_ids(writer: &Writer, before: DateTime<Utc>) -> Result<u64> {
    let n =
        writer.conn.execute("DELETE FROM seen_event_ids WHERE seen_at < ?", params![ts(before)]).map_err(backend)?;
    Ok(n as u64)
}

/// Replaces all profiles in one transaction.
pub(crate) fn replace_profiles(conn: &Connection, profiles: &[Profile]) -> Result<()> {
    let run = || -> duckdb::Result<()> {
        conn.execute_batch("BEGIN TRANSACTION; DELETE FROM profiles;")?;
        {
            let mut app = conn.appender("profiles")?;
            for p in profiles {
                let doc = serde_json::to_string(p).expect("profiles serialise");
                app.append_row(params![
                    p.person_id.as_str(),
                    ts(p.as_of),
                    p.value_tier.as_str(),
                    p.lifecycle.as_str(),
                    p.behaviour.as_str(),
                    text(p.rfm_segment.map(|s| s.as_str())),
                    p.rfm.map_or(Value::Null, |r| Value::UTinyInt(r.recency)),
                    p.rfm.map_or(Value::Null, |r| Value::UTinyInt(r.frequency)),
                    p.rfm.map_or(Value::Null, |r| Value::UTinyInt(r.monetary)),
                    int(p.recency_days),
                    p.inactive_days,
                    i64::from(p.orders.lifetime),
                    p.monetary.lifetime.fen(),
                    text(p.top_category.as_deref()),
                    doc,
                ])?;
            }
        }
        conn.execute_batch("COMMIT")
    };
    run().map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        backend(e)
    })
}
