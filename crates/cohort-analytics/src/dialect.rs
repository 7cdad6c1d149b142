//! SQL dialects. Specs compile to SQL through the [`Dialect`] trait: the
//! query shapes live once in the compilers (`funnel`, `retention`, `kpi`,
//! `paths`), and a dialect only spells the few functions that differ
//! between engines. [`DuckDb`] is the embedded store's; a ClickHouse
//! dialect is one more implementation of this trait (its spellings are noted
//! on each method).

use chrono::{DateTime, NaiveDate, Utc};

use crate::spec::{EventMatch, Filter, FilterOp, Period, Property};
use crate::zone::ZoneOffsets;

/// How one SQL engine spells what the compilers need.
pub trait Dialect: Send + Sync {
    /// The dialect's name (`duckdb`).
    fn name(&self) -> &'static str;

    /// A string literal (`'it''s'`; ClickHouse escapes with backslashes).
    fn string(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// A UTC instant literal (ClickHouse: `toDateTime64('…', 3, 'UTC')`).
    fn timestamp(&self, at: DateTime<Utc>) -> String;

    /// A date literal (ClickHouse: `toDate('…')`).
    fn date(&self, date: NaiveDate) -> String;

    /// Milliseconds since the epoch of a timestamp expression (ClickHouse:
    /// `toUnixTimestamp64Milli(x)`).
    fn epoch_millis(&self, expr: &str) -> String;

    /// A timestamp plus a number of seconds (ClickHouse: `addSeconds(x, n)`).
    fn add_seconds(&self, expr: &str, seconds: &str) -> String;

    /// One key of the JSON text column `properties`, as text (ClickHouse:
    /// `JSONExtractString(properties, 'key')`).
    fn json_text(&self, column: &str, key: &str) -> String;

    /// An expression as a double, NULL where it is not a number (ClickHouse:
    /// `toFloat64OrNull(toString(x))`).
    fn to_double(&self, expr: &str) -> String;

    /// An expression as text (ClickHouse: `toString(x)`).
    fn to_text(&self, expr: &str) -> String;

    /// Whether text `haystack` contains `needle` (ClickHouse: `position(h, n) > 0`).
    fn contains(&self, haystack: &str, needle: &str) -> String;

    /// The first day (a DATE) of the shop-local period holding a local
    /// timestamp (ClickHouse: `toStartOfDay/toMonday/toStartOfMonth`).
    fn period_start(&self, period: Period, local_ts: &str) -> String;

    /// Whole periods from period start `a` to period start `b` (ClickHouse:
    /// `dateDiff('day'|'week'|'month', a, b)`).
    fn period_diff(&self, period: Period, a: &str, b: &str) -> String;

    /// Days from date `a` to date `b`.
    fn day_diff(&self, a: &str, b: &str) -> String;

    /// A date as `YYYY-MM-DD` text.
    fn date_text(&self, expr: &str) -> String;

    /// Ordered string aggregation (ClickHouse: `arrayStringConcat(arraySort(…))`).
    fn string_agg(&self, expr: &str, separator: &str, order_by: &str) -> String;

    /// The shop-local timestamp of a UTC timestamp expression, given the
    /// zone's offsets over the data range.
    fn local_time(&self, expr: &str, zone: &ZoneOffsets) -> String {
        if zone.transitions.is_empty() {
            return self.add_seconds(expr, &zone.initial.to_string());
        }
        let mut case = String::from("CASE");
        let mut previous = zone.initial;
        for (at, offset) in &zone.transitions {
            case.push_str(&format!(" WHEN {expr} < {} THEN {previous}", self.timestamp(*at)));
            previous = *offset;
        }
        case.push_str(&format!(" ELSE {previous} END"));
        self.add_seconds(expr, &case)
    }

    /// The SQL value of a property on the `events` table.
    fn property(&self, property: &Property) -> String {
        match property.column() {
            Some(column) => column.to_string(),
            None => self.json_text("properties", property.name()),
        }
    }

    /// A boolean condition for one filter.
    fn filter(&self, filter: &Filter) -> String {
        let column = self.property(&filter.property);
        let numeric = filter.property.is_numeric() || filter.property.column().is_none();
        let literal = |v: &serde_json::Value| match v {
            serde_json::Value::Number(n) if filter.property.is_numeric() => n.to_string(),
            serde_json::Value::String(s) if filter.property.is_numeric() && s.parse::<f64>().is_ok() => s.clone(),
            serde_json::Value::String(s) => self.string(s),
            other => self.string(&other.to_string()),
        };
        let as_text = |c: &str| if filter.property.is_numeric() { c.to_string() } else { self.to_text(c) };
        match filter.op {
            FilterOp::IsSet => format!("{column} IS NOT NULL"),
            FilterOp::Eq => format!("{} = {}", as_text(&column), literal(&filter.value)),
            FilterOp::Ne => format!("{} <> {}", as_text(&column), literal(&filter.value)),
            FilterOp::In => {
                let values = filter.value.as_array().map(|v| v.iter().map(literal).collect::<Vec<_>>());
                format!("{} IN ({})", as_text(&column), values.unwrap_or_default().join(", "))
            }
            FilterOp::Contains => self.contains(&self.to_text(&column), &self.string(&value_text(&filter.value))),
            op @ (FilterOp::Gt | FilterOp::Gte | FilterOp::Lt | FilterOp::Lte) => {
                let lhs = if numeric { self.to_double(&column) } else { column };
                let symbol = op.symbol();
                format!("{lhs} {symbol} {}", value_text(&filter.value))
            }
        }
    }

    /// A boolean condition matching one [`EventMatch`] on the `events` table.
    fn event_match(&self, m: &EventMatch) -> String {
        let mut parts = vec![format!("event = {}", self.string(&m.stored_name()))];
        parts.extend(m.filters.iter().map(|f| format!("({})", self.filter(f))));
        parts.join(" AND ")
    }
}

fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// DuckDB, the embedded store's engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct DuckDb;

impl Dialect for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn timestamp(&self, at: DateTime<Utc>) -> String {
        format!("TIMESTAMP '{}'", at.format("%Y-%m-%d %H:%M:%S%.6f"))
    }

