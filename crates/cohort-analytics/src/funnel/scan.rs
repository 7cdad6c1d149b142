//! Feeding the compiled funnel query to the [`FunnelEngine`]: the rows come
//! back as Arrow batches in the store's order (no `ORDER BY`: sorting every
//! matching event by a string person id was most of the funnel's time), and
//! are grouped by person here with a counting sort on an interned person
//! index, then each person's few events are ordered by time.

use std::collections::HashMap;

use duckdb::arrow::array::{Array, AsArray, Int64Array, StringArray};
use duckdb::arrow::datatypes::{DataType, Int64Type};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::Connection;

use super::engine::{FunnelEngine, StreamEvent};
use crate::error::{AnalyticsError, Result};

/// One matching event, with its person as an index into the interned ids.
#[derive(Clone, Copy)]
struct Row {
    t: i64,
    person: u32,
    mask: u32,
    excl: u32,
    bd: u32,
}

/// Person ids seen so far, each given a dense index.
#[derive(Default)]
struct Persons {
    index: HashMap<Box<str>, u32>,
    ids: Vec<Box<str>>,
}

impl Persons {
    fn intern(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.index.get(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(id.into());
        self.index.insert(id.into(), i);
        i
    }
}

/// Runs `sql` (columns `person_id, t, mask, excl, bd` as compiled by
/// [`super::compile::compile`]) and gives every person's events to `engine`.
pub(crate) fn run(conn: &Connection, sql: &str, engine: &mut FunnelEngine) -> Result<()> {
    let mut stmt = conn.prepare(sql)?;
    let mut persons = Persons::default();
    let mut rows: Vec<Row> = Vec::new();
    for batch in stmt.stream_arrow([])? {
        read_batch(&batch?, &mut persons, engine, &mut rows)?;
    }
    // Counting sort by person (stable: each person's rows keep the store's
    // order), then time order within a person.
    let n = persons.ids.len();
    let mut start = vec![0_usize; n + 1];
    for r in &rows {
        start[r.person as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut grouped: Vec<Row> = vec![Row { t: 0, person: 0, mask: 0, excl: 0, bd: 0 }; rows.len()];
    for r in rows {
        let slot = &mut next[r.person as usize];
        grouped[*slot] = r;
        *slot += 1;
    }
    // Same-instant events: step order first (the engine's rule), then the
    // breakdown value's text, so the result does not depend on storage order.
    let rank = engine.value_ranks();
    let mut events: Vec<StreamEvent> = Vec::new();
    for p in 0..n {
        let slice = &mut grouped[start[p]..start[p + 1]];
        slice.sort_unstable_by_key(|r| (r.t, r.mask.trailing_zeros(), rank[r.bd as usize], r.mask, r.excl));
        events.clear();
        events.extend(slice.iter().map(|r| StreamEvent {
            t: r.t,
            mask: u64::from(r.mask),
            excl: u64::from(r.excl),
            bd: r.bd,
        }));
        engine.person(&persons.ids[p], &mut events);
    }
    Ok(())
}

fn read_batch(batch: &RecordBatch, persons: &mut Persons, engine: &mut FunnelEngine, out: &mut Vec<Row>) -> Result<()> {
    let bad = |what: &str| AnalyticsError::Query(format!("funnel stream: unexpected {what}"));
    let person = strings(batch.column(0).as_ref()).ok_or_else(|| bad("person_id column type"))?;
    let ints = |i: usize| -> Result<Int64Array> {
        let column = batch.column(i);
        let column = duckdb::arrow::compute::cast(column, &DataType::Int64).map_err(|_| bad("integer column type"))?;
        Ok(column.as_primitive::<Int64Type>().clone())
    };
    let (t, mask, excl) = (ints(1)?, ints(2)?, ints(3)?);
    let bd = strings(batch.column(4).as_ref());
    out.reserve(batch.num_rows());
    // Rows of one person usually come together: skip the hash lookups then.
    let mut last: Option<(&str, u32)> = None;
    let mut last_bd: Option<(Option<&str>, u32)> = None;
    for i in 0..batch.num_rows() {
        let id = person.value(i);
        let p = match last {
            Some((prev, p)) if prev == id => p,
            _ => {
                let p = persons.intern(id);
                last = Some((id, p));
                p
            }
        };
        let value = bd.as_ref().and_then(|b| (!b.is_null(i)).then(|| b.value(i)));
        let b = match last_bd {
            Some((prev, b)) if prev == value => b,
            _ => {
                let b = engine.value(value);
                last_bd = Some((value, b));
                b
            }
        };
        out.push(Row { t: t.value(i), person: p, mask: mask.value(i) as u32, excl: excl.value(i) as u32, bd: b });
    }
    Ok(())
}

/// A text column as a `StringArray` (DuckDB answers `Utf8`; other string
/// encodings are cast).
fn strings(column: &dyn Array) -> Option<StringArray> {
    match column.data_type() {
        DataType::Utf8 => Some(column.as_string::<i32>().clone()),
        DataType::Null => None,
        _ => duckdb::arrow::compute::cast(column, &DataType::Utf8).ok().map(|a| a.as_string::<i32>().clone()),
    }
}
