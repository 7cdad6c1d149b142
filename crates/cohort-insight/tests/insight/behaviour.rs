//! Behaviour types, each rule and the precedence between them.

use cohort_insight::{behaviour_type, InsightConfig};
use cohort_model::BehaviourType::{self, *};
use cohort_model::{EventName, Profile};

use crate::fixtures::*;

fn base() -> Profile {
    profile_of(&history("b"))
}

fn kind(edit: impl FnOnce(&mut Profile)) -> BehaviourType {
    let mut p = base();
    edit(&mut p);
    behaviour_type(&p, &InsightConfig::default().behaviour)
}

#[test]
fn social_sharer_comes_first() {
    assert_eq!(kind(|p| p.shares_90d = 3), SocialSharer);
    assert_eq!(kind(|p| p.shares_90d = 2), Casual);
    assert_eq!(
        kind(|p| {
            p.shares_90d = 3;
            p.comparison_days_90d = 5;
            p.searches_90d = 50;
            p.views_90d = 100;
        }),
        SocialSharer
    );
}

#[test]
fn price_comparer_needs_two_comparison_days() {
    assert_eq!(kind(|p| p.comparison_days_90d = 2), PriceComparer);
    assert_eq!(kind(|p| p.comparison_days_90d = 1), Casual);
    assert_eq!(
        kind(|p| {
            p.comparison_days_90d = 2;
            p.searches_90d = 10;
        }),
        PriceComparer,
        "comparer before searcher"
    );
}

#[test]
fn searcher_needs_five_searches_and_thirty_percent_of_views() {
    let searcher = |searches, views| {
        kind(|p| {
            p.searches_90d = searches;
            p.views_90d = views;
        })
    };
    assert_eq!(searcher(5, 0), Searcher);
    assert_eq!(searcher(4, 0), Casual);
    assert_eq!(searcher(6, 20), Searcher, "exactly 30%");
    assert_eq!(searcher(5, 17), Casual, "29.4%");
    assert_eq!(searcher(10, 30), Searcher, "searcher before browser");
    assert_eq!(searcher(5, 30), Browser, "16.7% searches, 30 views, no orders");
}

#[test]
fn browser_needs_twenty_views_and_at_most_two_percent_conversion() {
    let browser = |views, orders| {
        kind(|p| {
            p.views_90d = views;
            p.orders.d90 = orders;
        })
    };
    assert_eq!(browser(20, 0), Browser);
    assert_eq!(browser(19, 0), Casual);
    assert_eq!(browser(50, 1), Browser, "exactly 2%");
    assert_eq!(browser(49, 1), Casual);
    assert_eq!(browser(100, 3), Casual);
}

#[test]
fn types_come_from_events() {
    let mut h = history("s");
    for i in 0..5 {
        h.events.push(ev(&format!("s{i}"), "s", EventName::ProductsSearched, ago(i, 10)));
    }
    h.events.push(ev("old", "s", EventName::ProductShared, ago(100, 10)));
    let p = profile_of(&sorted(h));
    assert_eq!((p.searches_90d, p.shares_90d, p.shares), (5, 0, 1));
    assert_eq!(p.behaviour, Searcher);
}
