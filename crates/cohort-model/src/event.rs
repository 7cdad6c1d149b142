//! Behaviour events, named after the Segment E-commerce spec.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AnonymousId, EventId, Money, OrderId, PersonId, Platform, ProductId, UserId};

/// What happened. Known names follow the Segment E-commerce spec (v2) and
/// Cohort's own additions; anything else is kept as [`EventName::Custom`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventName {
    /// A page or screen visit (Segment `page` / `screen` calls).
    PageViewed,
    /// `Products Searched`: a search with a `query`.
    ProductsSearched,
    /// `Product List Viewed`: a category or search result list.
    ProductListViewed,
    /// `Product Viewed`: a product detail page.
    ProductViewed,
    /// `Product Clicked`.
    ProductClicked,
    /// `Product Added`: added to cart.
    ProductAdded,
    /// `Product Removed`: removed from cart.
    ProductRemoved,
    /// `Product Added to Wishlist`: favourited.
    ProductAddedToWishlist,
    /// `Cart Viewed`.
    CartViewed,
    /// `Checkout Started`.
    CheckoutStarted,
    /// `Payment Info Entered`.
    PaymentInfoEntered,
    /// `Order Completed`: paid.
    OrderCompleted,
    /// `Order Cancelled`.
    OrderCancelled,
    /// `Order Refunded`: refund / after-sale.
    OrderRefunded,
    /// `Coupon Applied`.
    CouponApplied,
    /// `Product Reviewed`: with `rating` and `review_body`.
    ProductReviewed,
    /// `Product Shared`.
    ProductShared,
    /// `Checked In`: daily check-in (Cohort extension).
    CheckedIn,
    /// `Live Stream Watched` (Cohort extension).
    LiveStreamWatched,
    /// `Short Video Watched` (Cohort extension).
    ShortVideoWatched,
    /// Any other event name, kept verbatim.
    Custom(String),
}

impl EventName {
    /// The canonical stored name.
    pub fn as_str(&self) -> &str {
        match self {
            EventName::PageViewed => "Page Viewed",
            EventName::ProductsSearched => "Products Searched",
            EventName::ProductListViewed => "Product List Viewed",
            EventName::ProductViewed => "Product Viewed",
            EventName::ProductClicked => "Product Clicked",
            EventName::ProductAdded => "Product Added",
            EventName::ProductRemoved => "Product Removed",
            EventName::ProductAddedToWishlist => "Product Added to Wishlist",
            EventName::CartViewed => "Cart Viewed",
            EventName::CheckoutStarted => "Checkout Started",
            EventName::PaymentInfoEntered => "Payment Info Entered",
            EventName::OrderCompleted => "Order Completed",
            EventName::OrderCancelled => "Order Cancelled",
            EventName::OrderRefunded => "Order Refunded",
            EventName::CouponApplied => "Coupon Applied",
            EventName::ProductReviewed => "Product Reviewed",
            EventName::ProductShared => "Product Shared",
            EventName::CheckedIn => "Checked In",
            EventName::LiveStreamWatched => "Live Stream Watched",
            EventName::ShortVideoWatched => "Short Video Watched",
            EventName::Custom(name) => name,
        }
    }

