//! `cohort experiment` and `cohort campaign` with the real binary: the
//! read-out of fixed counts, and a campaign launched on a contact file,
//! re-launched (nothing twice), an unsubscribe, and its measurement.

mod common;
use common::ok;

/// A campaign spec file: `id`, SMS, 20% control, ¥0.05 a message, the
/// wake-up targets, with `body` and the `[offer]` table given.
fn write_spec(dir: &std::path::Path, id: &str, body: &str, offer: &str) -> std::path::PathBuf {
    let path = dir.join(format!("{id}.toml"));
    let toml = format!(
        "id = \"{id}\"\nchannel = \"sms\"\ncontrol_bp = 2000\nmessage_cost = 5\n\
         [template]\nname = \"{id}\"\nbody = \"{body}\"\n[offer]\n{offer}\n[send]\nkind = \"now\"\n\
         [targets]\nmin_conversion_rate = 0.08\nmin_revenue_to_cost = 3.0\n"
    );
    std::fs::write(&path, toml).unwrap();
    path
}

#[test]
fn experiment_analyze_and_assign() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(dir.path(), &["experiment", "analyze", "control=200/2000", "treatment=250/2000"]);
    // Same counts as the library's SciPy-checked test: +2.5 pt [+0.54, +4.46], p 0.0124.
    assert!(out.contains("+2.50 pt [+0.54, +4.46]") && out.contains("0.0124"), "{out}");
    assert!(out.contains("99.38%"), "chance to win: {out}");
    assert!(out.contains("chi-square 0.00, p = 1.0000 (ok)"), "{out}");
    let skewed = ok(dir.path(), &["experiment", "analyze", "control=500/5300", "treatment=500/4700"]);
    assert!(skewed.contains("MISMATCH"), "{skewed}");
    let assigned = ok(
        dir.path(),
        &["experiment", "assign", "--experiment", "spring", "--arms", "control=1,treatment=1", "u1", "u2"],
    );
    assert_eq!(assigned.lines().count(), 2);
    assert_eq!(
        assigned,
        ok(
            dir.path(),
            &["experiment", "assign", "--experiment", "spring", "--arms", "control=1,treatment=1", "u1", "u2"]
        )
    );
}

#[test]
fn campaign_launch_relaunch_unsubscribe_and_measure() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let spec = write_spec(dir.path(), "wake_cli", "{{name}}，好久不见，新品上架啦。回T退订", "kind = \"none\"");
    let contacts = dir.path().join("contacts.csv");
    let mut csv = String::from("person_id,recipient,name,peak_hour\n");
    for i in 1..=40 {
        csv.push_str(&format!("p{i},1380000{i:04},会员{i},20\n"));
    }
    std::fs::write(&contacts, csv).unwrap();
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    ok(&store, &["campaign", "unsubscribe", "p3"]);
    let out = ok(&store, &["campaign", "launch", "--spec", &s(&spec), "--contacts", &s(&contacts)]);
    assert!(out.contains("audience 40"), "{out}");
    let again = ok(&store, &["campaign", "launch", "--spec", &s(&spec), "--contacts", &s(&contacts)]);
    assert!(again.contains("scheduled 0") && again.contains("already launched 40"), "{again}");
    let status = ok(&store, &["campaign", "status", "wake_cli"]);
    assert!(status.lines().count() == 3, "{status}");
    let outcomes = dir.path().join("outcomes.csv");
    std::fs::write(&outcomes, "person_id,converted,revenue_fen,discount_fen\np1,1,12000,0\np2,1,8000,0\n").unwrap();
    let measured = ok(&store, &["campaign", "measure", "--spec", &s(&spec), "--outcomes", &s(&outcomes), "--json"]);
    let report: serde_json::Value = serde_json::from_str(&measured).unwrap();
    assert_eq!(report["audience"], 40);
    assert_eq!(report["treatment"].as_u64().unwrap() + report["control"].as_u64().unwrap(), 40);
    assert!(std::fs::metadata(store.join("engage.sqlite")).is_ok());
}

