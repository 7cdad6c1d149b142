//! Points rules and boundaries: earn rules and daily caps, idempotency,
//! redemption limits, refunds after partial redemption, expiry at shop
//! midnight with FIFO lots, transfers, usage report.

use chrono::Duration;
use cohort_loyalty::{Account, Activity, LoyaltyConfig, LoyaltyError, Points, PointsExpiry, Redemption};

use crate::common::*;

fn paid(o: &str, y: i64) -> Activity {
    Activity::OrderPaid { order: order(o), paid: yuan(y) }
}

pub async fn earn_rules_and_daily_caps(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("alice");
    let r =
        l.record_activity(&key("o1"), &u, Activity::OrderPaid { order: order("o1"), paid: fen(12_399) }).await.unwrap();
    assert_eq!((r.points, r.growth, r.capped), (Points::new(123), 123, false), "1 point per whole yuan");
    let mut got = Vec::new();
    for i in 0..4 {
        let r = l.record_activity(&key(&format!("rv{i}")), &u, Activity::Review).await.unwrap();
        got.push((r.points.get(), r.capped, r.growth));
    }
    assert_eq!(got, [(5, false, 10), (5, false, 10), (5, false, 10), (0, true, 0)], "5 per review, 15 a day");
    assert_eq!(l.record_activity(&key("sh1"), &u, Activity::Share).await.unwrap().points, Points::new(10));
    assert_eq!(l.record_activity(&key("ci1"), &u, Activity::CheckIn).await.unwrap().points, Points::new(1));
    let again = l.record_activity(&key("ci2"), &u, Activity::CheckIn).await.unwrap();
    assert_eq!((again.points, again.capped), (Points::ZERO, true), "one check-in a day");
    // The cap is per shop-local day: 23:59 → 00:00 Shanghai is a new day.
    h.clock.set(shanghai(2024, 3, 1, 23, 59, 59));
    assert_eq!(l.record_activity(&key("ci3"), &u, Activity::CheckIn).await.unwrap().points, Points::ZERO);
    h.clock.set(shanghai(2024, 3, 2, 0, 0, 0));
    assert_eq!(l.record_activity(&key("ci4"), &u, Activity::CheckIn).await.unwrap().points, Points::new(1));
    let b = l.balance(&u).await.unwrap();
    assert_eq!(b.available, Points::new(123 + 15 + 10 + 1 + 1));
    let m = l.membership(&u).await.unwrap();
    assert_eq!(m.growth, 123 + 30 + 5 + 1 + 1);
    // The same order cannot earn twice under another key.
    let e = l.record_activity(&key("o1-again"), &u, paid("o1", 5)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::Conflict { .. }) && e.to_string().contains("o1"), "{e}");
    h.assert_verified().await;
}

pub async fn idempotent_replay_and_key_reuse(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("bob");
    let first = l.record_activity(&key("k1"), &u, paid("o1", 100)).await.unwrap();
    let second = l.record_activity(&key("k1"), &u, paid("o1", 100)).await.unwrap();
    assert_eq!(first, second, "a repeated key returns the original result");
    assert_eq!(l.balance(&u).await.unwrap().available, Points::new(100));
    let e = l.record_activity(&key("k1"), &u, paid("o1", 101)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::KeyReused { .. }), "{e}");
    assert!(e.to_string().contains("\"k1\""), "the error names the key: {e}");
    // A refused request does not take its key: it can be retried.
    let e = l.redeem(&key("r1"), &u, Points::new(500), Redemption::Exchange { item: "mug".into() }).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::InsufficientPoints { .. }));
    l.record_activity(&key("k2"), &u, paid("o2", 400)).await.unwrap();
    let r = l.redeem(&key("r1"), &u, Points::new(500), Redemption::Exchange { item: "mug".into() }).await.unwrap();
    assert_eq!(r.available, Points::ZERO);
    h.assert_verified().await;
}

