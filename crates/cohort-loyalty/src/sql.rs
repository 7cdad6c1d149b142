//! The one query API every loyalty operation goes through, over two kinds of
//! connection with the same SQL text (portable, `$n` placeholders):
//!
//! - [`Conn::Any`]: sqlx's `AnyConnection` — PostgreSQL, and reads from the
//!   pool on SQLite.
//! - [`Conn::Sqlite`]: a rusqlite connection owned by the SQLite writer
//!   thread. sqlx runs every SQLite connection on a worker thread and each
//!   statement is a round trip to it (two thread switches); the writer runs a
//!   dozen statements per operation, so it talks to SQLite in-thread instead,
//!   with every statement prepared once and cached.
//!
//! Calls read like sqlx's (`query(sql).bind(x).fetch_one(conn)`,
//! `row.try_get(0)`), so the ledger code is written once for both.

use std::borrow::Cow;
use std::fmt;

use sqlx::any::AnyRow;
use sqlx::error::ErrorKind;
use sqlx::{Any, AnyConnection};

type SqlResult<T> = Result<T, sqlx::Error>;

/// A connection (or transaction, or savepoint) a query runs on.
pub(crate) enum Conn<'c> {
    /// sqlx, any backend.
    Any(&'c mut AnyConnection),
    /// SQLite in-thread (the SQLite writer).
    Sqlite(&'c mut rusqlite::Connection),
}

/// A bound argument. NULLs keep their type: PostgreSQL checks parameter
/// types against the columns.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

/// Values that can be bound to a query.
pub(crate) trait Bind {
    fn into_arg(self) -> Arg;
}

impl Bind for i64 {
    fn into_arg(self) -> Arg {
        Arg::Int(self)
    }
}

impl Bind for &str {
    fn into_arg(self) -> Arg {
        Arg::Text(self.to_owned())
    }
}

impl Bind for String {
    fn into_arg(self) -> Arg {
        Arg::Text(self)
    }
}

impl Bind for &String {
    fn into_arg(self) -> Arg {
        Arg::Text(self.clone())
    }
}

impl Bind for Option<i64> {
    fn into_arg(self) -> Arg {
        self.map_or(Arg::NullInt, Arg::Int)
    }
}

impl Bind for Option<&str> {
    fn into_arg(self) -> Arg {
        self.map_or(Arg::NullText, |s| Arg::Text(s.to_owned()))
    }
}

impl Bind for Option<String> {
    fn into_arg(self) -> Arg {
        self.map_or(Arg::NullText, Arg::Text)
    }
}

/// A statement with its arguments.
#[must_use = "a query does nothing until executed or fetched"]
pub(crate) struct Query<'q> {
    sql: &'q str,
    args: Vec<Arg>,
}

/// Starts a query; bind `$1`, `$2`, … in order.
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new() }
}

/// What a statement changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows_affected: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl<'q> Query<'q> {
    /// Binds the next `$n`.
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.into_arg());
        self
    }

    fn into_sqlx(self) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        let mut q = sqlx::query(self.sql);
        for arg in self.args {
            q = match arg {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::NullInt => q.bind(None::<i64>),
                Arg::NullText => q.bind(None::<String>),
            };
        }
        q
    }

    /// Runs the statement (rows it returns are discarded).
    pub async fn execute(self, conn: &mut Conn<'_>) -> SqlResult<Done> {
        match conn {
            Conn::Any(c) => {
                let done = self.into_sqlx().execute(&mut **c).await?;
                Ok(Done { rows_affected: done.rows_affected() })
            }
            Conn::Sqlite(c) => {
                let (_, rows_affected) = lite_run(c, self.sql, &self.args, false)?;
                Ok(Done { rows_affected })
            }
        }
    }

    /// Every row.
    pub async fn fetch_all(self, conn: &mut Conn<'_>) -> SqlResult<Vec<Row>> {
        match conn {
            Conn::Any(c) => Ok(self.into_sqlx().fetch_all(&mut **c).await?.into_iter().map(Row::Any).collect()),
            Conn::Sqlite(c) => Ok(lite_run(c, self.sql, &self.args, true)?.0),
        }
    }

    /// The first row, if any.
    pub async fn fetch_optional(self, conn: &mut Conn<'_>) -> SqlResult<Option<Row>> {
        match conn {
            Conn::Any(c) => Ok(self.into_sqlx().fetch_optional(&mut **c).await?.map(Row::Any)),
            Conn::Sqlite(c) => Ok(lite_run(c, self.sql, &self.args, true)?.0.into_iter().next()),
        }
    }

    /// The first row; `RowNotFound` if none.
    pub async fn fetch_one(self, conn: &mut Conn<'_>) -> SqlResult<Row> {
        self.fetch_optional(conn).await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// One value of a SQLite row.
#[derive(Debug, Clone)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real,
    Text(String),
    Blob,
}

/// A result row.
pub(crate) enum Row {
    Any(AnyRow),
    Sqlite(Vec<Cell>),
}

/// Column positions (zero-based), as in sqlx.
pub(crate) trait ColumnIndex: Copy + fmt::Debug {
    fn position(self) -> usize;
}

impl ColumnIndex for usize {
    fn position(self) -> usize {
        self
    }
}

/// Types a column decodes to, on either connection.
pub(crate) trait Decode: Sized + for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> {
    /// `None` when the cell does not hold this type.
    fn from_cell(cell: &Cell) -> Option<Self>;
}

