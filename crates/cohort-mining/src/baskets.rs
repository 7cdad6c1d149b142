//! Baskets: the transactions FP-growth mines, with items as dense `u32` ids.
//!
//! A basket is the set of distinct items bought together — one paid order,
//! or everything one person ever bought — at product or category level.
//! Baskets come from an [`EventStore`] or from a transactions file (one
//! basket per line, items comma-separated, as the arules `Groceries` CSV).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use cohort_model::{EventName, OrderKind, ProductId};
use cohort_store::EventStore;
use serde::{Deserialize, Serialize};

use crate::{MiningError, Result};

/// What an item of a basket is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasketLevel {
    /// Product ids.
    #[default]
    Product,
    /// Product categories (from the catalogue, else the order line's own).
    Category,
}

/// What one basket gathers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasketUnit {
    /// One paid order.
    #[default]
    Order,
    /// Every paid order of one person, together.
    User,
}

/// How to cut baskets out of a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasketOptions {
    /// Products or categories.
    pub level: BasketLevel,
    /// Per order or per person.
    pub per: BasketUnit,
}

/// A set of baskets over a dense item dictionary.
#[derive(Debug, Clone, Default)]
pub struct Baskets {
    labels: Vec<String>,
    transactions: Vec<Vec<u32>>,
    revenue_fen: Vec<i64>,
    units: Vec<i64>,
}

impl Baskets {
    /// Baskets from lists of item labels (duplicates in a basket count once;
    /// empty baskets are kept, as transactions with no item). Item ids follow
    /// the labels' sorted order, so the same baskets always get the same ids.
    pub fn from_labels<I, B, S>(baskets: I) -> Baskets
    where
        I: IntoIterator<Item = B>,
        B: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = Builder::default();
        for basket in baskets {
            builder.start();
            for label in basket {
                builder.add(label.as_ref(), 0, 0);
            }
        }
        builder.finish()
    }

    /// Reads a transactions file: one basket per line, items separated by
    /// commas (`.gz` files are decompressed). Blank fields are ignored; labels
    /// are kept as written, spaces included.
    pub fn read_transactions(path: &Path) -> Result<Baskets> {
        let io = |source| MiningError::Io { path: path.to_path_buf(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut builder = Builder::default();
        for line in BufReader::new(reader).lines() {
            let line = line.map_err(io)?;
            let line = line.trim_end_matches('\r');
            if line.is_empty() {
                continue;
            }
            builder.start();
            for label in line.split(',').filter(|l| !l.trim().is_empty()) {
                builder.add(label, 0, 0);
            }
        }
        Ok(builder.finish())
    }

    /// Reads baskets from a store's paid orders (refunds, cancelled orders —
    /// an `Order Cancelled` event naming them — and lines with quantity ≤ 0
    /// are left out). At category level, products without a category are
    /// left out of their basket. Revenue per item is summed from the lines.
    pub fn from_store(store: &dyn EventStore, options: BasketOptions) -> Result<Baskets> {
        let categories: HashMap<ProductId, String> = match options.level {
            BasketLevel::Product => HashMap::new(),
            BasketLevel::Category => store
                .products()?
                .into_iter()
                .filter_map(|p| Some((p.id, p.category.filter(|c| !c.is_empty())?)))
                .collect(),
        };
        let mut builder = Builder::default();
        store.scan_histories(&mut |history| {
            let cancelled: HashSet<_> = history
                .events
                .iter()
                .filter(|e| e.name == EventName::OrderCancelled)
                .filter_map(|e| e.order_id.clone())
                .collect();
            let mut person_started = false;
            for order in &history.orders {
                if order.kind != OrderKind::Purchase || cancelled.contains(&order.id) {
                    continue;
                }
                let lines: Vec<_> = order.lines.iter().filter(|l| l.quantity > 0).collect();
                if lines.is_empty() {
                    continue;
                }
                if options.per == BasketUnit::Order || !person_started {
                    builder.start();
                    person_started = true;
                }
                for line in lines {
                    let amount = line.amount().fen();
                    match options.level {
                        BasketLevel::Product => builder.add(line.product_id.as_str(), amount, line.quantity),
                        BasketLevel::Category => {
                            let category = categories
                                .get(&line.product_id)
                                .map(String::as_str)
                                .or(line.category.as_deref().filter(|c| !c.is_empty()));
                            if let Some(category) = category {
                                builder.add(category, amount, line.quantity);
                            }
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(builder.finish())
    }

    /// How many baskets (transactions), empty ones included.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// Whether there is no basket.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    /// How many distinct items.
    pub fn item_count(&self) -> usize {
        self.labels.len()
    }

    /// The label (product id, category or file label) of an item id.
    pub fn label(&self, item: u32) -> &str {
        &self.labels[item as usize]
    }

    /// The id of a label.
    pub fn item(&self, label: &str) -> Option<u32> {
        self.labels.binary_search_by(|l| l.as_str().cmp(label)).ok().map(|i| i as u32)
    }

    /// The baskets, each a sorted list of distinct item ids.
    pub fn transactions(&self) -> &[Vec<u32>] {
        &self.transactions
    }

    /// Revenue of an item over the baskets, fen (0 when the source has no prices).
    pub fn revenue_fen(&self, item: u32) -> i64 {
        self.revenue_fen[item as usize]
    }

    /// Mean unit price of an item, fen, when it was sold with a price.
    pub fn mean_price_fen(&self, item: u32) -> Option<i64> {
        let units = self.units[item as usize];
        (units > 0).then(|| self.revenue_fen[item as usize] / units)
    }
}

/// Collects baskets keyed by label, then renumbers items in label order.
#[derive(Default)]
struct Builder {
    index: HashMap<String, u32>,
    labels: Vec<String>,
    revenue_fen: Vec<i64>,
    units: Vec<i64>,
    transactions: Vec<Vec<u32>>,
}

impl Builder {
    fn start(&mut self) {
        self.transactions.push(Vec::new());
    }

    fn add(&mut self, label: &str, revenue_fen: i64, units: i64) {
        let id = match self.index.get(label) {
            Some(&id) => id,
            None => {
                let id = self.labels.len() as u32;
                self.index.insert(label.to_string(), id);
                self.labels.push(label.to_string());
                self.revenue_fen.push(0);
                self.units.push(0);
                id
            }
        };
        self.revenue_fen[id as usize] += revenue_fen;
        self.units[id as usize] += units;
        self.transactions.last_mut().expect("start() before add()").push(id);
    }

    fn finish(self) -> Baskets {
        let order: BTreeMap<&str, u32> = self.labels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect();
        let mut remap = vec![0u32; self.labels.len()];
        let mut labels = Vec::with_capacity(order.len());
        let mut revenue_fen = Vec::with_capacity(order.len());
        let mut units = Vec::with_capacity(order.len());
        for (new, (label, &old)) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
            labels.push((*label).to_string());
            revenue_fen.push(self.revenue_fen[old as usize]);
            units.push(self.units[old as usize]);
        }
        let transactions = self
            .transactions
            .into_iter()
            .map(|mut t| {
                for item in t.iter_mut() {
                    *item = remap[*item as usize];
                }
                t.sort_unstable();
                t.dedup();
                t
            })
            .collect();
        Baskets { labels, transactions, revenue_fen, units }
    }
}
