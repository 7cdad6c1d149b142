//! Writing batches as Cohort's native CSV files (`docs/native-format.md`):
//! `events.csv`, `orders.csv` (one row per order line), `users.csv` and
//! `products.csv`, money in yuan with two decimals and instants in RFC 3339
//! UTC (`2025-06-18T12:34:56Z`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use cohort_model::{Batch, Event, Money, Order, Product, User};

use super::GenerateError;

/// Columns of `events.csv`.
pub const EVENT_COLUMNS: [&str; 20] = [
    "id",
    "person_id",
    "user_id",
    "anonymous_id",
    "event",
    "timestamp",
    "platform",
    "channel",
    "product_id",
    "category",
    "price",
    "quantity",
    "order_id",
    "revenue",
    "discount",
    "coupon",
    "query",
    "rating",
    "review_body",
    "properties",
];

/// Columns of `orders.csv` (one row per order line, order fields repeated).
pub const ORDER_COLUMNS: [&str; 18] = [
    "order_id",
    "kind",
    "person_id",
    "user_id",
    "anonymous_id",
    "placed_at",
    "platform",
    "channel",
    "total",
    "discount",
    "shipping",
    "coupon",
    "refund_of",
    "line_no",
    "product_id",
    "quantity",
    "unit_price",
    "category",
];

/// Columns of `users.csv`.
pub const USER_COLUMNS: [&str; 9] =
    ["user_id", "registered_at", "platform", "channel", "birthday", "gender", "city", "phone", "traits"];

/// Columns of `products.csv`.
pub const PRODUCT_COLUMNS: [&str; 8] =
    ["product_id", "name", "category", "price", "brand", "launched_at", "consumable", "in_stock"];

type CsvOut = csv::Writer<BufWriter<File>>;

/// One native file being written under a temporary name.
struct Output {
    writer: CsvOut,
    partial: PathBuf,
    path: PathBuf,
}

impl Output {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, GenerateError> {
        let path = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let file = File::create(&partial).map_err(|e| GenerateError::io(&partial, e))?;
        let mut writer = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 20, file));
        writer.write_record(header).map_err(|e| GenerateError::csv(&partial, e))?;
        Ok(Output { writer, partial, path })
    }

    fn field(&mut self, value: &[u8]) -> Result<(), GenerateError> {
        self.writer.write_field(value).map_err(|e| GenerateError::csv(&self.partial, e))
    }

    fn end_row(&mut self) -> Result<(), GenerateError> {
        self.writer.write_record(std::iter::empty::<&[u8]>()).map_err(|e| GenerateError::csv(&self.partial, e))
    }

    fn finish(self) -> Result<(), GenerateError> {
        let Output { writer, partial, path } = self;
        let buffered = writer.into_inner().map_err(|e| GenerateError::io(&partial, e.into_error()))?;
        let file = buffered.into_inner().map_err(|e| GenerateError::io(&partial, e.into_error()))?;
        file.sync_all().map_err(|e| GenerateError::io(&partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| GenerateError::io(&path, e))
    }
}

/// Writes batches into the four native CSV files of a directory.
///
/// Files are written as `NAME.csv.partial` and renamed by
/// [`NativeCsvWriter::finish`], so an interrupted run never leaves files
/// that look complete.
pub struct NativeCsvWriter {
    events: Output,
    orders: Output,
    users: Output,
    products: Output,
    text: String,
    json: Vec<u8>,
}

impl NativeCsvWriter {
    /// Creates `dir` if needed and starts the four files with their headers.
    pub fn create(dir: &Path) -> Result<Self, GenerateError> {
        std::fs::create_dir_all(dir).map_err(|e| GenerateError::io(dir, e))?;
        Ok(NativeCsvWriter {
            events: Output::create(dir, "events.csv", &EVENT_COLUMNS)?,
            orders: Output::create(dir, "orders.csv", &ORDER_COLUMNS)?,
            users: Output::create(dir, "users.csv", &USER_COLUMNS)?,
            products: Output::create(dir, "products.csv", &PRODUCT_COLUMNS)?,
            text: String::with_capacity(64),
            json: Vec::with_capacity(256),
        })
    }

