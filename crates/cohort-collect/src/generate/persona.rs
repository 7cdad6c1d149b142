//! Personas and the per-user plan: who the user is (attributes written to
//! `users.csv`) and how they behave (session rate, loyalty, category taste,
//! funnel propensities).

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate};
use cohort_model::{Platform, User, UserId};
use rand::Rng;

use super::calendar::Calendar;
use super::catalogue::Category;
use super::rng::{exponential, lognormal, normal, pick_weighted, ShopRng};
use super::vocab::CITIES;

/// The planted behaviour a synthetic user follows, written to the user's
/// `persona` trait so analyses can be checked against the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Persona {
    /// Mostly views and buys 母婴; re-buys nappies / formula every 2–3 weeks.
    NewParent,
    /// Buys 宠物食品 about monthly (every 27–34 days while active).
    PetOwner,
    /// Starts most sessions between 22:00 and 02:00 shop time.
    NightOwl,
    /// Shops on Saturdays and Sundays, with large baskets.
    WeekendStocker,
    /// Uses a coupon on most orders.
    DiscountHunter,
    /// Searches before viewing products in almost every session.
    Searcher,
    /// Views many products per session and rarely buys.
    Browser,
    /// Views 3–6 products of one category per session before deciding.
    PriceComparer,
    /// Shares products in about half of their sessions.
    SocialSharer,
    /// None of the above.
    Ordinary,
}

impl Persona {
    /// Every persona.
    pub const ALL: [Persona; 10] = [
        Persona::NewParent,
        Persona::PetOwner,
        Persona::NightOwl,
        Persona::WeekendStocker,
        Persona::DiscountHunter,
        Persona::Searcher,
        Persona::Browser,
        Persona::PriceComparer,
        Persona::SocialSharer,
        Persona::Ordinary,
    ];

    /// The stored name (the `persona` user trait).
    pub fn as_str(self) -> &'static str {
        match self {
            Persona::NewParent => "new_parent",
            Persona::PetOwner => "pet_owner",
            Persona::NightOwl => "night_owl",
            Persona::WeekendStocker => "weekend_stocker",
            Persona::DiscountHunter => "discount_hunter",
            Persona::Searcher => "searcher",
            Persona::Browser => "browser",
            Persona::PriceComparer => "price_comparer",
            Persona::SocialSharer => "social_sharer",
            Persona::Ordinary => "ordinary",
        }
    }

    /// Share of the user base.
    pub fn share(self) -> f64 {
        self.behaviour().share
    }

    pub(crate) fn behaviour(self) -> Behaviour {
        let base = Behaviour {
            share: 0.29,
            activity: 1.0,
            search: 0.25,
            views: (1, 3),
            compare: false,
            cart: 0.33,
            coupon: 0.2,
            share_product: 0.03,
            night: false,
            weekday: 1.0,
            weekend: 1.0,
            focus: None,
            replenish: None,
            basket: 1.0,
        };
        match self {
            Persona::NewParent => Behaviour {
                share: 0.08,
                activity: 1.2,
                views: (1, 4),
                cart: 0.4,
                coupon: 0.25,
                focus: Some((Category::MotherBaby, 0.72)),
                replenish: Some((Category::MotherBaby, 14, 24)),
                ..base
            },
            Persona::PetOwner => Behaviour {
                share: 0.08,
                cart: 0.38,
                focus: Some((Category::PetFood, 0.55)),
                replenish: Some((Category::PetFood, 27, 34)),
                ..base
            },
            Persona::NightOwl => {
                Behaviour { share: 0.07, activity: 1.1, views: (1, 4), cart: 0.3, night: true, ..base }
            }
            Persona::WeekendStocker => Behaviour {
                share: 0.07,
                views: (2, 5),
                cart: 0.45,
                coupon: 0.3,
                weekday: 0.25,
                weekend: 3.5,
                basket: 2.2,
                ..base
            },
            Persona::DiscountHunter => {
                Behaviour { share: 0.10, search: 0.35, views: (2, 5), cart: 0.3, coupon: 0.92, ..base }
            }
            Persona::Searcher => Behaviour { share: 0.08, search: 0.92, cart: 0.32, ..base },
            Persona::Browser => Behaviour { share: 0.10, activity: 1.6, views: (4, 10), cart: 0.06, ..base },
            Persona::PriceComparer => {
                Behaviour { share: 0.07, search: 0.3, views: (3, 6), compare: true, cart: 0.3, coupon: 0.35, ..base }
            }
            Persona::SocialSharer => {
                Behaviour { share: 0.06, activity: 1.1, views: (1, 4), share_product: 0.55, coupon: 0.25, ..base }
            }
            Persona::Ordinary => base,
        }
    }
}

