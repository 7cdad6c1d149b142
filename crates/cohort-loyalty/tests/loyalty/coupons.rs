//! Coupon rules and boundaries: exact thresholds, validity ending at shop
//! midnight, per-member limits, quantity caps and budgets, compatibility,
//! audiences, the lock → release / redeem cycle, and the report.

use cohort_loyalty::{
    Activity, Audience, Checkout, CheckoutLine, CouponId, CouponState, CouponTemplate, LoyaltyConfig, LoyaltyError,
    MemberTier, NotApplicable, Offer, TemplateId, Validity,
};
use cohort_model::{Money, ProductId};

use crate::common::*;

pub fn template(id: &str, offer: Offer) -> CouponTemplate {
    CouponTemplate {
        id: TemplateId::new(id).unwrap(),
        name: format!("template {id}"),
        offer,
        categories: vec![],
        audience: Audience::Everyone,
        validity: Validity::DaysAfterIssue { days: 7 },
        per_user_limit: 10,
        quantity_cap: None,
        budget: None,
    }
}

pub fn checkout(o: &str, lines: &[(&str, i64)], shipping: i64) -> Checkout {
    Checkout {
        order: order(o),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (cat, f))| CheckoutLine {
                product: ProductId::new(format!("p{i}")).unwrap(),
                category: Some(cat.to_string()),
                amount: fen(*f),
            })
            .collect(),
        shipping: fen(shipping),
    }
}

fn tid(id: &str) -> TemplateId {
    TemplateId::new(id).unwrap()
}

fn reason(e: LoyaltyError) -> NotApplicable {
    match e {
        LoyaltyError::CouponNotApplicable { reason, .. } => reason,
        other => panic!("expected not applicable, got {other}"),
    }
}

pub async fn threshold_exact_amount_and_report(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    l.create_template(template("199-50", Offer::Threshold { min_spend: yuan(199), off: yuan(50) })).await.unwrap();
    let u = user("amy");
    let c = l.issue_coupon(&key("i1"), &u, &tid("199-50")).await.unwrap();
    assert_eq!((c.state.clone(), c.face_value), (CouponState::Available, yuan(50)));
    let e = l.quote(&u, &checkout("o1", &[("a", 19_899)], 0), &[c.id]).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("coupon {} is not applicable: eligible amount ¥198.99 is below the threshold ¥199.00", c.id)
    );
    let q =
        l.lock_coupons(&key("l1"), &u, &checkout("o1", &[("a", 10_000), ("b", 9_900)], 800), &[c.id]).await.unwrap();
    assert_eq!((q.total_discount, q.payable), (yuan(50), fen(19_900 - 5_000 + 800)));
    let redeemed = l.redeem_coupons(&key("p1"), &u, &order("o1")).await.unwrap();
    assert_eq!((redeemed.discount, redeemed.coupons.len()), (yuan(50), 1));
    // A second coupon issued, never used.
    l.issue_coupon(&key("i2"), &u, &tid("199-50")).await.unwrap();
    let report = l.coupon_report(shanghai(2024, 3, 1, 0, 0, 0), shanghai(2024, 3, 2, 0, 0, 0)).await.unwrap();
    let (id, f) = &report.templates[0];
    assert_eq!((id.as_str(), f.issued, f.redeemed, f.discount_cost, f.gmv), ("199-50", 2, 1, yuan(50), fen(19_900)));
    assert!((f.redemption_rate - 0.5).abs() < 1e-9);
    assert_eq!(report.total, f.clone());
    h.assert_verified().await;
}

pub async fn validity_ends_at_shop_midnight(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let mut t = template("7d", Offer::NoThreshold { off: yuan(5) });
    t.budget = Some(yuan(5));
    l.create_template(t).await.unwrap();
    let u = user("bo");
    // Issued 2024-03-01 10:00 for 7 days: usable through 03-07, expires 03-08 00:00 Shanghai.
    let c = l.issue_coupon(&key("i"), &u, &tid("7d")).await.unwrap();
    assert_eq!(c.expires_at, shanghai(2024, 3, 8, 0, 0, 0));
    h.clock.set(shanghai(2024, 3, 7, 23, 59, 59));
    l.lock_coupons(&key("l1"), &u, &checkout("o1", &[("a", 1_000)], 0), &[c.id]).await.unwrap();
    l.release_coupons(&key("c1"), &u, &order("o1")).await.unwrap();
    h.clock.set(shanghai(2024, 3, 8, 0, 0, 0));
    let e = l.lock_coupons(&key("l2"), &u, &checkout("o2", &[("a", 1_000)], 0), &[c.id]).await.unwrap_err();
    assert!(matches!(reason(e), NotApplicable::Expired { .. }));
    // The budget is fully reserved by the unused coupon until it expires.
    let e = l.issue_coupon(&key("i2"), &user("cy"), &tid("7d")).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::BudgetExhausted { .. }), "{e}");
    let sweep = l.expire_coupons(100).await.unwrap();
    assert_eq!(sweep.handled, 1);
    assert_eq!(l.coupons(&u).await.unwrap()[0].state, CouponState::Expired);
    l.issue_coupon(&key("i2"), &user("cy"), &tid("7d")).await.unwrap();
    h.assert_verified().await;
}

