//! `cohort audience`: saved filters over profiles, tags, segments and
//! events; size, sample, breakdown and export (CSV, NDJSON, webhook).
//! Phone numbers and other personal data are masked unless `--show-pii`.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use cohort_audience::{
    breakdown, export, load_audience, sample, Audience, AudienceKind, Dimension, ExportFormat, Filter, MemberRow,
    Members, Pii,
};
use cohort_store::AudienceStore;

use super::tags::as_of;
use super::Context;

/// Arguments of `cohort audience`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AudienceCommand,
}

/// Which audience, and how to read personal data.
#[derive(Debug, clap::Args)]
pub struct Which {
    /// The audience id.
    pub id: String,
    /// Evaluate a dynamic audience at this instant (RFC 3339); default: the latest record.
    #[arg(long)]
    pub as_of: Option<DateTime<Utc>>,
    /// Show phone numbers and other personal data unmasked.
    #[arg(long)]
    pub show_pii: bool,
}

/// What to do with audiences.
#[derive(Debug, clap::Subcommand)]
pub enum AudienceCommand {
    /// Save an audience: a filter, dynamic (re-evaluated on every read) or a static snapshot.
    Create {
        /// Id: lowercase letters, digits, '_' or '-'.
        id: String,
        /// The filter, e.g. 'tag("new_parent") and value_tier = "high_value"'.
        #[arg(long)]
        filter: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Freeze the members now instead of re-evaluating on every read.
        #[arg(long = "static")]
        snapshot: bool,
        /// Evaluate at this instant (RFC 3339); default: the latest record.
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
    /// Saved audiences.
    List,
    /// How many people an audience (or, with --filter, an unsaved filter) holds.
    Size {
        /// The audience id (or a label for --filter).
        id: String,
        /// Size an unsaved filter instead.
        #[arg(long)]
        filter: Option<String>,
        /// Evaluate at this instant (RFC 3339).
        #[arg(long)]
        as_of: Option<DateTime<Utc>>,
    },
    /// A stable pseudo-random sample of members.
    Sample {
        #[command(flatten)]
        which: Which,
        /// How many.
        #[arg(short, long, default_value_t = 10)]
        n: usize,
    },
    /// Members per value tier, lifecycle stage, behaviour type, city, gender or tag.
    Breakdown {
        #[command(flatten)]
        which: Which,
        /// value_tier, lifecycle, behaviour, city, gender or tag.
        #[arg(long, default_value = "value_tier")]
        by: String,
    },
    /// Export members as CSV or NDJSON, to a file, stdout or a webhook (POSTed as NDJSON).
    Export {
        #[command(flatten)]
        which: Which,
        /// csv or ndjson.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// POST the members to this URL (NDJSON body) instead, signed with
        /// `--webhook-secret` (headers x-cohort-timestamp and
        /// x-cohort-signature: sha256=HMAC(secret, "{timestamp}.{body}")).
        #[arg(long)]
        webhook: Option<String>,
        /// The webhook's shared HMAC secret.
        #[arg(long, env = "COHORT_WEBHOOK_SECRET", hide_env_values = true)]
        webhook_secret: Option<String>,
        /// Attempts before the export fails (408, 429, 5xx and connection
        /// errors are retried after 1 s, 2 s, 4 s…; other answers are not).
        #[arg(long, default_value_t = 5)]
        webhook_attempts: u32,
    },
    /// Delete a saved audience.
    Delete {
        /// The audience id.
        id: String,
    },
}

fn members<'a>(ctx: &'a Context, at: Option<DateTime<Utc>>, show_pii: bool) -> anyhow::Result<Members<'a>> {
    let pii = if show_pii { Pii::Shown } else { Pii::Masked };
    Ok(Members::new(&ctx.store, &ctx.store, ctx.shop, as_of(ctx, at)?, pii))
}

