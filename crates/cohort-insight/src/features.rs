//! Per-person features of the 360° profile, computed in one pass over a
//! person's events and one over their orders.
//!
//! Every "within N days" is `ShopTime::days_between(t, as_of) <= N` on
//! shop-local calendar dates; records after `as_of` are ignored. The work is
//! linear in the history length (the product-comparison days sort the
//! views of the last 90 days) and allocates only for categories, launched
//! products and the profile's own vectors.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use cohort_model::{
    BehaviourType, Event, EventName, LifecycleStage, Money, Order, OrderKind, Platform, PlatformMix, ProductId,
    Profile, ShopTime, ValueTier, Windowed,
};
use cohort_store::PersonHistory;

use crate::{Catalogue, InsightConfig};

/// A purchased product counts as a new-product trial when first bought at
/// most this many shop-local days after its launch.
pub const NEW_PRODUCT_TRIAL_DAYS: i64 = 30;

/// A comparison day has at least this many distinct products of one
/// category viewed.
pub const COMPARISON_MIN_PRODUCTS: usize = 3;

/// `inactive_days` of a person with neither a registration date nor any
/// activity up to `as_of` (a registered user imported without dates): a
/// century, so every lifecycle threshold reads them as churned.
pub const NEVER_SEEN_INACTIVE_DAYS: i64 = 36_500;

/// Builds one person's profile at `as_of` with the default configuration
/// (value window 365 days). See [`build_profile_with`].
pub fn build_profile(history: &PersonHistory, catalogue: &Catalogue, as_of: DateTime<Utc>, shop: &ShopTime) -> Profile {
    build_profile_with(history, catalogue, as_of, shop, &InsightConfig::default())
}

/// Builds one person's profile at `as_of`: every feature, plus the
/// per-person segments (value tier, lifecycle stage, behaviour type) under
/// `cfg`. The RFM scores need the whole population and are left `None`
/// until [`crate::assign_segments`].
///
/// `cfg.value.window_days` sets the window of `value_orders` and
/// `value_monetary`; `shop` is taken as given (not from `cfg.time_zone`), so
/// callers parse the zone once.
pub fn build_profile_with(
    history: &PersonHistory,
    catalogue: &Catalogue,
    as_of: DateTime<Utc>,
    shop: &ShopTime,
    cfg: &InsightConfig,
) -> Profile {
    let mut f = Features::new(as_of, shop, i64::from(cfg.value.window_days));
    for event in history.events.iter().filter(|e| e.timestamp <= as_of) {
        f.event(event, catalogue);
    }
    for order in history.orders.iter().filter(|o| o.placed_at <= as_of) {
        f.order(order, catalogue);
    }
    let registered = history.user.as_ref().and_then(|u| u.registered_at).filter(|t| *t <= as_of);
    let mut profile = f.finish(history, registered);
    crate::segments::classify(&mut profile, cfg);
    profile
}

/// Activity (activity events and every order): when, where, how often.
#[derive(Debug, Default)]
struct Activity {
    count: u32,
    hours: [u32; 24],
    weekend: u32,
    platforms: [u32; 4],
    first: Option<DateTime<Utc>>,
    last: Option<DateTime<Utc>>,
    /// Bit `d` set when there was activity `d` days before `as_of` (0..=30).
    recent_days: u32,
}

impl Activity {
    fn record(&mut self, at: DateTime<Utc>, local: &DateTime<Tz>, days_ago: i64, platform: Option<Platform>) {
        self.count += 1;
        self.hours[local.hour() as usize] += 1;
        if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
            self.weekend += 1;
        }
        if let Some(p) = platform {
            self.platforms[p.index()] += 1;
        }
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        if (0..=30).contains(&days_ago) {
            self.recent_days |= 1 << days_ago;
        }
    }
}

struct Features<'a> {
    as_of: DateTime<Utc>,
    shop: ShopTime,
    today: NaiveDate,
    value_window: i64,
    activity: Activity,
    orders: Windowed<u32>,
    monetary: Windowed<Money>,
    value_orders: u32,
    value_monetary: Money,
    first_order: Option<DateTime<Utc>>,
    last_order: Option<DateTime<Utc>>,
    discounted: u32,
    refunds: u32,
    refunded: Money,
    /// Category → purchased amount in fen.
    bought: HashMap<&'a str, u64>,
    /// Category → product views.
    viewed: HashMap<&'a str, u64>,
    /// Product with a known launch → (launch, first purchase).
    launched: HashMap<&'a ProductId, (DateTime<Utc>, DateTime<Utc>)>,
    reviews: u32,
    shares: u32,
    searches_90d: u32,
    views_90d: u32,
    carts_90d: u32,
    shares_90d: u32,
    /// Views of the last 90 days: (shop date, category, product).
    compare: Vec<(NaiveDate, &'a str, &'a ProductId)>,
}

