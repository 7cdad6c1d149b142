//! One visit: the shopping funnel (visit → search → list → views → cart →
//! checkout → coupon → order) with drop-off at every step, in-store
//! purchases, and what follows an order (refunds, reviews).

use chrono::DateTime;
use cohort_model::{EventName, Money, Order, OrderKind, OrderLine, Platform};
use rand::Rng;

use super::calendar::{Campaign, Day};
use super::catalogue::{Category, Topic};
use super::persona::{Persona, CHANNELS};
use super::rng::{pick, pick_weighted, poisson};
use super::simulate::{order_id, Draft, Extra, Intent, UserSim};
use super::vocab::{BAD_ENDINGS, CATEGORIES, COMPLAINTS, GOOD_ENDINGS, PRAISE, SHARE_TARGETS};

/// How a session's events are attributed.
#[derive(Debug, Clone, Copy)]
struct Visit {
    platform: Platform,
    channel: &'static str,
    logged_in: bool,
    anonymous: bool,
}

/// Coupon codes: (code, minimum spend, value), fen.
const COUPONS: [(&str, i64, i64); 5] = [
    ("VIP30", 19_900, 3_000),
    ("SAVE10", 9_900, 1_000),
    ("SAVE5", 0, 500),
    ("NEW20", 9_900, 2_000),
    ("PET15", 9_900, 1_500),
];

