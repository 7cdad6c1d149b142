//! `cohort campaign`: launch a campaign from a spec file and a contact list
//! through the engage outbox, deliver due messages, show delivery, record
//! unsubscribes, and measure the effect against the control group.
//!
//! The engage store defaults to `engage.sqlite` beside the store. Channels
//! come from `--channels FILE` (TOML: `sms = { kind = "webhook", url = "…",
//! secret = "…" }`); without it every channel prints to the console, so a
//! first launch is a dry run you can read.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use cohort_duckdb::DuckDbStore;
use cohort_engage::campaign::{
    self, measure::measure, measure_from_store, saved, AudienceQuery, CampaignRef, CampaignSpec, Contact, NoIssuer,
    Offer, PersonOutcome, StoreAudience,
};
use cohort_engage::channel::{ChannelKind, Sink, Vars};
use cohort_engage::config::EngageConfig;
use cohort_engage::experiment::Holdout;
use cohort_engage::outbox::{Outbox, OutboxOptions, Preference};
use cohort_loyalty::{Loyalty, LoyaltyConfig};
use cohort_model::{Money, PersonId, ShopTime, SystemClock};
use cohort_server::LoyaltyIssuer;

use super::Context;
use crate::output::{percent, table, thousands};

/// Arguments of `cohort campaign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The engage state store (`sqlite://…` or `postgres://…`).
    /// Default: `engage.sqlite` in the store directory.
    #[arg(long, global = true, env = "COHORT_ENGAGE_URL", value_name = "URL")]
    pub engage_url: Option<String>,
    /// Channel sinks (TOML, one table per channel); default: console.
    #[arg(long, global = true, value_name = "FILE")]
    pub channels: Option<PathBuf>,

    #[command(subcommand)]
    pub command: CampaignCommand,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum CampaignCommand {
    /// Assign, render and enqueue a campaign; issue its coupons (loyalty store).
    #[command(group(clap::ArgGroup::new("who").required(true).args(["contacts", "audience", "filter"])))]
    Launch {
        /// Campaign spec (TOML).
        #[arg(long)]
        spec: PathBuf,
        /// Contacts CSV with header: person_id,recipient,name,peak_hour.
        #[arg(long)]
        contacts: Option<PathBuf>,
        /// A saved audience (`cohort audience create`), read from the store.
        #[arg(long)]
        audience: Option<String>,
        /// An audience filter evaluated now: 'count(orders) >= 1 and count(orders, 30d) = 0'.
        #[arg(long)]
        filter: Option<String>,
        /// Global holdout share in basis points (default [engage] holdout_bp).
        #[arg(long)]
        holdout_bp: Option<u64>,
        /// Global holdout salt (default [engage] holdout_salt).
        #[arg(long)]
        holdout_salt: Option<String>,
        /// The loyalty store for coupons (default `loyalty.sqlite` beside the store).
        #[arg(long, env = "COHORT_LOYALTY_URL")]
        loyalty_url: Option<String>,
    },
    /// Deliver every message that is due now; with --every, keep doing it
    /// (a scheduler: retries and quiet-hour deferrals go out when due).
    Dispatch {
        /// Seconds between rounds; run until stopped (Ctrl-C is safe: an
        /// interrupted round's messages are claimed again after their lease).
        #[arg(long)]
        every: Option<u64>,
    },
    /// Delivery counts of a campaign.
    Status {
        /// Campaign id.
        id: String,
    },
    /// Mark a person unsubscribed (or do-not-contact), on one channel or all.
    Unsubscribe {
        /// Person id.
        person: String,
        /// Channel (default: every channel).
        #[arg(long)]
        channel: Option<String>,
        /// No messages at all, transactional included.
        #[arg(long)]
        do_not_contact: bool,
    },
    /// Uplift, recovered revenue, cost, ROI and the plan's targets, from
    /// the orders in the store (or an outcomes file).
    Measure {
        /// Campaign id (default: the id of --spec).
        #[arg(required_unless_present = "spec")]
        id: Option<String>,
        /// Campaign spec (TOML; default: the spec saved at launch).
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Outcomes CSV with header person_id,converted,revenue_fen,discount_fen,
        /// instead of the store's orders.
        #[arg(long)]
        outcomes: Option<PathBuf>,
        /// Days after each member's assignment that count.
        #[arg(long, default_value_t = cohort_engage::campaign::outcomes::DEFAULT_WINDOW_DAYS)]
        window_days: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The engage store's URL: the one given, else `engage.sqlite` in the
/// store directory.
pub fn engage_url(ctx: &Context, given: Option<String>) -> anyhow::Result<String> {
    if let Some(url) = given {
        return Ok(url);
    }
    let dir = ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")?;
    Ok(cohort_engage::sqlite_url(&dir.join("engage.sqlite")))
}

/// Sinks: console for every channel, then the channels of `[engage]`,
/// then those of `--channels FILE`.
fn sinks(ctx: &Context, file: Option<&Path>) -> anyhow::Result<HashMap<ChannelKind, Sink>> {
    let mut sinks: HashMap<ChannelKind, Sink> = ChannelKind::ALL.into_iter().map(|c| (c, Sink::Console)).collect();
    if !ctx.config.engage.channels.is_empty() {
        let dir = ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")?;
        let configured = ctx.config.engage.sinks(dir)?;
        for name in ctx.config.engage.channels.keys() {
            let channel = name.parse::<ChannelKind>()?;
            sinks.insert(channel, configured[&channel].clone());
        }
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let given: BTreeMap<String, Sink> =
            toml::from_str(&text).with_context(|| format!("channels file {}", path.display()))?;
        for (name, sink) in given {
            sinks.insert(name.parse::<ChannelKind>()?, sink);
        }
    }
    Ok(sinks)
}

fn read_spec(path: &Path) -> anyhow::Result<CampaignSpec> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("campaign spec {}", path.display()))
}

