//! `cohort points` against a loyalty store written through the library:
//! verification passes on an honest ledger and fails (exit 1, the member
//! named) once a cached balance is tampered with.

use std::sync::Arc;

use cohort_loyalty::{
    Activity, Audience, Checkout, CheckoutLine, CouponTemplate, IdempotencyKey, Loyalty, LoyaltyConfig, Offer,
    TemplateId, Validity,
};
use cohort_model::{Money, OrderId, ProductId, ShopTime, SystemClock, UserId};

mod common;
use common::cohort;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_verify_show_and_usage() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let db = store.join("loyalty.sqlite");
    let loyalty =
        Loyalty::open_sqlite(&db, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock)).await.unwrap();
    let alice = UserId::new("alice").unwrap();
    let key = |k: &str| IdempotencyKey::new(k).unwrap();
    let paid = Activity::OrderPaid { order: OrderId::new("o1").unwrap(), paid: Money::from_fen(12_345) };
    loyalty.record_activity(&key("k1"), &alice, paid).await.unwrap();
    loyalty.record_activity(&key("k2"), &alice, Activity::Review).await.unwrap();
    // A "¥199 − ¥50" coupon issued and redeemed on a ¥199 order.
    let template = CouponTemplate {
        id: TemplateId::new("199-50").unwrap(),
        name: "满199减50".into(),
        offer: Offer::Threshold { min_spend: Money::from_fen(19_900), off: Money::from_fen(5_000) },
        categories: vec![],
        audience: Audience::Everyone,
        validity: Validity::DaysAfterIssue { days: 7 },
        per_user_limit: 2,
        quantity_cap: None,
        budget: None,
    };
    loyalty.create_template(template.clone()).await.unwrap();
    let coupon = loyalty.issue_coupon(&key("i1"), &alice, &template.id).await.unwrap();
    loyalty.issue_coupon(&key("i2"), &alice, &template.id).await.unwrap();
    let line = CheckoutLine { product: ProductId::new("p1").unwrap(), category: None, amount: Money::from_fen(19_900) };
    let checkout = Checkout { order: OrderId::new("o2").unwrap(), lines: vec![line], shipping: Money::ZERO };
    loyalty.lock_coupons(&key("l1"), &alice, &checkout, &[coupon.id]).await.unwrap();
    loyalty.redeem_coupons(&key("r1"), &alice, &checkout.order).await.unwrap();
    loyalty.close().await;

    // The open store of `cohort` (DuckDB) lives beside the loyalty file.
    let out = cohort(&store, &["points", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ledger verified"), "{stdout}");

    // ¥123.45 paid → 123 points (1 per whole yuan), a review → 5.
    let out = cohort(&store, &["points", "show", "alice", "--json"]);
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["balance"]["available"], 128, "{doc}");
    let member_credits: i64 = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["account"] == "member:alice:available")
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(member_credits, 128, "the ledger sums to the balance");

    let out = cohort(&store, &["points", "usage", "--json"]);
    assert!(out.status.success());
    let usage: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(usage["issued"], 128);
    assert_eq!(usage["meets_target"], false, "nothing redeemed yet");

    let out = cohort(&store, &["points", "coupons", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = &report["total"];
    assert_eq!((total["issued"].as_i64(), total["redeemed"].as_i64()), (Some(2), Some(1)), "{report}");
    assert_eq!(total["redemption_rate"], 0.5);
    assert_eq!((total["discount_cost"].as_i64(), total["gmv"].as_i64()), (Some(5_000), Some(19_900)));
    let table = cohort(&store, &["points", "coupons"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("199-50"));

    // Tamper with the cached balance: verification must catch it.
    let url = cohort_loyalty::sqlite_url(&db);
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE loyalty_members SET available = available + 7").execute(&pool).await.unwrap();
    pool.close().await;
    let out = cohort(&store, &["points", "verify"]);
    assert_eq!(out.status.code(), Some(1), "a tampered balance fails verification");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("alice"), "the member is named: {all}");
}
