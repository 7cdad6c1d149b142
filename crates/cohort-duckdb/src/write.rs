//! Atomic, idempotent writes through connection-local staging tables.

use std::sync::MutexGuard;

use chrono::Utc;
use cohort_model::{Batch, Profile};
use cohort_store::{
    compose_merges, IdentityLink, ImportRecord, PersonMerge, RejectedRow, Result, StoreError, WriteSource,
    WriteSummary, WriteTxn,
};
use duckdb::types::Value;
use duckdb::{params, Appender, Connection};

use crate::backend;
use crate::codec::{date, int, json_map, opt_ts, text, ts};

/// Staging tables mirror the real ones plus a `seq` column recording arrival
/// order (first event wins; last user / product attributes win).
const BEGIN: &str = "
BEGIN TRANSACTION;
CREATE TEMP TABLE stage_events AS SELECT *, 0::BIGINT AS seq FROM events LIMIT 0;
CREATE TEMP TABLE stage_orders AS SELECT *, 0::BIGINT AS seq FROM orders LIMIT 0;
CREATE TEMP TABLE stage_lines AS SELECT *, 0::BIGINT AS seq FROM order_lines LIMIT 0;
CREATE TEMP TABLE stage_users AS SELECT *, 0::BIGINT AS seq FROM users LIMIT 0;
CREATE TEMP TABLE stage_products AS SELECT *, 0::BIGINT AS seq FROM products LIMIT 0;
CREATE TEMP TABLE stage_rejected AS SELECT * EXCLUDE (import_id) FROM rejected_rows LIMIT 0;
";

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
    conn: Connection,
    _writer: MutexGuard<'a, ()>,
    source: WriteSource,
    seq: i64,
    staged_events: u64,
    staged_orders: u64,
    rejected: u64,
    links: Vec<IdentityLink>,
    merges: Vec<PersonMerge>,
    open: bool,
}

impl<'a> DuckDbTxn<'a> {
    pub(crate) fn begin(conn: Connection, writer: MutexGuard<'a, ()>, source: WriteSource) -> Result<Self> {
        conn.execute_batch(BEGIN).map_err(backend)?;
        Ok(DuckDbTxn {
            conn,
            _writer: writer,
            source,
            seq: 0,
            staged_events: 0,
            staged_orders: 0,
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
            let mut app = Stage::new(&self.conn, "stage_events")?;
            for e in &batch.events {
                app.append_row(params![
                    e.id.as_str(),
                    text(e.person_id.as_ref().map(|p| p.as_str())),
                    text(e.user_id.as_ref().map(|u| u.as_str())),
                    text(e.anonymous_id.as_ref().map(|a| a.as_str())),
                    e.name.as_str(),
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
                    next(),
                ])?;
            }
            app.finish()?;
        }
        {
            let mut orders = Stage::new(&self.conn, "stage_orders")?;
            let mut lines = Stage::new(&self.conn, "stage_lines")?;
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
            let mut app = Stage::new(&self.conn, "stage_users")?;
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
            let mut app = Stage::new(&self.conn, "stage_products")?;
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
        self.conn.query_row(sql, [], |r| r.get::<_, i64>(0)).map(|n| n as u64).map_err(backend)
    }

    fn exec(&self, sql: &str) -> Result<u64> {
        self.conn.execute(sql, []).map(|n| n as u64).map_err(backend)
    }

    /// Stores this write's identity links (latest per `(kind, id)` wins),
    /// then moves everything of each merged person to its final person.
    fn apply_identity(&mut self) -> Result<()> {
        if !self.links.is_empty() {
            let run = || -> duckdb::Result<()> {
                self.conn.execute_batch(
                    "CREATE TEMP TABLE stage_links AS SELECT *, 0::BIGINT AS seq FROM identity_links LIMIT 0",
                )?;
                let mut app = Stage::new(&self.conn, "stage_links")?;
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
        }
        if self.merges.is_empty() {
            return Ok(());
        }
        let moves = compose_merges(&self.merges);
        let first = self.count("SELECT coalesce(max(seq), 0) + 1 FROM person_merges")? as i64;
        let run = || -> duckdb::Result<()> {
            self.conn.execute_batch("CREATE TEMP TABLE stage_moves (from_person VARCHAR, into_person VARCHAR)")?;
            let mut app = Stage::new(&self.conn, "stage_moves")?;
            for (from, into) in &moves {
                app.append_row(params![from.as_str(), into.as_str()])?;
            }
            app.finish()?;
            let mut app = self.conn.appender("person_merges")?;
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
        }
        Ok(())
    }

    fn apply(&mut self, rows_read: Option<u64>) -> Result<(WriteSummary, Option<ImportRecord>)> {
        let mut summary = WriteSummary { rows_rejected: self.rejected, ..Default::default() };
        summary.events_new = self.exec(
            "INSERT INTO events SELECT * EXCLUDE (seq) FROM (
                 SELECT s.* FROM stage_events s ANTI JOIN events e ON e.event_id = s.event_id
                 QUALIFY row_number() OVER (PARTITION BY s.event_id ORDER BY s.seq) = 1
             ) ORDER BY person_id, ts",
        )?;
        summary.events_duplicate = self.staged_events - summary.events_new;
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
        summary.users_upserted = self.count("SELECT count(DISTINCT user_id) FROM stage_users")?;
        self.exec("DELETE FROM users WHERE user_id IN (SELECT user_id FROM stage_users)")?;
        self.exec(
            "INSERT INTO users SELECT * EXCLUDE (seq) FROM stage_users
             QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY seq DESC) = 1",
        )?;
        summary.products_upserted = self.count("SELECT count(DISTINCT product_id) FROM stage_products")?;
        self.exec("DELETE FROM products WHERE product_id IN (SELECT product_id FROM stage_products)")?;
        self.exec(
            "INSERT INTO products SELECT * EXCLUDE (seq) FROM stage_products
             QUALIFY row_number() OVER (PARTITION BY product_id ORDER BY seq DESC) = 1",
        )?;
        self.apply_identity()?;
        let Some(rows_read) = rows_read else {
            // A stream commit: dead letters are kept under import 0.
            if self.rejected > 0 {
                self.exec("INSERT INTO rejected_rows SELECT 0, * FROM stage_rejected")?;
            }
            self.conn.execute_batch("COMMIT").map_err(backend)?;
            self.open = false;
            return Ok((summary, None));
        };
        let id = self.count("SELECT coalesce(max(import_id), 0) + 1 FROM imports")? as i64;
        self.conn.execute("INSERT INTO rejected_rows SELECT ?, * FROM stage_rejected", params![id]).map_err(backend)?;
        let finished_at = Utc::now();
        let summary_json = serde_json::to_string(&summary).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.conn
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
        self.conn.execute_batch("COMMIT").map_err(backend)?;
        self.open = false;
        // Round-trip through the stored precision (microseconds).
        let finished_at = crate::codec::from_micros("import", finished_at.timestamp_micros())?;
        Ok((summary, Some(ImportRecord { id, source: self.source.clone(), rows_read, summary, finished_at })))
    }
}

impl WriteTxn for DuckDbTxn<'_> {
    fn write(&mut self, batch: &Batch) -> Result<()> {
        self.stage(batch).map_err(backend)?;
        self.staged_events += batch.events.len() as u64;
        self.staged_orders += batch.orders.len() as u64;
        Ok(())
    }

    fn reject(&mut self, row: RejectedRow) -> Result<()> {
        let _ = self.next_seq();
        self.conn
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
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "rollback of an abandoned write failed");
            }
        }
    }
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
