//! Reading rows: the CSV and NDJSON drivers, the row and cell views the
//! importers see, and typed cell readers whose errors name the column.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use chrono::{DateTime, Utc};
use cohort_model::Money;
use csv::{ByteRecord, StringRecord};
use serde_json::{Map, Value};

use super::input::{io_error, Progress};
use super::parse::{self, InstantParser, MoneyUnit};
use super::sink::Sink;
use super::ImportError;

/// One source row.
#[derive(Clone, Copy)]
pub(crate) enum Row<'a> {
    /// A CSV record (columns by index).
    Csv(&'a StringRecord),
    /// A JSON object (NDJSON line, JSON array element or Parquet row).
    Json(&'a Map<String, Value>),
}

/// Where a field is read from.
#[derive(Debug, Clone)]
pub(crate) enum Loc {
    /// A CSV column: its index and `column "name"`.
    Col(usize, String),
    /// JSON paths tried in order: the parts and `field "a.b"`.
    Paths(Vec<(Vec<String>, String)>),
}

impl Loc {
    /// A CSV column.
    pub(crate) fn col(index: usize, name: &str) -> Loc {
        Loc::Col(index, format!("column {name:?}"))
    }

    /// JSON paths, dotted (`properties.price`).
    pub(crate) fn paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Loc {
        Loc::Paths(
            paths.into_iter().map(|p| (p.split('.').map(str::to_string).collect(), format!("field {p:?}"))).collect(),
        )
    }
}

/// A present, non-empty cell.
#[derive(Clone, Copy)]
pub(crate) enum Cell<'a> {
    Text(&'a str),
    Json(&'a Value),
}

impl<'a> Row<'a> {
    /// The non-empty cell at `loc` and its label; `None` when the column is
    /// unmapped, missing, empty or JSON `null`.
    pub(crate) fn get<'l>(&self, loc: &'l Option<Loc>) -> Option<(Cell<'a>, &'l str)> {
        match (self, loc.as_ref()?) {
            (Row::Csv(record), Loc::Col(index, label)) => {
                record.get(*index).filter(|t| !t.trim_ascii().is_empty()).map(|t| (Cell::Text(t), label.as_str()))
            }
            (Row::Json(object), Loc::Paths(paths)) => paths.iter().find_map(|(parts, label)| {
                let value = lookup(object, parts)?;
                let empty = value.is_null() || value.as_str().is_some_and(|s| s.trim_ascii().is_empty());
                (!empty).then_some((Cell::Json(value), label.as_str()))
            }),
            _ => None,
        }
    }

    /// The raw row, for a rejection.
    pub(crate) fn raw(&self, delimiter: u8) -> String {
        match self {
            Row::Csv(record) => join(record.iter(), delimiter),
            Row::Json(object) => serde_json::to_string(object).unwrap_or_default(),
        }
    }
}

fn join<'a>(fields: impl Iterator<Item = &'a str>, delimiter: u8) -> String {
    let mut raw = String::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            raw.push(char::from(delimiter));
        }
        raw.push_str(field);
    }
    raw
}

fn join_lossy(record: &ByteRecord, delimiter: u8) -> String {
    let fields: Vec<String> = record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
    join(fields.iter().map(String::as_str), delimiter)
}

/// The value at a path of object keys.
pub(crate) fn lookup<'a>(object: &'a Map<String, Value>, parts: &[String]) -> Option<&'a Value> {
    let (first, rest) = parts.split_first()?;
    rest.iter().try_fold(object.get(first)?, |value, part| value.as_object()?.get(part))
}

impl<'a> Cell<'a> {
    /// The cell as text; JSON numbers and booleans as written.
    fn text(self) -> Result<Cow<'a, str>, &'static str> {
        match self {
            Cell::Text(t) => Ok(Cow::Borrowed(t.trim_ascii())),
            Cell::Json(Value::String(s)) => Ok(Cow::Borrowed(s.trim_ascii())),
            Cell::Json(Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
            Cell::Json(Value::Bool(b)) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
            Cell::Json(Value::Object(_)) => Err("expected a single value, found an object"),
            Cell::Json(Value::Array(_)) => Err("expected a single value, found an array"),
            Cell::Json(Value::Null) => Err("expected a value, found null"),
        }
    }
}

/// Reads the cell at `loc` with `parse`; errors become `column "X": why`.
pub(crate) fn read<'a, T>(
    row: &Row<'a>,
    loc: &Option<Loc>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let Some((cell, label)) = row.get(loc) else { return Ok(None) };
    let text = cell.text().map_err(|why| format!("{label}: {why}"))?;
    parse(&text).map(Some).map_err(|why| format!("{label}: {why}"))
}