    /// Appends every record of `batch`.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<(), GenerateError> {
        for product in &batch.products {
            self.product(product)?;
        }
        for user in &batch.users {
            self.user(user)?;
        }
        for event in &batch.events {
            self.event(event)?;
        }
        for order in &batch.orders {
            self.order(order)?;
        }
        Ok(())
    }

    /// Flushes the files and gives them their final names.
    pub fn finish(self) -> Result<(), GenerateError> {
        self.events.finish()?;
        self.orders.finish()?;
        self.users.finish()?;
        self.products.finish()
    }

    fn event(&mut self, e: &Event) -> Result<(), GenerateError> {
        let out = &mut self.events;
        let text = &mut self.text;
        out.field(e.id.as_str().as_bytes())?;
        out.field(opt(e.person_id.as_ref().map(|p| p.as_str())))?;
        out.field(opt(e.user_id.as_ref().map(|p| p.as_str())))?;
        out.field(opt(e.anonymous_id.as_ref().map(|p| p.as_str())))?;
        out.field(e.name.as_str().as_bytes())?;
        out.field(timestamp(text, e.timestamp))?;
        out.field(opt(e.platform.map(|p| p.as_str())))?;
        out.field(opt(e.channel.as_deref()))?;
        out.field(opt(e.product_id.as_ref().map(|p| p.as_str())))?;
        out.field(opt(e.category.as_deref()))?;
        out.field(money(text, e.price))?;
        out.field(number(text, e.quantity))?;
        out.field(opt(e.order_id.as_ref().map(|p| p.as_str())))?;
        out.field(money(text, e.revenue))?;
        out.field(money(text, e.discount))?;
        out.field(opt(e.coupon.as_deref()))?;
        out.field(opt(e.query.as_deref()))?;
        out.field(number(text, e.rating.map(i64::from)))?;
        out.field(opt(e.review_body.as_deref()))?;
        out.field(json(&mut self.json, &e.properties))?;
        out.end_row()
    }

    fn order(&mut self, o: &Order) -> Result<(), GenerateError> {
        let out = &mut self.orders;
        let text = &mut self.text;
        let rows = o.lines.len().max(1);
        for i in 0..rows {
            out.field(o.id.as_str().as_bytes())?;
            out.field(o.kind.as_str().as_bytes())?;
            out.field(opt(o.person_id.as_ref().map(|p| p.as_str())))?;
            out.field(opt(o.user_id.as_ref().map(|p| p.as_str())))?;
            out.field(opt(o.anonymous_id.as_ref().map(|p| p.as_str())))?;
            out.field(timestamp(text, o.placed_at))?;
            out.field(opt(o.platform.map(|p| p.as_str())))?;
            out.field(opt(o.channel.as_deref()))?;
            out.field(money(text, Some(o.total)))?;
            out.field(money(text, Some(o.discount)))?;
            out.field(money(text, Some(o.shipping)))?;
            out.field(opt(o.coupon.as_deref()))?;
            out.field(opt(o.refund_of.as_ref().map(|p| p.as_str())))?;
            let line = o.lines.get(i);
            out.field(number(text, line.map(|l| i64::from(l.line_no))))?;
            out.field(opt(line.map(|l| l.product_id.as_str())))?;
            out.field(number(text, line.map(|l| l.quantity)))?;
            out.field(money(text, line.map(|l| l.unit_price)))?;
            out.field(opt(line.and_then(|l| l.category.as_deref())))?;
            out.end_row()?;
        }
        Ok(())
    }

    fn user(&mut self, u: &User) -> Result<(), GenerateError> {
        let out = &mut self.users;
        let text = &mut self.text;
        out.field(u.id.as_str().as_bytes())?;
        match u.registered_at {
            Some(at) => out.field(timestamp(text, at))?,
            None => out.field(b"")?,
        }
        out.field(opt(u.platform.map(|p| p.as_str())))?;
        out.field(opt(u.channel.as_deref()))?;
        text.clear();
        if let Some(birthday) = u.birthday {
            write!(text, "{}", birthday.format("%Y-%m-%d")).expect("writing to a String");
        }
        out.field(text.as_bytes())?;
        out.field(opt(u.gender.as_deref()))?;
        out.field(opt(u.city.as_deref()))?;
        out.field(opt(u.phone.as_deref()))?;
        out.field(json(&mut self.json, &u.traits))?;
        out.end_row()
    }

    fn product(&mut self, p: &Product) -> Result<(), GenerateError> {
        let out = &mut self.products;
        let text = &mut self.text;
        out.field(p.id.as_str().as_bytes())?;
        out.field(opt(p.name.as_deref()))?;
        out.field(opt(p.category.as_deref()))?;
        out.field(money(text, p.price))?;
        out.field(opt(p.brand.as_deref()))?;
        match p.launched_at {
            Some(at) => out.field(timestamp(text, at))?,
            None => out.field(b"")?,
        }
        out.field(if p.consumable { b"true" } else { b"false" })?;
        out.field(if p.in_stock { b"true" } else { b"false" })?;
        out.end_row()
    }
}

fn opt(value: Option<&str>) -> &[u8] {
    value.map_or(b"", str::as_bytes)
}

fn number(text: &mut String, value: Option<i64>) -> &[u8] {
    text.clear();
    if let Some(n) = value {
        write!(text, "{n}").expect("writing to a String");
    }
    text.as_bytes()
}

/// Yuan with exactly two decimals (`19.90`, `-0.05`), empty when absent.
pub(crate) fn money(text: &mut String, value: Option<Money>) -> &[u8] {
    text.clear();
    if let Some(m) = value {
        let fen = m.fen();
        let sign = if fen < 0 { "-" } else { "" };
        let abs = fen.unsigned_abs();
        write!(text, "{sign}{}.{:02}", abs / 100, abs % 100).expect("writing to a String");
    }
    text.as_bytes()
}

/// RFC 3339 in UTC with a `Z` and whole seconds, without going through
/// chrono's formatter (hot path: one per event).
pub(crate) fn timestamp(text: &mut String, at: DateTime<Utc>) -> &[u8] {
    text.clear();
    let secs = at.timestamp();
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    write!(text, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", sod / 3600, sod % 3600 / 60, sod % 60)
        .expect("writing to a String");
    text.as_bytes()
}

fn json<'a>(buffer: &'a mut Vec<u8>, map: &serde_json::Map<String, serde_json::Value>) -> &'a [u8] {
    buffer.clear();
    if !map.is_empty() {
        serde_json::to_writer(&mut *buffer, map).expect("a JSON map always serialises");
    }
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    #[test]
    fn generate_native_timestamps_and_money_match_the_format() {
        let mut text = String::new();
        for secs in [0, 951_782_400, 1_750_249_496, 4_107_542_399, -86_400, 1_709_251_199] {
            let at = DateTime::from_timestamp(secs, 0).unwrap();
            let expected = at.to_rfc3339_opts(SecondsFormat::Secs, true);
            assert_eq!(timestamp(&mut text, at), expected.as_bytes());
        }
        assert_eq!(money(&mut text, Some(Money::from_fen(1990))), b"19.90");
        assert_eq!(money(&mut text, Some(Money::from_fen(-5))), b"-0.05");
        assert_eq!(money(&mut text, None), b"");
    }
}