pub async fn fixed_dates_and_locked_coupon_expiring(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let mut t = template("spring", Offer::NoThreshold { off: yuan(3) });
    let day = |d| chrono::NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
    t.validity = Validity::FixedDates { from: day(5), until: day(6) };
    l.create_template(t).await.unwrap();
    let u = user("di");
    let c = l.issue_coupon(&key("i"), &u, &tid("spring")).await.unwrap();
    let e = l.quote(&u, &checkout("o", &[("a", 500)], 0), &[c.id]).await.unwrap_err();
    assert!(matches!(reason(e), NotApplicable::NotYetValid { .. }));
    h.clock.set(shanghai(2024, 3, 6, 23, 0, 0));
    l.lock_coupons(&key("l"), &u, &checkout("o", &[("a", 500)], 0), &[c.id]).await.unwrap();
    // A coupon locked while valid and released after its end becomes expired.
    h.clock.set(shanghai(2024, 3, 7, 0, 0, 0));
    let released = l.release_coupons(&key("r"), &u, &order("o")).await.unwrap();
    assert_eq!(released.coupons, vec![(c.id, CouponState::Expired)]);
    h.clock.set(shanghai(2024, 3, 8, 0, 0, 0));
    let e = l.issue_coupon(&key("i2"), &u, &tid("spring")).await.unwrap_err();
    assert!(matches!(reason(e), NotApplicable::Expired { .. }));
    h.assert_verified().await;
}

pub async fn limits_caps_and_budget(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let mut once = template("once", Offer::NoThreshold { off: yuan(1) });
    once.per_user_limit = 1;
    once.quantity_cap = Some(2);
    l.create_template(once.clone()).await.unwrap();
    assert!(!l.create_template(once.clone()).await.unwrap(), "same definition again is a no-op");
    once.name = "changed".into();
    assert!(matches!(l.create_template(once).await.unwrap_err(), LoyaltyError::Conflict { .. }));
    l.issue_coupon(&key("a1"), &user("a"), &tid("once")).await.unwrap();
    let e = l.issue_coupon(&key("a2"), &user("a"), &tid("once")).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::PerUserLimit { limit: 1, .. }), "{e}");
    l.issue_coupon(&key("b1"), &user("b"), &tid("once")).await.unwrap();
    let e = l.issue_coupon(&key("c1"), &user("c"), &tid("once")).await.unwrap_err();
    assert_eq!(e.to_string(), "coupon quantity exhausted for template once: all 2 issued");
    let mut pct =
        template("pct", Offer::Percentage { percent_off: 20, min_spend: Money::ZERO, max_off: Some(yuan(30)) });
    pct.budget = Some(yuan(100));
    l.create_template(pct).await.unwrap();
    let u = user("d");
    let ids: Vec<CouponId> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(l.issue_coupon(&key(&format!("p{i}")), &u, &tid("pct")).await.unwrap().id);
        }
        v
    };
    let e = l.issue_coupon(&key("p3"), &u, &tid("pct")).await.unwrap_err();
    assert!(e.to_string().contains("budget ¥100.00, committed ¥90.00"), "{e}");
    // Redeeming for less than face value frees budget: 20% of ¥50 = ¥10.
    l.lock_coupons(&key("l"), &u, &checkout("o", &[("a", 5_000)], 0), &ids[..1]).await.unwrap();
    l.redeem_coupons(&key("r"), &u, &order("o")).await.unwrap();
    l.issue_coupon(&key("p3"), &u, &tid("pct")).await.unwrap();
    assert!(l.issue_coupon(&key("p4"), &u, &tid("pct")).await.is_err());
    h.assert_verified().await;
}