/// The cell's text, owned.
pub(crate) fn text(row: &Row<'_>, loc: &Option<Loc>) -> Result<Option<String>, String> {
    read(row, loc, |t| Ok(t.to_string()))
}

/// A required text cell.
pub(crate) fn required_text(row: &Row<'_>, loc: &Option<Loc>, field: &str) -> Result<String, String> {
    text(row, loc)?.ok_or_else(|| missing(loc, field))
}

/// The reason for a missing required field.
pub(crate) fn missing(loc: &Option<Loc>, field: &str) -> String {
    match loc {
        Some(Loc::Col(_, label)) => format!("{label}: missing {field}"),
        Some(Loc::Paths(paths)) => {
            let labels: Vec<&str> = paths.iter().map(|(_, l)| l.as_str()).collect();
            format!("missing {field} ({})", labels.join(", "))
        }
        None => format!("missing {field}"),
    }
}

/// An id newtype from a cell.
pub(crate) fn id<T>(
    row: &Row<'_>,
    loc: &Option<Loc>,
    make: fn(String) -> Result<T, cohort_model::ModelError>,
) -> Result<Option<T>, String> {
    read(row, loc, |t| make(t.to_string()).map_err(|e| e.to_string()))
}

/// An integer cell.
pub(crate) fn integer(row: &Row<'_>, loc: &Option<Loc>) -> Result<Option<i64>, String> {
    read(row, loc, parse::integer)
}

/// A money cell; rounding of sub-fen digits is counted in `rounded`.
pub(crate) fn money(
    row: &Row<'_>,
    loc: &Option<Loc>,
    unit: MoneyUnit,
    rounded: &mut u64,
) -> Result<Option<Money>, String> {
    let parsed = read(row, loc, |t| parse::money(t, unit))?;
    Ok(parsed.map(|(m, was_rounded)| {
        *rounded += u64::from(was_rounded);
        m
    }))
}

/// An instant cell.
pub(crate) fn instant(
    row: &Row<'_>,
    loc: &Option<Loc>,
    parser: &mut InstantParser,
) -> Result<Option<DateTime<Utc>>, String> {
    read(row, loc, |t| parser.parse(t))
}

/// A JSON object cell: a JSON object, or text holding one.
pub(crate) fn object(row: &Row<'_>, loc: &Option<Loc>) -> Result<Option<Map<String, Value>>, String> {
    let Some((cell, label)) = row.get(loc) else { return Ok(None) };
    match cell {
        Cell::Json(Value::Object(map)) => Ok(Some(map.clone())),
        Cell::Text(_) | Cell::Json(Value::String(_)) => {
            let t = match cell {
                Cell::Json(Value::String(s)) => s.as_str(),
                Cell::Text(t) => t,
                _ => unreachable!(),
            };
            match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(map)) => Ok(Some(map)),
                Ok(_) => Err(format!("{label}: expected a JSON object, found {t:?}")),
                Err(e) => Err(format!("{label}: invalid JSON object {t:?}: {e}")),
            }
        }
        Cell::Json(other) => Err(format!("{label}: expected a JSON object, found {other}")),
    }
}

/// What an importer does with the rows a driver reads.
pub(crate) trait RowHandler {
    /// The CSV column names (the header, or `1`…`n` without one), before
    /// the first row. Not called for JSON-like formats.
    fn columns(&mut self, file: &str, columns: &[String]) -> Result<(), ImportError>;

    /// One row, at a 1-based physical line (record number for Parquet and
    /// JSON arrays). `Err` refuses the row with the reason.
    fn row(&mut self, line: u64, row: Row<'_>, sink: &mut Sink<'_>) -> Result<(), String>;

    /// After the last row: writes what was held back (orders, catalogue).
    fn finish(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError>;
}

fn csv_error(file: &str, e: csv::Error) -> ImportError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io { path: file.to_string(), source },
        other => ImportError::Decode { file: file.to_string(), format: "csv", reason: format!("{other:?}") },
    }
}

