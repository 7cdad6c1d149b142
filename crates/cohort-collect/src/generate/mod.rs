//! The synthetic shop generator: a realistic Chinese e-commerce shop from a
//! seed, for demos, tests and benchmarks (`cohort generate`).
//!
//! # Determinism and streaming
//!
//! The catalogue comes from its own stream seeded by the seed; every user is
//! simulated from a ChaCha8 stream seeded by `(seed, user index)` and
//! depends on nothing else, so the output for a seed is the same whatever
//! the chunk size or thread count. Users are produced in chunks of
//! [`GeneratorConfig::chunk_users`], one [`Batch`] per chunk (users in index
//! order, then their events and orders), so memory stays bounded at any
//! scale. Ids: users `u{index:08}`, events `g{seed}-{index}-{n}` (numbered
//! in time order per user), orders and refunds `o{seed}-{index}-{n}`,
//! products `p{n:05}`, anonymous ids `a{seed}-{index}-{platform}`.
//!
//! # The model (details in `docs/generator.md`)
//!
//! * **Catalogue**: about 2,000 products (1,200 + 200·log10(users)) in eight
//!   categories named in Chinese (母婴, 宠物食品, 服饰, 美妆, 零食, 数码,
//!   家居, 生鲜), each with its price level, brands and consumable / durable
//!   mix; a fifth launch during the period, 3% are out of stock, 8% carry a
//!   planted flaw that their negative reviews name ([`Generator::product_flaws`]).
//! * **Users**: 15% registered before the start, the rest sign up along an
//!   S-curve (more later); a primary platform with some cross-platform use,
//!   an acquisition channel, birthday, gender, city, fake phone number and a
//!   [`Persona`] (the `persona` trait).
//! * **Lifecycle**: a session rate with a long tail, a honeymoon after
//!   signup, and an active spell of random length after which the user
//!   churns for good (55%) or falls silent for 25+ days and comes back, or
//!   earlier when 618 / Double 11 wakes them up.
//! * **Sessions**: Page Viewed → (Products Searched) → Product List Viewed
//!   → Product Viewed ×n → Product Added → Checkout Started → (Coupon
//!   Applied) → Order Completed, with drop-off at each step; plus shares,
//!   live streams and short videos, daily check-ins, in-store purchases,
//!   refunds (≈3% of orders) and reviews with Chinese text.
//! * **Time**: an evening-peaked hour curve (night owls 22:00–02:00),
//!   weekends, 618 and Double 11 peaks with higher conversion, a Double 12
//!   echo, the New-Year-goods festival and the Spring Festival dip.

mod calendar;
mod catalogue;
mod error;
mod native;
mod persona;
mod rng;
mod session;
mod simulate;
mod vocab;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::mpsc;

use chrono::{Datelike, NaiveDate};
use cohort_model::{Batch, Money, Product, ProductId, ShopTime};

pub use error::GenerateError;
pub use native::{NativeCsvWriter, EVENT_COLUMNS, ORDER_COLUMNS, PRODUCT_COLUMNS, USER_COLUMNS};
pub use persona::Persona;

use calendar::{Calendar, HourCurves};
use catalogue::Catalogue;
use simulate::{Counts, Shop};

/// Most days a run may cover (ten years).
pub const MAX_DAYS: u32 = 3650;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Number of users (at least 1).
    pub users: u64,
    /// Length of the period in days (1 to [`MAX_DAYS`]).
    pub days: u32,
    /// Seed: the same seed and settings give the same shop.
    pub seed: u64,
    /// First day of the period (shop-local date); default 2025-01-01.
    pub start: NaiveDate,
    /// The shop's time zone: days, hours and campaigns are shop-local.
    pub shop_time: ShopTime,
    /// Users per [`Batch`] (at least 1); default 10,000.
    pub chunk_users: usize,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            users: 10_000,
            days: 365,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"),
            shop_time: ShopTime::default(),
            chunk_users: 10_000,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Users generated.
    pub users: u64,
    /// Events generated.
    pub events: u64,
    /// Orders generated, refunds included.
    pub orders: u64,
    /// Lines of those orders.
    pub order_lines: u64,
    /// Products in the catalogue.
    pub products: u64,
    /// Amount paid by purchases (refunds not subtracted).
    pub revenue: Money,
}

/// A configured generator; cheap to run several times.
#[derive(Debug)]
pub struct Generator {
    config: GeneratorConfig,
    shop: Shop,
    threads: usize,
}

