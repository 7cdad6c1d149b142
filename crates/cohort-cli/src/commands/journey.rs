//! `cohort journey`: the journeys of `[engage]` — what is in force and how
//! many runs each has, a journey's runs, putting a person in by hand,
//! waking due runs once (what `cohort serve`'s scheduler does every
//! minute), and the staff task lists journeys fill.

use std::sync::Arc;

use anyhow::Context as _;
use cohort_engage::channel::Vars;
use cohort_engage::config::EngageConfig;
use cohort_engage::journey::entry::{self, EntrySources};
use cohort_engage::journey::price_drop::{on_price_changes, PriceChange};
use cohort_engage::journey::{report, JourneyEngine, RunStatus};
use cohort_engage::outbox::{Outbox, OutboxOptions};
use cohort_loyalty::Loyalty;
use cohort_model::{Money, PersonId, ProductId, SystemClock};
use cohort_server::{LoyaltyIssuer, StoreDirectory};
use cohort_store::EventStore;

use super::Context;
use crate::output::{table, thousands};

/// Arguments of `cohort journey`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The engage state store (`sqlite://…` or `postgres://…`).
    /// Default: `engage.sqlite` in the store directory.
    #[arg(long, global = true, env = "COHORT_ENGAGE_URL", value_name = "URL")]
    pub engage_url: Option<String>,

    #[command(subcommand)]
    pub command: JourneyCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum JourneyCommand {
    /// The journeys in force ([engage]) with their runs per status.
    List,
    /// A journey's newest runs.
    Runs {
        /// Journey id.
        journey: String,
        /// Only runs in this status (active, completed, converted, exited).
        #[arg(long)]
        status: Option<RunStatus>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Put a person into a journey (its re-entry rule decides).
    Enter {
        /// Journey id.
        journey: String,
        /// Person id.
        person: String,
        /// Variables for the messages: name=value (repeat).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
    },
    /// Wake every run whose wait is over and send what is due (once).
    Tick,
    /// The daily entry job: silent tiers, churn recall, replenishment and
    /// birthdays into their journeys (what `cohort serve` runs each morning).
    Daily {
        /// Shop-local day (default today).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// A product's price dropped: people who carted or wished it recently
    /// without buying it enter the price_drop journey.
    PriceDrop {
        /// Product id.
        product: String,
        /// Price before, in fen.
        #[arg(long)]
        old_fen: i64,
        /// Price now, in fen.
        #[arg(long)]
        new_fen: i64,
        /// Days back a cart or wishlist add counts (default [engage] price_drop_window_days).
        #[arg(long)]
        window_days: Option<u32>,
    },
    /// Tasks journeys put on a staff list.
    Tasks {
        /// The list.
        #[arg(default_value = "service_calls")]
        list: String,
    },
}

pub fn run(ctx: Context, args: Args) -> anyhow::Result<()> {
    let url = super::campaign::engage_url(&ctx, args.engage_url)?;
    let dir = ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")?.to_path_buf();
    let journeys = ctx.config.engage.journeys()?;
    let sinks = ctx.config.engage.sinks(&dir)?;
    let loyalty_url = super::points::loyalty_url(&ctx, None)?;
    let (shop, loyalty_config) = (ctx.shop, ctx.config.loyalty.clone());
    let config = ctx.config.engage.clone();
    let duckdb = Arc::new(ctx.store);
    let store: Arc<dyn EventStore> = duckdb.clone();
    let sources = EntrySources { events: store.clone(), scores: duckdb };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let outbox =
            Outbox::open(&url, shop, Arc::new(SystemClock), OutboxOptions { sinks, ..OutboxOptions::default() })
                .await
                .with_context(|| format!("cannot open the engage store {url}"))?;
        let loyalty = Loyalty::open(&loyalty_url, loyalty_config, shop, Arc::new(SystemClock))
            .await
            .with_context(|| format!("cannot open the loyalty store {loyalty_url}"))?;
        let issuer = Arc::new(LoyaltyIssuer(Arc::new(loyalty)));
        issuer.ensure_templates(&journeys).await?;
        let engine =
            JourneyEngine::new(outbox.clone(), journeys.clone(), Arc::new(StoreDirectory(store)), issuer.clone())?;
        let done = execute(&outbox, &engine, &journeys, &config, &sources, args.command).await;
        drop(engine);
        if let Some(loyalty) = Arc::into_inner(issuer).and_then(|i| Arc::into_inner(i.0)) {
            loyalty.close().await;
        }
        done
    })
}