fn rows_of(ctx: &Context, which: &Which) -> anyhow::Result<Vec<MemberRow>> {
    let audience = load_audience(&ctx.store, &which.id)?;
    Ok(members(ctx, which.as_of, which.show_pii)?.of(&audience)?)
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        AudienceCommand::Create { id, filter, name, description, snapshot, as_of: at } => {
            let kind = if snapshot { AudienceKind::Static } else { AudienceKind::Dynamic };
            let audience = Audience::new(&id, &name, &description, &filter, kind, Utc::now())?;
            let n = audience.save(&members(ctx, at, false)?, &ctx.store)?;
            println!("saved {} audience {id:?}: {n} people now", kind.as_str());
            Ok(())
        }
        AudienceCommand::List => {
            for a in ctx.store.audiences()? {
                println!("{:<20} {:<8} {}  {}", a.id, a.kind, ctx.shop_time_fmt(a.created_at), a.name);
                println!("    {}", a.filter.trim());
            }
            Ok(())
        }
        AudienceCommand::Size { id, filter, as_of: at } => {
            let m = members(ctx, at, false)?;
            let n = match filter {
                Some(f) => m.matching(&Filter::parse(&id, &f)?)?.len(),
                None => m.of(&load_audience(&ctx.store, &id)?)?.len(),
            };
            println!("{n}");
            Ok(())
        }
        AudienceCommand::Sample { which, n } => {
            for r in sample(&rows_of(ctx, &which)?, n) {
                println!("{}", serde_json::to_string(&r)?);
            }
            Ok(())
        }
        AudienceCommand::Breakdown { which, by } => {
            let by: Dimension = by.parse()?;
            let rows = rows_of(ctx, &which)?;
            println!("{} people", rows.len());
            for (value, n) in breakdown(&rows, by) {
                let share = n as f64 * 100.0 / rows.len().max(1) as f64;
                println!("  {value:<24} {n:>9}  {share:5.1}%");
            }
            Ok(())
        }
        AudienceCommand::Export { which, format, output, webhook, webhook_secret, webhook_attempts } => {
            let format = match format.as_str() {
                "csv" => ExportFormat::Csv,
                "ndjson" | "jsonl" => ExportFormat::Ndjson,
                other => bail!("--format {other:?}: expected csv or ndjson"),
            };
            let rows = rows_of(ctx, &which)?;
            if let Some(url) = webhook {
                let Some(secret) = webhook_secret.filter(|s| !s.is_empty()) else {
                    bail!("--webhook: exports are signed; give --webhook-secret or set COHORT_WEBHOOK_SECRET");
                };
                let mut body = Vec::new();
                export(&rows, ExportFormat::Ndjson, &mut body)?;
                let target = cohort_audience::webhook::WebhookTarget {
                    max_attempts: webhook_attempts.max(1),
                    ..cohort_audience::webhook::WebhookTarget::new(url.clone(), secret)
                };
                let delivery_id = format!("{}-{}", which.id, chrono::Utc::now().timestamp_millis());
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let delivered =
                    runtime.block_on(cohort_audience::webhook::deliver(&target, &which.id, &delivery_id, &body))?;
                eprintln!(
                    "posted {} members of {:?} to {url} (HTTP {}, attempt {}, delivery {delivery_id})",
                    rows.len(),
                    which.id,
                    delivered.status,
                    delivered.attempts
                );
                return Ok(());
            }
            match output {
                Some(path) => {
                    let mut file = std::io::BufWriter::new(
                        std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?,
                    );
                    export(&rows, format, &mut file)?;
                    file.flush()?;
                    eprintln!("wrote {} members to {}", rows.len(), path.display());
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    export(&rows, format, &mut lock)?;
                }
            }
            Ok(())
        }
        AudienceCommand::Delete { id } => {
            if !ctx.store.delete_audience(&id)? {
                bail!("no audience named {id:?}");
            }
            println!("deleted audience {id:?}");
            Ok(())
        }
    }
}
