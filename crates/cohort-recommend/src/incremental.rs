//! Incremental refresh of the "bought together" item-to-item lists as
//! orders arrive, without retraining.
//!
//! The lists are cosine similarities over baskets (the distinct purchased
//! products of one order, at least two, each weight 1), the same table
//! [`crate::Recommender::train`] builds: `sim(a, b) = baskets(a ∧ b) /
//! √(baskets(a) · baskets(b))`. Those are counts, so they can be kept
//! exactly: [`BasketIndex`] holds, per product, its basket count and its
//! co-occurrence counts. A new basket changes the counts of its products
//! and their pairs, so only the lists of its products and of their partners
//! (whose similarity to them changed through the norm) are recomputed.
//! An order seen again (more lines later) replaces its earlier basket.
//! The result equals a full recompute over the same orders, ties broken by
//! product id, as the trainer's are (tested).
//!
//! The person-level co-occurrence table is not refreshed this way: its
//! weights decay with age at the model's as-of instant, so every weight
//! changes as time passes and only a retrain is exact.

use std::collections::{HashMap, HashSet};

use cohort_model::{OrderId, ProductId};

use crate::{Interaction, InteractionKind};

/// Basket counts and "bought together" lists, updated order by order.
#[derive(Debug, Clone, Default)]
pub struct BasketIndex {
    k: usize,
    max_items: usize,
    ids: Vec<ProductId>,
    index: HashMap<ProductId, u32>,
    /// Per product: the baskets holding it.
    counts: Vec<u32>,
    /// Per product: partner → baskets holding both.
    pairs: Vec<HashMap<u32, u32>>,
    /// Per product: top-`k` partners, best first.
    lists: Vec<Vec<(u32, f32)>>,
    /// Per order: every distinct product of its basket.
    baskets: HashMap<OrderId, Vec<u32>>,
    /// Orders with at least two products.
    counted_baskets: usize,
}

impl BasketIndex {
    /// An empty index keeping `k` neighbours per product; a basket counts
    /// its first `max_items` products in id order (the trainer's cut for
    /// equal weights). The model's settings: `neighbours` and
    /// `max_items_per_user`.
    pub fn new(k: usize, max_items: usize) -> Self {
        BasketIndex { k, max_items: max_items.max(2), ..BasketIndex::default() }
    }

    /// Orders indexed (baskets of at least two products).
    pub fn baskets(&self) -> usize {
        self.counted_baskets
    }

    fn id(&mut self, product: &ProductId) -> u32 {
        if let Some(&i) = self.index.get(product) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.ids.push(product.clone());
        self.index.insert(product.clone(), i);
        self.counts.push(0);
        self.pairs.push(HashMap::new());
        self.lists.push(Vec::new());
        i
    }