impl fmt::Display for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A persona's behavioural parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Behaviour {
    pub share: f64,
    /// Session-rate multiplier.
    pub activity: f64,
    /// P(search in a session).
    pub search: f64,
    /// Product views per session (inclusive range).
    pub views: (u32, u32),
    /// Views stay in one category, distinct products.
    pub compare: bool,
    /// P(add to cart) per session with an in-stock product viewed.
    pub cart: f64,
    /// P(coupon at checkout).
    pub coupon: f64,
    /// P(share a product) per session.
    pub share_product: f64,
    /// Night-owl hour curve.
    pub night: bool,
    /// Session-rate multipliers on weekdays / weekends.
    pub weekday: f64,
    pub weekend: f64,
    /// Favourite category and the share of sessions spent on it.
    pub focus: Option<(Category, f64)>,
    /// Replenishment: category and interval range in days.
    pub replenish: Option<(Category, u32, u32)>,
    /// Quantity multiplier.
    pub basket: f64,
}

/// Acquisition channels.
pub(crate) const CHANNELS: [&str; 7] = ["wechat", "douyin", "xiaohongshu", "baidu", "offline", "referral", "organic"];

/// Everything drawn once per user.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub persona: Persona,
    pub behaviour: Behaviour,
    pub platform: Platform,
    pub channel: &'static str,
    /// Sessions per day when fully engaged.
    pub rate: f64,
    /// Basket multiplier (heavy buyers have a large one).
    pub spend: f64,
    /// Mean days of activity before going quiet.
    pub loyalty_days: f64,
    /// P(going quiet is for good).
    pub churn_for_good: f64,
    pub checks_in: bool,
    /// P(live stream / short video) per session.
    pub watches: f64,
    pub category_weights: [f64; 8],
    /// Registration day relative to the start (negative: before it), and
    /// for users registered before the start, the instant.
    pub registration_day: i64,
    pub registered_before: Option<i64>,
}

impl Plan {
    /// Draws a user's plan.
    pub(crate) fn draw(rng: &mut ShopRng, calendar: &Calendar) -> Plan {
        let persona = Persona::ALL[pick_weighted(rng, &Persona::ALL.map(|p| p.share()))];
        let behaviour = persona.behaviour();
        let platform_weights =
            if persona == Persona::NightOwl { [0.6, 0.3, 0.1, 0.0] } else { [0.35, 0.40, 0.15, 0.10] };
        let platform = Platform::ALL[pick_weighted(rng, &platform_weights)];
        // Channel weights in CHANNELS order, by the platform the user came from.
        let channel_weights = match platform {
            Platform::Store => [0.10, 0.0, 0.0, 0.0, 0.70, 0.10, 0.10],
            Platform::MiniProgram => [0.50, 0.15, 0.10, 0.0, 0.0, 0.15, 0.10],
            Platform::App => [0.15, 0.25, 0.20, 0.10, 0.0, 0.10, 0.20],
            Platform::Web => [0.10, 0.0, 0.10, 0.40, 0.0, 0.10, 0.30],
        };
        let channel = CHANNELS[pick_weighted(rng, &channel_weights)];
        let heavy = rng.random_bool(0.05);
        let rate = lognormal(rng, 0.011, 0.9) * behaviour.activity * if heavy { 2.5 } else { 1.0 };
        let spend = lognormal(rng, 1.0, 0.5) * if heavy { 2.5 } else { 1.0 };
        let mut category_weights = Category::ALL.map(|c| c.share() * lognormal(rng, 1.0, 0.8));
        if let Some((focus, share)) = behaviour.focus {
            let others: f64 = Category::ALL.iter().filter(|&&c| c != focus).map(|c| category_weights[c.index()]).sum();
            for c in Category::ALL {
                category_weights[c.index()] =
                    if c == focus { share } else { (1.0 - share) * category_weights[c.index()] / others };
            }
        }
        let (registration_day, registered_before) = if rng.random_bool(0.15) {
            let at = calendar.start - rng.random_range(86_400..730 * 86_400);
            (((at - calendar.start) as f64 / 86_400.0).floor() as i64, Some(at))
        } else {
            (s_curve_day(rng, calendar.days.len()), None)
        };
        let app_like = matches!(platform, Platform::App | Platform::MiniProgram);
        Plan {
            persona,
            behaviour,
            platform,
            channel,
            rate,
            spend,
            loyalty_days: lognormal(rng, 110.0, 0.8),
            churn_for_good: 0.55,
            checks_in: app_like && rng.random_bool(0.06),
            watches: if channel == "douyin" {
                0.3
            } else if app_like {
                0.12
            } else {
                0.03
            },
            category_weights,
            registration_day,
            registered_before,
        }
    }

