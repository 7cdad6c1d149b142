//! The planted behaviour is visible in a 5,000-user year: campaigns,
//! personas, the funnel, lifecycles and the spend tail.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohort_model::{Event, EventName, OrderKind, ShopTime};

use super::*;
use crate::generate::Persona;

fn personas(batch: &Batch) -> HashMap<&str, Persona> {
    let by_name: HashMap<&str, Persona> = Persona::ALL.iter().map(|p| (p.as_str(), *p)).collect();
    batch.users.iter().map(|u| (u.id.as_str(), by_name[u.traits["persona"].as_str().unwrap()])).collect()
}

fn person(e: &Event) -> &str {
    e.person_id.as_ref().unwrap().as_str()
}

/// Sessions (from one `Page Viewed` to the next) per user, in time order.
fn sessions(batch: &Batch) -> Vec<(&str, Vec<&Event>)> {
    let mut out: Vec<(&str, Vec<&Event>)> = Vec::new();
    for e in &batch.events {
        match e.name {
            EventName::PageViewed => out.push((person(e), vec![e])),
            EventName::CheckedIn | EventName::ProductReviewed | EventName::OrderRefunded => {}
            _ => {
                if let Some((p, events)) = out.last_mut() {
                    if *p == person(e) {
                        events.push(e);
                    }
                }
            }
        }
    }
    out
}

/// Purchase orders placed in the 7 days ending on `last` (shop dates).
fn orders_in_week(batch: &Batch, last: NaiveDate) -> usize {
    let shop = ShopTime::default();
    let first = last - Duration::days(6);
    let placed = batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase).map(|o| shop.date(o.placed_at));
    placed.filter(|d| (first..=last).contains(d)).count()
}

#[test]
fn generate_campaign_weeks_outsell_ordinary_weeks() {
    let (batch, _) = year();
    let ordinary = |from: NaiveDate| {
        (1..=4).map(|w| orders_in_week(batch, from + Duration::days(7 * w))).sum::<usize>() as f64 / 4.0
    };
    let week_618 = orders_in_week(batch, date(6, 18)) as f64;
    let after_618 = ordinary(date(6, 30));
    assert!(week_618 > 1.6 * after_618, "618 week {week_618} vs ordinary {after_618}");
    let week_d11 = orders_in_week(batch, date(11, 11)) as f64;
    let before_d11 = ordinary(date(8, 31));
    assert!(week_d11 > 2.5 * before_d11, "Double 11 week {week_d11} vs ordinary {before_d11}");
    // The Spring Festival (January 29th, 2025) empties the shop.
    let shop = ShopTime::default();
    let visits = |first: NaiveDate, last: NaiveDate| {
        let pages = batch.events.iter().filter(|e| e.name == EventName::PageViewed);
        pages.filter(|e| (first..=last).contains(&shop.date(e.timestamp))).count() as f64
    };
    let festival = visits(date(1, 26), date(2, 1));
    let before = visits(date(1, 1), date(1, 21)) / 3.0;
    assert!(festival < 0.75 * before, "Spring Festival week {festival} vs {before}");
}

#[test]
fn generate_funnel_narrows_from_view_to_order() {
    let (batch, _) = year();
    let online = |name: EventName| {
        let store = Some(cohort_model::Platform::Store);
        batch.events.iter().filter(|e| e.name == name && e.platform != store).count()
    };
    let (views, carts, checkouts, orders) = (
        online(EventName::ProductViewed),
        online(EventName::ProductAdded),
        online(EventName::CheckoutStarted),
        online(EventName::OrderCompleted),
    );
    assert!(
        views > 3 * carts && carts > checkouts && checkouts > orders && orders > 0,
        "{views} {carts} {checkouts} {orders}"
    );
    let all = |name: EventName| batch.events.iter().filter(|e| e.name == name).count();
    assert!(all(EventName::PageViewed) > all(EventName::ProductAdded));
    assert!(all(EventName::CheckoutStarted) > all(EventName::OrderCompleted));
}

#[test]
fn generate_volume_refunds_platforms_and_channels_are_plausible() {
    let (batch, summary) = year();
    let per_user = summary.events as f64 / summary.users as f64;
    assert!((14.0..30.0).contains(&per_user), "{per_user} events per user");
    let purchases = batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase).count() as f64;
    let refunds = batch.orders.iter().filter(|o| o.kind == OrderKind::Refund).count() as f64;
    assert!((0.015..0.05).contains(&(refunds / purchases)), "refund share {}", refunds / purchases);
    let mut platforms: HashMap<&str, HashSet<_>> = HashMap::new();
    for e in &batch.events {
        platforms.entry(person(e)).or_default().insert(e.platform.unwrap());
    }
    let all: HashSet<_> = platforms.values().flatten().collect();
    assert_eq!(all.len(), 4);
    let cross = platforms.values().filter(|p| p.len() > 1).count() as f64 / platforms.len() as f64;
    assert!(cross > 0.1, "cross-platform share {cross}");
    let channels: HashSet<_> = batch.users.iter().map(|u| u.channel.as_deref().unwrap()).collect();
    assert_eq!(channels.len(), 7, "{channels:?}");
    let kinds =
        [EventName::LiveStreamWatched, EventName::ShortVideoWatched, EventName::CheckedIn, EventName::ProductShared];
    assert!(kinds.iter().all(|k| batch.events.iter().any(|e| e.name == *k)));
}

