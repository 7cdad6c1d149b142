//! Per-person model scores (`person_scores`): one row per (person, model).
//!
//! Each prediction model ("churn", "cluster", "clv", "sentiment", …) owns its
//! rows and replaces them as a whole in one transaction when it rescores, so
//! readers see either the old or the new scoring, never a mix.

use chrono::{DateTime, Utc};
use cohort_model::PersonId;
use cohort_store::{Result, StoreError};
use duckdb::{params, Connection};

use crate::codec::{from_micros, text, ts};
use crate::{backend, DuckDbStore};

/// One person's score from one model.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonScore {
    /// Whose score.
    pub person_id: PersonId,
    /// Which model produced it ("churn", "cluster", "clv", "sentiment").
    pub model: String,
    /// When the model scored this person.
    pub computed_at: DateTime<Utc>,
    /// The score itself (its scale is the model's: churn risk 0–100, CLV in
    /// yuan, a cluster's index…).
    pub score: f64,
    /// A short reading of the score (a cluster name, a risk band), if any.
    pub label: Option<String>,
    /// The model's explanation (top features, parameters); `Null` if none.
    pub detail: serde_json::Value,
}

/// One row to write with [`DuckDbStore::replace_scores`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRow {
    /// Whose score.
    pub person_id: PersonId,
    /// The score.
    pub score: f64,
    /// A short reading of the score, if any.
    pub label: Option<String>,
    /// The model's explanation as JSON; `Null` stores SQL `NULL`.
    pub detail: serde_json::Value,
}

/// Which end of a model's scores [`DuckDbStore::model_scores`] starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoreOrder {
    /// Highest score first (ties by person id).
    #[default]
    Descending,
    /// Lowest score first (ties by person id).
    Ascending,
}

/// A read of one model's scores: order, an optional floor and a row limit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ScoreQuery {
    /// Sort order by score.
    pub order: ScoreOrder,
    /// Only scores `>=` this value.
    pub min_score: Option<f64>,
    /// At most this many rows; `None` for all.
    pub limit: Option<usize>,
}

const COLUMNS: &str = "person_id, model, epoch_us(computed_at), score, label, detail::VARCHAR";

impl DuckDbStore {
    /// Replaces every row of `model` with `rows`, all stamped `computed_at`,
    /// in one transaction. Returns the number of rows written. A person
    /// listed twice is an error (the whole write is rolled back).
    pub fn replace_scores(&self, model: &str, computed_at: DateTime<Utc>, rows: &[ScoreRow]) -> Result<u64> {
        if model.trim().is_empty() {
            return Err(StoreError::Backend("person_scores: model name must not be empty".into()));
        }
        if let Some(bad) = rows.iter().find(|r| !r.score.is_finite()) {
            return Err(StoreError::Backend(format!(
                "person_scores: score of {} for model {model} is not finite ({})",
                bad.person_id, bad.score
            )));
        }
        let _guard = self.writer_lock();
        let conn = self.connection()?;
        let run = || -> duckdb::Result<()> {
            conn.execute_batch("BEGIN TRANSACTION")?;
            conn.execute("DELETE FROM person_scores WHERE model = ?", params![model])?;
            let mut app = conn.appender("person_scores")?;
            for r in rows {
                let detail = if r.detail.is_null() { None } else { Some(r.detail.to_string()) };
                app.append_row(params![
                    r.person_id.as_str(),
                    model,
                    ts(computed_at),
                    r.score,
                    text(r.label.as_deref()),
                    text(detail.as_deref()),
                ])?;
            }
            app.flush()?;
            drop(app);
            conn.execute_batch("COMMIT")
        };
        run().map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            backend(e)
        })?;
        Ok(rows.len() as u64)
    }

    /// Every model's score for one person, ordered by model name.
    pub fn person_scores(&self, person: &PersonId) -> Result<Vec<PersonScore>> {
        let sql = format!("SELECT {COLUMNS} FROM person_scores WHERE person_id = ? ORDER BY model");
        query(&self.connection()?, &sql, params![person.as_str()])
    }

    /// One model's scores for one person, if scored.
    pub fn person_score(&self, person: &PersonId, model: &str) -> Result<Option<PersonScore>> {
        let sql = format!("SELECT {COLUMNS} FROM person_scores WHERE person_id = ? AND model = ?");
        Ok(query(&self.connection()?, &sql, params![person.as_str(), model])?.into_iter().next())
    }

    /// One model's scores ordered by score (ties by person id), optionally
    /// only those at or above a floor, at most `limit` rows.
    pub fn model_scores(&self, model: &str, q: ScoreQuery) -> Result<Vec<PersonScore>> {
        let dir = match q.order {
            ScoreOrder::Descending => "DESC",
            ScoreOrder::Ascending => "ASC",
        };
        let limit = q.limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let floor = q.min_score.unwrap_or(f64::NEG_INFINITY);
        let sql = format!(
            "SELECT {COLUMNS} FROM person_scores WHERE model = ? AND score >= ?
             ORDER BY score {dir}, person_id LIMIT ?"
        );
        query(&self.connection()?, &sql, params![model, floor, limit])
    }

    /// Number of people `model` has scored.
    pub fn count_scores(&self, model: &str) -> Result<u64> {
        let n: i64 = self
            .connection()?
            .query_row("SELECT count(*) FROM person_scores WHERE model = ?", params![model], |r| r.get(0))
            .map_err(backend)?;
        Ok(n as u64)
    }
}

fn query(conn: &Connection, sql: &str, params: impl duckdb::Params) -> Result<Vec<PersonScore>> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt { what: "person score", reason: e.to_string() };
    let mut stmt = conn.prepare(sql).map_err(backend)?;
    let mut rows = stmt.query(params).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(backend)? {
        let person: String = r.get(0).map_err(|e| corrupt(&e))?;
        let detail: Option<String> = r.get(5).map_err(|e| corrupt(&e))?;
        out.push(PersonScore {
            person_id: PersonId::new(person).map_err(|e| corrupt(&e))?,
            model: r.get(1).map_err(|e| corrupt(&e))?,
            computed_at: from_micros("person score", r.get(2).map_err(|e| corrupt(&e))?)?,
            score: r.get(3).map_err(|e| corrupt(&e))?,
            label: r.get(4).map_err(|e| corrupt(&e))?,
            detail: match detail {
                None => serde_json::Value::Null,
                Some(t) => serde_json::from_str(&t).map_err(|e| corrupt(&e))?,
            },
        });
    }
    Ok(out)
}
