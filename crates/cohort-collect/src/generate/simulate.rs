//! One user's life: the lifecycle state machine (active → quiet → churned
//! for good or silent and won back) driving sessions day by day, and the
//! conversion of the user's draft events into model records.

use chrono::{DateTime, NaiveDate};
use cohort_model::{
    AnonymousId, Batch, Event, EventId, EventName, Money, Order, PersonId, Platform, ProductId, UserId,
};
use rand::Rng;

use super::calendar::{Calendar, Campaign, HourCurves};
use super::catalogue::{Catalogue, Category};
use super::persona::Plan;
use super::rng::{exponential, poisson, user_rng, ShopRng};

/// Everything shared by all users of a run.
#[derive(Debug)]
pub(crate) struct Shop {
    pub seed: u64,
    pub start_date: NaiveDate,
    pub calendar: Calendar,
    pub catalogue: Catalogue,
    pub hours: HourCurves,
}

/// Running totals of what was generated.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub users: u64,
    pub events: u64,
    pub orders: u64,
    pub order_lines: u64,
    /// Paid by purchases, fen.
    pub revenue: i64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: Counts) {
        self.users += other.users;
        self.events += other.events;
        self.orders += other.orders;
        self.order_lines += other.order_lines;
        self.revenue += other.revenue;
    }
}

/// Property payloads of draft events.
#[derive(Debug, Clone)]
pub(crate) enum Extra {
    None,
    Page(&'static str),
    List(&'static str),
    Share(&'static str),
    Watch(u32),
    CheckIn(u32),
    Checkout(i64),
    Refund(u32),
}

/// An event before it gets its id: compact, cheap to sort.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub at: i64,
    pub name: EventName,
    pub platform: Platform,
    pub channel: Option<&'static str>,
    pub logged_in: bool,
    pub anonymous: bool,
    pub category: Option<Category>,
    pub product: Option<usize>,
    pub quantity: Option<i64>,
    /// Order number `n` of `o{seed}-{index}-{n}`.
    pub order: Option<u32>,
    pub revenue: Option<i64>,
    pub discount: Option<i64>,
    pub coupon: Option<&'static str>,
    pub query: Option<String>,
    pub rating: Option<u8>,
    pub review: Option<String>,
    pub campaign: Option<Campaign>,
    pub extra: Extra,
}

impl Draft {
    pub(crate) fn new(at: i64, name: EventName, platform: Platform) -> Self {
        Draft {
            at,
            name,
            platform,
            channel: None,
            logged_in: true,
            anonymous: false,
            category: None,
            product: None,
            quantity: None,
            order: None,
            revenue: None,
            discount: None,
            coupon: None,
            query: None,
            rating: None,
            review: None,
            campaign: None,
            extra: Extra::None,
        }
    }
}

/// Where a user stands in their lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Active,
    Silent { until: i64 },
    Gone,
}

/// The simulation state of one user.
pub(crate) struct UserSim<'a> {
    pub shop: &'a Shop,
    pub index: u64,
    pub plan: Plan,
    pub rng: ShopRng,
    pub drafts: Vec<Draft>,
    pub orders: Vec<Order>,
    pub registered_at: Option<i64>,
    /// The clock inside a session, unix seconds.
    pub t: i64,
    /// The product re-bought on replenishment, once chosen.
    pub favourite: Option<usize>,
    pub purchases: u32,
    pub user_id: UserId,
    pub person_id: PersonId,
    /// Scratch list of products viewed in the current session.
    pub viewed: Vec<usize>,
}

/// Simulates user `index` and appends its user record, events and orders to
/// `batch`.
pub(crate) fn simulate(shop: &Shop, index: u64, batch: &mut Batch, counts: &mut Counts) {
    let mut rng = user_rng(shop.seed, index);
    let plan = Plan::draw(&mut rng, &shop.calendar);
    let user_id = UserId::new(format!("u{index:08}")).expect("generated user ids are valid");
    let mut sim = UserSim {
        shop,
        index,
        plan,
        rng,
        drafts: Vec::new(),
        orders: Vec::new(),
        registered_at: None,
        t: 0,
        favourite: None,
        purchases: 0,
        person_id: user_id.clone().into(),
        user_id,
        viewed: Vec::new(),
    };
    sim.live();
    sim.finish(batch, counts);
}

