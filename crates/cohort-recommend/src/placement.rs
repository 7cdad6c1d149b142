//! Where recommendations are shown, and what comes back: the serving types,
//! serde-ready for an HTTP layer.

use cohort_model::ProductId;
use serde::{Deserialize, Serialize};

/// A place in the shop that shows recommendations, with its context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "placement", rename_all = "snake_case")]
pub enum Placement {
    /// Home page "guess you like" (猜你喜欢): the full hybrid.
    Home,
    /// Cart page: what goes with the cart's items, then the person's taste.
    Cart {
        /// Products in the cart (never recommended back).
        items: Vec<ProductId>,
    },
    /// Order confirmation page: complements of what was just bought.
    Order {
        /// Products of the order (never recommended back).
        items: Vec<ProductId>,
    },
    /// Product page "similar items": alike by behaviour and by content.
    Similar {
        /// The product shown.
        product: ProductId,
    },
    /// Product page "bought together": baskets that held the product.
    BoughtTogether {
        /// The product shown.
        product: ProductId,
    },
}

impl Placement {
    /// The placement's name, without context.
    pub fn kind(&self) -> PlacementKind {
        match self {
            Placement::Home => PlacementKind::Home,
            Placement::Cart { .. } => PlacementKind::Cart,
            Placement::Order { .. } => PlacementKind::Order,
            Placement::Similar { .. } => PlacementKind::Similar,
            Placement::BoughtTogether { .. } => PlacementKind::BoughtTogether,
        }
    }
}

/// A placement's name (`home`, `cart`, `order`, `similar`, `bought_together`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementKind {
    /// Home page.
    Home,
    /// Cart page.
    Cart,
    /// Order page.
    Order,
    /// Product page, similar items.
    Similar,
    /// Product page, bought together.
    BoughtTogether,
}

impl PlacementKind {
    /// Every placement.
    pub const ALL: [PlacementKind; 5] = [
        PlacementKind::Home,
        PlacementKind::Cart,
        PlacementKind::Order,
        PlacementKind::Similar,
        PlacementKind::BoughtTogether,
    ];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            PlacementKind::Home => "home",
            PlacementKind::Cart => "cart",
            PlacementKind::Order => "order",
            PlacementKind::Similar => "similar",
            PlacementKind::BoughtTogether => "bought_together",
        }
    }

    /// Parses a name (`-` and `_` alike).
    pub fn parse(name: &str) -> Option<PlacementKind> {
        let name = name.replace('-', "_");
        PlacementKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Which candidate source put an item on the list (the largest share of
/// its score), or which rule did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Item-to-item co-occurrence over people.
    CoOccurrence,
    /// ALS matrix factorisation.
    Als,
    /// Content similarity.
    Content,
    /// Popularity / trending (also the fill when other sources run dry).
    Popularity,
    /// Co-occurrence within orders.
    BoughtTogether,
    /// A consumable due for re-purchase.
    Replenishment,
    /// An operator's pin.
    Pinned,
}

impl Source {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CoOccurrence => "co_occurrence",
            Source::Als => "als",
            Source::Content => "content",
            Source::Popularity => "popularity",
            Source::BoughtTogether => "bought_together",
            Source::Replenishment => "replenishment",
            Source::Pinned => "pinned",
        }
    }
}

/// One recommended product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The product.
    pub product_id: ProductId,
    /// Hybrid score (higher is better; comparable within one list only).
    pub score: f32,
    /// Why it is here.
    pub source: Source,
    /// The product's category, if known.
    pub category: Option<String>,
}
