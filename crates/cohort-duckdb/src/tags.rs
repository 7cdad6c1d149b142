//! The [`AudienceStore`] on DuckDB: current tags (`person_tags`), the tag
//! history (`tag_history`), API-managed rules (`tag_rules`), audiences and
//! static snapshots (`audiences`, `audience_members`), plus the per-person
//! reads of the profile API.
//!
//! A batch of tag changes is appended to the history with the appender and
//! the current tags are rebuilt for the keys it touches with two
//! set-based statements, all in one transaction, so a 100k-change recompute
//! costs a few statements, not 100k.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use cohort_model::{Event, PersonId};
use cohort_store::{
    AudienceStore, PersonTag, Result, StoreError, StoredAudience, StoredTagRule, TagChange, TagChangeKind,
};
use duckdb::{params, Connection};

use crate::codec::{from_micros, ts};
use crate::read::{event_from_row, EVENT_COLUMNS};
use crate::{backend, DuckDbStore};

/// Serialises tag and audience writes (history sequence numbers); kept apart
/// from the event writer's lock so a long recompute never delays ingest.
static TAG_WRITES: Mutex<()> = Mutex::new(());

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { what, reason: e.to_string() }
}

fn person(what: &'static str, s: String) -> Result<PersonId> {
    PersonId::new(s).map_err(|e| corrupt(what, e))
}

/// Whether the scores table exists: it belongs to the prediction models and
/// may be absent from older stores, so it is read only where it exists
/// (whole rows as JSON, so new columns show up without a change here).
fn has_scores(conn: &Connection) -> Result<bool> {
    let n: i64 = conn
        .query_row("SELECT count(*) FROM information_schema.tables WHERE table_name = 'person_scores'", [], |r| {
            r.get(0)
        })
        .map_err(backend)?;
    Ok(n > 0)
}

/// Runs `work` in one transaction on `conn`, rolling back on error.
fn transaction(conn: &Connection, work: impl FnOnce() -> duckdb::Result<()>) -> Result<()> {
    conn.execute_batch("BEGIN TRANSACTION").map_err(backend)?;
    match work().and_then(|()| conn.execute_batch("COMMIT")) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(backend(e))
        }
    }
}