impl Generator {
    /// Validates the configuration and builds the calendar and catalogue.
    pub fn new(config: GeneratorConfig) -> Result<Self, GenerateError> {
        let invalid = |field, value: String, reason| GenerateError::InvalidConfig { field, value, reason };
        if config.users == 0 {
            return Err(invalid("users", "0".into(), "at least one user is needed"));
        }
        if !(1..=MAX_DAYS).contains(&config.days) {
            return Err(invalid("days", config.days.to_string(), "must be between 1 and 3650 (ten years)"));
        }
        if config.chunk_users == 0 {
            return Err(invalid("chunk_users", "0".into(), "a chunk holds at least one user"));
        }
        if !(1900..=9000).contains(&config.start.year()) {
            return Err(invalid("start", config.start.to_string(), "must be a date between the years 1900 and 9000"));
        }
        let calendar = Calendar::new(config.start, config.days, config.shop_time);
        let catalogue = Catalogue::build(config.seed, config.users, calendar.start, calendar.end);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let shop = Shop { seed: config.seed, start_date: config.start, calendar, catalogue, hours: HourCurves::new() };
        Ok(Generator { config, shop, threads })
    }

    /// Sets how many threads simulate users (default: the available cores,
    /// at most 8). The output does not depend on it.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// The product catalogue (also carried by the first batch of a run).
    pub fn catalogue(&self) -> Vec<Product> {
        self.shop.catalogue.products.clone()
    }

    /// Products with a planted flaw, and the complaint keyword (物流, 尺码,
    /// 质量, 客服, 价格 or 包装) most of their negative reviews contain:
    /// ground truth for complaint mining.
    pub fn product_flaws(&self) -> Vec<(ProductId, &'static str)> {
        let info = &self.shop.catalogue.info;
        info.iter().filter_map(|p| p.flaw.map(|f| (p.id.clone(), f.keyword()))).collect()
    }

    /// Generates the shop, handing `sink` one [`Batch`] per chunk of users in
    /// index order (the first batch also holds the catalogue). Stops at the
    /// first error of the sink and returns it.
    pub fn run<E>(&self, mut sink: impl FnMut(Batch) -> Result<(), E>) -> Result<GenerateSummary, E> {
        let chunk = self.config.chunk_users as u64;
        let chunks = self.config.users.div_ceil(chunk);
        let workers = (self.threads as u64).min(chunks).max(1);
        tracing::info!(
            users = self.config.users,
            days = self.config.days,
            seed = self.config.seed,
            chunks,
            workers,
            "generating shop"
        );
        let mut total = Counts::default();
        let mut deliver = |(batch, counts): (Batch, Counts)| {
            total.add(counts);
            sink(batch)
        };
        if workers == 1 {
            for c in 0..chunks {
                deliver(self.chunk(c))?;
            }
        } else {
            std::thread::scope(|scope| {
                let receivers: Vec<_> = (0..workers)
                    .map(|w| {
                        let (tx, rx) = mpsc::sync_channel(0);
                        scope.spawn(move || {
                            for c in (w..chunks).step_by(workers as usize) {
                                if tx.send(self.chunk(c)).is_err() {
                                    break;
                                }
                            }
                        });
                        rx
                    })
                    .collect();
                for c in 0..chunks {
                    let produced = receivers[(c % workers) as usize].recv().expect("a generator thread panicked");
                    deliver(produced)?;
                }
                Ok(())
            })?;
        }
        let summary = GenerateSummary {
            users: total.users,
            events: total.events,
            orders: total.orders,
            order_lines: total.order_lines,
            products: self.shop.catalogue.products.len() as u64,
            revenue: Money::from_fen(total.revenue),
        };
        tracing::info!(events = summary.events, orders = summary.orders, revenue = %summary.revenue, "shop generated");
        Ok(summary)
    }

    /// Generates the shop into `dir` as the native CSV files (`events.csv`,
    /// `orders.csv`, `users.csv`, `products.csv`), calling `progress` with
    /// the number of users done after each chunk.
    pub fn write_csv(&self, dir: &Path, mut progress: impl FnMut(u64)) -> Result<GenerateSummary, GenerateError> {
        let mut writer = NativeCsvWriter::create(dir)?;
        let mut done = 0;
        let summary = self.run(|batch| {
            writer.write_batch(&batch)?;
            done += batch.users.len() as u64;
            progress(done);
            Ok::<_, GenerateError>(())
        })?;
        writer.finish()?;
        Ok(summary)
    }

    /// The batch of chunk `c`.
    fn chunk(&self, c: u64) -> (Batch, Counts) {
        let size = self.config.chunk_users as u64;
        let range = c * size..((c + 1) * size).min(self.config.users);
        let mut batch = Batch::default();
        batch.users.reserve(range.clone().count());
        if c == 0 {
            batch.products = self.shop.catalogue.products.clone();
        }
        let mut counts = Counts::default();
        for index in range {
            simulate::simulate(&self.shop, index, &mut batch, &mut counts);
        }
        (batch, counts)
    }
}
