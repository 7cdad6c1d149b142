//! The product catalogue: eight categories with their own price levels,
//! brands and consumable / durable mix, launches spread over the period,
//! popularity with a long tail, and a few products with a planted flaw that
//! their negative reviews complain about.

use std::collections::HashSet;

use chrono::DateTime;
use cohort_model::{Money, Product, ProductId};
use rand::Rng;

use super::rng::{lognormal, pick, pick_weighted, shop_rng, Cumulative, ShopRng};
use super::vocab::{CATEGORIES, SERIES};

/// A product category; its Chinese name is the stored category value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Category {
    MotherBaby,
    PetFood,
    Apparel,
    Beauty,
    Snacks,
    Electronics,
    Home,
    Fresh,
}

impl Category {
    /// Every category, in a fixed order (the index of [`Category::index`]).
    pub(crate) const ALL: [Category; 8] = [
        Category::MotherBaby,
        Category::PetFood,
        Category::Apparel,
        Category::Beauty,
        Category::Snacks,
        Category::Electronics,
        Category::Home,
        Category::Fresh,
    ];

    /// The stored category value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Category::MotherBaby => "母婴",
            Category::PetFood => "宠物食品",
            Category::Apparel => "服饰",
            Category::Beauty => "美妆",
            Category::Snacks => "零食",
            Category::Electronics => "数码",
            Category::Home => "家居",
            Category::Fresh => "生鲜",
        }
    }

    /// Position in [`Category::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Share of the catalogue, and the base interest of an ordinary user.
    pub(crate) fn share(self) -> f64 {
        [0.15, 0.10, 0.20, 0.14, 0.12, 0.10, 0.12, 0.07][self.index()]
    }

    /// How likely each [`Topic`] is the subject of a complaint here.
    fn complaint_weights(self) -> [f64; 6] {
        match self {
            Category::MotherBaby => [0.25, 0.15, 0.30, 0.10, 0.10, 0.10],
            Category::PetFood => [0.30, 0.0, 0.25, 0.10, 0.15, 0.20],
            Category::Apparel => [0.15, 0.40, 0.25, 0.08, 0.08, 0.04],
            Category::Beauty => [0.20, 0.0, 0.35, 0.15, 0.15, 0.15],
            Category::Snacks => [0.25, 0.0, 0.30, 0.05, 0.15, 0.25],
            Category::Electronics => [0.15, 0.0, 0.45, 0.25, 0.10, 0.05],
            Category::Home => [0.25, 0.10, 0.35, 0.10, 0.10, 0.10],
            Category::Fresh => [0.30, 0.0, 0.35, 0.05, 0.05, 0.25],
        }
    }
}

/// What a negative review complains about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Topic {
    Logistics,
    Size,
    Quality,
    Service,
    Price,
    Packaging,
}

impl Topic {
    /// Every topic, in [`super::vocab::COMPLAINTS`] order.
    pub(crate) const ALL: [Topic; 6] =
        [Topic::Logistics, Topic::Size, Topic::Quality, Topic::Service, Topic::Price, Topic::Packaging];

    /// The keyword the topic's complaints contain.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Topic::Logistics => "物流",
            Topic::Size => "尺码",
            Topic::Quality => "质量",
            Topic::Service => "客服",
            Topic::Price => "价格",
            Topic::Packaging => "包装",
        }
    }

    /// A complaint topic drawn for a product of `category`.
    pub(crate) fn draw(rng: &mut ShopRng, category: Category, logistics_boost: f64) -> Topic {
        let mut weights = category.complaint_weights();
        weights[0] *= logistics_boost;
        Topic::ALL[pick_weighted(rng, &weights)]
    }
}

/// What the simulation needs to know about a product.
#[derive(Debug, Clone)]
pub(crate) struct ProductInfo {
    pub id: ProductId,
    pub category: Category,
    /// List price in fen.
    pub price: i64,
    pub consumable: bool,
    pub in_stock: bool,
    /// Unix seconds of the launch.
    pub launched: i64,
    /// The planted flaw its negative reviews mostly name, if any.
    pub flaw: Option<Topic>,
}

/// Products of one category and their popularity.
#[derive(Debug, Clone)]
struct CategoryIndex {
    products: Vec<usize>,
    popularity: Cumulative,
    consumables: Vec<usize>,
    consumable_popularity: Cumulative,
}

/// The generated catalogue.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    pub products: Vec<Product>,
    pub info: Vec<ProductInfo>,
    by_category: Vec<CategoryIndex>,
}

/// Catalogue size: about 2,000 products, growing slowly with the user count.
pub(crate) fn catalogue_size(users: u64) -> usize {
    (1200.0 + 200.0 * (users.max(1) as f64).log10()).round() as usize
}

