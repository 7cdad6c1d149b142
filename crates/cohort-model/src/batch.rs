use crate::{Event, Order, Product, User};

/// A set of records written to the store together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Users (upserted by id: the latest attributes win).
    pub users: Vec<User>,
    /// Products (upserted by id).
    pub products: Vec<Product>,
    /// Events (deduplicated by id).
    pub events: Vec<Event>,
    /// Orders and refunds with their lines (deduplicated by id).
    pub orders: Vec<Order>,
}

impl Batch {
    /// Number of records of all kinds (order lines not counted separately).
    pub fn len(&self) -> usize {
        self.users.len() + self.products.len() + self.events.len() + self.orders.len()
    }

    /// Whether the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.users.clear();
        self.products.clear();
        self.events.clear();
        self.orders.clear();
    }
}
