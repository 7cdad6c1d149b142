//! The KPI board and path analysis on hand-built shops.

use cohort_analytics::{parse_spend_csv, EventMatch, KpiSpec, KpiTargets, PathSpec};

use super::fixtures::{at, engine, Shop};

#[test]
fn kpi_board_figures_and_targets() {
    let mut shop = Shop::default();
    shop.user("k1", "2025-03-02T02:00:00Z");
    shop.order("k1", "2025-03-05T02:00:00Z", 10_000);
    shop.order("k1", "2025-03-10T02:00:00Z", 5_000);
    shop.user("k2", "2025-03-03T02:00:00Z");
    shop.order("k2", "2025-03-20T02:00:00Z", 20_000);
    shop.order("k3", "2025-02-20T02:00:00Z", 3_000);
    shop.order("k3", "2025-03-05T02:00:00Z", 4_000);
    shop.user("k4", "2025-03-04T02:00:00Z");
    shop.order("k5", "2025-03-30T02:00:00Z", 8_000);
    shop.order("k5", "2025-04-06T02:00:00Z", 1_000); // 7 shop days later: still counts
    let store = shop.store();
    let spec = KpiSpec {
        range: cohort_analytics::DateRange {
            from: Some("2025-03-01".parse().unwrap()),
            to: Some("2025-03-31".parse().unwrap()),
        },
        as_of: Some(at("2025-05-01T00:00:00Z")),
        ..KpiSpec::default()
    };
    let board = engine(&store).kpi(&spec, &KpiTargets::default()).unwrap();
    let v = |key: &str| board.get(key).unwrap_or_else(|| panic!("{key}")).value;
    assert_eq!(v("orders"), Some(5.0));
    assert_eq!(v("gmv_fen"), Some(47_000.0));
    assert_eq!(v("aov_fen"), Some(9_400.0));
    assert_eq!(v("buyers"), Some(4.0));
    assert_eq!(v("repurchase_rate"), Some(0.25));
    assert_eq!(v("active_users"), Some(4.0));
    assert_eq!(v("arpu_fen"), Some(11_750.0));
    assert_eq!(v("dau"), Some(5.0 / 31.0));
    assert_eq!(v("wau"), Some(1.0));
    assert_eq!(v("mau"), Some(4.0));
    assert_eq!(v("new_registrations"), Some(3.0));
    assert_eq!(v("effective_registration_rate"), Some(2.0 / 3.0));
    assert_eq!(v("new_customers"), Some(3.0));
    assert_eq!(v("first_order_aov_fen"), Some(38_000.0 / 3.0));
    let repurchase = board.get("repurchase_7d").unwrap();
    assert_eq!(repurchase.value, Some(2.0 / 3.0));
    assert_eq!((repurchase.target.as_ref().unwrap().value, repurchase.met), (0.15, Some(true)));
    let retention = board.get("retention_30d").unwrap();
    assert_eq!((retention.value, retention.met), (Some(2.0 / 3.0), Some(true)));
    let cac = board.get("cac_fen").unwrap();
    assert_eq!((cac.value, cac.met, cac.target.as_ref().unwrap().value), (None, None, 5000.0));
    assert_eq!(board.ltv.len(), 1);
    assert_eq!(board.ltv[0].cohort.to_string(), "2025-03-01");
    assert_eq!(board.ltv[0].persons, 4);
    assert_eq!(board.ltv[0].ltv_fen, [Some(11_000.0), None, None]);
    // stricter targets are missed
    let strict = KpiTargets { repurchase_7d_min: 0.9, ..KpiTargets::default() };
    assert_eq!(engine(&store).kpi(&spec, &strict).unwrap().get("repurchase_7d").unwrap().met, Some(false));
    let bad = KpiTargets { retention_30d_min: 40.0, ..KpiTargets::default() };
    let err = engine(&store).kpi(&spec, &bad).unwrap_err().to_string();
    assert!(err.contains("kpi.retention_30d_min: must be a share from 0 to 1, got 40"), "{err}");
}

