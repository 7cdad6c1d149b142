//! `cohort tags`: list the rules, dry-run one, recompute everyone, show a
//! person's tag history, and manage rules kept in the store.

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use cohort_audience::{rules_in_force, RuleSpec, TagEngine, TagRule};
use cohort_model::PersonId;
use cohort_store::{AudienceStore, EventStore, StoredTagRule};

use super::Context;

/// Arguments of `cohort tags`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: TagsCommand,
}

/// What to do with tags.
#[derive(Debug, clap::Subcommand)]
pub enum TagsCommand {
    /// The rules in force (config and stored) and how many people hold each tag.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Dry-run a rule: how many people match now, and a sample. Stores nothing.
    Test {
        /// A rule's name, or a new name with `--when`.
        rule: String,
        /// A condition to try instead of the stored or configured one.
        #[arg(long)]
        when: Option<String>,
        /// People to show.
        #[arg(long, default_value_t = 10)]
        sample: usize,
        /// Evaluate at this instant (RFC 3339); default: the latest record in the store.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-evaluate every rule for everyone and record the gains and losses.
    Compute {
        /// Evaluate at this instant (RFC 3339); default: the latest record in the store.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// When a person gained and lost each tag.
    History {
        /// The person.
        user: String,
        /// Most recent changes to show.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Store a rule (as the API does); `cohort tags compute` applies it.
    Add {
        /// Tag name.
        name: String,
        /// The condition.
        #[arg(long)]
        when: String,
        /// What it means.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a stored rule (its holders lose the tag at the next compute).
    Remove {
        /// Tag name.
        name: String,
    },
}

/// The rules in force: `[tags]` of the config plus stored rules.
pub fn engine(ctx: &Context) -> anyhow::Result<TagEngine> {
    let config_rules = ctx.config.tags.rules()?;
    Ok(TagEngine::new(rules_in_force(config_rules, &ctx.store)?, ctx.shop))
}

/// The instant to evaluate at: `--as-of`, else the store's latest record,
/// else now.
pub fn as_of(ctx: &Context, given: Option<DateTime<Utc>>) -> anyhow::Result<DateTime<Utc>> {
    Ok(match given {
        Some(t) => t,
        None => ctx.store.stats()?.last_at.unwrap_or_else(Utc::now),
    })
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        TagsCommand::List { json } => list(ctx, json),
        TagsCommand::Test { rule, when, sample, as_of: at, json } => {
            let engine = engine(ctx)?;
            let rule = match when {
                Some(when) => TagRule::parse(&RuleSpec { name: rule, description: String::new(), when }, "--when")?,
                None => engine
                    .rules()
                    .iter()
                    .find(|r| r.name == rule)
                    .cloned()
                    .with_context(|| format!("no tag rule named {rule:?} (see `cohort tags list`)"))?,
            };
            let at = as_of(ctx, at)?;
            let run = engine.dry_run(&rule, &ctx.store, at, sample)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
                return Ok(());
            }
            let share = if run.persons == 0 { 0.0 } else { run.matched as f64 * 100.0 / run.persons as f64 };
            println!("{}: {}", rule.name, rule.condition.trim());
            println!(
                "  as of {}: {} of {} people match ({share:.1}%)",
                ctx.shop_time_fmt(at),
                run.matched,
                run.persons
            );
            for p in &run.sample {
                println!("    {p}");
            }
            Ok(())
        }
        TagsCommand::Compute { as_of: at, json } => {
            let engine = engine(ctx)?;
            let at = as_of(ctx, at)?;
            let report = engine.recompute_all(&ctx.store, &ctx.store, at)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
                return Ok(());
            }
            println!(
                "tags computed as of {} for {} people with {} rules in {:.0} ms: {} gained, {} lost",
                ctx.shop_time_fmt(at),
                report.persons,
                report.rules,
                report.millis,
                report.gained,
                report.lost
            );
            for (tag, n) in &report.counts {
                println!("  {tag:<20} {n:>9}");
            }
            Ok(())
        }
        TagsCommand::History { user, limit, json } => {
            let person = PersonId::new(user)?;
            let history = ctx.store.tag_history(Some(&person), limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&history)?);
                return Ok(());
            }
            if history.is_empty() {
                println!("{person}: no tag changes recorded");
            }
            for c in history {
                println!("{}  {:<6} {:<20} ({})", ctx.shop_time_fmt(c.at), c.change.as_str(), c.tag, c.source);
            }
            Ok(())
        }
        TagsCommand::Add { name, when, description } => {
            let spec = RuleSpec { name: name.clone(), description: description.clone(), when: when.clone() };
            TagRule::parse(&spec, "cohort tags add")?;
            if ctx.config.tags.rules.iter().any(|r| r.name == name) {
                bail!("tag {name:?} is declared in the config's [tags]; change it there");
            }
            ctx.store.put_tag_rule(&StoredTagRule {
                name: name.clone(),
                description,
                condition: when,
                updated_at: Utc::now(),
            })?;
            println!("stored rule {name:?}; run `cohort tags compute` to apply it");
            Ok(())
        }
        TagsCommand::Remove { name } => {
            if !ctx.store.delete_tag_rule(&name)? {
                bail!("no stored tag rule named {name:?}");
            }
            println!("deleted rule {name:?}; holders lose the tag at the next `cohort tags compute`");
            Ok(())
        }
    }
}

fn list(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let engine = engine(ctx)?;
    let mut holders: std::collections::BTreeMap<String, u64> = Default::default();
    for t in ctx.store.person_tags(None)? {
        *holders.entry(t.tag).or_default() += 1;
    }
    if json {
        let rules: Vec<_> = engine
            .rules()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name, "description": r.description, "condition": r.condition,
                    "origin": r.origin, "holders": holders.get(&r.name).copied().unwrap_or(0),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rules)?);
        return Ok(());
    }
    for r in engine.rules() {
        let n = holders.get(&r.name).copied().unwrap_or(0);
        println!("{:<20} {n:>9} people  ({})  {}", r.name, r.origin, r.description);
        println!("    {}", r.condition.trim().replace('\n', "\n    "));
    }
    Ok(())
}