    /// The `users.csv` record; `registered_at` is the signup instant.
    pub(crate) fn user(&self, rng: &mut ShopRng, id: UserId, start: NaiveDate, registered_at: i64) -> User {
        let age = if self.persona == Persona::NewParent {
            rng.random_range(24.0..38.0)
        } else {
            (32.0 + 9.0 * normal(rng)).clamp(18.0, 65.0)
        };
        let birthday = start - Duration::days((age * 365.25) as i64);
        let female = match self.persona {
            Persona::NewParent => 0.75,
            Persona::PetOwner => 0.62,
            _ => 0.58,
        };
        let gender = match rng.random::<f64>() {
            x if x < 0.03 => None,
            x if x < 0.03 + female => Some("female"),
            _ => Some("male"),
        };
        let city = CITIES[pick_weighted(rng, &CITIES.map(|(_, w)| w))].0;
        let phone = format!("1{}{:09}", rng.random_range(3..=9), rng.random_range(0..1_000_000_000u32));
        let mut traits = serde_json::Map::new();
        traits.insert("persona".into(), self.persona.as_str().into());
        User {
            id,
            registered_at: DateTime::from_timestamp(registered_at, 0),
            platform: Some(self.platform),
            channel: Some(self.channel.to_string()),
            birthday: Some(birthday),
            gender: gender.map(str::to_string),
            city: Some(city.to_string()),
            phone: Some(phone),
            traits,
        }
    }

    /// Days of activity until the user goes quiet (exponential around
    /// `loyalty_days`, 30% shorter after each win-back).
    pub(crate) fn next_quiet(&self, rng: &mut ShopRng, winbacks: u32) -> f64 {
        exponential(rng, self.loyalty_days * 0.7f64.powi(winbacks as i32)).max(1.0)
    }
}

/// A registration day inside the period, following a logistic S-curve: few
/// signups early, most in the second half.
fn s_curve_day(rng: &mut ShopRng, days: usize) -> i64 {
    const STEEPNESS: f64 = 7.0;
    const MIDPOINT: f64 = 0.6;
    let logistic = |t: f64| 1.0 / (1.0 + (-STEEPNESS * (t - MIDPOINT)).exp());
    let (low, high) = (logistic(0.0), logistic(1.0));
    let l = low + rng.random::<f64>() * (high - low);
    let t = MIDPOINT - (1.0 / l - 1.0).ln() / STEEPNESS;
    ((t * days as f64) as i64).clamp(0, days as i64 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::user_rng;
    use cohort_model::ShopTime;

    #[test]
    fn generate_personas_cover_the_population_and_signups_grow() {
        let total: f64 = Persona::ALL.iter().map(|p| p.share()).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let cal = Calendar::new(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), 365, ShopTime::default());
        let mut rng = user_rng(1, 1);
        let plans: Vec<Plan> = (0..4_000).map(|_| Plan::draw(&mut rng, &cal)).collect();
        let before = plans.iter().filter(|p| p.registered_before.is_some()).count();
        assert!((450..750).contains(&before), "{before}");
        let first_half = plans.iter().filter(|p| p.registered_before.is_none() && p.registration_day < 182).count();
        let second_half = plans.iter().filter(|p| p.registered_before.is_none() && p.registration_day >= 182).count();
        assert!(second_half as f64 > 1.5 * first_half as f64, "{first_half} {second_half}");
        let parents = plans.iter().filter(|p| p.persona == Persona::NewParent);
        assert!(parents.clone().all(|p| p.category_weights[0] > 0.7));
    }
}
