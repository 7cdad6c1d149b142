//! Conversions between domain values and DuckDB values.

use chrono::{DateTime, NaiveDate, Utc};
use cohort_store::StoreError;
use duckdb::types::{TimeUnit, Value};

/// A UTC instant as a DuckDB `TIMESTAMP` value.
pub(crate) fn ts(at: DateTime<Utc>) -> Value {
    Value::Timestamp(TimeUnit::Microsecond, at.timestamp_micros())
}

pub(crate) fn opt_ts(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, ts)
}

/// Microseconds since the epoch (queries select `epoch_us(col)`) to an instant.
pub(crate) fn from_micros(what: &'static str, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt { what, reason: format!("timestamp {micros} out of range") })
}

pub(crate) fn opt_from_micros(what: &'static str, micros: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(|m| from_micros(what, m)).transpose()
}

pub(crate) fn date(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, |d| Value::Text(d.format("%Y-%m-%d").to_string()))
}

/// A JSON object as text; `NULL` for an empty one.
pub(crate) fn json_map(map: &serde_json::Map<String, serde_json::Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Text(serde_json::Value::Object(map.clone()).to_string())
    }
}

pub(crate) fn parse_json_map(
    what: &'static str,
    text: Option<String>,
) -> Result<serde_json::Map<String, serde_json::Value>, StoreError> {
    match text {
        None => Ok(serde_json::Map::new()),
        Some(t) => match serde_json::from_str(&t) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            Ok(_) => Err(StoreError::Corrupt { what, reason: "properties are not a JSON object".into() }),
            Err(e) => Err(StoreError::Corrupt { what, reason: e.to_string() }),
        },
    }
}

pub(crate) fn text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, |s| Value::Text(s.to_string()))
}

pub(crate) fn int(v: Option<i64>) -> Value {
    v.map_or(Value::Null, Value::BigInt)
}

/// Parses a stored enum name; a failure means the database was edited by hand.
pub(crate) fn parse<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e: T::Err| StoreError::Corrupt { what, reason: e.to_string() })
}