fn add<T: Copy + std::ops::AddAssign>(w: &mut Windowed<T>, days_ago: i64, value: T) {
    if days_ago <= 30 {
        w.d30 += value;
    }
    if days_ago <= 90 {
        w.d90 += value;
    }
    if days_ago <= 180 {
        w.d180 += value;
    }
    w.lifetime += value;
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.is_empty())
}

impl<'a> Features<'a> {
    fn new(as_of: DateTime<Utc>, shop: &ShopTime, value_window: i64) -> Self {
        Features {
            as_of,
            shop: *shop,
            today: shop.date(as_of),
            value_window,
            activity: Activity::default(),
            orders: Windowed::default(),
            monetary: Windowed::default(),
            value_orders: 0,
            value_monetary: Money::ZERO,
            first_order: None,
            last_order: None,
            discounted: 0,
            refunds: 0,
            refunded: Money::ZERO,
            bought: HashMap::new(),
            viewed: HashMap::new(),
            launched: HashMap::new(),
            reviews: 0,
            shares: 0,
            searches_90d: 0,
            views_90d: 0,
            carts_90d: 0,
            shares_90d: 0,
            compare: Vec::new(),
        }
    }

    /// Shop-local time and days before `as_of`.
    fn local(&self, at: DateTime<Utc>) -> (DateTime<Tz>, i64) {
        let local = at.with_timezone(&self.shop.tz());
        let days_ago = (self.today - local.date_naive()).num_days();
        (local, days_ago)
    }

    fn days_ago(&self, at: DateTime<Utc>) -> i64 {
        self.shop.days_between(at, self.as_of)
    }

    fn event(&mut self, e: &'a Event, catalogue: &'a Catalogue) {
        let (local, days_ago) = self.local(e.timestamp);
        if e.name.is_activity() {
            self.activity.record(e.timestamp, &local, days_ago, e.platform);
        }
        let recent = days_ago <= 90;
        match e.name {
            EventName::ProductReviewed => self.reviews += 1,
            EventName::ProductShared => {
                self.shares += 1;
                self.shares_90d += u32::from(recent);
            }
            EventName::ProductsSearched => self.searches_90d += u32::from(recent),
            EventName::ProductAdded => self.carts_90d += u32::from(recent),
            EventName::ProductViewed => {
                self.views_90d += u32::from(recent);
                let category = non_empty(e.category.as_deref())
                    .or_else(|| e.product_id.as_ref().and_then(|p| catalogue.category(p)));
                if let Some(category) = category {
                    *self.viewed.entry(category).or_default() += 1;
                    if let (true, Some(product)) = (recent, e.product_id.as_ref()) {
                        self.compare.push((local.date_naive(), category, product));
                    }
                }
            }
            _ => {}
        }
    }

    fn order(&mut self, o: &'a Order, catalogue: &'a Catalogue) {
        let (local, days_ago) = self.local(o.placed_at);
        self.activity.record(o.placed_at, &local, days_ago, o.platform);
        if o.kind == OrderKind::Refund {
            self.refunds += 1;
            self.refunded += o.total;
            return;
        }
        // A negative total is an adjustment, not money paid: it adds nothing.
        let paid = o.total.max(Money::ZERO);
        add(&mut self.orders, days_ago, 1);
        add(&mut self.monetary, days_ago, paid);
        if days_ago <= self.value_window {
            self.value_orders += 1;
            self.value_monetary += paid;
        }
        self.first_order = Some(self.first_order.map_or(o.placed_at, |f| f.min(o.placed_at)));
        self.last_order = Some(self.last_order.map_or(o.placed_at, |l| l.max(o.placed_at)));
        self.discounted += u32::from(o.is_discounted());
        for line in o.lines.iter().filter(|l| l.quantity > 0 && l.unit_price > Money::ZERO) {
            let category = non_empty(line.category.as_deref()).or_else(|| catalogue.category(&line.product_id));
            if let Some(category) = category {
                let amount = u64::try_from(line.amount().fen()).unwrap_or(0);
                let total = self.bought.entry(category).or_default();
                *total = total.saturating_add(amount);
            }
            if let Some(launch) = catalogue.launched_at(&line.product_id) {
                let seen = self.launched.entry(&line.product_id).or_insert((launch, o.placed_at));
                seen.1 = seen.1.min(o.placed_at);
            }
        }
    }