impl Decode for i64 {
    fn from_cell(cell: &Cell) -> Option<Self> {
        match cell {
            Cell::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl Decode for String {
    fn from_cell(cell: &Cell) -> Option<Self> {
        match cell {
            Cell::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: Decode> Decode for Option<T>
where
    Option<T>: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    fn from_cell(cell: &Cell) -> Option<Self> {
        match cell {
            Cell::Null => Some(None),
            other => T::from_cell(other).map(Some),
        }
    }
}

impl Row {
    /// The value at column `index`.
    pub fn try_get<T: Decode, I: ColumnIndex>(&self, index: I) -> SqlResult<T> {
        match self {
            Row::Any(row) => sqlx::Row::try_get::<T, usize>(row, index.position()),
            Row::Sqlite(cells) => {
                let i = index.position();
                let cell =
                    cells.get(i).ok_or_else(|| sqlx::Error::ColumnIndexOutOfBounds { index: i, len: cells.len() })?;
                T::from_cell(cell).ok_or_else(|| sqlx::Error::ColumnDecode {
                    index: i.to_string(),
                    source: format!("unexpected {cell:?} for {}", std::any::type_name::<T>()).into(),
                })
            }
        }
    }
}

/// Runs one statement on the in-thread connection (prepared once, then
/// cached), binding `$n` by name so the SQL text is the same as on sqlx.
fn lite_run(conn: &rusqlite::Connection, sql: &str, args: &[Arg], want_rows: bool) -> SqlResult<(Vec<Row>, u64)> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql).map_err(lite_error)?;
    for index in 1..=stmt.parameter_count() {
        let n = stmt
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=args.len()).contains(n))
            .ok_or_else(|| sqlx::Error::Protocol(format!("parameter {index} of {sql:?} is not bound")))?;
        let bound = match &args[n - 1] {
            Arg::Int(v) => stmt.raw_bind_parameter(index, v),
            Arg::Text(v) => stmt.raw_bind_parameter(index, v.as_str()),
            Arg::NullInt | Arg::NullText => stmt.raw_bind_parameter(index, rusqlite::types::Null),
        };
        bound.map_err(lite_error)?;
    }
    let columns = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(lite_error)? {
        if !want_rows {
            continue;
        }
        let mut cells = Vec::with_capacity(columns);
        for i in 0..columns {
            cells.push(match row.get_ref(i).map_err(lite_error)? {
                ValueRef::Null => Cell::Null,
                ValueRef::Integer(v) => Cell::Int(v),
                ValueRef::Real(_) => Cell::Real,
                ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => Cell::Blob,
            });
        }
        out.push(Row::Sqlite(cells));
    }
    drop(rows);
    Ok((out, conn.changes()))
}

/// Runs statements without arguments or results (transaction control,
/// settings) on the in-thread connection.
pub(crate) fn lite_exec(conn: &rusqlite::Connection, sql: &str) -> SqlResult<()> {
    conn.prepare_cached(sql).and_then(|mut s| s.raw_execute()).map(drop).map_err(lite_error)
}

/// A rusqlite error as sqlx reports database errors, so retries and error
/// mapping see the same codes on both connections.
pub(crate) fn lite_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => sqlx::Error::Database(Box::new(SqliteFault {
            code: failure.extended_code,
            message: message.unwrap_or_else(|| failure.to_string()),
        })),
        other => sqlx::Error::Protocol(format!("sqlite: {other}")),
    }
}

/// A SQLite error code and message from the in-thread connection.
#[derive(Debug)]
pub(crate) struct SqliteFault {
    code: i32,
    message: String,
}

impl fmt::Display for SqliteFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for SqliteFault {}

impl sqlx::error::DatabaseError for SqliteFault {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.code {
            2067 | 1555 => ErrorKind::UniqueViolation,
            787 => ErrorKind::ForeignKeyViolation,
            1299 => ErrorKind::NotNullViolation,
            275 => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn same_sql_binds_by_number_and_decodes() {
        let mut db = rusqlite::Connection::open_in_memory().unwrap();
        let mut conn = Conn::Sqlite(&mut db);
        query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER)").execute(&mut conn).await.unwrap();
        // $2 used before $1 and twice: bound by name, not by position.
        let done = query("INSERT INTO t (name, n) VALUES ($2, $1), ($2 || 'x', $1 + $1)")
            .bind(21)
            .bind("a")
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let rows = query("SELECT id, name, n, NULL FROM t ORDER BY id").fetch_all(&mut conn).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].try_get::<String, _>(1).unwrap(), "ax");
        assert_eq!(rows[1].try_get::<i64, _>(2).unwrap(), 42);
        assert_eq!(rows[0].try_get::<Option<i64>, _>(3).unwrap(), None);
        assert!(rows[0].try_get::<i64, _>(1).is_err(), "text is not an integer");
        let none = query("SELECT id FROM t WHERE n = $1").bind(7).fetch_optional(&mut conn).await.unwrap();
        assert!(none.is_none());
        let e = query("INSERT INTO t (id) VALUES ($1)").bind(1).execute(&mut conn).await.unwrap_err();
        let sqlx::Error::Database(db) = e else { panic!("{e:?}") };
        assert_eq!(db.code().as_deref(), Some("1555"));
        assert_eq!(db.kind(), ErrorKind::UniqueViolation);
    }
}
