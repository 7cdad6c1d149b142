//! The UCI "Online Retail" importer (`InvoiceNo,StockCode,Description,
//! Quantity,InvoiceDate,UnitPrice,CustomerID,Country`).
//!
//! Each invoice becomes one [`Order`] whose lines are its rows, numbered by
//! the row's 1-based data line so the file's exact duplicate rows stay
//! distinct lines. `C…` invoices are refunds with positive quantities and a
//! positive total; every other invoice (bad-debt `A…` adjustments and
//! negative-quantity corrections included) is a purchase with its lines as
//! given. Invoices with a customer also get an `Order Completed` /
//! `Order Refunded` event (`online-retail:{InvoiceNo}`) so event-based
//! analytics see them; guest invoices are stored without a person.
//! `InvoiceDate` is UK wall-clock time. Invoices need not be contiguous, so
//! the whole file is grouped in memory (importing the 541,909-row file into
//! the in-memory store peaks at about 210 MB for the whole process).

use std::collections::{BTreeMap, HashMap};

use chrono_tz::Tz;
use cohort_model::{
    Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Platform, Product, ProductId,
    User, UserId,
};
use serde_json::Value;

use super::parse::{self, InstantParser};
use super::rows::{Row, RowHandler};
use super::sink::Sink;
use super::ImportError;

/// The columns, in the file's order.
const COLUMNS: [&str; 8] =
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"];
const INVOICE: usize = 0;
const STOCK_CODE: usize = 1;
const DESCRIPTION: usize = 2;
const QUANTITY: usize = 3;
const INVOICE_DATE: usize = 4;
const UNIT_PRICE: usize = 5;
const CUSTOMER: usize = 6;
const COUNTRY: usize = 7;

/// The Online Retail time zone.
pub const ONLINE_RETAIL_TIME_ZONE: Tz = chrono_tz::Europe::London;

#[derive(Default)]
struct ProductSeen {
    name: Option<String>,
    price: Option<Money>,
}

pub(crate) struct OnlineRetail {
    index: [usize; 8],
    instants: InstantParser,
    invoices: HashMap<String, usize>,
    orders: Vec<Order>,
    products: HashMap<String, ProductSeen>,
    countries: HashMap<String, String>,
    /// The last `CustomerID` text and the user it names.
    last_customer: (String, Option<UserId>),
    /// The last invoice and its index in `orders`.
    last_invoice: Option<(String, usize)>,
}

impl OnlineRetail {
    pub(crate) fn new(instants: InstantParser) -> Self {
        OnlineRetail {
            index: [0; 8],
            instants,
            invoices: HashMap::new(),
            orders: Vec::new(),
            products: HashMap::new(),
            countries: HashMap::new(),
            last_customer: (String::new(), None),
            last_invoice: None,
        }
    }
}

fn column_error(column: usize, why: impl std::fmt::Display) -> String {
    format!("column {:?}: {why}", COLUMNS[column])
}

impl OnlineRetail {
    /// The index of an invoice's order, created on first sight.
    fn invoice_slot(
        &mut self,
        invoice: &str,
        placed_at: chrono::DateTime<chrono::Utc>,
        country: &str,
    ) -> Result<usize, String> {
        if let Some(&slot) = self.invoices.get(invoice) {
            return Ok(slot);
        }
        let order_id = OrderId::new(invoice).map_err(|e| column_error(INVOICE, e))?;
        self.invoices.insert(invoice.to_string(), self.orders.len());
        self.orders.push(new_order(order_id, placed_at, country));
        Ok(self.orders.len() - 1)
    }
}

impl RowHandler for OnlineRetail {
    fn columns(&mut self, file: &str, columns: &[String]) -> Result<(), ImportError> {
        for (slot, name) in COLUMNS.iter().enumerate() {
            self.index[slot] = columns.iter().position(|c| c == name).ok_or_else(|| ImportError::MissingColumn {
                file: file.to_string(),
                field: name.to_string(),
                column: name.to_string(),
                available: columns.to_vec(),
            })?;
        }
        Ok(())
    }