impl UserSim<'_> {
    /// Runs one session starting at `start`; returns when it ended.
    pub(crate) fn session(&mut self, d: usize, start: i64, intent: Intent) -> i64 {
        self.t = start;
        let _ = self.funnel(d, intent);
        self.t
    }

    /// Moves the session clock; `None` once it leaves the period.
    fn step(&mut self, lo: i64, hi: i64) -> Option<()> {
        self.t += self.rng.random_range(lo..=hi);
        (self.t < self.shop.calendar.end).then_some(())
    }

    fn emit(&mut self, visit: &Visit, name: EventName) -> &mut Draft {
        let mut draft = Draft::new(self.t, name, visit.platform);
        draft.channel = Some(visit.channel);
        draft.logged_in = visit.logged_in;
        draft.anonymous = visit.anonymous;
        self.drafts.push(draft);
        self.drafts.last_mut().expect("just pushed")
    }

    fn funnel(&mut self, d: usize, intent: Intent) -> Option<()> {
        let shop = self.shop;
        let day = &shop.calendar.days[d];
        let b = self.plan.behaviour;
        let platform = self.session_platform(intent);
        if platform == Platform::Store {
            return self.store_visit(day, intent == Intent::Signup);
        }
        let channel = match (intent, self.rng.random::<f64>()) {
            (Intent::Signup, _) => self.plan.channel,
            (_, x) if x < 0.45 => self.plan.channel,
            (_, x) if x < 0.75 => "organic",
            _ => CHANNELS[pick_weighted(&mut self.rng, &[0.3, 0.3, 0.2, 0.1, 0.0, 0.1, 0.0])],
        };
        let logged_out = intent == Intent::Signup || (platform == Platform::Web && self.rng.random_bool(0.3));
        let mut visit =
            Visit { platform, channel, logged_in: !logged_out, anonymous: platform == Platform::Web || logged_out };
        let page = match day.campaign {
            Some(Campaign::Mid618) => "618_venue",
            Some(Campaign::Double11) => "double11_venue",
            _ => "home",
        };
        let first = self.emit(&visit, EventName::PageViewed);
        first.extra = Extra::Page(page);
        first.campaign = day.campaign;
        if self.rng.random_bool(self.plan.watches) {
            self.step(5, 60)?;
            let (name, secs) = if self.rng.random_bool(0.5) {
                (EventName::LiveStreamWatched, self.rng.random_range(60..1800))
            } else {
                (EventName::ShortVideoWatched, self.rng.random_range(10..180))
            };
            self.emit(&visit, name).extra = Extra::Watch(secs);
            self.t += i64::from(secs);
        }
        let category = match intent {
            Intent::Replenish(category) => category,
            _ => self.pick_category(),
        };
        let searched = self.rng.random_bool(b.search);
        if searched {
            self.step(5, 40)?;
            let vocab = &CATEGORIES[category.index()];
            let query = if self.rng.random_bool(0.2) {
                format!("{} {}", pick(&mut self.rng, vocab.brands), pick(&mut self.rng, vocab.queries))
            } else {
                (*pick(&mut self.rng, vocab.queries)).to_string()
            };
            let draft = self.emit(&visit, EventName::ProductsSearched);
            draft.query = Some(query);
            draft.category = Some(category);
        }
        self.step(3, 30)?;
        let list = self.emit(&visit, EventName::ProductListViewed);
        list.category = Some(category);
        list.extra = Extra::List(if searched { "search" } else { "category" });
        let views = match intent {
            Intent::Replenish(_) => self.rng.random_range(1..=2),
            _ => self.rng.random_range(b.views.0..=b.views.1),
        };
        self.viewed.clear();
        for i in 0..views {
            let same = b.compare || i == 0 || self.rng.random_bool(0.75);
            let cat = if same { category } else { self.pick_category() };
            let Some(product) = self.pick_product(cat, intent, b.compare) else { continue };
            self.step(10, 150)?;
            self.emit(&visit, EventName::ProductViewed).product = Some(product);
            self.viewed.push(product);
            if intent == Intent::Signup && !visit.logged_in {
                // Registers after the first product page, then browses on logged in.
                self.step(20, 120)?;
                self.registered_at = Some(self.t);
                visit.logged_in = true;
            }
        }
        if self.viewed.is_empty() {
            return Some(());
        }
        if self.rng.random_bool(b.share_product) {
            self.step(5, 60)?;
            let product = *pick(&mut self.rng, &self.viewed);
            let to = *pick(&mut self.rng, &SHARE_TARGETS);
            let share = self.emit(&visit, EventName::ProductShared);
            share.product = Some(product);
            share.extra = Extra::Share(to);
        }
        // Cart.
        let weekend_boost = if day.weekend && self.plan.persona == Persona::WeekendStocker { 1.3 } else { 1.0 };
        let p_cart = match intent {
            Intent::Replenish(_) => 0.85,
            _ => (b.cart * day.conversion * weekend_boost).min(0.9),
        };
        let in_stock: Vec<usize> = self.viewed.iter().copied().filter(|&p| shop.catalogue.info[p].in_stock).collect();
        if in_stock.is_empty() || !self.rng.random_bool(p_cart) {
            return Some(());
        }
        let mut lines: Vec<(usize, i64)> = Vec::with_capacity(2);
        let extra_line = if self.plan.persona == Persona::WeekendStocker { 0.6 } else { 0.25 };
        for (i, &product) in in_stock.iter().rev().enumerate() {
            if i > 0 && (lines.iter().any(|l| l.0 == product) || !self.rng.random_bool(extra_line)) {
                continue;
            }
            lines.push((product, self.quantity(product)));
        }
        visit.logged_in = true;
        for &(product, quantity) in &lines {
            self.step(5, 60)?;
            let added = self.emit(&visit, EventName::ProductAdded);
            added.product = Some(product);
            added.quantity = Some(quantity);
        }
        let replenishing = matches!(intent, Intent::Replenish(_));
        let p_checkout = if replenishing { 0.95 } else { (0.68 * day.conversion.sqrt()).min(0.95) };
        if !self.rng.random_bool(p_checkout) {
            return Some(());
        }
        self.step(10, 120)?;
        let subtotal: i64 = lines.iter().map(|&(p, q)| shop.catalogue.info[p].price * q).sum();
        self.emit(&visit, EventName::CheckoutStarted).extra = Extra::Checkout(subtotal);
        let campaign_boost = if day.campaign.is_some() { 1.2 } else { 1.0 };
        let coupon = if self.rng.random_bool((b.coupon * campaign_boost).min(0.97)) {
            let coupon = self.best_coupon(subtotal, day.campaign, category);
            self.step(5, 40)?;
            let applied = self.emit(&visit, EventName::CouponApplied);
            applied.coupon = Some(coupon.0);
            applied.discount = Some(coupon.1);
            Some(coupon)
        } else {
            None
        };
        let p_order = if replenishing {
            0.95
        } else {
            (0.8 * day.conversion.powf(0.3) + if coupon.is_some() { 0.08 } else { 0.0 }).min(0.97)
        };
        if !self.rng.random_bool(p_order) {
            return Some(());
        }
        self.step(20, 180)?;
        self.place_order(&visit, day, &lines, coupon);
        Some(())
    }

    /// Where this session happens: mostly the primary platform.
    fn session_platform(&mut self, intent: Intent) -> Platform {
        let primary = self.plan.platform;
        if intent == Intent::Signup && primary != Platform::Store {
            return primary;
        }
        let stay = if primary == Platform::Store { 0.5 } else { 0.8 };
        if self.rng.random_bool(stay) {
            primary
        } else {
            Platform::ALL[pick_weighted(&mut self.rng, &[0.45, 0.45, 0.10, 0.0])]
        }
    }

    fn pick_category(&mut self) -> Category {
        Category::ALL[pick_weighted(&mut self.rng, &self.plan.category_weights)]
    }

    fn pick_product(&mut self, category: Category, intent: Intent, distinct: bool) -> Option<usize> {
        let catalogue = &self.shop.catalogue;
        if let (Intent::Replenish(_), Some(favourite)) = (intent, self.favourite) {
            if self.rng.random_bool(0.8) {
                return Some(favourite);
            }
        }
        let consumable = matches!(intent, Intent::Replenish(_));
        let mut product = catalogue.pick(&mut self.rng, category, self.t, consumable)?;
        for _ in 0..6 {
            if !distinct || !self.viewed.contains(&product) {
                break;
            }
            product = catalogue.pick(&mut self.rng, category, self.t, consumable)?;
        }
        if consumable && self.favourite.is_none() {
            self.favourite = Some(product);
        }
        Some(product)
    }

    fn quantity(&mut self, product: usize) -> i64 {
        let info = &self.shop.catalogue.info[product];
        if info.consumable {
            let extra = (self.plan.behaviour.basket * self.plan.spend - 1.0).max(0.0) * 0.8 + 0.3;
            1 + i64::from(poisson(&mut self.rng, extra).min(9))
        } else {
            1 + i64::from(self.rng.random_bool(0.05))
        }
    }

    /// The most valuable coupon the cart qualifies for.
    fn best_coupon(&self, subtotal: i64, campaign: Option<Campaign>, category: Category) -> (&'static str, i64) {
        let special = match campaign {
            Some(Campaign::Mid618) => Some(("618MJ50", 29_900, 5_000)),
            Some(Campaign::Double11) => Some(("D11MJ80", 39_900, 8_000)),
            Some(Campaign::Double12) => Some(("D12MJ30", 19_900, 3_000)),
            _ => None,
        };
        COUPONS
            .iter()
            .copied()
            .filter(|(code, _, _)| match *code {
                "NEW20" => self.purchases == 0,
                "PET15" => category == Category::PetFood,
                _ => true,
            })
            .chain(special)
            .filter(|&(_, min, value)| subtotal >= min && subtotal > value)
            .max_by_key(|&(_, _, value)| value)
            .map_or(("SAVE5", 500.min(subtotal / 2)), |(code, _, value)| (code, value))
    }

    /// A purchase in a physical store: member card scanned at the till, or
    /// just a check-in at the counter. A signup here is a new member card.
    fn store_visit(&mut self, day: &Day, signup: bool) -> Option<()> {
        let visit = Visit { platform: Platform::Store, channel: "offline", logged_in: true, anonymous: false };
        if signup {
            self.registered_at = Some(self.t);
        }
        if !self.rng.random_bool(0.5) {
            self.emit(&visit, EventName::CheckedIn).extra = Extra::CheckIn(1);
            return Some(());
        }
        let count = self.rng.random_range(1..=3);
        let mut lines = Vec::with_capacity(count);
        for _ in 0..count {
            let category = self.pick_category();
            if let Some(p) = self.shop.catalogue.pick(&mut self.rng, category, self.t, false) {
                if self.shop.catalogue.info[p].in_stock && !lines.iter().any(|&(q, _)| q == p) {
                    lines.push((p, self.quantity(p)));
                }
            }
        }
        if lines.is_empty() {
            return Some(());
        }
        self.step(300, 1800)?;
        self.place_order(&visit, day, &lines, None);
        Some(())
    }

    /// Records the order and its `Order Completed` event, then what may
    /// follow it.
    fn place_order(&mut self, visit: &Visit, day: &Day, lines: &[(usize, i64)], coupon: Option<(&'static str, i64)>) {
        let catalogue = &self.shop.catalogue;
        let subtotal: i64 = lines.iter().map(|&(p, q)| catalogue.info[p].price * q).sum();
        // 满减: the big sales take money off every full ¥300.
        let full_reduction = match day.campaign {
            Some(Campaign::Mid618) => subtotal / 30_000 * 4_000,
            Some(Campaign::Double11) => subtotal / 30_000 * 5_000,
            _ => 0,
        };
        let discount = (coupon.map_or(0, |c| c.1) + full_reduction).min(subtotal / 2);
        let fresh = lines.iter().any(|&(p, _)| catalogue.info[p].category == Category::Fresh);
        let shipping = match visit.platform {
            Platform::Store => 0,
            _ if subtotal - discount >= 9_900 => 0,
            _ if fresh => 1_200,
            _ => 800,
        };
        let n = self.orders.len() as u32;
        let order = Order {
            id: order_id(self.shop.seed, self.index, n),
            kind: OrderKind::Purchase,
            person_id: Some(self.person_id.clone()),
            user_id: Some(self.user_id.clone()),
            anonymous_id: None,
            placed_at: DateTime::from_timestamp(self.t, 0).expect("in range"),
            platform: Some(visit.platform),
            channel: Some(visit.channel.to_string()),
            total: Money::from_fen(subtotal - discount + shipping),
            discount: Money::from_fen(discount),
            shipping: Money::from_fen(shipping),
            coupon: coupon.map(|c| c.0.to_string()),
            refund_of: None,
            properties: serde_json::Map::new(),
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, &(p, quantity))| OrderLine {
                    line_no: i as u32 + 1,
                    product_id: catalogue.info[p].id.clone(),
                    quantity,
                    unit_price: Money::from_fen(catalogue.info[p].price),
                    category: Some(catalogue.info[p].category.name().to_string()),
                })
                .collect(),
        };
        let completed = self.emit(visit, EventName::OrderCompleted);
        completed.order = Some(n);
        completed.revenue = Some(subtotal - discount + shipping);
        completed.discount = Some(discount);
        completed.coupon = coupon.map(|c| c.0);
        completed.campaign = day.campaign;
        self.orders.push(order);
        self.purchases += 1;
        let logistics = if day.campaign == Some(Campaign::Double11) { 3.0 } else { 1.0 };
        self.after_sale(n as usize, lines, logistics);
    }

    /// Maybe a refund and maybe a review, whole days after order `n` (at
    /// about the hour the user usually shops).
    fn after_sale(&mut self, n: usize, lines: &[(usize, i64)], logistics: f64) {
        let catalogue = &self.shop.catalogue;
        let end = self.shop.calendar.end;
        let placed = self.t;
        let platform = self.orders[n].platform.unwrap_or(Platform::App);
        let flaw = lines.iter().find_map(|&(p, _)| catalogue.info[p].flaw);
        let apparel = lines.iter().any(|&(p, _)| catalogue.info[p].category == Category::Apparel);
        let p_refund: f64 = 0.018 * if flaw.is_some() { 3.5 } else { 1.0 } * if apparel { 1.6 } else { 1.0 };
        let refunded = self.rng.random_bool(p_refund.min(1.0));
        if refunded {
            let at = placed + self.rng.random_range(2..12) * 86_400 + self.rng.random_range(0..3600);
            if at < end {
                self.refund(n, at);
            }
        }
        let p_review = if refunded { 0.45 } else { 0.12 };
        if !self.rng.random_bool(p_review) {
            return;
        }
        let at = placed + self.rng.random_range(3..15) * 86_400 + self.rng.random_range(0..3600);
        if at >= end {
            return;
        }
        let product = pick(&mut self.rng, lines).0;
        let category = catalogue.info[product].category;
        let product_flaw = catalogue.info[product].flaw;
        let bad = refunded || (product_flaw.is_some() && self.rng.random_bool(0.45));
        let rating: u8 = if bad {
            self.rng.random_range(1..=2)
        } else {
            [5, 4, 3, 2, 1][pick_weighted(&mut self.rng, &[0.62, 0.22, 0.07, 0.04, 0.05])]
        };
        let topic = match product_flaw {
            Some(topic) if bad && self.rng.random_bool(0.75) => topic,
            _ => Topic::draw(&mut self.rng, category, logistics),
        };
        let text = self.review_text(category, rating, topic);
        let mut review = Draft::new(at, EventName::ProductReviewed, platform);
        review.product = Some(product);
        review.rating = Some(rating);
        review.review = Some(text);
        self.drafts.push(review);
    }

    /// A refund of order `n` at `at`: the whole order, or one line of it.
    fn refund(&mut self, n: usize, at: i64) {
        let original = &self.orders[n];
        let whole = original.lines.len() == 1 || self.rng.random_bool(0.65);
        let (lines, discount, shipping) = if whole {
            (original.lines.clone(), original.discount.fen(), original.shipping.fen())
        } else {
            let subtotal: i64 = original.lines.iter().map(|l| l.amount().fen()).sum();
            let mut line = pick(&mut self.rng, &original.lines).clone();
            let share = original.discount.fen() * line.amount().fen() / subtotal.max(1);
            line.line_no = 1;
            (vec![line], share, 0)
        };
        let total = lines.iter().map(|l| l.amount().fen()).sum::<i64>() - discount + shipping;
        let refund_n = self.orders.len() as u32;
        let refund = Order {
            id: order_id(self.shop.seed, self.index, refund_n),
            kind: OrderKind::Refund,
            placed_at: DateTime::from_timestamp(at, 0).expect("in range"),
            total: Money::from_fen(total),
            discount: Money::from_fen(discount),
            shipping: Money::from_fen(shipping),
            coupon: None,
            refund_of: Some(original.id.clone()),
            lines,
            ..original.clone()
        };
        let mut event = Draft::new(at, EventName::OrderRefunded, refund.platform.unwrap_or(Platform::App));
        event.order = Some(n as u32);
        event.revenue = Some(total);
        event.extra = Extra::Refund(refund_n);
        self.drafts.push(event);
        self.orders.push(refund);
    }

    /// Review text for a rating, naming `topic` when there is a complaint.
    fn review_text(&mut self, category: Category, rating: u8, topic: Topic) -> String {
        let vocab = &CATEGORIES[category.index()];
        let complaints = COMPLAINTS[topic as usize];
        let rng = &mut self.rng;
        match rating {
            4..=5 => {
                let first = if rng.random_bool(0.5) { *pick(rng, vocab.praise) } else { *pick(rng, &PRAISE) };
                let second = *pick(rng, &PRAISE);
                let ending = *pick(rng, &GOOD_ENDINGS);
                if second == first || rng.random_bool(0.4) {
                    format!("{first}，{ending}")
                } else {
                    format!("{first}，{second}，{ending}")
                }
            }
            3 => format!("{}，但是{}。", pick(rng, vocab.praise), pick(rng, complaints)),
            _ => {
                let first = *pick(rng, complaints);
                let ending = *pick(rng, &BAD_ENDINGS);
                if rng.random_bool(0.35) {
                    let other = COMPLAINTS[Topic::draw(rng, category, 1.0) as usize];
                    format!("{first}，{}，{ending}", pick(rng, other))
                } else {
                    format!("{first}，{ending}")
                }
            }
        }
    }
}
