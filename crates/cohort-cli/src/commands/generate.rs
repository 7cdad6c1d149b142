//! `cohort generate`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use chrono::NaiveDate;
use cohort_collect::generate::{GenerateSummary, Generator, GeneratorConfig};
use cohort_store::{EventStore, WriteSource};

use super::Context;
use crate::output::thousands;
use crate::progress;

/// The generated shop: size, history and seed (shared with `cohort demo`).
#[derive(Debug, clap::Args)]
pub struct ShopArgs {
    /// Registered users to simulate.
    #[arg(long, default_value_t = 20_000)]
    pub users: u64,
    /// Days of history.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Random seed: the same seed always gives the same shop.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First day of the simulated period (shop-local date).
    #[arg(long, default_value = "2025-01-01")]
    pub start: NaiveDate,
}

/// Arguments of `cohort generate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub shop: ShopArgs,
    /// Write native CSV files into this directory instead of the store.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

impl ShopArgs {
    pub fn generator(&self, ctx: &Context) -> anyhow::Result<Generator> {
        let config = GeneratorConfig {
            users: self.users,
            days: self.days,
            seed: self.seed,
            start: self.start,
            shop_time: ctx.shop,
            ..GeneratorConfig::default()
        };
        Ok(Generator::new(config)?)
    }
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = match &args.output {
        Some(dir) => {
            let generator = args.shop.generator(ctx)?;
            let pb = progress::items(ctx.quiet, "generating", args.shop.users);
            let summary = generator
                .write_csv(dir, |done| pb.set_position(done))
                .with_context(|| format!("cannot write {}", dir.display()))?;
            pb.finish_and_clear();
            println!("wrote native CSV files to {}", dir.display());
            summary
        }
        None => into_store(ctx, &args.shop)?,
    };
    print_summary(&summary, started.elapsed().as_secs_f64());
    Ok(())
}

/// Generates straight into the store in one atomic write.
pub fn into_store(ctx: &Context, args: &ShopArgs) -> anyhow::Result<GenerateSummary> {
    let generator = args.generator(ctx)?;
    let pb = progress::items(ctx.quiet, "generating", args.users);
    let source = WriteSource {
        kind: "generate".into(),
        file: Some(format!("seed={} users={} days={} start={}", args.seed, args.users, args.days, args.start)),
        checksum: None,
    };
    let mut txn = ctx.store.begin_write(source)?;
    let mut done = 0u64;
    let summary = generator.run(&mut |batch| {
        txn.write(&batch)?;
        done += batch.users.len() as u64;
        pb.set_position(done);
        Ok::<(), cohort_store::StoreError>(())
    })?;
    pb.set_message("committing");
    let record = txn.commit(summary.events + summary.orders)?;
    pb.finish_and_clear();
    if record.summary.events_new == 0 && summary.events > 0 {
        println!("the store already held this shop (same seed): nothing new was added");
    }
    Ok(summary)
}

pub fn print_summary(s: &GenerateSummary, seconds: f64) {
    println!(
        "generated {} users, {} events, {} orders ({} lines), {} products, revenue {} in {:.1}s ({}/s events)",
        thousands(s.users),
        thousands(s.events),
        thousands(s.orders),
        thousands(s.order_lines),
        thousands(s.products),
        s.revenue,
        seconds,
        thousands((s.events as f64 / seconds.max(1e-9)) as u64),
    );
}
