use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AnonymousId, Money, OrderId, PersonId, Platform, ProductId, UserId};

/// Whether a record is a sale or money going back to the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderKind {
    /// A paid order.
    Purchase,
    /// A refund / after-sale return (e.g. an Online Retail `C…` invoice).
    /// Its `total` is the positive amount returned.
    Refund,
}

impl OrderKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Purchase => "purchase",
            OrderKind::Refund => "refund",
        }
    }
}

/// A paid order or a refund, with its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Order (or refund) number; storing the same id twice keeps one copy.
    pub id: OrderId,
    /// Sale or refund.
    pub kind: OrderKind,
    /// The resolved person; `None` for guest orders, which are stored but
    /// excluded from per-user metrics.
    pub person_id: Option<PersonId>,
    /// The logged-in user, if any.
    pub user_id: Option<UserId>,
    /// The visitor id, if any.
    pub anonymous_id: Option<AnonymousId>,
    /// When it was paid (or refunded), UTC.
    pub placed_at: DateTime<Utc>,
    /// Where it was placed.
    pub platform: Option<Platform>,
    /// Marketing channel.
    pub channel: Option<String>,
    /// Amount actually paid (or refunded): lines − discount + shipping.
    pub total: Money,
    /// Discount from promotions and coupons.
    pub discount: Money,
    /// Shipping fee.
    pub shipping: Money,
    /// Coupon code used, if any.
    pub coupon: Option<String>,
    /// For refunds, the order refunded when known.
    pub refund_of: Option<OrderId>,
    /// Free-form extra attributes (country, store id…).
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// The lines.
    pub lines: Vec<OrderLine>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// Position in the order; `(order id, line_no)` is unique.
    pub line_no: u32,
    /// The product.
    pub product_id: ProductId,
    /// Quantity; data sources can carry zero or negative quantities
    /// (adjustments), which are stored and filtered by metrics.
    pub quantity: i64,
    /// Price per unit.
    pub unit_price: Money,
    /// Product category, denormalised for fast scans.
    pub category: Option<String>,
}

impl OrderLine {
    /// `quantity × unit_price`.
    pub fn amount(&self) -> Money {
        self.unit_price.times(self.quantity)
    }
}

impl Order {
    /// Whether the order used a discount or a coupon (price sensitivity).
    pub fn is_discounted(&self) -> bool {
        self.discount > Money::ZERO || self.coupon.as_deref().is_some_and(|c| !c.is_empty())
    }
}