/// A contact file: `person_id,recipient` and optionally `name,peak_hour`.
fn read_contacts(path: &Path) -> anyhow::Result<Vec<Contact>> {
    read_csv(path, &["person_id", "recipient"])?
        .into_iter()
        .map(|row| {
            let person = PersonId::new(row["person_id"].as_str()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut vars = Vars::new();
            if let Some(name) = row.get("name") {
                vars.insert("name".into(), name.clone());
            }
            let peak_hour = row.get("peak_hour").and_then(|h| h.parse().ok());
            Ok(Contact { person, recipient: row["recipient"].clone(), vars, peak_hour })
        })
        .collect()
}

/// An outcomes file: `person_id,converted` and optionally
/// `revenue_fen,discount_fen`.
fn read_outcomes(path: &Path) -> anyhow::Result<HashMap<String, PersonOutcome>> {
    let fen = |row: &BTreeMap<String, String>, k: &str| -> anyhow::Result<Money> {
        let v = row.get(k).map_or("0", String::as_str);
        Ok(Money::from_fen(v.parse().with_context(|| format!("{k} {v:?}"))?))
    };
    let mut map = HashMap::new();
    for row in read_csv(path, &["person_id", "converted"])? {
        let converted = matches!(row["converted"].as_str(), "1" | "true" | "yes");
        let outcome =
            PersonOutcome { converted, revenue: fen(&row, "revenue_fen")?, discount: fen(&row, "discount_fen")? };
        map.insert(row["person_id"].clone(), outcome);
    }
    Ok(map)
}

/// Rows of a CSV with a header, as maps (no quoting: ids, phones, names).
fn read_csv(path: &Path, required: &[&str]) -> anyhow::Result<Vec<BTreeMap<String, String>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .context("empty file")?
        .split(',')
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    for r in required {
        anyhow::ensure!(header.iter().any(|h| h == r), "{}: column {r:?} missing", path.display());
    }
    Ok(lines.map(|l| header.iter().cloned().zip(l.split(',').map(|c| c.trim().to_string())).collect()).collect())
}

/// What the campaign commands use of the context, the store shared.
struct Env {
    store: Arc<DuckDbStore>,
    shop: ShopTime,
    engage: EngageConfig,
    loyalty: LoyaltyConfig,
    /// The loyalty store when `--loyalty-url` is not given.
    loyalty_url: String,
}

