//! Bulk importers: files into the event store, one atomic write per file.
//!
//! [`import_file`] reads one file and stages its records in a single
//! [`cohort_store::WriteTxn`], in batches of [`ImportOptions::batch_rows`],
//! committing only at the end: an I/O error, a store error or (with
//! [`ImportOptions::strict`]) the first bad row returns an error and leaves
//! the store unchanged. Files are recognised by the SHA-256 of their bytes,
//! so importing the same file twice answers [`ImportOutcome::AlreadyImported`];
//! with [`ImportOptions::force`] it is read again and, as every id is
//! deterministic (`{checksum[..16]}:{line}` when the file has no id column),
//! nothing is duplicated.
//!
//! Sources ([`Source`]):
//! - generic CSV / TSV / NDJSON / Parquet files of one [`RecordKind`], read
//!   through a [`ColumnMapping`] (native column names by default, Segment
//!   names for NDJSON events and users);
//! - the UCI Online Retail file and the Taobao UserBehavior file, with no
//!   mapping (see their modules for how they map onto the model).
//!
//! Any of them may be gzip-compressed (`.gz`). Bad rows are never dropped
//! silently: each is recorded in the store as a
//! [`cohort_store::RejectedRow`] naming the line, the column and why, and
//! the first few come back in the [`ImportReport`]. A row is bad when it has
//! the wrong number of columns, lacks a required field (events: name,
//! timestamp and a person, user or anonymous id; orders: order id,
//! `placed_at`, product id; users and products: their id), or holds a value
//! that does not parse; timestamps before 2000-01-01 or more than a day
//! after [`ImportOptions::now`] are refused too. Sub-fen prices are rounded
//! and counted, not refused.
//!
//! Accepted timestamps: RFC 3339; `YYYY-MM-DD HH:MM:SS`,
//! `YYYY-MM-DDTHH:MM:SS` (optionally with fractions) and `YYYY-MM-DD` in
//! the shop's zone; Unix seconds (up to 1e11) or milliseconds.

mod error;
mod format;
mod generic;
mod input;
mod mapping;
mod online_retail;
mod parquet_file;
mod parse;
mod records;
mod rows;
mod sink;
mod taobao;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use cohort_model::ShopTime;
use cohort_store::{EventStore, ImportRecord, RejectedRow, WriteSource};

pub use error::ImportError;
pub use format::{is_gzip, RecordKind, SourceFormat};
pub use mapping::ColumnMapping;
pub use online_retail::ONLINE_RETAIL_TIME_ZONE;
pub use parse::MoneyUnit;

use generic::{Ctx, Generic, JsonRecord};
use parse::InstantParser;
use rows::RowHandler;
use sink::Sink;

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Stop at the first bad row (nothing is committed) instead of
    /// recording it and going on.
    pub strict: bool,
    /// Records per batch staged in the transaction.
    pub batch_rows: usize,
    /// The zone of generic files' timestamps written without an offset
    /// (Online Retail has its own zone, Taobao uses Unix seconds).
    pub shop_time: ShopTime,
    /// How money columns of generic files are written.
    pub money_unit: MoneyUnit,
    /// Import even if a file with the same checksum was imported before
    /// (ids are deterministic, so nothing is duplicated).
    pub force: bool,
    /// The instant future timestamps are judged against (more than one day
    /// after it is refused); `None` is the system clock.
    pub now: Option<DateTime<Utc>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            strict: false,
            batch_rows: 50_000,
            shop_time: ShopTime::default(),
            money_unit: MoneyUnit::Yuan,
            force: false,
            now: None,
        }
    }
}

