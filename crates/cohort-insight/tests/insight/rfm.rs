//! Quantile RFM scores on a small population, computed by hand.

use cohort_insight::{assign_segments, InsightConfig};
use cohort_model::{Money, Profile, RfmScore, RfmSegment};

use crate::fixtures::*;

/// A buyer with the given R (days), F (orders) and M (fen) in the window.
fn person(id: &str, recency: i64, orders: u32, fen: i64) -> Profile {
    let mut p = profile_of(&history(id));
    p.recency_days = Some(recency);
    p.orders.lifetime = orders;
    p.value_orders = orders;
    p.value_monetary = Money::from_fen(fen);
    p
}

fn score(r: u8, f: u8, m: u8) -> Option<RfmScore> {
    Some(RfmScore { recency: r, frequency: f, monetary: m })
}

#[test]
fn scores_are_tie_safe_quantiles_among_buyers() {
    // n = 5 buyers; score = 1 + floor(5 × strictly-worse / 5).
    //        R worse (older)   F worse (fewer)   M worse (less)
    // a: 1d  c,d,e=3 → 4       5: 4 → 5          100000: 4 → 5
    // b: 1d  3 → 4             2: d,e=2 → 3      30000: 2 → 3
    // c: 10d d,e=2 → 3         2: 2 → 3          30000: 2 → 3
    // d: 40d e=1 → 2           1: 0 → 1          5000: 0 → 1
    // e: 200d 0 → 1            1: 0 → 1          5000: 0 → 1
    let mut people = vec![
        person("a", 1, 5, 100_000),
        person("b", 1, 2, 30_000),
        person("c", 10, 2, 30_000),
        person("d", 40, 1, 5_000),
        person("e", 200, 1, 5_000),
        profile_of(&history("prospect")),
        buyer("lapsed", &[(400, 100_000)]),
    ];
    assign_segments(&mut people, &InsightConfig::default());
    let got: Vec<_> = people.iter().map(|p| (p.person_id.to_string(), p.rfm, p.rfm_segment)).collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), score(4, 5, 5), Some(RfmSegment::LoyalCustomers)),
            ("b".into(), score(4, 3, 3), Some(RfmSegment::PotentialLoyalists)),
            ("c".into(), score(3, 3, 3), Some(RfmSegment::NeedAttention)),
            ("d".into(), score(2, 1, 1), Some(RfmSegment::Hibernating)),
            ("e".into(), score(1, 1, 1), Some(RfmSegment::Hibernating)),
            ("prospect".into(), None, None),
            ("lapsed".into(), None, None),
        ]
    );
}

#[test]
fn ten_distinct_buyers_fill_every_score() {
    let mut people: Vec<Profile> =
        (0..10).map(|i| person(&format!("p{i}"), 100 - i64::from(i) * 10, i + 1, i64::from(i + 1) * 1000)).collect();
    assign_segments(&mut people, &InsightConfig::default());
    let r: Vec<u8> = people.iter().map(|p| p.rfm.unwrap().recency).collect();
    let f: Vec<u8> = people.iter().map(|p| p.rfm.unwrap().frequency).collect();
    assert_eq!(r, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert_eq!(f, r);
    assert_eq!(people[9].rfm_segment, Some(RfmSegment::Champions));
}

#[test]
fn all_tied_buyers_share_the_lowest_score() {
    let mut people: Vec<Profile> = (0..4).map(|i| person(&format!("t{i}"), 3, 1, 500)).collect();
    assign_segments(&mut people, &InsightConfig::default());
    assert!(people.iter().all(|p| p.rfm == score(1, 1, 1)));
}