#[test]
fn top_paths_after_a_start_and_before_an_end() {
    let mut shop = Shop::default();
    let p1 = [
        ("Page Viewed", 0),
        ("Products Searched", 1),
        ("Product Viewed", 2),
        ("Product Viewed", 3),
        ("Product Added", 4),
        ("Order Completed", 5),
    ];
    shop.seq("p1", "2025-03-03T02:00:00Z", &p1);
    shop.seq("p2", "2025-03-03T02:00:00Z", &[("Page Viewed", 0), ("Product Viewed", 1), ("Product Added", 2)]);
    let p3 = [("Page Viewed", 0), ("Products Searched", 1), ("Product Viewed", 2), ("Order Completed", 3)];
    shop.seq("p3", "2025-03-03T02:00:00Z", &p3);
    let store = shop.store();
    let mut spec = PathSpec::after(EventMatch::named("Page Viewed"));
    spec.length = 3;
    let r = engine(&store).paths(&spec).unwrap();
    let paths: Vec<(String, u64)> = r.paths.iter().map(|p| (p.events.join(" → "), p.persons)).collect();
    assert_eq!(
        paths,
        [
            ("Page Viewed → Products Searched → Product Viewed".to_string(), 2),
            ("Page Viewed → Product Viewed → Product Added".to_string(), 1)
        ]
    );
    assert_eq!(r.persons, 3);
    let mut spec = PathSpec::before(EventMatch::named("Order Completed"));
    spec.length = 3;
    let r = engine(&store).paths(&spec).unwrap();
    let paths: Vec<(String, u64)> = r.paths.iter().map(|p| (p.events.join(" → "), p.persons)).collect();
    assert_eq!(
        paths,
        [
            ("Product Viewed → Product Added → Order Completed".to_string(), 1),
            ("Products Searched → Product Viewed → Order Completed".to_string(), 1)
        ]
    );
    assert_eq!(r.paths[0].share, 0.5);
    // without collapsing, p1's repeated view shows
    spec.collapse_repeats = false;
    spec.length = 4;
    let r = engine(&store).paths(&spec).unwrap();
    assert!(r
        .paths
        .iter()
        .any(|p| p.events == ["Product Viewed", "Product Viewed", "Product Added", "Order Completed"]));
    let err = engine(&store).paths(&PathSpec { end: None, ..spec }).unwrap_err().to_string();
    assert!(err.contains("start: give exactly one of start and end"), "{err}");
}

#[test]
fn cac_per_channel_against_the_target() {
    let mut shop = Shop::default();
    shop.order_via("c1", "2025-03-05T02:00:00Z", 10_000, "douyin");
    shop.order_via("c1", "2025-03-25T02:00:00Z", 10_000, "wechat"); // a repeat: acquired via douyin
    shop.order_via("c2", "2025-03-20T02:00:00Z", 20_000, "douyin");
    shop.order_via("c3", "2025-03-30T02:00:00Z", 8_000, "wechat");
    shop.order("c4", "2025-03-12T02:00:00Z", 5_000); // no channel: unknown
    shop.order_via("c5", "2025-02-20T02:00:00Z", 3_000, "douyin"); // acquired before the range
    shop.order_via("c5", "2025-03-06T02:00:00Z", 3_000, "douyin");
    let store = shop.store();
    let a = engine(&store);
    let spec = KpiSpec {
        range: cohort_analytics::DateRange {
            from: Some("2025-03-01".parse().unwrap()),
            to: Some("2025-03-31".parse().unwrap()),
        },
        as_of: Some(at("2025-05-01T00:00:00Z")),
        ..KpiSpec::default()
    };
    let csv = "date,channel,spend_fen\n\
               2025-02-28,douyin,99999\n\
               2025-03-01,douyin,6000\n\
               2025-03-15,douyin,4000\n\
               2025-03-10,wechat,9000\n\
               2025-03-31,wechat,3000\n\
               2025-03-05,baidu,500\n";
    let imported = a.import_spend(&parse_spend_csv(csv).unwrap()).unwrap();
    assert_eq!((imported.rows, imported.channels, imported.spend_fen), (6, 3, 122_499));
    let board = a.kpi(&spec, &KpiTargets::default()).unwrap();
    type Row<'a> = (&'a str, i64, u64, Option<f64>, Option<bool>);
    let rows: Vec<Row> =
        board.cac.iter().map(|c| (c.channel.as_str(), c.spend_fen, c.new_customers, c.cac_fen, c.met)).collect();
    assert_eq!(
        rows,
        [
            ("baidu", 500, 0, None, None),
            ("douyin", 10_000, 2, Some(5_000.0), Some(true)), // exactly the ¥50 target: met
            ("unknown", 0, 1, Some(0.0), Some(true)),
            ("wechat", 12_000, 1, Some(12_000.0), Some(false)),
        ]
    );
    let cac = board.get("cac_fen").unwrap();
    assert_eq!((cac.value, cac.met), (Some(22_500.0 / 4.0), Some(false)));
    assert_eq!(cac.note.as_deref(), Some("22500 fen spent, 4 new customers"));
    // Importing a corrected day replaces it.
    a.import_spend(&parse_spend_csv("date,channel,spend_fen\n2025-03-15,douyin,2000\n").unwrap()).unwrap();
    let board = a.kpi(&spec, &KpiTargets { cac_max_fen: 5_200, ..KpiTargets::default() }).unwrap();
    assert_eq!(board.cac[1].cac_fen, Some(4_000.0));
    let cac = board.get("cac_fen").unwrap();
    assert_eq!((cac.value, cac.met), (Some(20_500.0 / 4.0), Some(true)));
}
