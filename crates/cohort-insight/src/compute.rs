//! The batch job behind `cohort compute`: scan every history, build the
//! profiles, assign segments, replace the stored profiles.
//!
//! All profiles are held in one `Vec` between the scan and the write (the
//! quantile RFM needs the whole population): roughly 1 KiB per person, so
//! 10 million people need about 10 GiB. A streaming two-pass variant is the
//! known next step for larger shops.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cohort_store::{EventStore, PersonHistory};
use serde::{Serialize, Serializer};

use crate::{assign_segments, build_profile_with, Catalogue, InsightConfig, InsightError, SegmentSummary};

/// How often (in persons) `compute_profiles` reports progress.
pub const PROGRESS_EVERY: u64 = 1000;

/// What one compute did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComputeReport {
    /// The instant profiles describe.
    pub as_of: DateTime<Utc>,
    /// The shop time zone days were counted in.
    pub time_zone: String,
    /// Products in the catalogue.
    pub products: u64,
    /// Persons scanned.
    pub persons_scanned: u64,
    /// Persons skipped because nothing about them is known at or before
    /// `as_of` (they registered or first appeared later).
    pub persons_skipped: u64,
    /// Profiles written (scanned − skipped).
    pub profiles_written: u64,
    /// Segment counts of the written profiles.
    pub summary: SegmentSummary,
    /// Where the time went.
    pub timings: ComputeTimings,
}

/// Wall-clock time per phase (in JSON: `build_ms`, `segment_ms`, `write_ms`,
/// `total_ms`, fractional milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ComputeTimings {
    /// Scanning histories and building per-person features.
    #[serde(rename = "build_ms", serialize_with = "millis")]
    pub build: Duration,
    /// Population-level segmentation (RFM quantiles).
    #[serde(rename = "segment_ms", serialize_with = "millis")]
    pub segment: Duration,
    /// Replacing the stored profiles.
    #[serde(rename = "write_ms", serialize_with = "millis")]
    pub write: Duration,
    /// The whole compute.
    #[serde(rename = "total_ms", serialize_with = "millis")]
    pub total: Duration,
}

fn millis<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// The data's own "now": the latest event or order instant in the store
/// (`None` for an empty store). Historical datasets (Online Retail ends in
/// December 2011) are profiled as of their last record, not today.
pub fn default_as_of(store: &dyn EventStore) -> Result<Option<DateTime<Utc>>, InsightError> {
    Ok(store.stats()?.last_at)
}

/// Whether anything about the person is known at or before `as_of`: a
/// record, or a registration (undated registrations count as known).
fn known_at(history: &PersonHistory, as_of: DateTime<Utc>) -> bool {
    history.events.iter().any(|e| e.timestamp <= as_of)
        || history.orders.iter().any(|o| o.placed_at <= as_of)
        || history.user.as_ref().is_some_and(|u| u.registered_at.is_none_or(|t| t <= as_of))
}

/// Recomputes every profile at `as_of`: scans the histories, builds each
/// profile, assigns segments over the population and atomically replaces
/// the stored profiles. `progress` gets the number of persons done every
/// [`PROGRESS_EVERY`] persons and once at the end.
pub fn compute_profiles(
    store: &dyn EventStore,
    as_of: DateTime<Utc>,
    cfg: &InsightConfig,
    progress: &mut dyn FnMut(u64),
) -> Result<ComputeReport, InsightError> {
    cfg.validate()?;
    let shop = cfg.shop_time()?;
    let started = Instant::now();
    let catalogue: Catalogue = store.products()?.into_iter().collect();
    let mut profiles = Vec::new();
    let (mut scanned, mut skipped) = (0u64, 0u64);
    store.scan_histories(&mut |history| {
        scanned += 1;
        if known_at(&history, as_of) {
            profiles.push(build_profile_with(&history, &catalogue, as_of, &shop, cfg));
        } else {
            skipped += 1;
        }
        if scanned % PROGRESS_EVERY == 0 {
            progress(scanned);
        }
        Ok(())
    })?;
    progress(scanned);
    let build = started.elapsed();

    let phase = Instant::now();
    assign_segments(&mut profiles, cfg);
    let summary = SegmentSummary::from_profiles(&profiles);
    let segment = phase.elapsed();

    let phase = Instant::now();
    store.replace_profiles(&profiles)?;
    let write = phase.elapsed();
    let timings = ComputeTimings { build, segment, write, total: started.elapsed() };
    tracing::info!(
        %as_of,
        persons = scanned,
        skipped,
        profiles = profiles.len(),
        build_ms = build.as_millis() as u64,
        segment_ms = segment.as_millis() as u64,
        write_ms = write.as_millis() as u64,
        "profiles computed"
    );
    Ok(ComputeReport {
        as_of,
        time_zone: cfg.time_zone.clone(),
        products: catalogue.len() as u64,
        persons_scanned: scanned,
        persons_skipped: skipped,
        profiles_written: profiles.len() as u64,
        summary,
        timings,
    })
}