pub async fn redeem_in_orders_and_exchange(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("carol");
    l.record_activity(&key("earn"), &u, paid("o0", 1000)).await.unwrap();
    let in_order = |o: &str, y| Redemption::Order { order: order(o), order_amount: yuan(y) };
    // 100 points = ¥1; points pay at most 50% of an order: ¥10 order → 500 points.
    let r = l.redeem(&key("r1"), &u, Points::new(300), in_order("o1", 10)).await.unwrap();
    assert_eq!((r.discount, r.available), (fen(300), Points::new(700)));
    let e = l.redeem(&key("r2"), &u, Points::new(201), in_order("o1", 10)).await.unwrap_err();
    match &e {
        LoyaltyError::RedemptionLimit { requested, limit, percent, .. } => {
            assert_eq!((*requested, *limit, *percent), (Points::new(501), Points::new(500), 50))
        }
        other => panic!("{other}"),
    }
    l.redeem(&key("r3"), &u, Points::new(200), in_order("o1", 10)).await.unwrap();
    let x = l.redeem(&key("x1"), &u, Points::new(100), Redemption::Exchange { item: "tote".into() }).await.unwrap();
    assert_eq!(x.available, Points::new(400));
    let e = l.redeem(&key("x2"), &u, Points::new(401), Redemption::Exchange { item: "tote".into() }).await.unwrap_err();
    assert_eq!(e.to_string(), "insufficient points for member carol: requested 401 points, available 400 points");
    let e = l.redeem(&key("x3"), &u, Points::new(0), Redemption::Exchange { item: "tote".into() }).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::InvalidInput { .. }));
    // Once the order is paid, points can no longer be added to it.
    l.record_activity(&key("pay-o1"), &u, paid("o1", 5)).await.unwrap();
    let e = l.redeem(&key("r4"), &u, Points::new(10), in_order("o1", 10)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::Conflict { .. }), "{e}");
    let usage = l.points_usage(shanghai(2024, 1, 1, 0, 0, 0), shanghai(2025, 1, 1, 0, 0, 0)).await.unwrap();
    assert_eq!((usage.issued, usage.redeemed), (Points::new(1005), Points::new(600)));
    assert!(usage.meets_target && (usage.usage_rate - 600.0 / 1005.0).abs() < 1e-9);
    h.assert_verified().await;
}

pub async fn refund_after_partial_redemption_records_debt(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("dave");
    l.record_activity(&key("pay"), &u, paid("o1", 500)).await.unwrap();
    l.redeem(&key("spend"), &u, Points::new(400), Redemption::Exchange { item: "kettle".into() }).await.unwrap();
    let r = l.refund(&key("refund"), &u, &order("o1"), yuan(500)).await.unwrap();
    assert_eq!(
        (r.clawed_back, r.into_debt, r.available, r.owed),
        (Points::new(500), Points::new(400), Points::ZERO, Points::new(400))
    );
    let b = l.balance(&u).await.unwrap();
    assert_eq!((b.available, b.owed), (Points::ZERO, Points::new(400)), "never below zero: the rest is a debt");
    // Later earnings repay the debt first.
    let e = l.record_activity(&key("pay2"), &u, paid("o2", 100)).await.unwrap();
    assert_eq!((e.repaid_debt, e.available), (Points::new(100), Points::ZERO));
    let e = l.record_activity(&key("pay3"), &u, paid("o3", 350)).await.unwrap();
    assert_eq!((e.repaid_debt, e.available), (Points::new(300), Points::new(50)));
    assert_eq!(l.balance(&u).await.unwrap().owed, Points::ZERO);
    let accounts: Vec<Account> = l.ledger(&u).await.unwrap().into_iter().map(|e| e.account).collect();
    assert!(accounts.contains(&Account::MemberDebt(u.clone())));
    let e = l.refund(&key("refund-again"), &u, &order("o1"), fen(1)).await.unwrap_err();
    assert!(e.to_string().contains("exceeds"), "{e}");
    let e = l.refund(&key("refund-x"), &u, &order("nope"), fen(1)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::NotFound { .. }));
    h.assert_verified().await;
}