impl UserSim<'_> {
    /// Walks the days from registration (or the start) to the end.
    fn live(&mut self) {
        let shop = self.shop;
        let days = shop.calendar.days.len() as i64;
        let (first_day, mut phase, mut since) = match self.plan.registered_before {
            Some(at) => {
                self.registered_at = Some(at);
                let phase = match self.rng.random::<f64>() {
                    x if x < 0.55 => Phase::Active,
                    x if x < 0.80 => Phase::Silent { until: self.rng.random_range(0..120) },
                    _ => Phase::Gone,
                };
                (0, phase, self.plan.registration_day)
            }
            None => (self.plan.registration_day, Phase::Active, self.plan.registration_day),
        };
        let mut winbacks = 0;
        let mut quiet_at = first_day + self.plan.next_quiet(&mut self.rng, 0) as i64;
        let mut next_replenish = match self.plan.behaviour.replenish {
            Some((_, _, hi)) => first_day + self.rng.random_range(0..i64::from(hi)),
            None => i64::MAX,
        };
        let mut streak = (0u32, -2i64);
        for d in first_day..days {
            match phase {
                Phase::Gone => break,
                Phase::Silent { until } => {
                    let sale = shop.calendar.days[d as usize].campaign.is_some_and(Campaign::is_big_sale);
                    if d < until && !(sale && self.rng.random_bool(0.015)) {
                        continue;
                    }
                    winbacks += 1;
                    phase = Phase::Active;
                    since = d;
                    quiet_at = d + self.plan.next_quiet(&mut self.rng, winbacks) as i64;
                }
                Phase::Active if d >= quiet_at => {
                    phase = if self.rng.random_bool(self.plan.churn_for_good) {
                        Phase::Gone
                    } else {
                        Phase::Silent { until: d + 25 + exponential(&mut self.rng, 70.0) as i64 }
                    };
                    continue;
                }
                Phase::Active => {}
            }
            let signup = d == first_day && self.registered_at.is_none();
            let replenish = d >= next_replenish;
            if let (true, Some((category, lo, hi))) = (replenish, self.plan.behaviour.replenish) {
                next_replenish = d + self.rng.random_range(i64::from(lo)..=i64::from(hi));
                self.active_day(d as usize, d - since, signup, Some(category), winbacks);
            } else {
                self.active_day(d as usize, d - since, signup, None, winbacks);
            }
            if self.plan.checks_in && self.rng.random_bool(0.4) {
                streak = if streak.1 == d - 1 { (streak.0 + 1, d) } else { (1, d) };
                self.check_in(d as usize, streak.0);
            }
        }
    }

    /// The sessions of one day in an active phase.
    fn active_day(&mut self, d: usize, age: i64, signup: bool, replenish: Option<Category>, winbacks: u32) {
        let shop = self.shop;
        let day = &shop.calendar.days[d];
        let b = self.plan.behaviour;
        let honeymoon = 0.45 + 1.2 * (-(age.max(0) as f64) / 40.0).exp();
        let weekday = if day.weekend { b.weekend } else { b.weekday };
        let mean = self.plan.rate * honeymoon * day.traffic * weekday * 0.85f64.powi(winbacks as i32);
        let mut sessions = poisson(&mut self.rng, mean).min(6);
        if signup || (replenish.is_some() && self.rng.random_bool(0.9)) {
            sessions = sessions.max(1);
        }
        let mut starts: Vec<i64> = (0..sessions)
            .map(|_| {
                let hour = i64::from(shop.hours.hour(&mut self.rng, b.night));
                day.start + hour * 3600 + self.rng.random_range(0..3600)
            })
            .collect();
        starts.sort_unstable();
        let mut free_at = i64::MIN;
        for (i, start) in starts.into_iter().enumerate() {
            let mut start = start.max(free_at);
            let intent = match (i, signup, replenish) {
                (0, true, _) => {
                    // Signups must complete inside the period.
                    start = start.min(shop.calendar.end - 3600);
                    Intent::Signup
                }
                (0, false, Some(category)) => Intent::Replenish(category),
                _ => Intent::Browse,
            };
            if start >= shop.calendar.end {
                break;
            }
            let end = self.session(d, start, intent);
            free_at = end + self.rng.random_range(600..5400);
        }
    }

    /// A daily check-in on the app or mini-program.
    fn check_in(&mut self, d: usize, streak: u32) {
        let day = &self.shop.calendar.days[d];
        let hour = i64::from(self.shop.hours.hour(&mut self.rng, self.plan.behaviour.night));
        let at = day.start + hour * 3600 + self.rng.random_range(0..3600);
        if at >= self.shop.calendar.end || self.registered_at.is_none_or(|r| at <= r) {
            return;
        }
        let platform = if self.plan.platform == Platform::App { Platform::App } else { Platform::MiniProgram };
        let mut draft = Draft::new(at, EventName::CheckedIn, platform);
        draft.extra = Extra::CheckIn(streak);
        self.drafts.push(draft);
    }

    /// Sorts the drafts by time, gives them ids and appends everything to
    /// the batch.
    fn finish(mut self, batch: &mut Batch, counts: &mut Counts) {
        let shop = self.shop;
        // A signup session cut short by the end of the period never got to
        // the registration step: the user registered right after it.
        let registered_at = self.registered_at.unwrap_or_else(|| {
            let last = self.drafts.iter().map(|d| d.at + 1).max();
            last.unwrap_or(shop.calendar.start + self.plan.registration_day * 86_400).min(shop.calendar.end - 1)
        });
        let user = self.plan.user(&mut self.rng, self.user_id.clone(), shop.start_date, registered_at);
        batch.users.push(user);
        self.drafts.sort_by_key(|d| d.at);
        let seed = shop.seed;
        let index = self.index;
        let anonymous: Vec<AnonymousId> = Platform::ALL
            .iter()
            .map(|p| AnonymousId::new(format!("a{seed}-{index}-{}", p.as_str())).expect("valid anonymous id"))
            .collect();
        counts.users += 1;
        counts.events += self.drafts.len() as u64;
        batch.events.reserve(self.drafts.len());
        for (n, draft) in self.drafts.into_iter().enumerate() {
            let id = EventId::new(format!("g{seed}-{index}-{n}")).expect("valid event id");
            batch.events.push(materialise(shop, draft, id, &self.person_id, &self.user_id, &anonymous, index));
        }
        self.orders.sort_by_key(|o| o.placed_at);
        for order in &self.orders {
            counts.orders += 1;
            counts.order_lines += order.lines.len() as u64;
            if order.kind == cohort_model::OrderKind::Purchase {
                counts.revenue += order.total.fen();
            }
        }
        batch.orders.append(&mut self.orders);
    }
}

