//! The Taobao "UserBehavior" importer (no header:
//! `user_id,item_id,category_id,behavior_type,timestamp`, Unix seconds).
//!
//! `pv` → `Product Viewed`, `cart` → `Product Added`, `fav` → `Product Added
//! to Wishlist`, `buy` → `Order Completed` plus an [`Order`] of one line
//! (quantity 1) linked by `order_id`. The dataset carries no prices, so
//! those orders have unit price and total 0 and the events no revenue:
//! order counts and conversion are meaningful, monetary figures are not.
//! Every item becomes a [`Product`] with its category; all activity is on
//! the app.

use std::collections::HashSet;

use cohort_model::{
    Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Platform, Product, ProductId,
    UserId,
};

use super::parse::InstantParser;
use super::rows::{Row, RowHandler};
use super::sink::Sink;
use super::ImportError;

const COLUMNS: [&str; 5] = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"];

pub(crate) struct Taobao {
    /// `taobao:{checksum16}`, the prefix of event and order ids.
    prefix: String,
    instants: InstantParser,
    items_seen: HashSet<String>,
}

impl Taobao {
    pub(crate) fn new(checksum16: &str, instants: InstantParser) -> Self {
        Taobao { prefix: format!("taobao:{checksum16}"), instants, items_seen: HashSet::new() }
    }
}

fn column_error(column: usize, why: impl std::fmt::Display) -> String {
    format!("column {:?}: {why}", COLUMNS[column])
}

impl RowHandler for Taobao {
    fn columns(&mut self, file: &str, columns: &[String]) -> Result<(), ImportError> {
        if columns.len() == COLUMNS.len() {
            Ok(())
        } else {
            Err(ImportError::BadHeader {
                file: file.to_string(),
                reason: format!("expected 5 columns ({}), found {}", COLUMNS.join(","), columns.len()),
            })
        }
    }

    fn row(&mut self, line: u64, row: Row<'_>, sink: &mut Sink<'_>) -> Result<(), String> {
        let Row::Csv(record) = row else { unreachable!("taobao is CSV") };
        let cell = |i: usize| record.get(i).unwrap_or("").trim_ascii();
        let user = UserId::new(cell(0)).map_err(|e| column_error(0, e))?;
        let item = ProductId::new(cell(1)).map_err(|e| column_error(1, e))?;
        let category = match cell(2) {
            "" => return Err(column_error(2, "missing category")),
            c => c.to_string(),
        };
        let name = match cell(3) {
            "pv" => EventName::ProductViewed,
            "cart" => EventName::ProductAdded,
            "fav" => EventName::ProductAddedToWishlist,
            "buy" => EventName::OrderCompleted,
            other => {
                return Err(column_error(
                    3,
                    format!("unknown behaviour type {other:?} (expected pv, cart, fav or buy)"),
                ))
            }
        };
        let timestamp = self.instants.parse(cell(4)).map_err(|e| column_error(4, e))?;

        let id = format!("{}:{line}", self.prefix);
        if !self.items_seen.contains(item.as_str()) {
            self.items_seen.insert(item.as_str().to_string());
            let mut product = Product::new(item.clone());
            product.category = Some(category.clone());
            sink.batch.products.push(product);
        }
        let person = PersonId::from(user.clone());
        if name == EventName::OrderCompleted {
            let order_id = OrderId::new(id.clone()).map_err(|e| e.to_string())?;
            sink.batch.orders.push(Order {
                id: order_id,
                kind: OrderKind::Purchase,
                person_id: Some(person.clone()),
                user_id: Some(user.clone()),
                anonymous_id: None,
                placed_at: timestamp,
                platform: Some(Platform::App),
                channel: None,
                total: Money::ZERO,
                discount: Money::ZERO,
                shipping: Money::ZERO,
                coupon: None,
                refund_of: None,
                properties: serde_json::Map::new(),
                lines: vec![OrderLine {
                    line_no: 1,
                    product_id: item.clone(),
                    quantity: 1,
                    unit_price: Money::ZERO,
                    category: Some(category.clone()),
                }],
            });
        }
        let mut event = Event::new(EventId::new(id).map_err(|e| e.to_string())?, Some(person), name, timestamp);
        if event.name == EventName::OrderCompleted {
            event.order_id = sink.batch.orders.last().map(|o| o.id.clone());
            event.quantity = Some(1);
        }
        event.user_id = Some(user);
        event.platform = Some(Platform::App);
        event.product_id = Some(item);
        event.category = Some(category);
        sink.batch.events.push(event);
        Ok(())
    }

    fn finish(&mut self, _sink: &mut Sink<'_>) -> Result<(), ImportError> {
        Ok(())
    }
}