/// Coupons come from the loyalty store beside the store: a template capped
/// at 5 coupons gives 5 members their coupon, and the others' messages are
/// withdrawn rather than promising a coupon that does not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_coupons_come_from_the_loyalty_store() {
    use std::sync::Arc;

    use cohort_loyalty::{Audience, CouponTemplate, Loyalty, LoyaltyConfig, Offer, TemplateId, Validity};
    use cohort_model::{Money, ShopTime, SystemClock, UserId};

    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let db = store.join("loyalty.sqlite");
    let loyalty =
        Loyalty::open_sqlite(&db, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock)).await.unwrap();
    let template = CouponTemplate {
        id: TemplateId::new("WAKE10").unwrap(),
        name: "¥10 无门槛".into(),
        offer: Offer::NoThreshold { off: Money::from_yuan(10) },
        categories: vec![],
        audience: Audience::Everyone,
        validity: Validity::DaysAfterIssue { days: 7 },
        per_user_limit: 1,
        quantity_cap: Some(5),
        budget: None,
    };
    loyalty.create_template(template).await.unwrap();
    loyalty.close().await;

    let spec = write_spec(
        dir.path(),
        "wake_coupon",
        "{{name}}，送您¥{{coupon_amount}}无门槛券，{{expiry}}前有效",
        "kind = \"coupon\"\ntemplate = \"WAKE10\"\nface_value = 1000\nvalid_days = 7",
    );
    let contacts = dir.path().join("contacts.csv");
    let mut csv = String::from("person_id,recipient,name\n");
    for i in 1..=20 {
        csv.push_str(&format!("m{i},139{i:08},会员{i}\n"));
    }
    std::fs::write(&contacts, csv).unwrap();
    let (spec, contacts) = (spec.to_str().unwrap().to_string(), contacts.to_str().unwrap().to_string());
    let out = ok(&store, &["campaign", "launch", "--spec", &spec, "--contacts", &contacts]);
    assert!(out.contains("offers issued 5"), "{out}");
    assert!(out.contains("suppressed (offer_not_issued): "), "{out}");

    let loyalty =
        Loyalty::open_sqlite(&db, LoyaltyConfig::default(), ShopTime::default(), Arc::new(SystemClock)).await.unwrap();
    let mut with_coupon = 0;
    for i in 1..=20 {
        with_coupon += loyalty.coupons(&UserId::new(format!("m{i}")).unwrap()).await.unwrap().len();
    }
    assert_eq!(with_coupon, 5);
    loyalty.close().await;
    // A re-launch issues nothing more.
    let again = ok(&store, &["campaign", "launch", "--spec", &spec, "--contacts", &contacts]);
    assert!(again.contains("offers issued 0") && again.contains("already launched 20"), "{again}");
}

#[test]
fn journeys_list_enter_runs_and_the_daily_job() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let list = ok(&store, &["journey", "list"]);
    for id in ["post_first_order", "cart_abandonment", "wake_up_heavy", "recall_high_value", "new_user_plan"] {
        assert!(list.lines().any(|l| l.starts_with(id)), "{id} missing from:\n{list}");
    }
    let entered = ok(&store, &["journey", "enter", "cart_abandonment", "u1", "--var", "product=奶粉"]);
    assert!(entered.contains("u1 entered cart_abandonment (run 1)"), "{entered}");
    let again = ok(&store, &["journey", "enter", "cart_abandonment", "u1", "--var", "product=奶粉"]);
    assert!(again.contains("was not entered"), "{again}");
    let runs = ok(&store, &["journey", "runs", "cart_abandonment", "--status", "active"]);
    assert!(runs.lines().any(|l| l.contains("u1") && l.contains("active")), "{runs}");
    let bad = common::cohort(&store, &["journey", "runs", "cart_abandonment", "--status", "asleep"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected active, completed, converted or exited"));
    // An empty shop: the daily job considers nobody and enters nobody.
    let daily = ok(&store, &["journey", "daily", "--date", "2026-11-20"]);
    assert!(daily.starts_with("2026-11-20: 0 people considered, 0 entries planned, 0 entered"), "{daily}");
    let drop = ok(&store, &["journey", "price-drop", "p9", "--old-fen", "19900", "--new-fen", "15900"]);
    assert!(drop.contains("0 people carted or wished it in the last 30 days"), "{drop}");
}

#[test]
fn campaign_to_a_filter_measured_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    ok(&store, &["generate", "--users", "500", "--days", "60"]);
    let spec = write_spec(dir.path(), "wake_store", "{{name}}，好久不见", "kind = \"none\"");
    let spec = spec.to_str().unwrap();
    // Everyone who ever bought.
    let filter = "count(orders) >= 1";
    let launched = ok(&store, &["campaign", "launch", "--spec", spec, "--filter", filter]);
    let audience: u64 = launched.split("audience ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    let size = ok(&store, &["audience", "size", "buyers", "--filter", filter]);
    assert!(size.contains(&audience.to_string()), "the launch's audience is the filter's size: {launched}\n{size}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&store, &["campaign", "measure", "wake_store", "--json"])).unwrap();
    assert_eq!(report["treatment"].as_u64().unwrap() + report["control"].as_u64().unwrap(), audience);
    // Nobody can have ordered after today's launch in a shop that ended in 2025.
    assert_eq!(report["store"]["treatment"]["converted"], 0, "{report}");
    assert_eq!(report["store"]["window_days"], 30);
    let never = common::cohort(&store, &["campaign", "measure", "nope"]);
    assert!(String::from_utf8_lossy(&never.stderr).contains("campaign \"nope\" was never launched"));
}
