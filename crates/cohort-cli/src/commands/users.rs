//! `cohort users`.

use anyhow::bail;
use cohort_model::{BehaviourType, LifecycleStage, Profile, RfmSegment, ValueTier};
use cohort_store::EventStore;

use super::Context;
use crate::output::table;

/// Arguments of `cohort users`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Segment filters, all of which must hold: `tier=high_value`,
    /// `lifecycle=silent_medium`, `behaviour=searcher`, `rfm=champions`.
    #[arg(long = "segment", value_name = "DIMENSION=VALUE")]
    pub segments: Vec<String>,
    /// At most this many people.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON lines (one profile per line).
    #[arg(long)]
    pub json: bool,
}

/// One parsed `--segment` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentFilter {
    /// Value tier.
    Tier(ValueTier),
    /// Lifecycle stage.
    Lifecycle(LifecycleStage),
    /// Behaviour type.
    Behaviour(BehaviourType),
    /// RFM segment.
    Rfm(RfmSegment),
}

impl SegmentFilter {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let Some((dimension, value)) = text.split_once('=') else {
            bail!("--segment {text:?}: expected DIMENSION=VALUE, e.g. tier=high_value");
        };
        let bad = |e: String| anyhow::anyhow!("--segment {text:?}: {e}");
        Ok(match dimension.trim() {
            "tier" | "value_tier" => SegmentFilter::Tier(value.parse().map_err(bad)?),
            "lifecycle" | "stage" => SegmentFilter::Lifecycle(value.parse().map_err(bad)?),
            "behaviour" | "behavior" | "type" => SegmentFilter::Behaviour(value.parse().map_err(bad)?),
            "rfm" => SegmentFilter::Rfm(value.parse().map_err(bad)?),
            other => {
                bail!("--segment {text:?}: unknown dimension {other:?} (expected tier, lifecycle, behaviour or rfm)")
            }
        })
    }

    pub fn matches(self, p: &Profile) -> bool {
        match self {
            SegmentFilter::Tier(t) => p.value_tier == t,
            SegmentFilter::Lifecycle(s) => p.lifecycle == s,
            SegmentFilter::Behaviour(b) => p.behaviour == b,
            SegmentFilter::Rfm(r) => p.rfm_segment == Some(r),
        }
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let filters: Vec<SegmentFilter> =
        args.segments.iter().map(|s| SegmentFilter::parse(s)).collect::<anyhow::Result<_>>()?;
    let mut matched = Vec::new();
    let mut total = 0u64;
    ctx.store.scan_profiles(&mut |p| {
        if filters.iter().all(|f| f.matches(&p)) {
            total += 1;
            if matched.len() < args.limit {
                matched.push(p);
            }
        }
        Ok(())
    })?;
    if args.json {
        for p in &matched {
            println!("{}", serde_json::to_string(p)?);
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = matched
        .iter()
        .map(|p| {
            vec![
                p.person_id.to_string(),
                p.value_tier.to_string(),
                p.lifecycle.to_string(),
                p.behaviour.to_string(),
                p.rfm_segment.map_or("-".into(), |s| s.to_string()),
                p.orders.lifetime.to_string(),
                p.monetary.lifetime.to_string(),
                p.recency_days.map_or("-".into(), |d| d.to_string()),
            ]
        })
        .collect();
    print!("{}", table(&["person", "tier", "lifecycle", "behaviour", "rfm", "orders", "spend", "recency"], &rows));
    println!("{} of {} matching people shown", matched.len(), total);
    Ok(())
}
