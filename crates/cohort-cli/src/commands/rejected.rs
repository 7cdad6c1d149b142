//! `cohort rejected`.

use cohort_store::EventStore;

use super::Context;

/// Arguments of `cohort rejected`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most this many rows.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let rows = ctx.store.rejected_rows(args.limit)?;
    if rows.is_empty() {
        println!("no rejected rows");
    }
    for row in rows {
        println!("{}:{}: {}\n    {}", row.file, row.line, row.reason, row.raw);
    }
    Ok(())
}
