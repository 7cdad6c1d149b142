//! `cohort points`: the loyalty points ledger from the command line —
//! re-verify every balance from the ledger, inspect a member, report usage.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use cohort_loyalty::{Loyalty, POINTS_USAGE_TARGET};
use cohort_model::{SystemClock, UserId};

use super::Context;
use crate::output::thousands;

/// Arguments of `cohort points`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The loyalty state store: a `sqlite://…` or `postgres://…` URL.
    /// Default: `loyalty.sqlite` in the store directory.
    #[arg(long, global = true, env = "COHORT_LOYALTY_URL", value_name = "URL")]
    pub loyalty_url: Option<String>,

    #[command(subcommand)]
    pub command: PointsCommand,
}

/// What to do with the points ledger.
#[derive(Debug, clap::Subcommand)]
pub enum PointsCommand {
    /// Recompute every balance, lot and coupon counter from the append-only
    /// ledger and compare; exits with status 1 when anything disagrees.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A member's balance and ledger entries.
    Show {
        /// The member's user id.
        user: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Points issued, redeemed, expired and clawed back in a period, and the
    /// usage rate against the plan's target.
    Usage {
        #[command(flatten)]
        period: Period,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Coupon performance for coupons issued in a period, per template and in
    /// total: issued, redeemed, redemption rate, discount cost, GMV driven.
    Coupons {
        #[command(flatten)]
        period: Period,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A period of shop-local days.
#[derive(Debug, clap::Args)]
pub struct Period {
    /// First shop-local day of the period (default: 30 days before `--to`).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last shop-local day of the period, inclusive (default: today).
    #[arg(long)]
    to: Option<NaiveDate>,
}

impl Period {
    /// The first and last day, and the instants `[start, end)` they span.
    fn resolve(&self, ctx: &Context) -> anyhow::Result<(NaiveDate, NaiveDate, DateTime<Utc>, DateTime<Utc>)> {
        let today = Utc::now().with_timezone(&ctx.shop.tz()).date_naive();
        let to = self.to.unwrap_or(today);
        let from = self.from.unwrap_or(to - chrono::Days::new(29));
        anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
        Ok((from, to, ctx.shop.start_of_day(from), ctx.shop.start_of_day(to + chrono::Days::new(1))))
    }
}

/// The loyalty store's URL: the one given, else `loyalty.sqlite` in the
/// store directory.
pub fn loyalty_url(ctx: &Context, given: Option<String>) -> anyhow::Result<String> {
    if let Some(url) = given {
        return Ok(url);
    }
    let dir = ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")?;
    Ok(cohort_loyalty::sqlite_url(&dir.join("loyalty.sqlite")))
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let url = loyalty_url(ctx, args.loyalty_url)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let loyalty = Loyalty::open(&url, ctx.config.loyalty.clone(), ctx.shop, Arc::new(SystemClock))
            .await
            .with_context(|| format!("cannot open the loyalty store {url}"))?;
        let outcome = execute(ctx, &loyalty, args.command).await;
        loyalty.close().await;
        outcome
    })
}

async fn execute(ctx: &Context, loyalty: &Loyalty, command: PointsCommand) -> anyhow::Result<()> {
    match command {
        PointsCommand::Verify { json } => {
            let report = loyalty.verify().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "checked {} operations, {} ledger entries, {} members, {} points lots, {} coupons",
                    thousands(report.operations),
                    thousands(report.entries),
                    thousands(report.members),
                    thousands(report.lots),
                    thousands(report.coupons)
                );
                for problem in &report.problems {
                    println!("  problem: {problem}");
                }
            }
            if !report.is_ok() {
                anyhow::bail!("{} problems: balances do not match the ledger", report.problem_count);
            }
            if !json {
                println!("ledger verified: every balance equals its ledger sum");
            }
        }
        PointsCommand::Show { user, json } => {
            let user = UserId::new(&user).map_err(|e| anyhow::anyhow!("user {user:?}: {e}"))?;
            let balance = loyalty.balance(&user).await?;
            let entries = loyalty.ledger(&user).await?;
            if json {
                let entries: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "operation": e.operation,
                            "kind": e.kind,
                            "at": e.at,
                            "account": e.account.to_string(),
                            "amount": e.amount.get(),
                        })
                    })
                    .collect();
                let doc = serde_json::json!({ "balance": balance, "entries": entries });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            println!("{user}: {} available, {} owed", balance.available, balance.owed);
            if let Some((at, points)) = balance.next_expiry {
                println!("  next expiry: {points} on {}", ctx.shop_time_fmt(at));
            }
            for e in entries {
                println!(
                    "  {}  #{:<6} {:<12} {:<28} {:>+8}",
                    ctx.shop_time_fmt(e.at),
                    e.operation,
                    e.kind,
                    e.account.to_string(),
                    e.amount.get()
                );
            }
        }
        PointsCommand::Usage { period, json } => {
            let (from, to, start, end) = period.resolve(ctx)?;
            let usage = loyalty.points_usage(start, end).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&usage)?);
                return Ok(());
            }
            println!("points {from} – {to} (shop time)");
            println!("  issued       {:>12}", thousands(usage.issued.get().max(0) as u64));
            println!("  redeemed     {:>12}", usage.redeemed.get());
            println!("  expired      {:>12}", usage.expired.get());
            println!("  clawed back  {:>12}", usage.clawed_back.get());
            println!(
                "  usage rate   {:>11.1}%  (target ≥ {:.0}%: {})",
                usage.usage_rate * 100.0,
                POINTS_USAGE_TARGET * 100.0,
                if usage.meets_target { "met" } else { "not met" }
            );
        }
        PointsCommand::Coupons { period, json } => {
            let (from, to, start, end) = period.resolve(ctx)?;
            let report = loyalty.coupon_report(start, end).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            println!("coupons issued {from} – {to} (shop time)");
            println!(
                "{:<24} {:>9} {:>9} {:>8} {:>14} {:>14}",
                "template", "issued", "redeemed", "rate", "discount", "GMV"
            );
            let total = [("total".to_string(), &report.total)];
            let rows = report.templates.iter().map(|(id, f)| (id.to_string(), f)).chain(total);
            for (name, f) in rows {
                println!(
                    "{:<24} {:>9} {:>9} {:>7.1}% {:>14} {:>14}",
                    name,
                    thousands(f.issued),
                    thousands(f.redeemed),
                    f.redemption_rate * 100.0,
                    f.discount_cost.to_string(),
                    f.gmv.to_string()
                );
            }
        }
    }
    Ok(())
}
