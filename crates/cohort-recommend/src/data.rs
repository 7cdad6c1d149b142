//! Interactions — who did what to which product, when — read from the event
//! store, and their dense indexed form the candidate sources train on.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use cohort_model::{EventName, OrderId, OrderKind, PersonId, Product, ProductId};
use cohort_store::EventStore;
use serde::{Deserialize, Serialize};

use crate::{RecommendConfig, RecommendError, Result};

/// The kinds of behaviour that say something about interest in a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// `Product Viewed` / `Product Clicked`.
    View,
    /// `Product Added to Wishlist`.
    Wishlist,
    /// `Product Added` (to cart).
    Cart,
    /// A purchased order line (quantity > 0).
    Purchase,
}

/// One person touching one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    /// Who.
    pub person: PersonId,
    /// Which product.
    pub product: ProductId,
    /// What they did.
    pub kind: InteractionKind,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// The order, for purchases: lines of one order form a basket
    /// ("bought together").
    pub order: Option<OrderId>,
}

/// Reads every interaction from the store: product views, clicks, carts and
/// wishlists from events, purchases from order lines (refunds, guest orders
/// and lines with quantity ≤ 0 are left out; `Order Completed` events are
/// not counted twice).
pub fn interactions_from_store(store: &dyn EventStore) -> Result<Vec<Interaction>> {
    let mut out = Vec::new();
    store.scan_histories(&mut |history| {
        let person = history.person_id;
        for event in history.events {
            let kind = match event.name {
                EventName::ProductViewed | EventName::ProductClicked => InteractionKind::View,
                EventName::ProductAddedToWishlist => InteractionKind::Wishlist,
                EventName::ProductAdded => InteractionKind::Cart,
                _ => continue,
            };
            if let Some(product) = event.product_id {
                out.push(Interaction { person: person.clone(), product, kind, at: event.timestamp, order: None });
            }
        }
        for order in history.orders {
            if order.kind != OrderKind::Purchase {
                continue;
            }
            for line in order.lines {
                if line.quantity > 0 {
                    out.push(Interaction {
                        person: person.clone(),
                        product: line.product_id,
                        kind: InteractionKind::Purchase,
                        at: order.placed_at,
                        order: Some(order.id.clone()),
                    });
                }
            }
        }
        Ok(())
    })?;
    Ok(out)
}

/// What the engine knows of one product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ItemInfo {
    pub id: ProductId,
    pub category: Option<u32>,
    pub price_fen: Option<i64>,
    pub name: Option<String>,
    pub consumable: bool,
    pub in_stock: bool,
}

/// One person's aggregated interest in one item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct UserItem {
    pub item: u32,
    /// Sum of interaction weights, each decayed by its age at `as_of`.
    pub weight: f32,
    /// Latest interaction, Unix seconds.
    pub last_at: i64,
    /// Latest purchase, Unix seconds.
    pub last_purchase: Option<i64>,
}

/// Interactions in dense index form.
#[derive(Debug, Clone)]
pub(crate) struct Indexed {
    pub items: Vec<ItemInfo>,
    pub categories: Vec<String>,
    pub users: Vec<PersonId>,
    /// Per user, sorted by item.
    pub user_items: Vec<Vec<UserItem>>,
    /// Purchased items of each order (distinct, at least two).
    pub baskets: Vec<Vec<u32>>,
    /// Per item: (Unix seconds of a purchase, user) pairs, for replenishment.
    pub purchase_times: Vec<Vec<(i64, u32)>>,
    pub as_of: DateTime<Utc>,
}

