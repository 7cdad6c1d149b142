//! `cohort demo`: the main job end to end.

use std::path::PathBuf;
use std::time::Instant;

use cohort_collect::import::{import_file, ImportOptions, Source};
use cohort_insight::SegmentSummary;
use cohort_store::EventStore;

use super::{compute, generate, import, Context};
use crate::output::thousands;
use crate::progress;

/// A ready dataset to import instead of generating a shop.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Dataset {
    /// UCI Online Retail (`online_retail.csv.gz`).
    OnlineRetail,
    /// Taobao UserBehavior (`UserBehavior_prefix.csv.gz`).
    Taobao,
}

/// Arguments of `cohort demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Import this dataset from PATH instead of generating a shop.
    #[arg(long, value_names = ["DATASET", "PATH"], num_args = 2)]
    pub dataset: Option<Vec<String>>,
    /// The shop to generate when no dataset is given.
    #[command(flatten)]
    pub shop: generate::ShopArgs,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    println!("Cohort demo — store: {}", ctx.store.path().map_or("(memory)".into(), |p| p.display().to_string()));
    match &args.dataset {
        Some(pair) => {
            let dataset: Dataset = clap::ValueEnum::from_str(&pair[0], true)
                .map_err(|_| anyhow::anyhow!("--dataset {:?}: expected online-retail or taobao", pair[0]))?;
            let path = PathBuf::from(&pair[1]);
            let source = match dataset {
                Dataset::OnlineRetail => Source::online_retail(),
                Dataset::Taobao => Source::Taobao,
            };
            println!("1/3 importing {}", path.display());
            let t = Instant::now();
            let bar = progress::ImportBar(progress::bytes(ctx.quiet, "importing"));
            let outcome = import_file(&ctx.store, &source, &path, &ImportOptions::default(), &bar)?;
            import::report(&outcome, t.elapsed().as_secs_f64());
        }
        None => {
            let shop = &args.shop;
            println!("1/3 generating a shop: {} users, {} days, seed {}", thousands(shop.users), shop.days, shop.seed);
            let t = Instant::now();
            let summary = generate::into_store(ctx, shop)?;
            generate::print_summary(&summary, t.elapsed().as_secs_f64());
        }
    }
    println!("2/3 computing profiles and segments");
    let as_of = compute::parse_as_of(ctx, None)?;
    compute::print_report(&compute::compute(ctx, as_of)?);
    println!("3/3 segments\n");
    print!("{}", SegmentSummary::from_store(&ctx.store)?);
    let stats = ctx.store.stats()?;
    let mut example = None;
    ctx.store.scan_profiles(&mut |p| {
        if example.is_none() && p.orders.lifetime >= 3 {
            example = Some(p.person_id.to_string());
        }
        Ok(())
    })?;
    println!(
        "\ndone in {:.1}s: {} persons, {} events, {} orders in the store.",
        started.elapsed().as_secs_f64(),
        thousands(stats.persons),
        thousands(stats.events),
        thousands(stats.orders)
    );
    println!("next:");
    if let Some(person) = example {
        println!("  cohort profile {person}            # one person's 360° profile");
    }
    println!("  cohort users --segment tier=high_value   # who is in a segment");
    println!("  cohort segments --json                   # the same tables as JSON");
    println!("  cohort serve --admin-key demo-admin      # the web console, log in with demo-admin:");
    println!("open http://127.0.0.1:8088/console/");
    Ok(())
}