    /// Parses a stored or SDK-sent name. Matching of known names ignores case
    /// and `_` / `-` separators (`product_viewed` is `Product Viewed`).
    pub fn parse(name: &str) -> EventName {
        let key: String = name.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).flat_map(char::to_lowercase).collect();
        match key.as_str() {
            "pageviewed" | "page" | "screen" | "screenviewed" | "visit" => EventName::PageViewed,
            "productssearched" | "search" => EventName::ProductsSearched,
            "productlistviewed" => EventName::ProductListViewed,
            "productviewed" | "pv" => EventName::ProductViewed,
            "productclicked" => EventName::ProductClicked,
            "productadded" | "addtocart" => EventName::ProductAdded,
            "productremoved" => EventName::ProductRemoved,
            "productaddedtowishlist" | "fav" => EventName::ProductAddedToWishlist,
            "cartviewed" => EventName::CartViewed,
            "checkoutstarted" => EventName::CheckoutStarted,
            "paymentinfoentered" => EventName::PaymentInfoEntered,
            "ordercompleted" => EventName::OrderCompleted,
            "ordercancelled" | "ordercanceled" => EventName::OrderCancelled,
            "orderrefunded" => EventName::OrderRefunded,
            "couponapplied" => EventName::CouponApplied,
            "productreviewed" => EventName::ProductReviewed,
            "productshared" => EventName::ProductShared,
            "checkedin" | "checkin" => EventName::CheckedIn,
            "livestreamwatched" => EventName::LiveStreamWatched,
            "shortvideowatched" => EventName::ShortVideoWatched,
            _ => EventName::Custom(name.to_string()),
        }
    }

    /// Whether the event counts as a visit for lifecycle activity (any
    /// interaction the user started, not messages sent to them).
    pub fn is_activity(&self) -> bool {
        !matches!(self, EventName::Custom(_))
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(EventName::parse(&s))
    }
}

/// One behaviour event. The common Segment e-commerce properties are typed
/// columns (so analytics never parse JSON on the hot path); everything else
/// stays in `properties`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Idempotency key: storing the same id twice keeps one copy.
    pub id: EventId,
    /// The resolved person (user id once known, else anonymous id). `None`
    /// for anonymous records that must be excluded from per-user metrics.
    pub person_id: Option<PersonId>,
    /// The logged-in user, if any.
    pub user_id: Option<UserId>,
    /// The device / platform scoped visitor id, if any.
    pub anonymous_id: Option<AnonymousId>,
    /// What happened.
    pub name: EventName,
    /// When it happened (UTC).
    pub timestamp: DateTime<Utc>,
    /// Where it happened.
    pub platform: Option<Platform>,
    /// Marketing / acquisition channel (utm source, campaign).
    pub channel: Option<String>,
    /// The product concerned.
    pub product_id: Option<ProductId>,
    /// The product's category.
    pub category: Option<String>,
    /// Unit price.
    pub price: Option<Money>,
    /// Quantity.
    pub quantity: Option<i64>,
    /// The order concerned.
    pub order_id: Option<OrderId>,
    /// Order revenue (`Order Completed`) or refunded amount (`Order Refunded`).
    pub revenue: Option<Money>,
    /// Discount applied.
    pub discount: Option<Money>,
    /// Coupon code.
    pub coupon: Option<String>,
    /// Search query (`Products Searched`).
    pub query: Option<String>,
    /// Review rating 1–5 (`Product Reviewed`).
    pub rating: Option<u8>,
    /// Review text (`Product Reviewed`), Chinese or any language.
    pub review_body: Option<String>,
    /// Every other property, as sent.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// A bare event with only the required fields set.
    pub fn new(id: EventId, person_id: Option<PersonId>, name: EventName, timestamp: DateTime<Utc>) -> Self {
        Event {
            id,
            person_id,
            user_id: None,
            anonymous_id: None,
            name,
            timestamp,
            platform: None,
            channel: None,
            product_id: None,
            category: None,
            price: None,
            quantity: None,
            order_id: None,
            revenue: None,
            discount: None,
            coupon: None,
            query: None,
            rating: None,
            review_body: None,
            properties: serde_json::Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_accept_sdk_spellings() {
        for name in [
            EventName::ProductViewed,
            EventName::ProductAddedToWishlist,
            EventName::OrderCompleted,
            EventName::CheckedIn,
        ] {
            assert_eq!(EventName::parse(name.as_str()), name);
        }
        assert_eq!(EventName::parse("product_viewed"), EventName::ProductViewed);
        assert_eq!(EventName::parse("Order Canceled"), EventName::OrderCancelled);
        assert_eq!(EventName::parse("Lottery Spun"), EventName::Custom("Lottery Spun".into()));
    }
}
