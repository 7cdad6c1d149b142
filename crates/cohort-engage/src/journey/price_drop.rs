//! Price drops: when a product gets cheaper, everyone who put it in the
//! cart or on the wishlist in the last N shop-local days and has not bought
//! it since gets a `Price Dropped` event, which starts the `price_drop`
//! playbook (`{{product}}`, `{{old_price}}`, `{{new_price}}` in yuan;
//! `old_price_fen` / `new_price_fen` as integers).
//!
//! Who counts: the person's latest `Product Added` of the product within
//! the window, unless a `Product Removed` of it came later, or their latest
//! `Product Added to Wishlist` of it within the window; and no purchase
//! (an order line of it with a positive quantity) at or after that moment.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use cohort_model::{EventName, Money, OrderKind, PersonId, ProductId, ShopTime};
use cohort_store::{EventStore, PersonHistory};
use serde::{Deserialize, Serialize};

use super::engine::{JourneyEngine, JourneyEvent};
use super::yuan_text;
use crate::{EngageError, Result};

/// The event name the `price_drop` playbook starts on.
pub const PRICE_DROPPED: &str = "Price Dropped";

/// A product's price change, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// The product.
    pub product: ProductId,
    /// Display name (default: the catalogue's, else the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Price before.
    pub old_price: Money,
    /// Price now.
    pub new_price: Money,
}

impl PriceChange {
    /// A drop: both prices positive and the new one lower.
    pub fn validate(&self) -> Result<()> {
        let id = self.product.as_str();
        if self.old_price <= Money::ZERO {
            return Err(EngageError::invalid("old_price", self.old_price.fen().to_string(), "must be positive fen"));
        }
        if self.new_price <= Money::ZERO {
            return Err(EngageError::invalid("new_price", self.new_price.fen().to_string(), "must be positive fen"));
        }
        if self.new_price >= self.old_price {
            return Err(EngageError::invalid(
                "new_price",
                self.new_price.fen().to_string(),
                format!("is not a drop for product {id}: old price is {} fen", self.old_price.fen()),
            ));
        }
        Ok(())
    }
}

/// When `history`'s person last showed interest in `product` (cart not
/// since removed, or wishlist) at or after `since`, if they have not bought
/// it since.
pub fn interest_since(history: &PersonHistory, product: &ProductId, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let of = |name: EventName| {
        history
            .events
            .iter()
            .filter(|e| e.name == name && e.product_id.as_ref() == Some(product))
            .map(|e| e.timestamp)
            .max()
    };
    let removed = of(EventName::ProductRemoved);
    let carted = of(EventName::ProductAdded).filter(|at| removed.is_none_or(|r| r < *at));
    let wished = of(EventName::ProductAddedToWishlist);
    let interest = carted.max(wished).filter(|at| *at >= since)?;
    let bought = history.orders.iter().any(|o| {
        o.kind == OrderKind::Purchase
            && o.placed_at >= interest
            && o.lines.iter().any(|l| &l.product_id == product && l.quantity > 0)
    });
    (!bought).then_some(interest)
}

/// The event fed to journeys for one person.
pub fn price_dropped(person: PersonId, change: &PriceChange, name: &str, at: DateTime<Utc>) -> JourneyEvent {
    let mut properties = serde_json::Map::new();
    properties.insert("product".into(), name.into());
    properties.insert("product_id".into(), change.product.as_str().into());
    properties.insert("old_price".into(), yuan_text(change.old_price).into());
    properties.insert("new_price".into(), yuan_text(change.new_price).into());
    properties.insert("old_price_fen".into(), change.old_price.fen().into());
    properties.insert("new_price_fen".into(), change.new_price.fen().into());
    JourneyEvent { person, name: PRICE_DROPPED.into(), at, properties }
}

/// The `Price Dropped` events for `changes` (validated first): one scan of
/// the histories for all of them, by person then change. `window_days`
/// counts shop-local days back from `now` (0: today only). Blocking.
pub fn find_price_drops(
    store: &dyn EventStore,
    shop: &ShopTime,
    changes: &[PriceChange],
    now: DateTime<Utc>,
    window_days: u32,
) -> Result<Vec<JourneyEvent>> {
    for c in changes {
        c.validate()?;
    }
    let catalogue: HashMap<String, String> =
        store.products()?.into_iter().filter_map(|p| Some((p.id.as_str().to_string(), p.name?))).collect();
    let names: Vec<String> = changes
        .iter()
        .map(|c| c.name.clone().or_else(|| catalogue.get(c.product.as_str()).cloned()))
        .zip(changes)
        .map(|(n, c)| n.unwrap_or_else(|| c.product.as_str().to_string()))
        .collect();
    let since = shop.start_of_day(shop.date(now) - Duration::days(i64::from(window_days)));
    let mut out = Vec::new();
    store.scan_histories(&mut |h| {
        for (c, name) in changes.iter().zip(&names) {
            if interest_since(&h, &c.product, since).is_some() {
                out.push(price_dropped(h.person_id.clone(), c, name, now));
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// What feeding a batch of price changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PriceDropReport {
    /// `Price Dropped` events fed to the engine.
    pub events: u64,
    /// Runs they started (the `price_drop` journey's re-entry rule applies).
    pub entered: u64,
}

/// Finds who carted or wished each changed product in the last
/// `window_days` without buying it, and feeds each a `Price Dropped` event
/// at the engine's current time.
pub async fn on_price_changes(
    engine: &JourneyEngine,
    store: Arc<dyn EventStore>,
    changes: Vec<PriceChange>,
    window_days: u32,
) -> Result<PriceDropReport> {
    let (shop, now) = (engine.shop(), engine.clock().now());
    let events =
        tokio::task::spawn_blocking(move || find_price_drops(store.as_ref(), &shop, &changes, now, window_days))
            .await
            .map_err(|e| EngageError::corrupt(format!("price drop reader panicked: {e}")))??;
    let mut report = PriceDropReport { events: events.len() as u64, entered: 0 };
    for e in &events {
        report.entered += engine.on_event(e).await?.len() as u64;
    }
    Ok(report)
}