    fn finish(mut self, history: &PersonHistory, registered: Option<DateTime<Utc>>) -> Profile {
        let a = &self.activity;
        let registered_at = registered.or(a.first);
        let registration_age_days = registered_at.map(|t| self.days_ago(t));
        let inactive_days =
            a.last.map(|t| self.days_ago(t)).or(registration_age_days).unwrap_or(NEVER_SEEN_INACTIVE_DAYS);
        let ratio = |part: u32, whole: u32| (whole > 0).then(|| f64::from(part) / f64::from(whole));

        let category_shares = if self.bought.is_empty() { shares(&self.viewed) } else { shares(&self.bought) };
        let top_category = category_shares.first().map(|(c, _)| c.clone());
        let trials = self
            .launched
            .values()
            .filter(|(launch, first)| self.shop.days_between(*launch, *first) <= NEW_PRODUCT_TRIAL_DAYS);
        let new_product_trial_rate = ratio(trials.count() as u32, self.launched.len() as u32);

        let tagged: u32 = a.platforms.iter().sum();
        let mix = |p: Platform| ratio(a.platforms[p.index()], tagged).unwrap_or(0.0);
        let platform_mix = PlatformMix {
            app: mix(Platform::App),
            mini_program: mix(Platform::MiniProgram),
            web: mix(Platform::Web),
            store: mix(Platform::Store),
        };
        let mut peak_hour = None;
        for (hour, &n) in a.hours.iter().enumerate() {
            if n > 0 && peak_hour.is_none_or(|p: usize| n > a.hours[p]) {
                peak_hour = Some(hour);
            }
        }

        let comparison_days_90d = comparison_days(&mut self.compare);
        let lifetime = self.orders.lifetime;
        Profile {
            person_id: history.person_id.clone(),
            as_of: self.as_of,
            registered_at,
            registration_age_days,
            first_order_at: self.first_order,
            last_order_at: self.last_order,
            last_active_at: a.last,
            recency_days: self.last_order.map(|t| self.days_ago(t)),
            inactive_days,
            visit_days_30d: a.recent_days.count_ones(),
            orders: self.orders,
            monetary: self.monetary,
            value_orders: self.value_orders,
            value_monetary: self.value_monetary,
            aov: (lifetime > 0).then(|| div_round(self.monetary.lifetime, lifetime)),
            refunds: self.refunds,
            refunded: self.refunded,
            category_shares,
            top_category,
            new_product_trial_rate,
            price_sensitivity: ratio(self.discounted, lifetime),
            platform_mix,
            active_hours: a.hours,
            peak_hour: peak_hour.map(|h| h as u8),
            weekend_share: ratio(a.weekend, a.count),
            reviews: self.reviews,
            shares: self.shares,
            searches_90d: self.searches_90d,
            views_90d: self.views_90d,
            carts_90d: self.carts_90d,
            shares_90d: self.shares_90d,
            comparison_days_90d,
            value_tier: ValueTier::Prospect,
            rfm: None,
            rfm_segment: None,
            lifecycle: LifecycleStage::New,
            behaviour: BehaviourType::Casual,
        }
    }
}

/// `total / n` rounded to the nearest fen, halves away from zero.
fn div_round(total: Money, n: u32) -> Money {
    let (t, n) = (i128::from(total.fen()), i128::from(n));
    let q = if t >= 0 { (2 * t + n) / (2 * n) } else { -((-2 * t + n) / (2 * n)) };
    Money::from_fen(q as i64)
}

/// Shares of each category's weight, largest first, ties by name.
fn shares(weights: &HashMap<&str, u64>) -> Vec<(String, f64)> {
    let total: u128 = weights.values().map(|&w| u128::from(w)).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<(&str, u64)> = weights.iter().filter(|(_, &w)| w > 0).map(|(&c, &w)| (c, w)).collect();
    sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    sorted.into_iter().map(|(c, w)| (c.to_string(), w as f64 / total as f64)).collect()
}

/// Days on which at least [`COMPARISON_MIN_PRODUCTS`] distinct products of
/// one category were viewed.
fn comparison_days(views: &mut Vec<(NaiveDate, &str, &ProductId)>) -> u32 {
    views.sort_unstable();
    views.dedup();
    let mut days = 0;
    let mut last_day = None;
    let mut run = 0;
    for (i, &(date, category, _)) in views.iter().enumerate() {
        let same = i > 0 && views[i - 1].0 == date && views[i - 1].1 == category;
        run = if same { run + 1 } else { 1 };
        if run == COMPARISON_MIN_PRODUCTS && last_day != Some(date) {
            days += 1;
            last_day = Some(date);
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_rounds_to_the_nearest_fen() {
        assert_eq!(div_round(Money::from_fen(10), 4), Money::from_fen(3)); // 2.5 → 3
        assert_eq!(div_round(Money::from_fen(10), 3), Money::from_fen(3));
        assert_eq!(div_round(Money::from_fen(-10), 4), Money::from_fen(-3));
    }

    #[test]
    fn comparison_days_need_three_products_of_one_category() {
        let d1 = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap();
        let d2 = NaiveDate::from_ymd_opt(2024, 6, 2).unwrap();
        let p: Vec<ProductId> = (0..4).map(|i| ProductId::new(format!("p{i}")).unwrap()).collect();
        let mut views = vec![
            (d1, "a", &p[0]),
            (d1, "a", &p[1]),
            (d1, "a", &p[1]),
            (d1, "b", &p[2]),
            (d2, "a", &p[0]),
            (d2, "a", &p[1]),
            (d2, "a", &p[2]),
            (d2, "a", &p[3]),
        ];
        assert_eq!(comparison_days(&mut views), 1);
    }
}