pub async fn partial_refunds_add_up_and_restore_points(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("erin");
    l.record_activity(&key("seed"), &u, paid("o0", 200)).await.unwrap();
    l.redeem(&key("use"), &u, Points::new(30), Redemption::Order { order: order("o1"), order_amount: fen(10_000) })
        .await
        .unwrap();
    let earned =
        l.record_activity(&key("pay"), &u, Activity::OrderPaid { order: order("o1"), paid: fen(9_970) }).await.unwrap();
    assert_eq!(earned.points, Points::new(99));
    let mut clawed = 0;
    let mut restored = 0;
    for (i, part) in [3_323, 3_323, 3_324].into_iter().enumerate() {
        let r = l.refund(&key(&format!("rf{i}")), &u, &order("o1"), fen(part)).await.unwrap();
        clawed += r.clawed_back.get();
        restored += r.restored.get();
    }
    assert_eq!((clawed, restored), (99, 30), "partial refunds add up exactly to the full refund");
    assert_eq!(l.balance(&u).await.unwrap().available, Points::new(200));
    assert_eq!(l.membership(&u).await.unwrap().growth, 200);
    h.assert_verified().await;
}

pub async fn expiry_at_shop_midnight(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let l = &h.loyalty;
    let u = user("fay");
    l.record_activity(&key("earn"), &u, paid("o1", 80)).await.unwrap();
    let b = l.balance(&u).await.unwrap();
    // Earned 2024-03-01: expires at 2026-01-01 00:00 Shanghai (2025-12-31 16:00 UTC).
    assert_eq!(b.next_expiry, Some((shanghai(2026, 1, 1, 0, 0, 0), Points::new(80))));
    h.clock.set(shanghai(2025, 12, 31, 23, 59, 59));
    assert_eq!(l.balance(&u).await.unwrap().available, Points::new(80));
    l.redeem(&key("spend"), &u, Points::new(30), Redemption::Exchange { item: "pen".into() }).await.unwrap();
    h.clock.set(shanghai(2026, 1, 1, 0, 0, 0));
    assert_eq!(l.balance(&u).await.unwrap().available, Points::ZERO, "expired exactly at shop midnight");
    let e = l.redeem(&key("late"), &u, Points::new(1), Redemption::Exchange { item: "pen".into() }).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::InsufficientPoints { .. }));
    let sweep = l.expire_points(100).await.unwrap();
    assert_eq!((sweep.handled, sweep.points, sweep.more), (1, 50, false));
    assert_eq!(l.expire_points(100).await.unwrap().handled, 0, "expiry happens once");
    let usage = l.points_usage(shanghai(2026, 1, 1, 0, 0, 0), shanghai(2026, 1, 2, 0, 0, 0)).await.unwrap();
    assert_eq!(usage.expired, Points::new(50));
    h.assert_verified().await;
}

pub async fn fifo_lots_with_day_expiry(target: Target) {
    let mut config = LoyaltyConfig::default();
    config.points.expiry = PointsExpiry::DaysAfterEarning { days: 10 };
    let h = target.open(config).await;
    let l = &h.loyalty;
    let u = user("gus");
    l.record_activity(&key("e1"), &u, paid("o1", 100)).await.unwrap(); // 03-01, expires 03-11
    h.clock.set(shanghai(2024, 3, 5, 12, 0, 0));
    l.record_activity(&key("e2"), &u, paid("o2", 100)).await.unwrap(); // expires 03-15
    h.clock.set(shanghai(2024, 3, 8, 12, 0, 0));
    l.redeem(&key("r"), &u, Points::new(150), Redemption::Exchange { item: "lamp".into() }).await.unwrap();
    let b = l.balance(&u).await.unwrap();
    assert_eq!(b.next_expiry, Some((shanghai(2024, 3, 15, 0, 0, 0), Points::new(50))), "oldest lot drained first");
    h.clock.set(shanghai(2024, 3, 14, 23, 59, 59));
    assert_eq!(l.balance(&u).await.unwrap().available, Points::new(50));
    h.clock.advance(Duration::seconds(1));
    // A new earning on expiry day: the due lot is expired first, then credited.
    let r = l.record_activity(&key("e3"), &u, paid("o3", 7)).await.unwrap();
    assert_eq!(r.available, Points::new(7));
    h.assert_verified().await;
}

