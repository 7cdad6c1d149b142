//! `cohort segments`.

use cohort_insight::SegmentSummary;

use super::Context;

/// Arguments of `cohort segments`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let summary = SegmentSummary::from_store(&ctx.store)?;
    if summary.total == 0 {
        anyhow::bail!("no profiles yet: run `cohort compute` first");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(())
}