    /// Adds (or, for a known order, replaces) the baskets of `orders` and
    /// refreshes the lists they change. Returns the products whose lists
    /// were recomputed, in id order.
    pub fn add_orders<'a>(
        &mut self,
        orders: impl IntoIterator<Item = (&'a OrderId, &'a [ProductId])>,
    ) -> Vec<ProductId> {
        let mut touched = Vec::new();
        for (order, products) in orders {
            let basket: Vec<u32> = products.iter().map(|p| self.id(p)).collect();
            self.set_basket(order, basket, &mut touched);
        }
        self.refresh(touched)
    }

    /// Adds the purchase lines among `interactions` (other kinds, lines
    /// without an order and `hidden` products are skipped) to their
    /// orders' baskets, an order's later lines joining its earlier ones,
    /// and refreshes the lists they change (see [`BasketIndex::add_orders`]).
    pub fn add_purchases(&mut self, interactions: &[Interaction], hidden: &[ProductId]) -> Vec<ProductId> {
        let hidden: HashSet<&ProductId> = hidden.iter().collect();
        let mut orders: Vec<(&OrderId, u32)> = Vec::new();
        for i in interactions {
            if let (InteractionKind::Purchase, Some(order)) = (i.kind, &i.order) {
                if !hidden.contains(&i.product) {
                    orders.push((order, self.id(&i.product)));
                }
            }
        }
        orders.sort();
        let mut touched = Vec::new();
        for group in orders.chunk_by(|a, b| a.0 == b.0) {
            let order = group[0].0;
            let mut basket = self.baskets.get(order).cloned().unwrap_or_default();
            basket.extend(group.iter().map(|&(_, item)| item));
            self.set_basket(order, basket, &mut touched);
        }
        self.refresh(touched)
    }

    /// Replaces the basket of `order` (every product it holds).
    fn set_basket(&mut self, order: &OrderId, mut basket: Vec<u32>, touched: &mut Vec<u32>) {
        basket.sort_unstable();
        basket.dedup();
        if let Some(old) = self.baskets.remove(order) {
            if old.len() >= 2 {
                let counted = self.counted(&old);
                self.count(&counted, -1, touched);
                self.counted_baskets -= 1;
            }
        }
        if basket.len() >= 2 {
            let counted = self.counted(&basket);
            self.count(&counted, 1, touched);
            self.counted_baskets += 1;
        }
        // One-product orders are kept too: a later line makes them a basket.
        if !basket.is_empty() {
            self.baskets.insert(order.clone(), basket);
        }
    }

    /// The products of a basket that count: its first `max_items` in
    /// product-id order.
    fn counted(&self, basket: &[u32]) -> Vec<u32> {
        let mut b = basket.to_vec();
        if b.len() > self.max_items {
            b.sort_unstable_by(|x, y| self.ids[*x as usize].cmp(&self.ids[*y as usize]));
            b.truncate(self.max_items);
        }
        b
    }

    /// Recomputes the lists of `touched` products and of their partners (a
    /// changed count changes the product's similarity to every partner).
    fn refresh(&mut self, touched: Vec<u32>) -> Vec<ProductId> {
        let mut affected: Vec<u32> = touched.clone();
        for &a in &touched {
            affected.extend(self.pairs[a as usize].keys().copied());
        }
        affected.sort_unstable();
        affected.dedup();
        for &a in &affected {
            self.lists[a as usize] = self.list_of(a);
        }
        let mut refreshed: Vec<ProductId> = affected.iter().map(|&a| self.ids[a as usize].clone()).collect();
        refreshed.sort();
        refreshed
    }

    fn count(&mut self, basket: &[u32], delta: i64, touched: &mut Vec<u32>) {
        let add = |v: &mut u32| *v = (i64::from(*v) + delta).max(0) as u32;
        for &a in basket {
            add(&mut self.counts[a as usize]);
            touched.push(a);
            for &b in basket {
                if a != b {
                    let c = self.pairs[a as usize].entry(b).or_insert(0);
                    add(c);
                    if *c == 0 {
                        self.pairs[a as usize].remove(&b);
                    }
                }
            }
        }
    }

    /// Cosine over baskets, computed as the trainer does (f64, then f32).
    fn list_of(&self, a: u32) -> Vec<(u32, f32)> {
        let na = f64::from(self.counts[a as usize]);
        let mut cands: Vec<(u32, f32)> = self.pairs[a as usize]
            .iter()
            .map(|(&b, &c)| {
                let nb = f64::from(self.counts[b as usize]);
                (b, (f64::from(c) / (na * nb).sqrt().max(f64::MIN_POSITIVE)) as f32)
            })
            .filter(|(_, s)| *s > 0.0 && s.is_finite())
            .collect();
        // Ties by product id, like the trainer (whose ids follow product ids).
        let ids = &self.ids;
        cands.sort_unstable_by(|x, y| y.1.total_cmp(&x.1).then_with(|| ids[x.0 as usize].cmp(&ids[y.0 as usize])));
        cands.truncate(self.k);
        cands
    }

    /// The products bought together with `product`, best first.
    pub fn neighbours(&self, product: &ProductId) -> Vec<(ProductId, f32)> {
        let Some(&a) = self.index.get(product) else { return Vec::new() };
        self.lists[a as usize].iter().map(|&(b, s)| (self.ids[b as usize].clone(), s)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str) -> ProductId {
        ProductId::new(id).unwrap()
    }

    fn o(id: &str) -> OrderId {
        OrderId::new(id).unwrap()
    }

    #[test]
    fn counts_update_the_products_and_their_partners() {
        let mut ix = BasketIndex::new(5, 10);
        let (o1, o2, o3) = (o("o1"), o("o2"), o("o3"));
        let b1 = [p("a"), p("b")];
        let refreshed = ix.add_orders([(&o1, &b1[..])]);
        assert_eq!(refreshed, [p("a"), p("b")]);
        assert_eq!(ix.neighbours(&p("a")), [(p("b"), 1.0)]);
        // b–c: b's count becomes 2, so a's similarity to b drops to 1/√2
        // and a's list is refreshed although a is not in the new basket.
        let b2 = [p("b"), p("c"), p("c")];
        assert_eq!(ix.add_orders([(&o2, &b2[..])]), [p("a"), p("b"), p("c")]);
        let half = (1.0f64 / 2f64.sqrt()) as f32;
        assert_eq!(ix.neighbours(&p("a")), [(p("b"), half)]);
        assert_eq!(ix.neighbours(&p("b")), [(p("a"), half), (p("c"), half)], "ties by product id");
        // A one-product order is no basket; a re-sent order replaces its basket.
        let single = [p("d")];
        ix.add_orders([(&o3, &single[..])]);
        assert_eq!(ix.baskets(), 2);
        let b2_again = [p("b"), p("d")];
        ix.add_orders([(&o2, &b2_again[..])]);
        assert_eq!(ix.neighbours(&p("c")), []);
        assert_eq!(ix.neighbours(&p("d")), [(p("b"), half)]);
    }

    /// Online Retail's orders fed in 20 chunks give exactly the lists the
    /// trainer builds over all baskets at once (its own indexing and
    /// co-occurrence code, the same settings).
    #[test]
    fn online_retail_incremental_equals_the_trainers_full_recompute() {
        use crate::data::Indexed;
        use crate::sources::cooccur::CoOccurrence;
        use crate::{interactions_from_store, RecommendConfig, Similarity};

        let Some(file) = cohort_testkit::dataset(cohort_testkit::ONLINE_RETAIL) else { return };
        let store = cohort_store::MemoryStore::new();
        cohort_collect::import::import_file(
            &store,
            &cohort_collect::import::Source::online_retail(),
            &file,
            &cohort_collect::import::ImportOptions::default(),
            &cohort_collect::import::NoProgress,
        )
        .unwrap();
        let mut interactions = interactions_from_store(&store).unwrap();
        interactions.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.product.cmp(&b.product)));
        let products = cohort_store::EventStore::products(&store).unwrap();
        let hidden = ["POST", "DOT", "M", "m", "C2", "D", "S", "B", "CRUK", "PADS", "BANK CHARGES", "AMAZONFEE"];
        let config = RecommendConfig { hidden: hidden.iter().map(|h| p(h)).collect(), ..RecommendConfig::default() };

        let ix = Indexed::build(&interactions, &products, &config, None).unwrap();
        let rows: Vec<Vec<(u32, f32)>> = ix.baskets.iter().map(|b| b.iter().map(|&i| (i, 1.0)).collect()).collect();
        let co = CoOccurrence {
            similarity: Similarity::Cosine,
            k: config.neighbours,
            min_support: config.min_support,
            max_items: config.max_items_per_user,
        };
        let full = co.build(&rows, ix.items.len());

        let mut index = BasketIndex::new(config.neighbours, config.max_items_per_user);
        let mut refreshed = 0;
        for chunk in interactions.chunks(interactions.len().div_ceil(20)) {
            refreshed += index.add_purchases(chunk, &config.hidden).len();
        }
        assert_eq!(index.baskets(), ix.baskets.len());
        let mut lists = 0;
        for (i, item) in ix.items.iter().enumerate() {
            let expected: Vec<(ProductId, f32)> =
                full.of(i as u32).map(|(b, s)| (ix.items[b as usize].id.clone(), s)).collect();
            assert_eq!(index.neighbours(&item.id), expected, "{}", item.id);
            lists += usize::from(!expected.is_empty());
        }
        assert_eq!((index.baskets(), lists), (17_092, 3_655), "baskets of 2+ products, products with a list");
        assert!(refreshed > lists, "{refreshed}");
        println!("{} baskets, {lists} lists equal; {refreshed} list refreshes over 20 chunks", index.baskets());
    }
}