impl Indexed {
    /// Indexes `interactions` (only those before `as_of` when given,
    /// otherwise all of them, `as_of` then being the latest one) over the
    /// catalogue `products` (items only seen in interactions are added).
    pub fn build(
        interactions: &[Interaction],
        products: &[Product],
        config: &RecommendConfig,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<Indexed> {
        let hidden: HashSet<&ProductId> = config.hidden.iter().collect();
        let kept: Vec<&Interaction> = interactions
            .iter()
            .filter(|i| !hidden.contains(&i.product) && as_of.is_none_or(|cut| i.at < cut))
            .collect();
        if kept.is_empty() {
            return Err(RecommendError::NoInteractions);
        }
        let as_of = as_of.unwrap_or_else(|| kept.iter().map(|i| i.at).max().expect("non-empty"));

        let mut categories: Vec<String> = Vec::new();
        let mut category_index: HashMap<String, u32> = HashMap::new();
        let mut items: Vec<ItemInfo> = Vec::new();
        let mut item_index: HashMap<ProductId, u32> = HashMap::new();
        let mut sorted: Vec<&Product> = products.iter().filter(|p| !hidden.contains(&p.id)).collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        for p in sorted {
            let category = p.category.as_ref().filter(|c| !c.is_empty()).map(|c| {
                *category_index.entry(c.clone()).or_insert_with(|| {
                    categories.push(c.clone());
                    categories.len() as u32 - 1
                })
            });
            item_index.insert(p.id.clone(), items.len() as u32);
            items.push(ItemInfo {
                id: p.id.clone(),
                category,
                price_fen: p.price.map(|m| m.fen()).filter(|f| *f > 0),
                name: p.name.clone(),
                consumable: p.consumable,
                in_stock: p.in_stock,
            });
        }

        let mut users: Vec<PersonId> = Vec::new();
        let mut user_index: HashMap<&PersonId, u32> = HashMap::new();
        let mut per_user: Vec<HashMap<u32, UserItem>> = Vec::new();
        let mut orders: HashMap<&OrderId, Vec<u32>> = HashMap::new();
        let mut purchase_times: Vec<Vec<(i64, u32)>> = vec![Vec::new(); items.len()];
        let half_life_secs = f64::from(config.half_life_days) * 86_400.0;
        let as_of_secs = as_of.timestamp();
        for i in kept {
            let item = match item_index.get(&i.product) {
                Some(&x) => x,
                None => {
                    item_index.insert(i.product.clone(), items.len() as u32);
                    items.push(ItemInfo {
                        id: i.product.clone(),
                        category: None,
                        price_fen: None,
                        name: None,
                        consumable: false,
                        in_stock: true,
                    });
                    purchase_times.push(Vec::new());
                    items.len() as u32 - 1
                }
            };
            let user = *user_index.entry(&i.person).or_insert_with(|| {
                users.push(i.person.clone());
                per_user.push(HashMap::new());
                users.len() as u32 - 1
            });
            let w = &config.weights;
            let base = match i.kind {
                InteractionKind::View => w.view,
                InteractionKind::Wishlist => w.wishlist,
                InteractionKind::Cart => w.cart,
                InteractionKind::Purchase => w.purchase,
            };
            let t = i.at.timestamp();
            let age = (as_of_secs - t).max(0) as f64;
            let decayed = (f64::from(base) * 0.5f64.powf(age / half_life_secs)) as f32;
            let entry = per_user[user as usize].entry(item).or_insert(UserItem {
                item,
                weight: 0.0,
                last_at: t,
                last_purchase: None,
            });
            entry.weight += decayed;
            entry.last_at = entry.last_at.max(t);
            if i.kind == InteractionKind::Purchase {
                entry.last_purchase = Some(entry.last_purchase.map_or(t, |p| p.max(t)));
                purchase_times[item as usize].push((t, user));
                if let Some(order) = &i.order {
                    orders.entry(order).or_default().push(item);
                }
            }
        }
        let user_items = per_user
            .into_iter()
            .map(|m| {
                let mut v: Vec<UserItem> =
                    m.into_values().filter(|u| u.weight > 0.0 || u.last_purchase.is_some()).collect();
                v.sort_by_key(|u| u.item);
                v
            })
            .collect();
        let mut order_ids: Vec<&OrderId> = orders.keys().copied().collect();
        order_ids.sort();
        let baskets = order_ids
            .into_iter()
            .filter_map(|o| {
                let mut b = orders.remove(o).expect("key listed");
                b.sort_unstable();
                b.dedup();
                (b.len() >= 2).then_some(b)
            })
            .collect();
        for times in &mut purchase_times {
            times.sort_unstable();
        }
        Ok(Indexed { items, categories, users, user_items, baskets, purchase_times, as_of })
    }
}