impl Catalogue {
    /// Builds the catalogue for a seed. `start` / `end` bound the period in
    /// unix seconds; a fifth of the products launch inside it.
    pub(crate) fn build(seed: u64, users: u64, start: i64, end: i64) -> Self {
        let mut rng = shop_rng(seed, 1);
        let total = catalogue_size(users);
        let mut names = HashSet::new();
        let mut products = Vec::with_capacity(total);
        let mut info = Vec::with_capacity(total);
        let mut popularity = Vec::with_capacity(total);
        for category in Category::ALL {
            let count = ((total as f64) * category.share()).round() as usize;
            let vocab = &CATEGORIES[category.index()];
            for _ in 0..count {
                let n = info.len() + 1;
                let template = pick(&mut rng, vocab.templates);
                let brand = pick(&mut rng, vocab.brands);
                let spec = pick(&mut rng, template.specs);
                let mut name = format!("{brand} {} {spec}", template.name);
                let mut series = 0;
                while !names.insert(name.clone()) {
                    name = match SERIES.get(series) {
                        Some(s) => format!("{brand} {} {s} {spec}", template.name),
                        None => format!("{brand} {} {spec} 款{n}", template.name),
                    };
                    series += 1;
                }
                let price = draw_price(&mut rng, template.yuan);
                let launched = if rng.random_bool(0.8) {
                    start - rng.random_range(1..3 * 365 * 86_400)
                } else {
                    // Launches happen at 10:00 shop time on some day of the period.
                    let day = rng.random_range(0..((end - start) / 86_400).max(1));
                    start + day * 86_400 + 10 * 3600
                };
                let in_stock = rng.random_bool(0.97);
                let flaw = rng.random_bool(0.08).then(|| Topic::draw(&mut rng, category, 1.0));
                let id = ProductId::new(format!("p{n:05}")).expect("generated product ids are valid");
                let mut boost = lognormal(&mut rng, 1.0, 1.1);
                if launched >= start {
                    boost *= 1.5;
                }
                popularity.push(boost);
                products.push(Product {
                    id: id.clone(),
                    name: Some(name),
                    category: Some(category.name().to_string()),
                    price: Some(Money::from_fen(price)),
                    brand: Some((*brand).to_string()),
                    launched_at: DateTime::from_timestamp(launched, 0),
                    consumable: template.consumable,
                    in_stock,
                });
                info.push(ProductInfo {
                    id,
                    category,
                    price,
                    consumable: template.consumable,
                    in_stock,
                    launched,
                    flaw,
                });
            }
        }
        let by_category = Category::ALL
            .iter()
            .map(|&c| {
                let products: Vec<usize> = (0..info.len()).filter(|&i| info[i].category == c).collect();
                let consumables: Vec<usize> = products.iter().copied().filter(|&i| info[i].consumable).collect();
                CategoryIndex {
                    popularity: Cumulative::new(products.iter().map(|&i| popularity[i])),
                    consumable_popularity: Cumulative::new(consumables.iter().map(|&i| popularity[i])),
                    products,
                    consumables,
                }
            })
            .collect();
        Catalogue { products, info, by_category }
    }

    /// A product of `category` on sale at `now` (launched), drawn by
    /// popularity; `consumable` restricts to consumables when the category
    /// has any.
    pub(crate) fn pick(&self, rng: &mut ShopRng, category: Category, now: i64, consumable: bool) -> Option<usize> {
        let index = &self.by_category[category.index()];
        let (list, table) = if consumable && !index.consumables.is_empty() {
            (&index.consumables, &index.consumable_popularity)
        } else {
            (&index.products, &index.popularity)
        };
        for _ in 0..8 {
            let p = list[table.sample(rng)];
            if self.info[p].launched <= now {
                return Some(p);
            }
        }
        list.iter().copied().find(|&p| self.info[p].launched <= now)
    }
}

/// A list price in fen inside `yuan`, drawn log-uniformly and ending in 9
/// yuan (`¥89`) or 9.90 yuan (`¥89.90`) as shop prices do.
fn draw_price(rng: &mut ShopRng, (lo, hi): (i64, i64)) -> i64 {
    let (lo_f, hi_f) = (lo as f64, hi as f64);
    let raw = (lo_f.ln() + rng.random::<f64>() * (hi_f.ln() - lo_f.ln())).exp() as i64;
    let yuan = if raw >= 10 { raw / 10 * 10 + 9 } else { raw };
    let fen = yuan * 100 + if rng.random_bool(0.4) { 90 } else { 0 };
    fen.clamp(lo * 100, hi * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_catalogue_has_priced_named_products_in_every_category() {
        let cat = Catalogue::build(3, 10_000, 1_735_660_800, 1_735_660_800 + 365 * 86_400);
        assert_eq!(cat.products.len(), 2000);
        let names: HashSet<_> = cat.products.iter().map(|p| p.name.clone()).collect();
        assert_eq!(names.len(), cat.products.len(), "names are distinct");
        for (p, i) in cat.products.iter().zip(&cat.info) {
            let vocab = &CATEGORIES[i.category.index()];
            let price = p.price.unwrap().fen();
            let (lo, hi) = vocab.templates.iter().fold((i64::MAX, 0), |(l, h), t| (l.min(t.yuan.0), h.max(t.yuan.1)));
            assert!(price >= lo * 100 && price <= hi * 100, "{:?} {price}", p.name);
        }
        let snacks = cat.info.iter().filter(|i| i.category == Category::Snacks).map(|i| i.price).max().unwrap();
        assert!(snacks <= 8_000);
        assert!(cat.info.iter().any(|i| !i.in_stock));
        assert!(cat.info.iter().any(|i| i.launched >= 1_735_660_800));
        let mut rng = shop_rng(1, 2);
        let p = cat.pick(&mut rng, Category::PetFood, 1_735_660_800, true).unwrap();
        assert!(cat.info[p].consumable && cat.info[p].category == Category::PetFood);
    }
}