/// Receives progress of one file, by bytes read from disk (compressed
/// bytes for `.gz` files). The CLI draws a progress bar with it.
pub trait ImportProgress {
    /// Reading starts; the file has `total_bytes` bytes.
    fn start(&self, total_bytes: u64);
    /// `bytes_done` of the file read, `rows_done` rows so far.
    fn advance(&self, bytes_done: u64, rows_done: u64);
    /// Reading ended (successfully or not).
    fn finish(&self);
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ImportProgress for NoProgress {
    fn start(&self, _total_bytes: u64) {}
    fn advance(&self, _bytes_done: u64, _rows_done: u64) {}
    fn finish(&self) {}
}

/// What a file is and how to read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Rows of one kind in any supported format, through a mapping.
    Generic {
        /// The encoding.
        format: SourceFormat,
        /// What the rows are.
        kind: RecordKind,
        /// Explicit column choices (empty: defaults).
        mapping: ColumnMapping,
    },
    /// The UCI Online Retail CSV.
    OnlineRetail {
        /// The zone of `InvoiceDate` (default [`ONLINE_RETAIL_TIME_ZONE`]).
        time_zone: Tz,
    },
    /// The Taobao UserBehavior CSV.
    Taobao,
}

impl Source {
    /// A generic source whose format is detected from the file name.
    pub fn generic(path: &Path, kind: RecordKind, mapping: ColumnMapping) -> Result<Source, ImportError> {
        Ok(Source::Generic { format: SourceFormat::detect(path)?, kind, mapping })
    }

    /// Online Retail with `InvoiceDate` in UK time.
    pub fn online_retail() -> Source {
        Source::OnlineRetail { time_zone: ONLINE_RETAIL_TIME_ZONE }
    }

    /// The importer's name, recorded with the import (`csv`, `ndjson`,
    /// `parquet`, `online-retail`, `taobao`).
    pub fn name(&self) -> &'static str {
        match self {
            Source::Generic { format, .. } => format.name(),
            Source::OnlineRetail { .. } => "online-retail",
            Source::Taobao => "taobao",
        }
    }
}

/// The result of [`import_file`].
#[derive(Debug, Clone, PartialEq)]
pub enum ImportOutcome {
    /// The file was read and committed.
    Imported(ImportReport),
    /// A file with the same content was imported before (and `force` was off).
    AlreadyImported(ImportRecord),
}

/// What one import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    /// The committed import: what was new and what was a duplicate.
    pub record: ImportRecord,
    /// Data rows read (header excluded, rejected rows included).
    pub rows_read: u64,
    /// Rows refused and recorded in the store.
    pub rows_rejected: u64,
    /// The first 20 refused rows.
    pub first_errors: Vec<RejectedRow>,
    /// Prices whose digits below the fen were rounded (a warning, the rows
    /// were imported).
    pub prices_rounded: u64,
    /// Wall-clock time of the import.
    pub elapsed: Duration,
}

/// Imports one file into `store` as one atomic write. See the module docs.
pub fn import_file(
    store: &dyn EventStore,
    source: &Source,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn ImportProgress,
) -> Result<ImportOutcome, ImportError> {
    let started = Instant::now();
    if let Source::Generic { kind, mapping, .. } = source {
        mapping.validate(*kind)?;
    }
    let checksum = input::checksum(path)?;
    if !opts.force {
        if let Some(record) = store.find_import(&checksum)? {
            tracing::info!(file = %path.display(), import = record.id, "file already imported");
            return Ok(ImportOutcome::AlreadyImported(record));
        }
    }
    let total_bytes = std::fs::metadata(path).map_err(input::io_error(path))?.len();
    progress.start(total_bytes);
    let result = import_new(store, source, path, opts, progress, checksum, total_bytes);
    progress.finish();
    let (record, stats, rows_read) = result?;
    let report = ImportReport {
        record,
        rows_read,
        rows_rejected: stats.rows_rejected,
        first_errors: stats.first_errors,
        prices_rounded: stats.prices_rounded,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        file = %path.display(),
        source = source.name(),
        rows_read,
        rows_rejected = report.rows_rejected,
        prices_rounded = report.prices_rounded,
        events_new = report.record.summary.events_new,
        orders_new = report.record.summary.orders_new,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "import committed"
    );
    Ok(ImportOutcome::Imported(report))
}

