//! The compute job against the reference MemoryStore, and the summary.

use chrono::Duration;
use cohort_insight::{compute_profiles, default_as_of, InsightConfig, SegmentSummary};
use cohort_model::{Batch, EventName, LifecycleStage, PersonId, Product, ProductId, RfmSegment, ValueTier};
use cohort_store::{EventStore, MemoryStore, WriteSource};

use crate::fixtures::*;

fn store() -> MemoryStore {
    let store = MemoryStore::new();
    let mut batch = Batch::default();
    let mut snack = Product::new(ProductId::new("p-any").unwrap());
    snack.category = Some("零食".into());
    snack.launched_at = Some(ago(40, 0));
    batch.products.push(snack);
    // Big spender: high value.
    for (i, days) in [1, 20, 50].iter().enumerate() {
        batch.orders.push(purchase(&format!("big{i}"), "big", ago(*days, 12), 20_000));
    }
    // Small recent buyer: potential.
    batch.orders.push(purchase("mid0", "mid", ago(3, 12), 25_000));
    // Registered visitor, never bought.
    batch.users.push(user("visitor", Some(ago(2, 9))));
    batch.events.push(ev("v1", "visitor", EventName::PageViewed, ago(1, 9)));
    // Registers after as_of: skipped.
    batch.users.push(user("later", Some(as_of() + Duration::days(3))));
    batch.events.push(ev("l1", "later", EventName::PageViewed, as_of() + Duration::days(3)));
    let mut txn = store.begin_write(WriteSource::default()).unwrap();
    txn.write(&batch).unwrap();
    txn.commit(0).unwrap();
    store
}

#[test]
fn compute_writes_segmented_profiles_and_reports() {
    let store = store();
    let mut calls = Vec::new();
    let report = compute_profiles(&store, as_of(), &InsightConfig::default(), &mut |n| calls.push(n)).unwrap();
    assert_eq!((report.persons_scanned, report.persons_skipped, report.profiles_written), (4, 1, 3));
    assert_eq!(report.products, 1);
    assert_eq!(calls.last(), Some(&4));
    assert!(report.timings.total >= report.timings.build);
    let get = |p: &str| store.profile(&PersonId::new(p).unwrap()).unwrap();
    assert!(get("later").is_none());
    let big = get("big").unwrap();
    assert_eq!(big.value_tier, ValueTier::HighValue);
    assert_eq!(big.top_category.as_deref(), Some("snacks"), "the line's category wins over the catalogue's");
    assert_eq!(big.new_product_trial_rate, Some(1.0), "bought before its launch (pre-sale) counts as a trial");
    let mid = get("mid").unwrap();
    assert_eq!(mid.value_tier, ValueTier::Potential);
    // Two buyers: big is better on F and M, both score R by strictly-older count.
    assert_eq!(big.rfm.map(|s| (s.recency, s.frequency, s.monetary)), Some((3, 3, 3)));
    assert_eq!(mid.rfm.map(|s| (s.recency, s.frequency, s.monetary)), Some((1, 1, 1)));
    assert_eq!(mid.rfm_segment, Some(RfmSegment::Hibernating));
    let visitor = get("visitor").unwrap();
    assert_eq!((visitor.value_tier, visitor.lifecycle, visitor.rfm), (ValueTier::Prospect, LifecycleStage::New, None));

    let summary = SegmentSummary::from_store(&store).unwrap();
    assert_eq!(summary, report.summary);
    assert_eq!(summary.total, 3);
    assert_eq!(summary.rfm_scored, 2);
    let high = summary.value_tiers.iter().find(|c| c.segment == ValueTier::HighValue).unwrap();
    assert_eq!((high.count, high.label_zh), (1, "高价值"));
    assert!((high.share - 1.0 / 3.0).abs() < 1e-12);
    for group in [
        summary.value_tiers.iter().map(|c| c.share).sum::<f64>(),
        summary.lifecycle.iter().map(|c| c.share).sum(),
        summary.behaviour.iter().map(|c| c.share).sum(),
        summary.rfm.iter().map(|c| c.share).sum(),
    ] {
        assert!((group - 1.0).abs() < 1e-9);
    }
    assert_eq!(default_as_of(&store).unwrap(), Some(as_of() + Duration::days(3)));
    assert_eq!(default_as_of(&MemoryStore::new()).unwrap(), None);
}

#[test]
fn an_invalid_config_is_refused_before_scanning() {
    let cfg = InsightConfig { time_zone: "Nowhere/Land".into(), ..Default::default() };
    let err = compute_profiles(&store(), as_of(), &cfg, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("segments.time_zone"), "{err}");
}

/// Terminal columns, East Asian wide characters counting two.
fn columns(line: &str) -> usize {
    line.chars().map(|c| if ('\u{2E80}'..='\u{FFE6}').contains(&c) { 2 } else { 1 }).sum()
}

#[test]
fn the_summary_renders_aligned_tables() {
    let store = store();
    let report = compute_profiles(&store, as_of(), &InsightConfig::default(), &mut |_| {}).unwrap();
    let text = report.summary.to_string();
    for label in ["high_value", "高价值", "silent_medium", "中度沉默", "price_comparer", "比价型", "champions"]
    {
        assert!(text.contains(label), "{label} missing:\n{text}");
    }
    for table in text.split("\n\n").filter(|t| t.contains("share")) {
        let rows: Vec<&str> = table.lines().filter(|l| l.ends_with('%') || l.ends_with("share")).collect();
        assert!(rows.len() >= 5, "{table}");
        let width = columns(rows[0]);
        assert!(rows.iter().all(|r| columns(r) == width), "misaligned:\n{table}");
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["value_tiers"][0]["segment"], "high_value");
    assert_eq!(json["summary"]["value_tiers"][0]["label_zh"], "高价值");
    assert!(json["timings"]["total_ms"].is_f64());
}
