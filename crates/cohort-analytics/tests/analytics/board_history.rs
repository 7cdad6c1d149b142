//! The KPI board over time: CAC per acquisition channel and month, and the
//! value-tier / lifecycle shares at each month's end, on hand-built shops.

use chrono::{Duration, NaiveDate};
use cohort_analytics::{parse_spend_csv, DateRange, KpiSpec, KpiTargets, Period};
use cohort_insight::{compute_profiles, InsightConfig};
use cohort_model::ShopTime;

use super::fixtures::{at, engine, Shop};

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn spec(from: &str, to: &str, as_of: &str) -> KpiSpec {
    KpiSpec {
        range: DateRange { from: Some(date(from)), to: Some(date(to)) },
        as_of: Some(at(as_of)),
        period: Period::Month,
        ..KpiSpec::default()
    }
}

#[test]
fn cac_per_acquisition_channel_and_month() {
    let mut shop = Shop::default();
    // Registration channel wins over the first order's (and is normalised).
    shop.user_via("d1", "2025-02-25T02:00:00Z", "Douyin");
    shop.order_via("d1", "2025-03-05T02:00:00Z", 10_000, "wechat");
    // No user record: the first event carrying a channel (first touch).
    shop.event("d2", "Page Viewed", "2025-03-01T01:00:00Z").channel = Some("xiaohongshu".into());
    shop.event("d2", "Page Viewed", "2025-03-02T01:00:00Z").channel = Some("wechat".into());
    shop.order_via("d2", "2025-03-10T02:00:00Z", 10_000, "wechat");
    // Neither: the first paid order's channel.
    shop.order_via("d3", "2025-03-20T02:00:00Z", 10_000, "wechat");
    shop.user_via("d4", "2025-03-25T02:00:00Z", "baidu");
    shop.order_via("d4", "2025-04-02T02:00:00Z", 10_000, "douyin");
    shop.order("d5", "2025-04-10T02:00:00Z", 10_000); // no channel anywhere: unknown
                                                      // 30 April 23:30 in Shanghai (15:30 UTC): April, in the range.
    shop.user_via("d6", "2025-04-01T02:00:00Z", " DOUYIN ");
    shop.order_via("d6", "2025-04-30T15:30:00Z", 10_000, "wechat");
    // 1 May 00:30 in Shanghai: after the range, not a new customer of it.
    shop.order_via("d8", "2025-04-30T16:30:00Z", 10_000, "douyin");
    // Acquired before the range: a March order is a repeat.
    shop.order_via("d7", "2025-02-27T02:00:00Z", 10_000, "wechat");
    shop.order_via("d7", "2025-03-08T02:00:00Z", 10_000, "wechat");
    let store = shop.store();
    let a = engine(&store);
    let csv = "date,channel,spend_fen\n\
               2025-02-28,douyin,99999\n\
               2025-03-01,Douyin,6000\n\
               2025-03-31,douyin,2000\n\
               2025-04-01,douyin,3000\n\
               2025-03-15,xiaohongshu,5000\n\
               2025-04-15,baidu,4000\n\
               2025-04-20,wechat,1000\n\
               2025-05-01,baidu,7777\n";
    a.import_spend(&parse_spend_csv(csv).unwrap()).unwrap();
    let board = a.kpi(&spec("2025-03-01", "2025-04-30", "2025-06-01T00:00:00Z"), &KpiTargets::default()).unwrap();
    type Row<'a> = (String, &'a str, i64, u64, Option<f64>, Option<bool>);
    let rows: Vec<Row> = board
        .cac_by_period
        .iter()
        .map(|c| (c.period.to_string(), c.channel.as_str(), c.spend_fen, c.new_customers, c.cac_fen, c.met))
        .collect();
    let row = |p: &str, c: &'static str, s: i64, n: u64, cac: Option<f64>, met: Option<bool>| -> Row<'static> {
        (p.to_string(), c, s, n, cac, met)
    };
    assert_eq!(
        rows,
        [
            row("2025-03-01", "douyin", 8_000, 1, Some(8_000.0), Some(false)),
            row("2025-03-01", "wechat", 0, 1, Some(0.0), Some(true)),
            row("2025-03-01", "xiaohongshu", 5_000, 1, Some(5_000.0), Some(true)),
            row("2025-04-01", "baidu", 4_000, 1, Some(4_000.0), Some(true)),
            row("2025-04-01", "douyin", 3_000, 1, Some(3_000.0), Some(true)),
            row("2025-04-01", "unknown", 0, 1, Some(0.0), Some(true)),
            row("2025-04-01", "wechat", 1_000, 0, None, None),
        ]
    );
    type Total<'a> = (&'a str, i64, u64, Option<f64>);
    let totals: Vec<Total> =
        board.cac.iter().map(|c| (c.channel.as_str(), c.spend_fen, c.new_customers, c.cac_fen)).collect();
    assert_eq!(
        totals,
        [
            ("baidu", 4_000, 1, Some(4_000.0)),
            ("douyin", 11_000, 2, Some(5_500.0)),
            ("unknown", 0, 1, Some(0.0)),
            ("wechat", 1_000, 1, Some(1_000.0)),
            ("xiaohongshu", 5_000, 1, Some(5_000.0)),
        ]
    );
    let blended = board.get("cac_fen").unwrap();
    assert_eq!((blended.value, blended.met), (Some(21_000.0 / 6.0), Some(true)));
    // Weekly periods: the same customers and spend, split by shop week.
    let weekly = KpiSpec { period: Period::Week, ..spec("2025-03-01", "2025-03-31", "2025-06-01T00:00:00Z") };
    let board = a.kpi(&weekly, &KpiTargets::default()).unwrap();
    let weeks: Vec<(String, &str, i64, u64)> = board
        .cac_by_period
        .iter()
        .map(|c| (c.period.to_string(), c.channel.as_str(), c.spend_fen, c.new_customers))
        .collect();
    let w = |p: &str, c: &'static str, s: i64, n: u64| (p.to_string(), c, s, n);
    assert_eq!(
        weeks,
        [
            w("2025-03-01", "douyin", 6_000, 0), // the week of 24 Feb, clipped to the range
            w("2025-03-03", "douyin", 0, 1),
            w("2025-03-10", "xiaohongshu", 5_000, 1),
            w("2025-03-17", "wechat", 0, 1),
            w("2025-03-31", "douyin", 2_000, 0),
        ]
    );
}