pub fn run(ctx: Context, args: Args) -> anyhow::Result<()> {
    let url = engage_url(&ctx, args.engage_url)?;
    let options = OutboxOptions { sinks: sinks(&ctx, args.channels.as_deref())?, ..OutboxOptions::default() };
    let loyalty_url = super::points::loyalty_url(&ctx, None)?;
    let env = Env {
        shop: ctx.shop,
        engage: ctx.config.engage.clone(),
        loyalty: ctx.config.loyalty.clone(),
        loyalty_url,
        store: Arc::new(ctx.store),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let outbox = Outbox::open(&url, env.shop, Arc::new(SystemClock), options)
            .await
            .with_context(|| format!("cannot open the engage store {url}"))?;
        execute(&env, &outbox, args.command).await
    })
}

async fn execute(env: &Env, outbox: &Outbox, command: CampaignCommand) -> anyhow::Result<()> {
    match command {
        CampaignCommand::Launch { spec, contacts, audience, filter, holdout_bp, holdout_salt, loyalty_url } => {
            let spec = read_spec(&spec)?;
            let (contacts, label) = match (contacts, audience, filter) {
                (Some(file), _, _) => (read_contacts(&file)?, "contacts".to_string()),
                (None, saved, filter) => {
                    let query = match (saved, filter) {
                        (Some(id), _) => AudienceQuery::Saved(id),
                        (None, Some(text)) => AudienceQuery::Filter(text),
                        (None, None) => anyhow::bail!("give --contacts, --audience or --filter"),
                    };
                    let resolved = StoreAudience {
                        events: env.store.clone(),
                        tags: env.store.clone(),
                        query,
                        channel: spec.channel,
                        shop: env.shop,
                        as_of: outbox.clock().now(),
                    }
                    .resolve()
                    .await?;
                    if resolved.without_address > 0 {
                        println!(
                            "{} of {} members have no address on {} and are left out",
                            thousands(resolved.without_address),
                            thousands(resolved.members),
                            spec.channel.name()
                        );
                    }
                    (resolved.contacts, resolved.label)
                }
            };
            let holdout_bp = holdout_bp.unwrap_or(env.engage.holdout_bp);
            let holdout_salt = holdout_salt.unwrap_or_else(|| env.engage.holdout_salt.clone());
            let holdout = (holdout_bp > 0).then_some(Holdout { salt: holdout_salt, share_bp: holdout_bp });
            saved::save(outbox, &spec, &label).await?;
            let report = if spec.offer == Offer::None {
                campaign::launch(outbox, &spec, holdout.as_ref(), &contacts, &NoIssuer).await?
            } else {
                let url = loyalty_url.unwrap_or_else(|| env.loyalty_url.clone());
                let loyalty = Loyalty::open(&url, env.loyalty.clone(), env.shop, Arc::new(SystemClock))
                    .await
                    .with_context(|| format!("cannot open the loyalty store {url}"))?;
                let issuer = LoyaltyIssuer(Arc::new(loyalty));
                let report = campaign::launch(outbox, &spec, holdout.as_ref(), &contacts, &issuer).await;
                if let Ok(loyalty) = Arc::try_unwrap(issuer.0) {
                    loyalty.close().await;
                }
                report?
            };
            println!(
                "campaign {}: audience {}, treatment {}, control {}, holdout {}; scheduled {}, offers issued {}, already launched {}",
                spec.id,
                thousands(report.audience),
                thousands(report.treatment),
                thousands(report.control),
                thousands(report.holdout),
                thousands(report.scheduled),
                thousands(report.offers_issued),
                thousands(report.already_launched)
            );
            if report.deferred > 0 {
                println!("  held to the end of quiet hours: {}", thousands(report.deferred));
            }
            for (reason, n) in &report.suppressed {
                println!("  suppressed ({reason}): {}", thousands(*n));
            }
        }
        CampaignCommand::Dispatch { every } => loop {
            let r = outbox.drain(500).await?;
            if every.is_none() || r.claimed > 0 {
                println!(
                    "dispatched {}: delivered {}, retrying {}, dead-lettered {}",
                    thousands(r.claimed),
                    thousands(r.delivered),
                    thousands(r.retried),
                    thousands(r.dead)
                );
            }
            match every {
                Some(seconds) => tokio::time::sleep(std::time::Duration::from_secs(seconds.max(1))).await,
                None => break,
            }
        },
        CampaignCommand::Status { id } => {
            let c = outbox.counts(&id).await?;
            let rows = vec![vec![
                thousands(c.total),
                thousands(c.pending),
                thousands(c.delivered),
                thousands(c.dead),
                thousands(c.suppressed),
                thousands(c.opened),
                thousands(c.clicked),
            ]];
            print!(
                "{}",
                table(&["messages", "pending", "delivered", "dead", "suppressed", "opened", "clicked"], &rows)
            );
        }
        CampaignCommand::Unsubscribe { person, channel, do_not_contact } => {
            let person = PersonId::new(person.as_str()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let channel = channel.map(|c| c.parse::<ChannelKind>()).transpose()?;
            let pref = if do_not_contact { Preference::DoNotContact } else { Preference::Unsubscribed };
            outbox.set_preference(&person, channel, pref).await?;
            println!("{} is {} on {}", person.as_str(), pref.name(), channel.map_or("every channel", |c| c.name()));
        }
        CampaignCommand::Measure { id, spec, outcomes, window_days, json } => {
            let spec = match (spec, id) {
                (Some(path), _) => read_spec(&path)?,
                (None, Some(id)) => {
                    saved::get(outbox, &id).await?.with_context(|| format!("campaign {id:?} was never launched"))?.spec
                }
                (None, None) => anyhow::bail!("give the campaign id or --spec"),
            };
            let r = match outcomes {
                Some(file) => measure(outbox, &spec, &read_outcomes(&file)?).await?,
                None => measure_from_store(outbox, env.store.clone(), CampaignRef::Spec(&spec), window_days).await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            let u = &r.uplift;
            println!(
                "{}: treatment {} / control {} (holdout {}); reached {} ({}), delivered {} ({})",
                r.campaign,
                thousands(r.treatment),
                thousands(r.control),
                thousands(r.holdout),
                thousands(r.reached),
                percent(r.reach_rate),
                thousands(r.delivered),
                percent(r.delivery_rate)
            );
            println!(
                "conversion {} vs {}: uplift {:+.2} pt [{:+.2}, {:+.2}], p = {:.4}, chance to win {}",
                percent(u.treatment),
                percent(u.control),
                u.difference * 100.0,
                u.ci_low * 100.0,
                u.ci_high * 100.0,
                u.p_value,
                percent(r.chance_to_win)
            );
            println!(
                "recovered revenue {} [{}, {}]; cost {} (messages {}, coupons {}, points {}); net {}; ROI {}",
                r.recovered_revenue,
                r.recovered_revenue_interval.0,
                r.recovered_revenue_interval.1,
                r.cost.total,
                r.cost.messages,
                r.cost.coupons,
                r.cost.points,
                r.net,
                r.roi.map_or("n/a".to_string(), |x| format!("{x:.2}"))
            );
            println!(
                "targets: conversion ≥ {} {}; revenue ≥ {:.0}× cost {}",
                percent(r.targets.min_conversion_rate),
                if r.conversion_target_met { "met" } else { "NOT met" },
                r.targets.min_revenue_to_cost,
                if r.revenue_target_met { "met" } else { "NOT met" }
            );
            if let Some(store) = &r.store {
                let t = &store.treatment;
                println!(
                    "from the store, {} days after assignment{}: treatment {} orders, net {} (refunded {}), coupon orders {}; \
                     30-day repurchase of the converted {}/{}",
                    store.window_days,
                    if store.window_complete { "" } else { " (window still open)" },
                    thousands(t.orders),
                    t.net,
                    t.refunded,
                    thousands(t.coupon_orders),
                    thousands(t.repurchase.repurchased),
                    thousands(t.repurchase.observed)
                );
            }
            if r.srm.mismatch {
                println!(
                    "sample ratio MISMATCH (p = {:.2e}): the split is broken, do not trust the uplift",
                    r.srm.p_value
                );
            }
        }
    }
    Ok(())
}
