//! `cohort compute`.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use cohort_insight::{compute_profiles, default_as_of, ComputeReport};

use super::Context;
use crate::output::thousands;
use crate::progress;

/// Arguments of `cohort compute`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The instant profiles describe: `now`, an RFC 3339 instant, or (default)
    /// the latest event in the store — the data's own "now", right for
    /// historical datasets.
    #[arg(long, value_name = "WHEN")]
    pub as_of: Option<String>,
}

pub fn parse_as_of(ctx: &Context, as_of: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    match as_of {
        None => default_as_of(&ctx.store)?.context("the store is empty: import or generate data first"),
        Some("now") => Ok(Utc::now()),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| format!("--as-of {text:?} is not `now` or an RFC 3339 instant")),
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let as_of = parse_as_of(ctx, args.as_of.as_deref())?;
    let report = compute(ctx, as_of)?;
    print_report(&report);
    Ok(())
}

pub fn compute(ctx: &Context, as_of: DateTime<Utc>) -> anyhow::Result<(ComputeReport, f64)> {
    let started = Instant::now();
    let persons = cohort_store::EventStore::stats(&ctx.store)?.persons;
    let pb = progress::items(ctx.quiet, "profiling", persons);
    let report = compute_profiles(&ctx.store, as_of, &ctx.config.segments, &mut |done| pb.set_position(done))?;
    pb.finish_and_clear();
    Ok((report, started.elapsed().as_secs_f64()))
}

pub fn print_report((report, seconds): &(ComputeReport, f64)) {
    println!(
        "computed {} profiles as of {} in {:.2}s",
        thousands(report.profiles_written),
        report.as_of.format("%Y-%m-%d %H:%M UTC"),
        seconds
    );
}
