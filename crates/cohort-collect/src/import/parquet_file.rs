//! Reading Parquet files row by row with parquet's record API. Each row
//! becomes a JSON object (nested groups as objects, lists as arrays) so the
//! same dotted-path mapping as NDJSON applies.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat};
use flate2::read::MultiGzDecoder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};

use super::input::{io_error, Progress};
use super::rows::{json_row, RowHandler};
use super::sink::Sink;
use super::{ImportError, ImportProgress};

/// Reads every row of a Parquet file. A gzip-compressed file (unusual:
/// Parquet compresses its pages itself) is first inflated to a temporary
/// file, as Parquet needs random access. Returns the number of rows read.
pub(crate) fn read_parquet(
    path: &Path,
    gzip: bool,
    handler: &mut dyn RowHandler,
    sink: &mut Sink<'_>,
    progress: &dyn ImportProgress,
    total_bytes: u64,
) -> Result<u64, ImportError> {
    let decode = |e: parquet::errors::ParquetError| ImportError::Decode {
        file: path.display().to_string(),
        format: "parquet",
        reason: e.to_string(),
    };
    let inflated = if gzip { Some(Inflated::new(path)?) } else { None };
    let file = File::open(inflated.as_ref().map_or(path, |t| t.path.as_path())).map_err(io_error(path))?;
    let reader = SerializedFileReader::new(file).map_err(decode)?;
    let total_rows = u64::try_from(reader.metadata().file_metadata().num_rows()).unwrap_or(0);
    let mut progress = Progress::by_rows(progress, total_bytes, total_rows);
    for (index, row) in reader.get_row_iter(None).map_err(decode)?.enumerate() {
        let row = row.map_err(decode)?;
        progress.row();
        let object = Value::Object(row_object(row));
        json_row(index as u64 + 1, Ok(&object), handler, sink)?;
    }
    progress.report();
    Ok(progress.rows())
}

/// A temporary inflated copy of a gzip file, removed on drop.
struct Inflated {
    path: PathBuf,
}

impl Inflated {
    fn new(source: &Path) -> Result<Self, ImportError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("cohort-import-{}-{n}.parquet", std::process::id()));
        let inflated = Inflated { path };
        let mut input = MultiGzDecoder::new(io::BufReader::new(File::open(source).map_err(io_error(source))?));
        let mut output = File::create(&inflated.path).map_err(io_error(&inflated.path))?;
        io::copy(&mut input, &mut output).map_err(io_error(source))?;
        Ok(inflated)
    }
}

impl Drop for Inflated {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove temporary file");
        }
    }
}

fn row_object(row: Row) -> Map<String, Value> {
    row.into_columns().into_iter().map(|(name, field)| (name, field_value(field))).collect()
}

/// A Parquet value as JSON. Timestamps become RFC 3339 text in UTC,
/// decimals exact decimal text (money columns parse them exactly).
fn field_value(field: Field) -> Value {
    let float = |f: f64| Number::from_f64(f).map_or(Value::Null, Value::Number);
    match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(b),
        Field::Byte(n) => n.into(),
        Field::Short(n) => n.into(),
        Field::Int(n) => n.into(),
        Field::Long(n) => n.into(),
        Field::UByte(n) => n.into(),
        Field::UShort(n) => n.into(),
        Field::UInt(n) => n.into(),
        Field::ULong(n) => n.into(),
        Field::Float16(f) => float(f64::from(f)),
        Field::Float(f) => float(f64::from(f)),
        Field::Double(f) => float(f),
        Field::Str(s) => Value::String(s),
        Field::Bytes(b) => Value::String(String::from_utf8_lossy(b.data()).into_owned()),
        Field::TimestampMillis(ms) => instant(DateTime::from_timestamp_millis(ms), SecondsFormat::Millis),
        Field::TimestampMicros(us) => instant(DateTime::from_timestamp_micros(us), SecondsFormat::Micros),
        Field::Group(row) => Value::Object(row_object(row)),
        Field::ListInternal(list) => Value::Array(list.elements().iter().cloned().map(field_value).collect()),
        Field::MapInternal(map) => Value::Object(
            map.entries()
                .iter()
                .map(|(k, v)| {
                    let key = match field_value(k.clone()) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, field_value(v.clone()))
                })
                .collect(),
        ),
        // Decimal, Date, TimeMillis, TimeMicros: parquet's own text form
        // (exact decimal digits, `YYYY-MM-DD`, `HH:MM:SS`).
        other => Value::String(other.to_string()),
    }
}

fn instant(at: Option<DateTime<chrono::Utc>>, precision: SecondsFormat) -> Value {
    at.map_or(Value::Null, |at| Value::String(at.to_rfc3339_opts(precision, true)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_values_become_json() {
        assert_eq!(field_value(Field::Long(7)), Value::from(7));
        assert_eq!(field_value(Field::Str("红色".into())), Value::from("红色"));
        assert_eq!(field_value(Field::TimestampMillis(1_511_544_070_000)), Value::from("2017-11-24T17:21:10.000Z"));
        assert_eq!(field_value(Field::Date(1)), Value::from("1970-01-02"));
        assert_eq!(field_value(Field::Double(f64::NAN)), Value::Null);
        let nested = Row::new(vec![("price".into(), Field::Double(19.9))]);
        let row = Row::new(vec![("properties".into(), Field::Group(nested))]);
        assert_eq!(Value::Object(row_object(row)), serde_json::json!({"properties": {"price": 19.9}}));
    }
}