    fn date(&self, date: NaiveDate) -> String {
        format!("DATE '{date}'")
    }

    fn epoch_millis(&self, expr: &str) -> String {
        format!("epoch_ms({expr})")
    }

    fn add_seconds(&self, expr: &str, seconds: &str) -> String {
        format!("({expr} + to_seconds({seconds}))")
    }

    fn json_text(&self, column: &str, key: &str) -> String {
        format!("json_extract_string({column}, {})", self.string(&format!("$.\"{}\"", key.replace('"', "\\\""))))
    }

    fn to_double(&self, expr: &str) -> String {
        format!("TRY_CAST({expr} AS DOUBLE)")
    }

    fn to_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS VARCHAR)")
    }

    fn contains(&self, haystack: &str, needle: &str) -> String {
        format!("contains({haystack}, {needle})")
    }

    fn period_start(&self, period: Period, local_ts: &str) -> String {
        format!("CAST(date_trunc('{}', {local_ts}) AS DATE)", period.as_str())
    }

    fn period_diff(&self, period: Period, a: &str, b: &str) -> String {
        match period {
            Period::Day => format!("date_diff('day', {a}, {b})"),
            Period::Week => format!("(date_diff('day', {a}, {b}) // 7)"),
            Period::Month => format!("date_diff('month', {a}, {b})"),
        }
    }

    fn day_diff(&self, a: &str, b: &str) -> String {
        format!("date_diff('day', {a}, {b})")
    }

    fn date_text(&self, expr: &str) -> String {
        format!("strftime({expr}, '%Y-%m-%d')")
    }

    fn string_agg(&self, expr: &str, separator: &str, order_by: &str) -> String {
        format!("string_agg({expr}, {} ORDER BY {order_by})", self.string(separator))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_compile_to_readable_duckdb_sql() {
        let d = DuckDb;
        let m = EventMatch::parse("Product Viewed[category=零食,price_fen>=1000,utm=spring's,platform in app|web]")
            .unwrap();
        assert_eq!(
            d.event_match(&m),
            "event = 'Product Viewed' AND (CAST(category AS VARCHAR) = '零食') AND (TRY_CAST(price_fen AS DOUBLE) >= 1000) \
             AND (CAST(json_extract_string(properties, '$.\"utm\"') AS VARCHAR) = 'spring''s') \
             AND (CAST(platform AS VARCHAR) IN ('app', 'web'))"
        );
        assert_eq!(d.local_time("ts", &ZoneOffsets::fixed(28_800)), "(ts + to_seconds(28800))");
    }
}
