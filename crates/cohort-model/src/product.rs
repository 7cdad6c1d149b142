use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Money, ProductId};

/// A product in the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Product id.
    pub id: ProductId,
    /// Display name (Chinese or any language).
    pub name: Option<String>,
    /// Category, e.g. `母婴` / `mother_baby`.
    pub category: Option<String>,
    /// List price.
    pub price: Option<Money>,
    /// Brand.
    pub brand: Option<String>,
    /// When it went on sale; drives "new product trial rate".
    pub launched_at: Option<DateTime<Utc>>,
    /// Consumables (pet food, nappies) are re-bought; durables are not.
    pub consumable: bool,
    /// Whether it can be sold now.
    pub in_stock: bool,
}

impl Product {
    /// A product with only an id.
    pub fn new(id: ProductId) -> Self {
        Product {
            id,
            name: None,
            category: None,
            price: None,
            brand: None,
            launched_at: None,
            consumable: false,
            in_stock: true,
        }
    }
}