async fn execute(
    outbox: &Outbox,
    engine: &JourneyEngine,
    journeys: &[cohort_engage::journey::JourneySpec],
    config: &EngageConfig,
    sources: &EntrySources,
    command: JourneyCommand,
) -> anyhow::Result<()> {
    match command {
        JourneyCommand::List => {
            let counts = report::run_counts(outbox).await?;
            let n =
                |id: &str, status: &str| thousands(counts.get(id).and_then(|c| c.get(status)).copied().unwrap_or(0));
            let rows: Vec<Vec<String>> = journeys
                .iter()
                .map(|j| {
                    vec![
                        j.id.clone(),
                        j.steps.len().to_string(),
                        n(&j.id, "active"),
                        n(&j.id, "completed"),
                        n(&j.id, "converted"),
                        n(&j.id, "exited"),
                    ]
                })
                .collect();
            print!("{}", table(&["journey", "steps", "active", "completed", "converted", "exited"], &rows));
        }
        JourneyCommand::Runs { journey, status, limit } => {
            anyhow::ensure!(journeys.iter().any(|j| j.id == journey), "unknown journey {journey:?}");
            let runs = report::runs(outbox, engine, &journey, status, limit.clamp(1, 10_000)).await?;
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.person_id.clone(),
                        format!("{:?}", r.status).to_lowercase(),
                        r.step.to_string(),
                        r.wake_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                        r.entered_at.to_rfc3339(),
                        r.end_reason.clone(),
                    ]
                })
                .collect();
            print!("{}", table(&["run", "person", "status", "step", "wakes at", "entered", "ended because"], &rows));
        }
        JourneyCommand::Enter { journey, person, vars } => {
            let person = PersonId::new(person.as_str()).map_err(|e| anyhow::anyhow!("person: {e}"))?;
            let mut context = Vars::new();
            for v in vars {
                let (k, val) = v.split_once('=').with_context(|| format!("--var {v:?}: expected name=value"))?;
                context.insert(k.to_string(), val.to_string());
            }
            match engine.enter(&journey, &person, context).await? {
                Some(run) => println!("{} entered {journey} (run {run})", person.as_str()),
                None => println!("{} was not entered into {journey}: its re-entry rule refuses", person.as_str()),
            }
        }
        JourneyCommand::Tick => {
            let r = engine.tick().await?;
            println!("woke {} runs, sent {} messages", thousands(r.woken), thousands(r.sent));
        }
        JourneyCommand::Daily { date } => {
            let today = date.unwrap_or_else(|| engine.shop().date(engine.clock().now()));
            let r = entry::run_daily(engine, sources, engine.shop(), today, &config.entry).await?;
            println!(
                "{today}: {} people considered, {} entries planned, {} entered, {} already entered, {} refused by re-entry rules",
                thousands(r.people),
                thousands(r.planned),
                thousands(r.total_entered()),
                thousands(r.already_entered),
                thousands(r.not_allowed)
            );
            for (journey, n) in &r.entered {
                println!("  {journey}: {}", thousands(*n));
            }
        }
        JourneyCommand::PriceDrop { product, old_fen, new_fen, window_days } => {
            let change = PriceChange {
                product: ProductId::new(product.as_str()).map_err(|e| anyhow::anyhow!("product: {e}"))?,
                name: None,
                old_price: Money::from_fen(old_fen),
                new_price: Money::from_fen(new_fen),
            };
            let window = window_days.unwrap_or(config.price_drop_window_days);
            let r = on_price_changes(engine, sources.events.clone(), vec![change], window).await?;
            println!(
                "{product}: {} people carted or wished it in the last {window} days without buying; {} entered price_drop",
                thousands(r.events),
                thousands(r.entered)
            );
        }
        JourneyCommand::Tasks { list } => {
            let tasks = engine.tasks(&list).await?;
            let rows: Vec<Vec<String>> = tasks
                .iter()
                .map(|t| vec![t.created_at.to_rfc3339(), t.person_id.clone(), t.journey.clone(), t.note.clone()])
                .collect();
            print!("{}", table(&["created", "person", "journey", "note"], &rows));
        }
    }
    Ok(())
}