impl AudienceStore for DuckDbStore {
    fn person_tags(&self, who: Option<&PersonId>) -> Result<Vec<PersonTag>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare(
                "SELECT person_id, tag, epoch_us(since) FROM person_tags
                 WHERE $1 IS NULL OR person_id = $1 ORDER BY person_id, tag",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![who.map(|p| p.as_str())], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (p, tag, since) = row.map_err(backend)?;
            Ok(PersonTag { person_id: person("person tag", p)?, tag, since: from_micros("person tag", since)? })
        })
        .collect()
    }

    fn apply_tag_changes(&self, changes: &[TagChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let _guard = TAG_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection()?;
        let first: i64 =
            conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM tag_history", [], |r| r.get(0)).map_err(backend)?;
        transaction(&conn, || {
            {
                let mut app = conn.appender("tag_history")?;
                for (i, c) in changes.iter().enumerate() {
                    app.append_row(params![
                        first + i as i64,
                        c.person_id.as_str(),
                        c.tag.as_str(),
                        c.change.as_str(),
                        ts(c.at),
                        c.source.as_str()
                    ])?;
                }
            }
            // The last change of each touched (person, tag) decides.
            conn.execute(
                "DELETE FROM person_tags USING
                   (SELECT DISTINCT person_id AS p, tag AS t FROM tag_history WHERE seq >= $1) AS touched
                 WHERE person_tags.person_id = touched.p AND person_tags.tag = touched.t",
                params![first],
            )?;
            conn.execute(
                "INSERT INTO person_tags
                 SELECT person_id, tag, changed_at FROM (
                   SELECT *, row_number() OVER (PARTITION BY person_id, tag ORDER BY seq DESC) AS rn
                   FROM tag_history WHERE seq >= $1)
                 WHERE rn = 1 AND change = 'gained'",
                params![first],
            )?;
            Ok(())
        })
    }

    fn tag_history(&self, who: Option<&PersonId>, limit: usize) -> Result<Vec<TagChange>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare(
                "SELECT * FROM (
                   SELECT seq, person_id, tag, change, epoch_us(changed_at), source FROM tag_history
                   WHERE $1 IS NULL OR person_id = $1 ORDER BY seq DESC LIMIT $2)
                 ORDER BY seq",
            )
            .map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![who.map(|p| p.as_str()), limit], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (p, tag, change, at, source) = row.map_err(backend)?;
            Ok(TagChange {
                person_id: person("tag history", p)?,
                tag,
                change: TagChangeKind::parse(&change)
                    .ok_or_else(|| corrupt("tag history", format!("unknown change {change:?}")))?,
                at: from_micros("tag history", at)?,
                source,
            })
        })
        .collect()
    }

    fn tag_rules(&self) -> Result<Vec<StoredTagRule>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare("SELECT name, description, condition, epoch_us(updated_at) FROM tag_rules ORDER BY name")
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?))
            })
            .map_err(backend)?;
        rows.map(|row| {
            let (name, description, condition, at) = row.map_err(backend)?;
            Ok(StoredTagRule { name, description, condition, updated_at: from_micros("tag rule", at)? })
        })
        .collect()
    }

    fn put_tag_rule(&self, rule: &StoredTagRule) -> Result<()> {
        let _guard = TAG_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection()?;
        transaction(&conn, || {
            conn.execute("DELETE FROM tag_rules WHERE name = ?", params![rule.name])?;
            conn.execute(
                "INSERT INTO tag_rules VALUES (?, ?, ?, ?)",
                params![rule.name, rule.description, rule.condition, ts(rule.updated_at)],
            )?;
            Ok(())
        })
    }

    fn delete_tag_rule(&self, name: &str) -> Result<bool> {
        let _guard = TAG_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.connection()?.execute("DELETE FROM tag_rules WHERE name = ?", params![name]).map_err(backend)?;
        Ok(n > 0)
    }

    fn audiences(&self) -> Result<Vec<StoredAudience>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare(
                "SELECT audience_id, name, description, filter_text, kind, epoch_us(created_at) FROM audiences
                 ORDER BY audience_id",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredAudience {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    description: r.get(2)?,
                    filter: r.get(3)?,
                    kind: r.get(4)?,
                    created_at: DateTime::<Utc>::from_timestamp_micros(r.get(5)?).unwrap_or_default(),
                })
            })
            .map_err(backend)?;
        rows.map(|r| r.map_err(backend)).collect()
    }

    fn put_audience(&self, a: &StoredAudience, members: Option<&[PersonId]>) -> Result<()> {
        let _guard = TAG_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection()?;
        transaction(&conn, || {
            conn.execute("DELETE FROM audiences WHERE audience_id = ?", params![a.id])?;
            conn.execute("DELETE FROM audience_members WHERE audience_id = ?", params![a.id])?;
            conn.execute(
                "INSERT INTO audiences VALUES (?, ?, ?, ?, ?, ?)",
                params![a.id, a.name, a.description, a.filter, a.kind, ts(a.created_at)],
            )?;
            if let Some(members) = members {
                let mut app = conn.appender("audience_members")?;
                for p in members {
                    app.append_row(params![a.id, p.as_str()])?;
                }
            }
            Ok(())
        })
    }

    fn delete_audience(&self, id: &str) -> Result<bool> {
        let _guard = TAG_WRITES.lock().unwrap_or_else(|e| e.into_inner());
        let conn = self.connection()?;
        let mut existed = false;
        transaction(&conn, || {
            conn.execute("DELETE FROM audience_members WHERE audience_id = ?", params![id])?;
            existed = conn.execute("DELETE FROM audiences WHERE audience_id = ?", params![id])? > 0;
            Ok(())
        })?;
        Ok(existed)
    }

    fn audience_snapshot(&self, id: &str) -> Result<Vec<PersonId>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare("SELECT person_id FROM audience_members WHERE audience_id = ? ORDER BY person_id")
            .map_err(backend)?;
        let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0)).map_err(backend)?;
        rows.map(|r| person("audience member", r.map_err(backend)?)).collect()
    }

    fn recent_events(&self, who: &PersonId, limit: usize) -> Result<Vec<Event>> {
        let conn = self.connection()?;
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE person_id = ? ORDER BY ts DESC, event_id DESC LIMIT ?");
        let mut stmt = conn.prepare(&sql).map_err(backend)?;
        let mut rows = stmt.query(params![who.as_str(), i64::try_from(limit).unwrap_or(i64::MAX)]).map_err(backend)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(backend)? {
            out.push(event_from_row(r)?);
        }
        Ok(out)
    }

    fn person_scores(&self, who: &PersonId) -> Result<Vec<serde_json::Value>> {
        let conn = self.connection()?;
        if !has_scores(&conn)? {
            return Ok(Vec::new());
        }
        let mut stmt = conn
            .prepare("SELECT to_json(s)::VARCHAR AS doc FROM person_scores s WHERE s.person_id = ? ORDER BY doc")
            .map_err(backend)?;
        let rows = stmt.query_map(params![who.as_str()], |r| r.get::<_, String>(0)).map_err(backend)?;
        rows.map(|r| serde_json::from_str(&r.map_err(backend)?).map_err(|e| corrupt("person score", e))).collect()
    }

    fn scan_person_scores(&self, visit: &mut dyn FnMut(PersonId, serde_json::Value) -> Result<()>) -> Result<()> {
        let conn = self.connection()?;
        if !has_scores(&conn)? {
            return Ok(());
        }
        let mut stmt = conn
            .prepare("SELECT person_id, to_json(s)::VARCHAR AS doc FROM person_scores s ORDER BY person_id, doc")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let (p, doc): (String, String) = (r.get(0).map_err(backend)?, r.get(1).map_err(backend)?);
            visit(person("person score", p)?, serde_json::from_str(&doc).map_err(|e| corrupt("person score", e))?)?;
        }
        Ok(())
    }

    fn derived_version(&self) -> Result<Option<String>> {
        let conn = self.connection()?;
        let profiles: String = conn
            .query_row(
                "SELECT concat_ws('/', count(*), epoch_us(max(as_of)), sum(orders_lifetime), sum(monetary_fen),
                                  sum(inactive_days)) FROM profiles",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?;
        let scores: String = if has_scores(&conn)? {
            conn.query_row(
                "SELECT concat_ws('/', count(*), epoch_us(max(computed_at)), sum(score)) FROM person_scores",
                [],
                |r| r.get(0),
            )
            .map_err(backend)?
        } else {
            String::new()
        };
        Ok(Some(format!("{profiles}|{scores}")))
    }

    fn scores_of_model(&self, model: &str) -> Result<Vec<(PersonId, f64)>> {
        let conn = self.connection()?;
        let mut stmt = conn
            .prepare("SELECT person_id, score FROM person_scores WHERE model = ? AND score IS NOT NULL")
            .map_err(backend)?;
        let rows =
            stmt.query_map(params![model], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?))).map_err(backend)?;
        rows.map(|r| {
            let (id, score) = r.map_err(backend)?;
            Ok((person("person score", id)?, score))
        })
        .collect()
    }
}
