//! Segment counts and shares, for `cohort segments` (text or `--json`).

use std::fmt;

use cohort_model::{BehaviourType, LifecycleStage, Profile, RfmSegment, ValueTier};
use cohort_store::EventStore;
use serde::Serialize;

use crate::InsightError;

/// How many people one segment holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SegmentCount<L> {
    /// The segment.
    pub segment: L,
    /// Its Chinese label.
    pub label_zh: &'static str,
    /// People in it.
    pub count: u64,
    /// `count` over the people the grouping partitions (0 when there are
    /// none).
    pub share: f64,
}

/// Counts and shares of every segment. Value tiers, lifecycle stages and
/// behaviour types each partition all persons; RFM segments partition the
/// buyers that have RFM scores (`rfm_scored`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentSummary {
    /// Persons with a profile.
    pub total: u64,
    /// Persons with RFM scores (buyers in the value window).
    pub rfm_scored: u64,
    /// Per value tier, in [`ValueTier::ALL`] order.
    pub value_tiers: Vec<SegmentCount<ValueTier>>,
    /// Per lifecycle stage, in [`LifecycleStage::ALL`] order.
    pub lifecycle: Vec<SegmentCount<LifecycleStage>>,
    /// Per behaviour type, in [`BehaviourType::ALL`] order.
    pub behaviour: Vec<SegmentCount<BehaviourType>>,
    /// Per RFM segment, in [`RfmSegment::ALL`] order; shares are of
    /// `rfm_scored`.
    pub rfm: Vec<SegmentCount<RfmSegment>>,
}

/// Streaming counter behind [`SegmentSummary`].
#[derive(Debug, Default)]
struct Counter {
    total: u64,
    tiers: Vec<u64>,
    stages: Vec<u64>,
    types: Vec<u64>,
    rfm: Vec<u64>,
}

fn index_of<L: PartialEq>(all: &[L], value: &L) -> usize {
    all.iter().position(|v| v == value).expect("a label is in its ALL list")
}

impl Counter {
    fn new() -> Self {
        Counter {
            total: 0,
            tiers: vec![0; ValueTier::ALL.len()],
            stages: vec![0; LifecycleStage::ALL.len()],
            types: vec![0; BehaviourType::ALL.len()],
            rfm: vec![0; RfmSegment::ALL.len()],
        }
    }

    fn add(&mut self, p: &Profile) {
        self.total += 1;
        self.tiers[index_of(ValueTier::ALL, &p.value_tier)] += 1;
        self.stages[index_of(LifecycleStage::ALL, &p.lifecycle)] += 1;
        self.types[index_of(BehaviourType::ALL, &p.behaviour)] += 1;
        if let Some(segment) = p.rfm_segment {
            self.rfm[index_of(RfmSegment::ALL, &segment)] += 1;
        }
    }

    fn finish(self) -> SegmentSummary {
        let rfm_scored = self.rfm.iter().sum();
        SegmentSummary {
            total: self.total,
            rfm_scored,
            value_tiers: counts(ValueTier::ALL, &self.tiers, self.total, ValueTier::label_zh),
            lifecycle: counts(LifecycleStage::ALL, &self.stages, self.total, LifecycleStage::label_zh),
            behaviour: counts(BehaviourType::ALL, &self.types, self.total, BehaviourType::label_zh),
            rfm: counts(RfmSegment::ALL, &self.rfm, rfm_scored, RfmSegment::label_zh),
        }
    }
}

fn counts<L: Copy>(all: &[L], n: &[u64], whole: u64, zh: fn(L) -> &'static str) -> Vec<SegmentCount<L>> {
    all.iter()
        .zip(n)
        .map(|(&segment, &count)| SegmentCount {
            segment,
            label_zh: zh(segment),
            count,
            share: if whole == 0 { 0.0 } else { count as f64 / whole as f64 },
        })
        .collect()
}

impl SegmentSummary {
    /// Summarises profiles held in memory.
    pub fn from_profiles(profiles: &[Profile]) -> Self {
        let mut counter = Counter::new();
        profiles.iter().for_each(|p| counter.add(p));
        counter.finish()
    }

    /// Summarises the profiles stored by the last compute, streaming them.
    pub fn from_store(store: &dyn EventStore) -> Result<Self, InsightError> {
        let mut counter = Counter::new();
        store.scan_profiles(&mut |p| {
            counter.add(&p);
            Ok(())
        })?;
        Ok(counter.finish())
    }
}

/// Terminal width of text: East Asian wide characters take two columns.
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F => 2,
            0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

fn pad(text: &str, columns: usize) -> String {
    format!("{text}{}", " ".repeat(columns.saturating_sub(width(text))))
}

fn table<L: fmt::Display + Copy>(
    f: &mut fmt::Formatter<'_>,
    title: &str,
    title_zh: &str,
    rows: &[SegmentCount<L>],
    of: &str,
) -> fmt::Result {
    let names: Vec<String> = rows.iter().map(|r| r.segment.to_string()).collect();
    let w_name = names.iter().map(|n| width(n)).chain([width(title)]).max().unwrap_or(0);
    let w_zh = rows.iter().map(|r| width(r.label_zh)).chain([width(title_zh)]).max().unwrap_or(0);
    let w_count = rows.iter().map(|r| r.count.to_string().len()).chain([7]).max().unwrap_or(7);
    writeln!(f, "{}  {}  {:>w_count$}  {:>6}", pad(title, w_name), pad(title_zh, w_zh), "persons", of)?;
    for (row, name) in rows.iter().zip(&names) {
        writeln!(
            f,
            "{}  {}  {:>w_count$}  {:>5.1}%",
            pad(name, w_name),
            pad(row.label_zh, w_zh),
            row.count,
            row.share * 100.0
        )?;
    }
    Ok(())
}

impl fmt::Display for SegmentSummary {
    /// Four aligned tables (English and Chinese labels, count, share).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "persons 人数: {}", self.total)?;
        writeln!(f)?;
        table(f, "value tier", "价值分层", &self.value_tiers, "share")?;
        writeln!(f)?;
        table(f, "lifecycle stage", "生命周期", &self.lifecycle, "share")?;
        writeln!(f)?;
        table(f, "behaviour type", "行为类型", &self.behaviour, "share")?;
        writeln!(f)?;
        writeln!(f, "RFM (buyers in the value window 价值窗口内购买用户: {})", self.rfm_scored)?;
        table(f, "rfm segment", "RFM 分群", &self.rfm, "share")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("高价值"), 6);
        assert_eq!(width("high_value"), 10);
        assert_eq!(pad("流失", 6), "流失  ");
    }
}