/// The shop of the segment-history test: six people over three months.
fn segment_shop() -> Shop {
    let mut shop = Shop::default();
    // s1: three orders in January (¥600), then nothing.
    shop.user("s1", "2025-01-10T02:00:00Z");
    shop.order("s1", "2025-01-12T02:00:00Z", 20_000);
    shop.order("s1", "2025-01-20T02:00:00Z", 20_000);
    shop.order("s1", "2025-01-28T02:00:00Z", 20_000);
    // s2: one visit on 30 January, never registered, never bought.
    shop.event("s2", "Page Viewed", "2025-01-30T02:00:00Z");
    // s3: registered at 00:30 on 1 March in Shanghai (28 February in UTC).
    shop.user("s3", "2025-02-28T16:30:00Z");
    // s4: one ¥300 order on 20 March.
    shop.order("s4", "2025-03-20T02:00:00Z", 30_000);
    // s5: only a custom event (known, but never active).
    shop.event("s5", "Message Sent", "2025-01-05T02:00:00Z");
    // s6: one ¥100 order in October 2024.
    shop.order("s6", "2024-10-01T02:00:00Z", 10_000);
    shop
}

#[test]
fn segment_shares_at_each_month_end() {
    let store = segment_shop().store();
    let board = engine(&store)
        .kpi(
            &KpiSpec { history_periods: 3, ..spec("2025-03-01", "2025-03-31", "2025-03-31T12:00:00Z") },
            &KpiTargets::default(),
        )
        .unwrap();
    let h = &board.segment_history;
    let months: Vec<(String, String, u64)> =
        h.iter().map(|p| (p.period.to_string(), p.as_of_date.to_string(), p.persons)).collect();
    assert_eq!(
        months,
        [
            ("2025-01-01".into(), "2025-01-31".into(), 4),
            ("2025-02-01".into(), "2025-02-28".into(), 4),
            ("2025-03-01".into(), "2025-03-31".into(), 6),
        ]
    );
    // Columns: high_value, potential, low_value, general, prospect | new,
    // active, silent_light, silent_medium, silent_heavy, churned.
    let counts: Vec<Vec<u64>> = h.iter().map(|p| p.shares.iter().map(|s| s.persons).collect()).collect();
    assert_eq!(
        counts,
        [
            vec![1, 0, 1, 0, 2, 1, 1, 0, 0, 0, 2],
            vec![0, 0, 1, 1, 2, 0, 1, 1, 0, 0, 2],
            vec![0, 1, 1, 1, 3, 0, 1, 1, 1, 1, 2],
        ]
    );
    let names: Vec<String> = h[0].shares.iter().map(|s| format!("{}.{}", s.dimension, s.segment)).collect();
    assert_eq!(names[0], "value_tier.high_value");
    assert_eq!(names[5], "lifecycle.new");
    assert_eq!(h[2].shares[4].share, 0.5); // 3 prospects of 6
                                           // The same months through `cohort compute` at each month's last instant.
    for p in h {
        let next = ShopTime::default().start_of_day(p.as_of_date + chrono::Days::new(1));
        let as_of = next.min(at("2025-03-31T12:00:00Z") + Duration::milliseconds(1)) - Duration::milliseconds(1);
        let report = compute_profiles(&store, as_of, &InsightConfig::default(), &mut |_| {}).unwrap();
        let insight: Vec<u64> = report
            .summary
            .value_tiers
            .iter()
            .map(|c| c.count)
            .chain(report.summary.lifecycle.iter().map(|c| c.count))
            .collect();
        let ours: Vec<u64> = p.shares.iter().map(|s| s.persons).collect();
        assert_eq!((p.period, ours), (p.period, insight));
    }
    // Thresholds come from `[segments]`: a 60-day active bound moves s1 and s2.
    let mut cfg = InsightConfig::default();
    cfg.lifecycle.active_max_inactive_days = 60;
    let board = engine(&store)
        .with_segments(cfg)
        .kpi(
            &KpiSpec { history_periods: 1, ..spec("2025-03-01", "2025-03-31", "2025-03-31T12:00:00Z") },
            &KpiTargets::default(),
        )
        .unwrap();
    let active = board.segment_history[0].shares.iter().find(|s| s.segment == "active").unwrap();
    assert_eq!(active.persons, 3); // s2 (60 days), s3 (30), s4
}