/// Why a session happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// An ordinary visit.
    Browse,
    /// The first visit: browse anonymously, register, carry on.
    Signup,
    /// Coming back to re-buy a consumable of the category.
    Replenish(Category),
}

/// The id of the `n`th order of user `index`.
pub(crate) fn order_id(seed: u64, index: u64, n: u32) -> cohort_model::OrderId {
    cohort_model::OrderId::new(format!("o{seed}-{index}-{n}")).expect("valid order id")
}

fn materialise(
    shop: &Shop,
    d: Draft,
    id: EventId,
    person: &PersonId,
    user: &UserId,
    anonymous: &[AnonymousId],
    index: u64,
) -> Event {
    let product = d.product.map(|p| &shop.catalogue.info[p]);
    let category = d.category.or(product.map(|p| p.category));
    let mut properties = serde_json::Map::new();
    match d.extra {
        Extra::None => {}
        Extra::Page(page) => _ = properties.insert("page".into(), page.into()),
        Extra::List(list) => _ = properties.insert("list".into(), list.into()),
        Extra::Share(to) => _ = properties.insert("to".into(), to.into()),
        Extra::Watch(secs) => _ = properties.insert("duration_s".into(), secs.into()),
        Extra::CheckIn(streak) => _ = properties.insert("streak".into(), streak.into()),
        Extra::Checkout(value) => _ = properties.insert("value".into(), (value as f64 / 100.0).into()),
        Extra::Refund(n) => {
            _ = properties.insert("refund_id".into(), order_id(shop.seed, index, n).into_string().into())
        }
    }
    if let Some(campaign) = d.campaign {
        properties.insert("campaign".into(), campaign.as_str().into());
    }
    Event {
        id,
        person_id: Some(person.clone()),
        user_id: d.logged_in.then(|| user.clone()),
        anonymous_id: d.anonymous.then(|| anonymous[d.platform.index()].clone()),
        name: d.name,
        timestamp: DateTime::from_timestamp(d.at, 0).expect("timestamps inside chrono's range"),
        platform: Some(d.platform),
        channel: d.channel.map(str::to_string),
        product_id: product.map(|p| ProductId::clone(&p.id)),
        category: category.map(|c| c.name().to_string()),
        price: product.map(|p| Money::from_fen(p.price)),
        quantity: d.quantity,
        order_id: d.order.map(|n| order_id(shop.seed, index, n)),
        revenue: d.revenue.map(Money::from_fen),
        discount: d.discount.map(Money::from_fen),
        coupon: d.coupon.map(str::to_string),
        query: d.query,
        rating: d.rating,
        review_body: d.review,
        properties,
    }
}
