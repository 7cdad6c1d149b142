//! `cohort`: the command-line front of Cohort. Thin by design: every command
//! parses its arguments, calls the engine crates and prints the result.

mod commands;
mod config;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cohort turns what your shop's users do into profiles, segments and action.
///
/// Data lives in one directory (the embedded DuckDB store); nothing else is
/// needed. Start with `cohort demo`.
#[derive(Debug, Parser)]
#[command(name = "cohort", version, about, long_about, max_term_width = 100)]
struct Cli {
    /// The store directory (created if missing).
    #[arg(long, global = true, env = "COHORT_STORE", default_value = "cohort-data", value_name = "DIR")]
    store: PathBuf,

    /// Config file (see cohort.example.toml for every setting). Missing default file = defaults.
    #[arg(long, global = true, env = "COHORT_CONFIG", default_value = "cohort.toml", value_name = "FILE")]
    config: PathBuf,

    /// Shop time zone (IANA name); overrides the config file.
    #[arg(long, global = true, env = "COHORT_TIME_ZONE", value_name = "TZ")]
    time_zone: Option<String>,

    /// Print less (no progress bars).
    #[arg(long, short, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate (or import) a shop, compute profiles and segments, print a summary.
    Demo(commands::demo::Args),
    /// Generate a deterministic synthetic Chinese e-commerce shop.
    Generate(commands::generate::Args),
    /// Import a file: generic CSV / NDJSON / Parquet, or a ready dataset.
    Import(commands::import::Args),
    /// Recompute every 360° profile and segment.
    Compute(commands::compute::Args),
    /// Counts and shares per value tier, RFM segment, lifecycle stage and behaviour type.
    Segments(commands::segments::Args),
    /// Show one person's profile and recent activity.
    Profile(commands::profile::Args),
    /// List people in a segment.
    Users(commands::users::Args),
    /// Show rows rejected by imports, with file, line and reason.
    Rejected(commands::rejected::Args),
    /// Show what the store holds and past imports.
    Status(commands::status::Args),
    /// Loyalty points and coupons: verify the ledger, show a member, report usage and coupon performance.
    Points(commands::points::Args),
    /// Campaigns: launch through the outbox with a control group, dispatch, status, unsubscribe, measure the effect.
    Campaign(commands::campaign::Args),
    /// Journeys of [engage]: runs per status, a journey's runs, enter a person, wake due runs, staff tasks.
    Journey(commands::journey::Args),
    /// Experiments: deterministic assignment; read-out with intervals, chance to win, SRM and corrections.
    Experiment(commands::experiment::Args),
    /// Run the collection service (Segment-compatible HTTP ingest).
    Serve(commands::serve::Args),
    /// Dynamic tags: list the rules, dry-run one, recompute everyone, a person's tag history.
    Tags(commands::tags::Args),
    /// Audiences: saved filters; size, sample, breakdown, export to CSV / NDJSON / a webhook.
    Audience(commands::audience::Args),
    /// API keys of the collection service: create (write or admin), list, revoke.
    Keys(commands::keys::Args),
    /// Recommendations: train the model, evaluate it offline, ask it for a person or a product.
    Recommend(commands::recommend::Args),
    /// Funnel: per-step people, conversion, drop-off and median time between steps.
    Funnel(commands::analytics::FunnelArgs),
    /// Retention grid by cohort (first event, first order or any event), day / week / month.
    Retention(commands::analytics::RetentionArgs),
    /// Lifecycle movement per day / week / month: new, returning, resurrected, dormant.
    Lifecycle(commands::analytics::LifecycleArgs),
    /// KPI / OKR board: activity, orders, GMV, AOV, repurchase, retention, LTV, against targets.
    Kpi(commands::analytics::KpiArgs),
    /// Most common paths after a start event or before an end event.
    Paths(commands::analytics::PathsArgs),
    /// Market baskets: frequent itemsets (FP-growth), association rules, bought-together lists, bundles.
    Basket(commands::basket::Args),
    /// Behaviour clusters of the buyers (K-means, k by silhouette), each with a generated name.
    Clusters(commands::clusters::Args),
    /// Churn risk: train / evaluate the model on a time split, score everyone, list the high-risk.
    Churn(commands::churn::Args),
    /// Review sentiment: train / evaluate the classifier, complaint topics, classify texts, score people.
    Reviews(commands::reviews::Args),
    /// Customer lifetime value (BG/NBD + Gamma-Gamma): fit and score everyone, show one person, list the top.
    Clv(commands::clv::Args),
    /// Consumables' re-purchase intervals and who is about to run out of what.
    Replenish(commands::replenish::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COHORT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    // The key file only: works while `cohort serve` holds the store.
    if let Command::Keys(args) = cli.command {
        return commands::keys::run(&cli.store, args);
    }
    let ctx = commands::Context::new(&cli.store, &cli.config, cli.time_zone.as_deref(), cli.quiet)?;
    match cli.command {
        Command::Demo(args) => commands::demo::run(&ctx, args),
        Command::Generate(args) => commands::generate::run(&ctx, args),
        Command::Import(args) => commands::import::run(&ctx, args),
        Command::Compute(args) => commands::compute::run(&ctx, args),
        Command::Segments(args) => commands::segments::run(&ctx, args),
        Command::Profile(args) => commands::profile::run(&ctx, args),
        Command::Users(args) => commands::users::run(&ctx, args),
        Command::Rejected(args) => commands::rejected::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Points(args) => commands::points::run(&ctx, args),
        Command::Campaign(args) => commands::campaign::run(ctx, args),
        Command::Experiment(args) => commands::experiment::run(args),
        Command::Journey(args) => commands::journey::run(ctx, args),
        Command::Recommend(args) => commands::recommend::run(&ctx, args),
        Command::Serve(args) => commands::serve::run(ctx, args),
        Command::Tags(args) => commands::tags::run(&ctx, args),
        Command::Audience(args) => commands::audience::run(&ctx, args),
        Command::Keys(_) => unreachable!("handled before the store is opened"),
        Command::Funnel(args) => commands::analytics::funnel(&ctx, args),
        Command::Retention(args) => commands::analytics::retention(&ctx, args),
        Command::Lifecycle(args) => commands::analytics::lifecycle(&ctx, args),
        Command::Kpi(args) => commands::analytics::kpi(&ctx, args),
        Command::Paths(args) => commands::analytics::paths(&ctx, args),
        Command::Basket(args) => commands::basket::run(&ctx, args),
        Command::Clusters(args) => commands::clusters::run(&ctx, args),
        Command::Churn(args) => commands::churn::run(&ctx, args),
        Command::Reviews(args) => commands::reviews::run(&ctx, args),
        Command::Clv(args) => commands::clv::run(&ctx, args),
        Command::Replenish(args) => commands::replenish::run(&ctx, args),
    }
}