    fn row(&mut self, line: u64, row: Row<'_>, sink: &mut Sink<'_>) -> Result<(), String> {
        let Row::Csv(record) = row else { unreachable!("online retail is CSV") };
        let index = self.index;
        let cell = |column: usize| record.get(index[column]).unwrap_or("").trim_ascii();
        let invoice = cell(INVOICE);
        if invoice.is_empty() || invoice.len() > 64 {
            return Err(column_error(INVOICE, format!("invalid invoice number {invoice:?}")));
        }
        let stock_code = ProductId::new(cell(STOCK_CODE)).map_err(|e| column_error(STOCK_CODE, e))?;
        let quantity = parse::integer(cell(QUANTITY)).map_err(|e| column_error(QUANTITY, e))?;
        let placed_at = self.instants.parse(cell(INVOICE_DATE)).map_err(|e| column_error(INVOICE_DATE, e))?;
        let (unit_price, rounded) = Money::parse_yuan(cell(UNIT_PRICE)).map_err(|e| column_error(UNIT_PRICE, e))?;
        let customer_text = cell(CUSTOMER);
        if customer_text != self.last_customer.0 {
            let customer = match customer_text {
                "" => None,
                text => {
                    let id = parse::integer(text).map_err(|e| column_error(CUSTOMER, e))?;
                    Some(UserId::new(id.to_string()).map_err(|e| column_error(CUSTOMER, e))?)
                }
            };
            self.last_customer = (customer_text.to_string(), customer);
        }
        let line_no = u32::try_from(line.saturating_sub(1)).map_err(|_| format!("line {line} out of range"))?;

        // Rows of an invoice mostly follow each other: look it up only
        // when the invoice changes.
        let slot = match &self.last_invoice {
            Some((last, slot)) if last == invoice => *slot,
            _ => {
                let slot = self.invoice_slot(invoice, placed_at, cell(COUNTRY))?;
                self.last_invoice = Some((invoice.to_string(), slot));
                slot
            }
        };
        sink.prices_rounded += u64::from(rounded);
        let description = cell(DESCRIPTION);
        let seen = match self.products.get_mut(stock_code.as_str()) {
            Some(seen) => seen,
            None => self.products.entry(stock_code.as_str().to_string()).or_default(),
        };
        if seen.name.is_none() && !description.is_empty() {
            seen.name = Some(description.to_string());
        }
        if unit_price > Money::ZERO {
            seen.price = Some(unit_price);
        }
        let order = &mut self.orders[slot];
        if order.person_id.is_none() {
            if let Some(user) = &self.last_customer.1 {
                order.person_id = Some(PersonId::from(user.clone()));
                order.user_id = Some(user.clone());
                let country = order.properties.get("country").and_then(Value::as_str).unwrap_or("");
                if !country.is_empty() {
                    self.countries.insert(user.as_str().to_string(), country.to_string());
                }
            }
        }
        let quantity = if order.kind == OrderKind::Refund { quantity.abs() } else { quantity };
        order.lines.push(OrderLine { line_no, product_id: stock_code, quantity, unit_price, category: None });
        Ok(())
    }

    fn finish(&mut self, sink: &mut Sink<'_>) -> Result<(), ImportError> {
        let products: BTreeMap<String, ProductSeen> = std::mem::take(&mut self.products).into_iter().collect();
        for (id, seen) in products {
            let mut product = Product::new(ProductId::new(id).expect("checked on read"));
            product.name = seen.name;
            product.price = seen.price;
            sink.batch.products.push(product);
            sink.flush_if_full()?;
        }
        let countries: BTreeMap<String, String> = std::mem::take(&mut self.countries).into_iter().collect();
        for (id, country) in countries {
            let mut user = User::new(UserId::new(id).expect("checked on read"));
            user.traits.insert("country".into(), Value::String(country));
            sink.batch.users.push(user);
            sink.flush_if_full()?;
        }
        let mut orders = std::mem::take(&mut self.orders);
        let mut events = Vec::new();
        for order in &mut orders {
            order.total = order.lines.iter().map(OrderLine::amount).sum();
            if let Some(person) = &order.person_id {
                events.push(order_event(order, person.clone()));
            }
        }
        sink.flush()?;
        sink.write_orders(orders)?;
        for event in events {
            sink.batch.events.push(event);
            sink.flush_if_full()?;
        }
        Ok(())
    }
}

fn new_order(id: OrderId, placed_at: chrono::DateTime<chrono::Utc>, country: &str) -> Order {
    let kind = if id.as_str().starts_with('C') { OrderKind::Refund } else { OrderKind::Purchase };
    let mut properties = serde_json::Map::new();
    if !country.is_empty() {
        properties.insert("country".into(), Value::String(country.to_string()));
    }
    Order {
        id,
        kind,
        person_id: None,
        user_id: None,
        anonymous_id: None,
        placed_at,
        platform: Some(Platform::Web),
        channel: None,
        total: Money::ZERO,
        discount: Money::ZERO,
        shipping: Money::ZERO,
        coupon: None,
        refund_of: None,
        properties,
        lines: Vec::new(),
    }
}

fn order_event(order: &Order, person: PersonId) -> Event {
    let name = match order.kind {
        OrderKind::Purchase => EventName::OrderCompleted,
        OrderKind::Refund => EventName::OrderRefunded,
    };
    let id = EventId::new(format!("online-retail:{}", order.id)).expect("invoice numbers are short");
    let mut event = Event::new(id, Some(person), name, order.placed_at);
    event.user_id = order.user_id.clone();
    event.platform = Some(Platform::Web);
    event.order_id = Some(order.id.clone());
    event.revenue = Some(order.total);
    event
}