fn import_new(
    store: &dyn EventStore,
    source: &Source,
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn ImportProgress,
    checksum: String,
    total_bytes: u64,
) -> Result<(ImportRecord, sink::Stats, u64), ImportError> {
    let file = path.display().to_string();
    let checksum16 = checksum[..16].to_string();
    let gzip = is_gzip(path);
    let now = opts.now.unwrap_or_else(Utc::now);
    let txn = store.begin_write(WriteSource {
        kind: source.name().to_string(),
        file: Some(file.clone()),
        checksum: Some(checksum),
    })?;
    let mut sink = Sink::new(txn, file, opts.batch_rows, opts.strict);
    let rows_read = match source {
        Source::Generic { format, kind, mapping } => {
            let ctx = Ctx {
                checksum16,
                money_unit: opts.money_unit,
                instants: InstantParser::new(opts.shop_time.tz(), now),
                rounded: 0,
            };
            let mut handler = Generic::new(*kind, *format, mapping.clone(), ctx);
            let rows = match *format {
                SourceFormat::Csv { delimiter, has_header } => {
                    let (input, mut counted) = input::open(path, gzip, progress)?;
                    rows::read_csv(input, delimiter, has_header, &mut handler, &mut sink, &mut counted)?
                }
                SourceFormat::Ndjson => {
                    let (input, mut counted) = input::open(path, gzip, progress)?;
                    rows::read_ndjson(input, &mut handler, &mut sink, &mut counted)?
                }
                SourceFormat::Parquet => {
                    parquet_file::read_parquet(path, gzip, &mut handler, &mut sink, progress, total_bytes)?
                }
            };
            handler.finish(&mut sink)?;
            rows
        }
        Source::OnlineRetail { time_zone } => {
            let mut handler = online_retail::OnlineRetail::new(InstantParser::new(*time_zone, now));
            read_fixed_csv(path, gzip, true, &mut handler, &mut sink, progress)?
        }
        Source::Taobao => {
            let mut handler = taobao::Taobao::new(&checksum16, InstantParser::new(chrono_tz::UTC, now));
            read_fixed_csv(path, gzip, false, &mut handler, &mut sink, progress)?
        }
    };
    let (record, stats) = sink.commit(rows_read)?;
    Ok((record, stats, rows_read))
}

fn read_fixed_csv(
    path: &Path,
    gzip: bool,
    has_header: bool,
    handler: &mut dyn RowHandler,
    sink: &mut Sink<'_>,
    progress: &dyn ImportProgress,
) -> Result<u64, ImportError> {
    let (input, mut counted) = input::open(path, gzip, progress)?;
    let rows = rows::read_csv(input, b',', has_header, handler, sink, &mut counted)?;
    handler.finish(sink)?;
    Ok(rows)
}

/// Segment message objects into events and users through the same field
/// mapping as `cohort import ndjson` (Segment names first: `messageId`,
/// `userId`, `properties.price`, `traits.city`…), so a message means the
/// same whether it arrives over HTTP or in a file.
pub(crate) struct SegmentMapper {
    events: Generic,
    users: Generic,
    tz: Tz,
}

impl SegmentMapper {
    /// Naive timestamps are read in `shop`'s zone; money is decimal yuan.
    pub(crate) fn new(shop: ShopTime) -> Self {
        let ctx = || Ctx {
            checksum16: "http".into(),
            money_unit: MoneyUnit::Yuan,
            instants: InstantParser::new(shop.tz(), Utc::now()),
            rounded: 0,
        };
        let reader = |kind| Generic::new(kind, SourceFormat::Ndjson, ColumnMapping::default(), ctx());
        SegmentMapper { events: reader(RecordKind::Events), users: reader(RecordKind::Users), tz: shop.tz() }
    }

    /// Sets the instant future timestamps are judged against.
    pub(crate) fn set_now(&mut self, now: DateTime<Utc>) {
        self.events.ctx().instants = InstantParser::new(self.tz, now);
        self.users.ctx().instants = InstantParser::new(self.tz, now);
    }

    /// A `track` / `page` / `screen` object as an event.
    pub(crate) fn event(
        &mut self,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<cohort_model::Event, String> {
        match self.events.json_record(object)? {
            JsonRecord::Event(e) => Ok(*e),
            JsonRecord::User(_) => unreachable!("an events reader builds events"),
        }
    }

    /// An `identify` object as a user.
    pub(crate) fn user(
        &mut self,
        object: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<cohort_model::User, String> {
        match self.users.json_record(object)? {
            JsonRecord::User(u) => Ok(u),
            JsonRecord::Event(_) => unreachable!("a users reader builds users"),
        }
    }
}