#[test]
fn generate_lifecycles_spread_from_new_to_churned() {
    let (batch, _) = year();
    let shop = ShopTime::default();
    let end = shop.start_of_day(date(12, 31) + Duration::days(1)) - Duration::seconds(1);
    let mut last: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for e in &batch.events {
        last.insert(person(e), e.timestamp);
    }
    let mut stages = [0.0; 4];
    for u in &batch.users {
        let registered = u.registered_at.unwrap();
        let inactive = shop.days_between(*last.get(u.id.as_str()).unwrap_or(&registered), end);
        let stage = match (shop.days_between(registered, end), inactive) {
            (0..=7, _) => 0,
            (_, 0..=29) => 1,
            (_, 30..=90) => 2,
            _ => 3,
        };
        stages[stage] += 1.0 / batch.users.len() as f64;
    }
    let [new, active, silent, churned] = stages;
    assert!(new > 0.002 && new < 0.05, "new {new}");
    assert!(active > 0.1, "active {active}");
    assert!(silent > 0.1, "silent 30-90 days {silent}");
    assert!(churned > 0.25 && churned < 0.8, "churned {churned}");
}

#[test]
fn generate_spend_has_a_long_tail() {
    let (batch, _) = year();
    let mut spend: HashMap<&str, i64> = HashMap::new();
    for o in batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase) {
        *spend.entry(o.person_id.as_ref().unwrap().as_str()).or_default() += o.total.fen();
    }
    let mut spend: Vec<i64> = spend.into_values().collect();
    spend.sort_unstable_by(|a, b| b.cmp(a));
    let total: i64 = spend.iter().sum();
    let top: i64 = spend[..spend.len() / 10].iter().sum();
    assert!(top as f64 > 0.35 * total as f64, "top decile {top} of {total}");
    assert!(spend[0] > 20 * spend[spend.len() / 2], "max {} median {}", spend[0], spend[spend.len() / 2]);
}

#[test]
fn generate_night_owls_shop_late_and_weekend_stockers_on_weekends() {
    let (batch, _) = year();
    let persona = personas(batch);
    let shop = ShopTime::default();
    let late_share = |who: Persona| {
        let events: Vec<_> = batch.events.iter().filter(|e| persona[person(e)] == who).collect();
        let late = events.iter().filter(|e| matches!(shop.hour(e.timestamp), 22 | 23 | 0 | 1)).count();
        late as f64 / events.len() as f64
    };
    assert!(late_share(Persona::NightOwl) > 0.6, "night owls {}", late_share(Persona::NightOwl));
    assert!(late_share(Persona::Ordinary) < 0.3, "ordinary {}", late_share(Persona::Ordinary));
    let weekend_share = |who: Persona| {
        let orders: Vec<_> =
            batch.orders.iter().filter(|o| persona[o.person_id.as_ref().unwrap().as_str()] == who).collect();
        orders.iter().filter(|o| shop.is_weekend(o.placed_at)).count() as f64 / orders.len() as f64
    };
    assert!(weekend_share(Persona::WeekendStocker) > 0.6, "{}", weekend_share(Persona::WeekendStocker));
    assert!(weekend_share(Persona::Ordinary) < 0.45, "{}", weekend_share(Persona::Ordinary));
}

#[test]
fn generate_parents_and_pet_owners_buy_their_categories_on_schedule() {
    let (batch, _) = year();
    let persona = personas(batch);
    let parents_views: Vec<_> = batch
        .events
        .iter()
        .filter(|e| e.name == EventName::ProductViewed && persona[person(e)] == Persona::NewParent)
        .collect();
    let baby = parents_views.iter().filter(|e| e.category.as_deref() == Some("母婴")).count() as f64;
    assert!(baby > 0.5 * parents_views.len() as f64, "{baby} of {}", parents_views.len());
    let lines: Vec<_> = batch
        .orders
        .iter()
        .filter(|o| {
            o.kind == OrderKind::Purchase && persona[o.person_id.as_ref().unwrap().as_str()] == Persona::NewParent
        })
        .flat_map(|o| &o.lines)
        .collect();
    let baby_lines = lines.iter().filter(|l| l.category.as_deref() == Some("母婴")).count() as f64;
    assert!(baby_lines > 0.5 * lines.len() as f64);

    // Pet owners re-buy pet food about monthly.
    let shop = ShopTime::default();
    let mut pet_orders: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for o in batch.orders.iter().filter(|o| o.kind == OrderKind::Purchase) {
        let who = o.person_id.as_ref().unwrap().as_str();
        if persona[who] == Persona::PetOwner && o.lines.iter().any(|l| l.category.as_deref() == Some("宠物食品")) {
            pet_orders.entry(who).or_default().push(o.placed_at);
        }
    }
    let mut gaps: Vec<i64> = pet_orders
        .values()
        .filter(|t| t.len() >= 3)
        .flat_map(|t| t.windows(2).map(|w| shop.days_between(w[0], w[1])).collect::<Vec<_>>())
        .collect();
    gaps.sort_unstable();
    assert!(gaps.len() > 50, "{} gaps", gaps.len());
    let median = gaps[gaps.len() / 2];
    assert!((20..=40).contains(&median), "median gap {median} days");
}