/// Reads delimited text. Returns the number of data rows read.
pub(crate) fn read_csv(
    input: Box<dyn Read>,
    delimiter: u8,
    has_header: bool,
    handler: &mut dyn RowHandler,
    sink: &mut Sink<'_>,
    progress: &mut Progress<'_>,
) -> Result<u64, ImportError> {
    let file = sink.file().to_string();
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).flexible(true).from_reader(input);
    let mut expected = None;
    let mut record = StringRecord::new();
    if has_header {
        let mut header = ByteRecord::new();
        if !reader.read_byte_record(&mut header).map_err(|e| csv_error(&file, e))? {
            return Err(ImportError::BadHeader { file, reason: "the file is empty".into() });
        }
        let names: Vec<String> = header
            .iter()
            .map(|name| String::from_utf8_lossy(name).trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        handler.columns(&file, &names)?;
        expected = Some(names.len());
    }
    loop {
        let mut bytes = std::mem::take(&mut record).into_byte_record();
        if !reader.read_byte_record(&mut bytes).map_err(|e| csv_error(&file, e))? {
            break;
        }
        progress.row();
        let line = bytes.position().map_or(progress.rows(), |p| p.line());
        record = match StringRecord::from_byte_record(bytes) {
            Ok(record) => record,
            Err(e) => {
                let column = e.utf8_error().field() + 1;
                let raw = join_lossy(&e.into_byte_record(), delimiter);
                sink.reject(line, format!("column {column}: invalid UTF-8"), &raw)?;
                continue;
            }
        };
        let width = *expected.get_or_insert_with(|| record.len());
        if progress.rows() == 1 && !has_header {
            let names: Vec<String> = (1..=width).map(|i| i.to_string()).collect();
            handler.columns(&file, &names)?;
        }
        let outcome = if record.len() == width {
            handler.row(line, Row::Csv(&record), sink)
        } else {
            Err(format!("expected {width} columns, found {}", record.len()))
        };
        if let Err(reason) = outcome {
            sink.reject(line, reason, &Row::Csv(&record).raw(delimiter))?;
        }
        sink.flush_if_full()?;
    }
    progress.report();
    Ok(progress.rows())
}

/// Reads one JSON object per line, or a JSON array of objects. Returns the
/// number of rows (non-blank lines / array elements) read.
pub(crate) fn read_ndjson(
    input: Box<dyn Read>,
    handler: &mut dyn RowHandler,
    sink: &mut Sink<'_>,
    progress: &mut Progress<'_>,
) -> Result<u64, ImportError> {
    let file = sink.file().to_string();
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let path = std::path::Path::new(&file);
    // Skip leading whitespace to tell an array from NDJSON, counting the
    // lines skipped so line numbers stay physical.
    let mut line = 0u64;
    let is_array = loop {
        let buf = reader.fill_buf().map_err(io_error(path))?;
        let Some(&first) = buf.first() else { break false };
        if first.is_ascii_whitespace() {
            line += u64::from(first == b'\n');
            reader.consume(1);
        } else {
            break first == b'[';
        }
    };
    if is_array {
        let values: Vec<Value> = serde_json::from_reader(reader).map_err(|e| ImportError::Decode {
            file: file.clone(),
            format: "json",
            reason: e.to_string(),
        })?;
        for (i, value) in values.iter().enumerate() {
            progress.row();
            json_row(i as u64 + 1, Ok(value), handler, sink)?;
        }
    } else {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf).map_err(io_error(path))? == 0 {
                break;
            }
            line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            progress.row();
            let parsed = serde_json::from_slice::<Value>(&buf);
            json_row(line, parsed.as_ref().map_err(|e| (e, buf.as_slice())), handler, sink)?;
        }
    }
    progress.report();
    Ok(progress.rows())
}

/// Hands one parsed JSON value to the handler, refusing non-objects.
pub(crate) fn json_row(
    line: u64,
    parsed: Result<&Value, (&serde_json::Error, &[u8])>,
    handler: &mut dyn RowHandler,
    sink: &mut Sink<'_>,
) -> Result<(), ImportError> {
    match parsed {
        Ok(Value::Object(object)) => {
            if let Err(reason) = handler.row(line, Row::Json(object), sink) {
                sink.reject(line, reason, &Row::Json(object).raw(b','))?;
            }
        }
        Ok(other) => sink.reject(line, "expected a JSON object".into(), &other.to_string())?,
        Err((e, raw)) => sink.reject(line, format!("invalid JSON: {e}"), &String::from_utf8_lossy(raw))?,
    }
    sink.flush_if_full()
}
