//! `cohort status`.

use cohort_store::EventStore;

use super::Context;
use crate::output::thousands;

/// Arguments of `cohort status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let stats = ctx.store.stats()?;
    let imports = ctx.store.imports()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "stats": stats, "imports": imports }))?);
        return Ok(());
    }
    println!("store {}", ctx.store.path().map_or("(in memory)".into(), |p| p.display().to_string()));
    println!(
        "  {} events, {} orders ({} lines), {} products, {} users, {} persons, {} profiles",
        thousands(stats.events),
        thousands(stats.orders),
        thousands(stats.order_lines),
        thousands(stats.products),
        thousands(stats.users),
        thousands(stats.persons),
        thousands(stats.profiles)
    );
    if let (Some(first), Some(last)) = (stats.first_at, stats.last_at) {
        println!("  from {} to {} (shop time)", ctx.shop_time_fmt(first), ctx.shop_time_fmt(last));
    }
    for i in imports {
        println!(
            "  import #{} {} {}: {} rows read, {} new events, {} new orders, {} rejected",
            i.id,
            i.source.kind,
            i.source.file.as_deref().unwrap_or("-"),
            thousands(i.rows_read),
            thousands(i.summary.events_new),
            thousands(i.summary.orders_new),
            thousands(i.summary.rows_rejected)
        );
    }
    Ok(())
}