#[test]
fn generate_discount_hunters_searchers_browsers_comparers_and_sharers_show() {
    let (batch, _) = year();
    let persona = personas(batch);
    let discounted = |who: Persona| {
        let orders: Vec<_> = batch
            .orders
            .iter()
            .filter(|o| o.kind == OrderKind::Purchase && persona[o.person_id.as_ref().unwrap().as_str()] == who)
            .collect();
        orders.iter().filter(|o| o.coupon.is_some()).count() as f64 / orders.len() as f64
    };
    assert!(discounted(Persona::DiscountHunter) > 0.7, "{}", discounted(Persona::DiscountHunter));
    assert!(discounted(Persona::Ordinary) < 0.4, "{}", discounted(Persona::Ordinary));

    // Per persona: (sessions with views, searched first, 3+ of one category, shares, views, orders).
    let mut stats: HashMap<Persona, [f64; 6]> = HashMap::new();
    for (who, events) in sessions(batch) {
        let s = stats.entry(persona[who]).or_default();
        let views: Vec<_> = events.iter().filter(|e| e.name == EventName::ProductViewed).collect();
        s[4] += views.len() as f64;
        s[5] += events.iter().filter(|e| e.name == EventName::OrderCompleted).count() as f64;
        s[3] += events.iter().filter(|e| e.name == EventName::ProductShared).count() as f64;
        if views.is_empty() {
            continue;
        }
        s[0] += 1.0;
        let first_view = events.iter().position(|e| e.name == EventName::ProductViewed).unwrap();
        if events[..first_view].iter().any(|e| e.name == EventName::ProductsSearched) {
            s[1] += 1.0;
        }
        let mut per_category: HashMap<&str, HashSet<&str>> = HashMap::new();
        for v in &views {
            per_category
                .entry(v.category.as_deref().unwrap())
                .or_default()
                .insert(v.product_id.as_ref().unwrap().as_str());
        }
        if per_category.values().any(|p| p.len() >= 3) {
            s[2] += 1.0;
        }
    }
    let share = |who: Persona, i: usize| stats[&who][i] / stats[&who][0];
    assert!(share(Persona::Searcher, 1) > 0.8 && share(Persona::Ordinary, 1) < 0.4);
    assert!(share(Persona::PriceComparer, 2) > 0.8 && share(Persona::Ordinary, 2) < 0.3);
    assert!(share(Persona::SocialSharer, 3) > 0.35 && share(Persona::Ordinary, 3) < 0.1);
    let views_per_order = |who: Persona| stats[&who][4] / stats[&who][5];
    assert!(views_per_order(Persona::Browser) > 5.0 * views_per_order(Persona::Ordinary));
}

#[test]
fn generate_reviews_name_complaint_topics_and_flawed_products_rate_lower() {
    let (batch, _) = year();
    let flaws: HashMap<_, _> = Generator::new(config(5_000, 365, 2025)).unwrap().product_flaws().into_iter().collect();
    let reviews: Vec<_> = batch.events.iter().filter(|e| e.name == EventName::ProductReviewed).collect();
    assert!(reviews.len() > 200);
    let keywords = ["物流", "快递", "尺码", "质量", "客服", "价格", "包装"];
    for r in reviews.iter().filter(|r| r.rating.unwrap() <= 3) {
        let body = r.review_body.as_deref().unwrap();
        assert!(keywords.iter().any(|k| body.contains(k)), "{body}");
    }
    let mean = |flawed: bool| {
        let ratings: Vec<f64> = reviews
            .iter()
            .filter(|r| flaws.contains_key(r.product_id.as_ref().unwrap()) == flawed)
            .map(|r| f64::from(r.rating.unwrap()))
            .collect();
        ratings.iter().sum::<f64>() / ratings.len() as f64
    };
    assert!(mean(true) + 0.5 < mean(false), "flawed {} vs {}", mean(true), mean(false));
}
