//! The slice of the product catalogue that profiles need: category and
//! launch instant per product id.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use cohort_model::{Product, ProductId};

/// What profiles need to know about one product.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// Category, used when an order line or event does not carry one.
    pub category: Option<String>,
    /// Launch instant, for the new-product trial rate.
    pub launched_at: Option<DateTime<Utc>>,
}

/// Product id → category and launch instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    products: HashMap<ProductId, CatalogueEntry>,
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Self {
        Catalogue::default()
    }

    /// Adds (or replaces) one product.
    pub fn insert(&mut self, id: ProductId, entry: CatalogueEntry) {
        self.products.insert(id, entry);
    }

    /// The entry of a product, if known.
    pub fn get(&self, id: &ProductId) -> Option<&CatalogueEntry> {
        self.products.get(id)
    }

    /// The catalogue category of a product.
    pub fn category(&self, id: &ProductId) -> Option<&str> {
        self.get(id).and_then(|e| e.category.as_deref())
    }

    /// The launch instant of a product.
    pub fn launched_at(&self, id: &ProductId) -> Option<DateTime<Utc>> {
        self.get(id).and_then(|e| e.launched_at)
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether no product is known.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
}

impl FromIterator<Product> for Catalogue {
    fn from_iter<I: IntoIterator<Item = Product>>(iter: I) -> Self {
        let products = iter
            .into_iter()
            .map(|p| (p.id, CatalogueEntry { category: p.category, launched_at: p.launched_at }))
            .collect();
        Catalogue { products }
    }
}
