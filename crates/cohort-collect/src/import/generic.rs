//! The generic importer: any CSV / NDJSON / Parquet file of one record kind,
//! read through a [`ColumnMapping`].

use std::collections::HashMap;

use cohort_model::{Money, Order, OrderId};
use serde_json::{Map, Value};

use super::mapping::{specs, SEGMENT_ENVELOPE};
use super::parse::{InstantParser, MoneyUnit};
use super::records::{self, EventCols, OrderCols, ProductCols, UserCols};
use super::rows::{self, Loc, Row, RowHandler};
use super::sink::Sink;
use super::{ColumnMapping, ImportError, RecordKind, SourceFormat};

/// Per-file context the record builders need.
pub(crate) struct Ctx {
    /// First 16 hex digits of the file checksum, for derived ids.
    pub checksum16: String,
    /// How money columns are written.
    pub money_unit: MoneyUnit,
    /// Timestamp parsing and plausibility checks.
    pub instants: InstantParser,
    /// Sub-fen prices rounded in the current row.
    pub rounded: u64,
}

/// Fields resolved to where they are read from, by field name.
pub(crate) struct Locs(Vec<(&'static str, Option<Loc>)>);

impl Locs {
    /// Takes a field's location (each is taken once, into a typed struct).
    pub(crate) fn take(&mut self, name: &str) -> Option<Loc> {
        self.0.iter_mut().find(|(n, _)| *n == name).and_then(|(_, loc)| loc.take())
    }
}

/// Columns that no field reads: copied into `properties` / `traits`.
enum Extras {
    /// CSV columns by index and name.
    Columns(Vec<(usize, String)>),
    /// JSON: top-level keys read by some field (or Segment envelope), and
    /// keys of the bag object read by some field.
    Keys { top: Vec<String>, bag_path: Vec<String>, in_bag: Vec<String> },
}

enum Cols {
    Events(Box<EventCols>),
    Orders(Box<OrderCols>),
    Users(Box<UserCols>),
    Products(Box<ProductCols>),
}

/// Reads one generic file.
pub(crate) struct Generic {
    kind: RecordKind,
    format: SourceFormat,
    mapping: ColumnMapping,
    cols: Option<Cols>,
    extras: Extras,
    ctx: Ctx,
    orders: OrderBook,
}

impl Generic {
    pub(crate) fn new(kind: RecordKind, format: SourceFormat, mapping: ColumnMapping, ctx: Ctx) -> Self {
        let mut generic = Generic {
            kind,
            format,
            mapping,
            cols: None,
            extras: Extras::Columns(Vec::new()),
            ctx,
            orders: OrderBook::default(),
        };
        if format.is_json_like() {
            generic.resolve_paths();
        }
        generic
    }

    /// One JSON object as an event (an events reader) or a user (a users
    /// reader): the path the HTTP collector shares with NDJSON imports.
    pub(crate) fn json_record(&mut self, object: &Map<String, Value>) -> Result<JsonRecord, String> {
        let cols = self.cols.take().expect("paths resolved for JSON readers");
        self.ctx.rounded = 0;
        let row = Row::Json(object);
        let result = match &cols {
            Cols::Events(c) => records::event(c, 0, &row, self).map(|e| JsonRecord::Event(Box::new(e))),
            Cols::Users(c) => records::user(c, &row, self).map(JsonRecord::User),
            Cols::Orders(_) | Cols::Products(_) => Err("only events and users are read from single objects".into()),
        };
        self.cols = Some(cols);
        result
    }

    /// Per-file context.
    pub(crate) fn ctx(&mut self) -> &mut Ctx {
        &mut self.ctx
    }

    /// The field holding the free-form bag of the kind, if any.
    fn bag_field(&self) -> Option<&'static str> {
        match self.kind {
            RecordKind::Events | RecordKind::Orders => Some("properties"),
            RecordKind::Users => Some("traits"),
            RecordKind::Products => None,
        }
    }

    fn resolve_paths(&mut self) {
        let bag = self.bag_field();
        let mut top = Vec::new();
        let mut bag_path = Vec::new();
        let mut locs = Vec::new();
        let mut all_paths = Vec::new();
        for spec in specs(self.kind) {
            let (candidates, _) = self.mapping.candidates(spec, self.format);
            if Some(spec.name) == bag {
                bag_path = candidates.first().map(|p| split(p)).unwrap_or_default();
            }
            all_paths.extend(candidates.iter().map(|p| split(p)));
            locs.push((spec.name, (!candidates.is_empty()).then(|| Loc::paths(candidates))));
        }
        let mut in_bag = Vec::new();
        for path in &all_paths {
            if !bag_path.is_empty() && path.len() == bag_path.len() + 1 && path.starts_with(&bag_path) {
                in_bag.push(path[bag_path.len()].clone());
            }
            if let Some(first) = path.first() {
                top.push(first.clone());
            }
        }
        if matches!(self.format, SourceFormat::Ndjson) {
            top.extend(SEGMENT_ENVELOPE.iter().map(|k| k.to_string()));
        }
        self.extras = Extras::Keys { top, bag_path, in_bag };
        self.cols = Some(self.typed(Locs(locs)));
    }

    fn typed(&self, mut locs: Locs) -> Cols {
        match self.kind {
            RecordKind::Events => Cols::Events(Box::new(EventCols::take(&mut locs))),
            RecordKind::Orders => Cols::Orders(Box::new(OrderCols::take(&mut locs))),
            RecordKind::Users => Cols::Users(Box::new(UserCols::take(&mut locs))),
            RecordKind::Products => Cols::Products(Box::new(ProductCols::take(&mut locs))),
        }
    }

    /// Fields that must have a column: one of each group.
    fn required(&self) -> &'static [&'static [&'static str]] {
        match self.kind {
            RecordKind::Events => &[&["event"], &["timestamp"], &["person_id", "user_id", "anonymous_id"]],
            RecordKind::Orders => &[&["order_id"], &["placed_at"], &["product_id"]],
            RecordKind::Users => &[&["user_id"]],
            RecordKind::Products => &[&["product_id"]],
        }
    }

    /// The free-form bag of a row: the bag column's object, minus the keys
    /// other fields read, plus every column no field reads.
    pub(crate) fn extras(&self, row: &Row<'_>, bag: &Option<Loc>) -> Result<Map<String, Value>, String> {
        let mut map = rows::object(row, bag)?.unwrap_or_default();
        match (&self.extras, row) {
            (Extras::Columns(columns), Row::Csv(record)) => {
                for (index, name) in columns {
                    if let Some(value) = record.get(*index).filter(|v| !v.trim_ascii().is_empty()) {
                        map.insert(name.clone(), Value::String(value.to_string()));
                    }
                }
            }
            (Extras::Keys { top, bag_path, in_bag }, Row::Json(object)) => {
                if !bag_path.is_empty() {
                    map.retain(|k, _| !in_bag.contains(k));
                }
                for (key, value) in object.iter() {
                    if !value.is_null() && !top.contains(key) {
                        map.insert(key.clone(), value.clone());
                    }
                }
            }
            _ => {}
        }
        Ok(map)
    }
}

fn split(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

impl RowHandler for Generic {
    fn columns(&mut self, file: &str, columns: &[String]) -> Result<(), ImportError> {
        let find = |name: &str| {
            columns.iter().position(|c| c == name).or_else(|| columns.iter().position(|c| c.eq_ignore_ascii_case(name)))
        };
        let mut used = vec![false; columns.len()];
        let mut locs = Vec::new();
        for spec in specs(self.kind) {
            let (candidates, explicit) = self.mapping.candidates(spec, self.format);
            let found = candidates.iter().find_map(|c| find(c));
            if let (None, true, Some(column)) = (found, explicit, candidates.first()) {
                return Err(ImportError::MissingColumn {
                    file: file.to_string(),
                    field: spec.name.to_string(),
                    column: column.to_string(),
                    available: columns.to_vec(),
                });
            }
            if let Some(index) = found {
                used[index] = true;
            }
            locs.push((spec.name, found.map(|i| Loc::col(i, &columns[i]))));
        }
        for group in self.required() {
            let present = group.iter().any(|field| locs.iter().any(|(n, loc)| n == field && loc.is_some()));
            if !present {
                let field = group.join(" or ");
                let column = self.mapping.column(group[0]).unwrap_or(group[0]).to_string();
                return Err(ImportError::MissingColumn {
                    file: file.to_string(),
                    field,
                    column,
                    available: columns.to_vec(),
                });
            }
        }
        let extra: Vec<(usize, String)> =
            columns.iter().enumerate().filter(|(i, _)| !used[*i]).map(|(i, c)| (i, c.clone())).collect();
        if self.kind == RecordKind::Products && !extra.is_empty() {
            let names: Vec<&str> = extra.iter().map(|(_, c)| c.as_str()).collect();
            tracing::warn!(file, columns = ?names, "products have no free-form attributes: columns ignored");
        }
        self.extras = Extras::Columns(extra);
        self.cols = Some(self.typed(Locs(locs)));
        Ok(())
    }

    fn row(&mut self, line: u64, row: Row<'_>, sink: &mut Sink<'_>) -> Result<(), String> {
        let cols = self.cols.take().expect("columns resolved before rows");
        self.ctx.rounded = 0;
        let result = match &cols {
            Cols::Events(c) => records::event(c, line, &row, self).map(|e| sink.batch.events.push(e)),
            Cols::Orders(c) => records::order_line(c, &row, self).map(|(head, line)| self.orders.add(head, line)),
            Cols::Users(c) => records::user(c, &row, self).map(|u| sink.batch.users.push(u)),
            Cols::Products(c) => records::product(c, &row, self).map(|p| sink.batch.products.push(p)),
        };
        self.cols = Some(cols);
        if result.is_ok() {
            sink.prices_rounded += self.ctx.rounded;
        }
        result
    }

    fn finish(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError> {
        sink.flush()?;
        sink.write_orders(std::mem::take(&mut self.orders).into_orders())
    }
}

/// What [`Generic::json_record`] built.
pub(crate) enum JsonRecord {
    /// From an events reader.
    Event(Box<cohort_model::Event>),
    /// From a users reader.
    User(cohort_model::User),
}

/// An order's header as read from one of its lines.
pub(crate) struct OrderHead {
    pub order: Order,
    /// The `total` column, when given.
    pub total: Option<Money>,
    /// The `line_no` column, when given.
    pub line_no: Option<u32>,
}

/// Orders of the file, assembled from their lines. The whole file's orders
/// are held in memory until the end (lines of one order need not be
/// contiguous): a few hundred bytes per line, so files of a few million
/// lines; larger exports should be split by date.
#[derive(Default)]
pub(crate) struct OrderBook {
    index: HashMap<OrderId, usize>,
    orders: Vec<(Order, Option<Money>)>,
}

impl OrderBook {
    /// Adds a line: to its order if known (the order fields of later lines
    /// are ignored), else as a new order. Without a `line_no` column lines
    /// are numbered in row order within their order.
    pub(crate) fn add(&mut self, head: OrderHead, mut line: cohort_model::OrderLine) {
        let slot = match self.index.get(&head.order.id) {
            Some(&slot) => slot,
            None => {
                self.index.insert(head.order.id.clone(), self.orders.len());
                self.orders.push((head.order, head.total));
                self.orders.len() - 1
            }
        };
        let (order, _) = &mut self.orders[slot];
        line.line_no = head.line_no.unwrap_or(order.lines.len() as u32 + 1);
        order.lines.push(line);
    }

    /// The orders in first-seen order; `total` is the column's value when
    /// given, else the lines' amounts − discount + shipping.
    pub(crate) fn into_orders(self) -> impl Iterator<Item = Order> {
        self.orders.into_iter().map(|(mut order, total)| {
            order.total = total.unwrap_or_else(|| {
                order.lines.iter().map(cohort_model::OrderLine::amount).sum::<Money>() - order.discount + order.shipping
            });
            order
        })
    }
}
