//! Tier rules: immediate upgrade at the exact threshold, downgrade only after
//! a failed review plus grace, requalifying within the grace, history,
//! benefits and benefit coupons.

use chrono::Duration;
use cohort_loyalty::{
    Activity, Audience, CouponTemplate, LoyaltyConfig, MemberTier, Offer, TemplateId, TierChangeReason, Validity,
};

use crate::common::*;

pub async fn upgrade_at_threshold_immediately(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("ann");
    let r =
        l.record_activity(&key("o1"), &u, Activity::OrderPaid { order: order("o1"), paid: fen(98_999) }).await.unwrap();
    assert_eq!((r.growth, r.tier_change.clone()), (989, None));
    let r = l.record_activity(&key("rv"), &u, Activity::Review).await.unwrap();
    assert_eq!(r.tier_change, None, "999 growth is still normal");
    let r = l.record_activity(&key("ci"), &u, Activity::CheckIn).await.unwrap();
    let change = r.tier_change.expect("exactly 1,000 growth upgrades at once");
    assert_eq!(
        (change.from, change.to, change.reason),
        (MemberTier::Normal, MemberTier::Silver, TierChangeReason::Upgrade)
    );
    let r = l
        .record_activity(&key("o2"), &u, Activity::OrderPaid { order: order("o2"), paid: yuan(19_000) })
        .await
        .unwrap();
    assert_eq!(r.tier_change.unwrap().to, MemberTier::Diamond, "skips gold straight to diamond");
    let history = l.tier_history(&u).await.unwrap();
    assert_eq!(history.iter().map(|c| c.to).collect::<Vec<_>>(), [MemberTier::Silver, MemberTier::Diamond]);
    let m = l.membership(&u).await.unwrap();
    assert_eq!((m.tier, m.next, m.benefits.price_percent), (MemberTier::Diamond, None, 85));
    assert!(m.benefits.early_access && m.benefits.priority_service);
    assert_eq!(m.review_at, Some(shanghai(2025, 3, 1, 0, 0, 0)), "reviewed after 365 days");
    h.assert_verified().await;
}

pub async fn downgrade_after_review_and_grace(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let (u, v) = (user("ben"), user("cat"));
    for (who, k) in [(&u, "u1"), (&v, "v1")] {
        let r =
            l.record_activity(&key(k), who, Activity::OrderPaid { order: order(k), paid: yuan(5_000) }).await.unwrap();
        assert_eq!(r.tier_change.unwrap().to, MemberTier::Gold);
    }
    // Before the review date nothing happens.
    h.clock.set(shanghai(2025, 2, 28, 23, 59, 59));
    assert_eq!(l.review_tiers(100).await.unwrap().0.reviewed, 0);
    // At the review date the last 365 days hold no growth: grace starts.
    h.clock.set(shanghai(2025, 3, 1, 0, 0, 0));
    let (review, more) = l.review_tiers(100).await.unwrap();
    assert_eq!((review.reviewed, review.grace_started, more), (2, 2, false));
    assert_eq!(l.membership(&u).await.unwrap().grace_until, Some(shanghai(2025, 3, 31, 0, 0, 0)));
    // v requalifies within the grace and keeps gold.
    h.clock.set(shanghai(2025, 3, 20, 9, 0, 0));
    l.record_activity(&key("v2"), &v, Activity::OrderPaid { order: order("v2"), paid: yuan(5_000) }).await.unwrap();
    assert_eq!(l.membership(&v).await.unwrap().grace_until, None);
    h.clock.set(shanghai(2025, 3, 30, 23, 0, 0));
    assert_eq!(l.review_tiers(100).await.unwrap().0.reviewed, 0, "grace still running");
    h.clock.set(shanghai(2025, 3, 31, 0, 0, 0));
    let (review, _) = l.review_tiers(100).await.unwrap();
    assert_eq!((review.reviewed, review.downgraded), (1, 1));
    assert_eq!(l.membership(&u).await.unwrap().tier, MemberTier::Normal);
    assert_eq!(l.membership(&v).await.unwrap().tier, MemberTier::Gold);
    let history = l.tier_history(&u).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.from, last.to, last.reason), (MemberTier::Gold, MemberTier::Normal, TierChangeReason::Downgrade));
    h.clock.advance(Duration::days(400));
    assert_eq!(l.review_tiers(100).await.unwrap().0.reviewed, 1, "only v (gold) is reviewed again");
}

pub async fn downgrade_lands_on_the_qualified_tier(target: Target) {
    let mut config = LoyaltyConfig::default();
    config.tiers.grace_days = 0;
    let h = target.open(config).await;
    let l = &h.loyalty;
    let u = user("dan");
    l.record_activity(&key("a"), &u, Activity::OrderPaid { order: order("a"), paid: yuan(20_000) }).await.unwrap();
    h.clock.set(shanghai(2025, 2, 1, 12, 0, 0));
    l.record_activity(&key("b"), &u, Activity::OrderPaid { order: order("b"), paid: yuan(1_200) }).await.unwrap();
    h.clock.set(shanghai(2025, 3, 1, 0, 0, 0));
    let (review, _) = l.review_tiers(10).await.unwrap();
    assert_eq!(review.downgraded, 1);
    let m = l.membership(&u).await.unwrap();
    assert_eq!((m.tier, m.growth), (MemberTier::Silver, 1_200), "grace 0: straight to the tier the growth holds");
}

pub async fn benefit_coupons_follow_the_tier(target: Target) {
    let mut config = LoyaltyConfig::default();
    config.tiers.birthday_template = Some("BDAY".into());
    config.tiers.free_shipping_template = Some("SHIP".into());
    let h = target.open(config).await;
    let l = &h.loyalty;
    let template = |id: &str, offer| CouponTemplate {
        id: TemplateId::new(id).unwrap(),
        name: id.into(),
        offer,
        categories: vec![],
        audience: Audience::Everyone,
        validity: Validity::DaysAfterIssue { days: 30 },
        per_user_limit: 100,
        quantity_cap: None,
        budget: None,
    };
    l.create_template(template("BDAY", Offer::NoThreshold { off: yuan(20) })).await.unwrap();
    l.create_template(template("SHIP", Offer::FreeShipping { max_off: yuan(10) })).await.unwrap();
    let u = user("eve");
    assert!(l.grant_birthday_coupon(&u).await.unwrap().is_none(), "normal members get no birthday coupon");
    assert!(l.grant_monthly_coupons(&u).await.unwrap().is_empty());
    l.record_activity(&key("o"), &u, Activity::OrderPaid { order: order("o"), paid: yuan(5_000) }).await.unwrap();
    let monthly = l.grant_monthly_coupons(&u).await.unwrap();
    assert_eq!(monthly.len(), 2, "gold: two free-shipping coupons a month");
    assert_eq!(l.grant_monthly_coupons(&u).await.unwrap(), monthly, "granted once per month");
    let bday = l.grant_birthday_coupon(&u).await.unwrap().unwrap();
    assert_eq!(l.grant_birthday_coupon(&u).await.unwrap().unwrap(), bday);
    assert_eq!(l.coupons(&u).await.unwrap().len(), 3);
    h.assert_verified().await;
}