pub async fn transfers_off_by_default_and_on_when_enabled(target: Target) {
    let h = target.open(LoyaltyConfig::default()).await;
    let (a, b) = (user("hal"), user("ivy"));
    h.loyalty.record_activity(&key("e"), &a, paid("o1", 50)).await.unwrap();
    let e = h.loyalty.transfer(&key("t"), &a, &b, Points::new(10)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::TransfersDisabled), "{e}");
    drop(h);

    let mut config = LoyaltyConfig::default();
    config.points.transfers_enabled = true;
    let h = target.open(config).await;
    let l = &h.loyalty;
    l.record_activity(&key("e"), &a, paid("o1", 50)).await.unwrap();
    // b owes 20 after a refund beyond their balance.
    l.record_activity(&key("eb"), &b, paid("o2", 20)).await.unwrap();
    l.redeem(&key("xb"), &b, Points::new(20), Redemption::Exchange { item: "cup".into() }).await.unwrap();
    l.refund(&key("rb"), &b, &order("o2"), yuan(20)).await.unwrap();
    let t = l.transfer(&key("t"), &a, &b, Points::new(30)).await.unwrap();
    assert_eq!(t.repaid_debt, Points::new(20));
    assert_eq!(l.balance(&a).await.unwrap().available, Points::new(20));
    let bb = l.balance(&b).await.unwrap();
    assert_eq!((bb.available, bb.owed), (Points::new(10), Points::ZERO));
    assert_eq!(bb.next_expiry.unwrap().0, shanghai(2026, 1, 1, 0, 0, 0), "received points keep their expiry");
    let e = l.transfer(&key("t2"), &a, &b, Points::new(21)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::InsufficientPoints { .. }));
    let e = l.transfer(&key("t3"), &a, &a, Points::new(1)).await.unwrap_err();
    assert!(matches!(e, LoyaltyError::InvalidInput { .. }));
    h.assert_verified().await;
}

pub async fn verify_detects_tampering(target: Target) {
    let mut config = LoyaltyConfig::default();
    config.points.expiry = PointsExpiry::DaysAfterEarning { days: 10 };
    let h = target.open(config).await;
    let l = &h.loyalty;
    let u = user("zed");
    l.record_activity(&key("e1"), &u, paid("o1", 100)).await.unwrap();
    h.clock.set(shanghai(2024, 3, 5, 12, 0, 0));
    l.record_activity(&key("e2"), &u, paid("o2", 100)).await.unwrap();
    l.redeem(&key("r"), &u, Points::new(50), Redemption::Exchange { item: "cap".into() }).await.unwrap();
    h.assert_verified().await;
    let mut conn = l.pool().acquire().await.unwrap();
    let exec = |sql: &'static str| sqlx::query(sql);

    // A cached balance that disagrees with the ledger.
    exec("UPDATE loyalty_members SET available = available + 5").execute(&mut *conn).await.unwrap();
    let report = l.verify().await.unwrap();
    assert!(report.problems.iter().any(|p| p.contains("cached available 155 but ledger says 150")), "{report:#?}");
    exec("UPDATE loyalty_members SET available = available - 5").execute(&mut *conn).await.unwrap();

    // An unbalanced operation.
    exec("INSERT INTO loyalty_entries (op_id, account, amount) SELECT MIN(id), 'shop:issued', 3 FROM loyalty_ops")
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = l.verify().await.unwrap();
    assert!(report.problems.iter().any(|p| p.contains("unbalanced")), "{report:#?}");
    exec("DELETE FROM loyalty_entries WHERE account = 'shop:issued' AND amount = 3").execute(&mut *conn).await.unwrap();
    h.assert_verified().await;

    // Points taken from the later-expiring lot: every sum still agrees, only
    // the first-expiring-first replay notices.
    exec("UPDATE loyalty_lot_moves SET lot_id = (SELECT MAX(id) FROM loyalty_lots)").execute(&mut *conn).await.unwrap();
    exec("UPDATE loyalty_lots SET remaining = CASE WHEN remaining = 50 THEN 100 ELSE 50 END")
        .execute(&mut *conn)
        .await
        .unwrap();
    let report = l.verify().await.unwrap();
    assert_eq!(report.problem_count, 1, "{report:#?}");
    assert!(report.problems[0].contains("out of first-expiring order"), "{report:#?}");
}