pub async fn compatibility_categories_and_audiences(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    l.create_template(template("ten", Offer::NoThreshold { off: yuan(10) })).await.unwrap();
    l.create_template(template("ship", Offer::FreeShipping { max_off: yuan(8) })).await.unwrap();
    let mut tea = template("tea", Offer::Threshold { min_spend: yuan(100), off: yuan(20) });
    tea.categories = vec!["tea".into()];
    l.create_template(tea).await.unwrap();
    let mut newbie = template("new", Offer::NoThreshold { off: yuan(15) });
    newbie.audience = Audience::NewCustomers;
    l.create_template(newbie).await.unwrap();
    let mut gold = template("gold", Offer::NoThreshold { off: yuan(30) });
    gold.audience = Audience::Tiers { tiers: vec![MemberTier::Gold, MemberTier::Diamond] };
    l.create_template(gold).await.unwrap();

    let u = user("eli");
    let ten = l.issue_coupon(&key("1"), &u, &tid("ten")).await.unwrap().id;
    let ship = l.issue_coupon(&key("2"), &u, &tid("ship")).await.unwrap().id;
    let tea = l.issue_coupon(&key("3"), &u, &tid("tea")).await.unwrap().id;
    let new = l.issue_coupon(&key("4"), &u, &tid("new")).await.unwrap().id;
    let e = l.issue_coupon(&key("5"), &u, &tid("gold")).await.unwrap_err();
    assert!(matches!(reason(e), NotApplicable::WrongTier { .. }));
    let co = checkout("o1", &[("tea", 10_000), ("snacks", 5_000)], 1_200);
    let e = l.quote(&u, &co, &[ten, tea]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::Incompatible { other: ten.0 });
    let e = l.quote(&u, &co, &[ten, ten]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::Duplicate);
    let q = l.quote(&u, &co, &[tea, ship]).await.unwrap();
    assert_eq!((q.total_discount, q.payable), (yuan(28), fen(15_000 + 1_200 - 2_800)));
    let e = l.quote(&u, &checkout("o1", &[("tea", 9_999), ("snacks", 50_000)], 0), &[tea]).await.unwrap_err();
    assert!(matches!(reason(e), NotApplicable::BelowThreshold { .. }), "only tea counts toward the threshold");
    let e = l.quote(&u, &checkout("o1", &[("a", 100)], 0), &[ship]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NoShippingFee);
    let e = l.quote(&user("other"), &co, &[ten]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NotOwner);
    // New-customer coupon: fine for the first order, refused once an order was paid.
    assert!(l.quote(&u, &co, &[new]).await.is_ok());
    l.record_activity(&key("pay"), &u, Activity::OrderPaid { order: order("first"), paid: yuan(5_000) }).await.unwrap();
    let e = l.quote(&u, &co, &[new]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NewCustomersOnly);
    let e = l.issue_coupon(&key("6"), &u, &tid("new")).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NewCustomersOnly);
    // Now gold: the tier-only template issues.
    l.issue_coupon(&key("7"), &u, &tid("gold")).await.unwrap();
    h.assert_verified().await;
}

pub async fn lock_release_redeem_cycle(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    l.create_template(template("ten", Offer::NoThreshold { off: yuan(10) })).await.unwrap();
    let u = user("fin");
    let c = l.issue_coupon(&key("i"), &u, &tid("ten")).await.unwrap().id;
    let co = checkout("o1", &[("a", 3_000)], 0);
    let q1 = l.lock_coupons(&key("l1"), &u, &co, &[c]).await.unwrap();
    assert_eq!(l.lock_coupons(&key("l1"), &u, &co, &[c]).await.unwrap(), q1, "retried lock returns the same quote");
    let e = l.lock_coupons(&key("l2"), &u, &checkout("o2", &[("a", 3_000)], 0), &[c]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NotAvailable { state: "locked".into() });
    l.release_coupons(&key("c1"), &u, &order("o1")).await.unwrap();
    assert_eq!(l.coupons(&u).await.unwrap()[0].state, CouponState::Available);
    l.lock_coupons(&key("l3"), &u, &co, &[c]).await.unwrap();
    let r1 = l.redeem_coupons(&key("p"), &u, &order("o1")).await.unwrap();
    assert_eq!(l.redeem_coupons(&key("p"), &u, &order("o1")).await.unwrap(), r1);
    let e = l.redeem_coupons(&key("p2"), &u, &order("o1")).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::Conflict { .. }), "{e}");
    let e = l.release_coupons(&key("c2"), &u, &order("o1")).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::Conflict { .. }), "a redeemed order cannot release its coupons");
    let e = l.lock_coupons(&key("l4"), &u, &checkout("o3", &[("a", 3_000)], 0), &[c]).await.unwrap_err();
    assert_eq!(reason(e), NotApplicable::NotAvailable { state: "redeemed".into() });
    assert_eq!(l.coupons(&u).await.unwrap()[0].state, CouponState::Redeemed { order: order("o1") });
    h.assert_verified().await;
}
