//! `cohort import`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};
use cohort_collect::import::{
    import_file, ColumnMapping, ImportOptions, ImportOutcome, MoneyUnit, RecordKind, Source, SourceFormat,
    ONLINE_RETAIL_TIME_ZONE,
};

use super::Context;
use crate::output::thousands;
use crate::progress;

/// What the file is.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Comma- (or `--delimiter`-) separated values.
    Csv,
    /// Newline-delimited JSON (Segment-shaped messages work as is).
    Ndjson,
    /// Apache Parquet.
    Parquet,
    /// The UCI Online Retail file (invoice lines → orders, `C…` → refunds).
    OnlineRetail,
    /// The Taobao UserBehavior file (pv / cart / fav / buy).
    Taobao,
    /// Marketing spend `date,channel,spend_fen` per shop-local day and channel, for CAC on `cohort kpi`.
    Spend,
}

/// Arguments of `cohort import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// File format or ready dataset.
    #[arg(value_enum)]
    pub format: Format,
    /// The file (`.gz` is decompressed on the fly).
    pub file: PathBuf,
    /// What one row is (generic formats).
    #[arg(long, value_enum, default_value = "events")]
    pub kind: Kind,
    /// Column mapping `field=column`, repeatable (unmapped fields use their own name).
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Abort on the first bad row; nothing is stored.
    #[arg(long)]
    pub strict: bool,
    /// Import again even if this exact file was imported before (ids still deduplicate).
    #[arg(long)]
    pub force: bool,
    /// Money columns are integer fen instead of decimal yuan.
    #[arg(long)]
    pub fen: bool,
    /// CSV delimiter.
    #[arg(long, default_value = ",")]
    pub delimiter: char,
    /// The CSV file has no header row (columns are then named 1, 2, 3…).
    #[arg(long)]
    pub no_header: bool,
    /// Time zone of timestamps in the file that carry no offset (default: the shop's;
    /// Europe/London for Online Retail).
    #[arg(long, value_name = "TZ")]
    pub source_time_zone: Option<String>,
}

/// What one row is.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Kind {
    /// Behaviour events.
    Events,
    /// Order lines (grouped into orders by `order_id`).
    Orders,
    /// User attributes.
    Users,
    /// Catalogue products.
    Products,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    if let Format::Spend = args.format {
        return spend(ctx, &args.file);
    }
    let source_tz = args.source_time_zone.as_deref().map(cohort_model::ShopTime::from_name).transpose()?;
    let kind = match args.kind {
        Kind::Events => RecordKind::Events,
        Kind::Orders => RecordKind::Orders,
        Kind::Users => RecordKind::Users,
        Kind::Products => RecordKind::Products,
    };
    let generic = |format: SourceFormat| -> anyhow::Result<Source> {
        let mapping = ColumnMapping::parse_pairs(kind, &args.map)?;
        Ok(Source::Generic { format, kind, mapping })
    };
    if !args.delimiter.is_ascii() {
        bail!("--delimiter must be a single ASCII character, got {:?}", args.delimiter);
    }
    let source = match args.format {
        Format::Csv => generic(SourceFormat::Csv { delimiter: args.delimiter as u8, has_header: !args.no_header })?,
        Format::Ndjson => generic(SourceFormat::Ndjson)?,
        Format::Parquet => generic(SourceFormat::Parquet)?,
        Format::OnlineRetail => {
            Source::OnlineRetail { time_zone: source_tz.map_or(ONLINE_RETAIL_TIME_ZONE, |t| t.tz()) }
        }
        Format::Taobao => Source::Taobao,
        Format::Spend => unreachable!("handled above"),
    };
    let opts = ImportOptions {
        strict: args.strict,
        force: args.force,
        shop_time: source_tz.unwrap_or(ctx.shop),
        money_unit: if args.fen { MoneyUnit::Fen } else { MoneyUnit::Yuan },
        ..ImportOptions::default()
    };
    let bar = progress::ImportBar(progress::bytes(ctx.quiet, "importing"));
    let outcome = import_file(&ctx.store, &source, &args.file, &opts, &bar)?;
    report(&outcome, started.elapsed().as_secs_f64());
    Ok(())
}

/// `cohort import spend FILE`: the whole file or nothing; a day and channel
/// already stored is replaced.
fn spend(ctx: &Context, file: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let rows = cohort_analytics::parse_spend_csv(&text)
        .with_context(|| format!("nothing imported from {}", file.display()))?;
    let done = cohort_analytics::Analytics::new(&ctx.store, ctx.shop).import_spend(&rows)?;
    let days = match (done.first_day, done.last_day) {
        (Some(a), Some(b)) => format!(" from {a} to {b}"),
        _ => String::new(),
    };
    println!(
        "marketing spend: {} rows, {} channels{days}, ¥{:.2} in all",
        thousands(done.rows),
        done.channels,
        done.spend_fen as f64 / 100.0
    );
    Ok(())
}

pub fn report(outcome: &ImportOutcome, seconds: f64) {
    match outcome {
        ImportOutcome::AlreadyImported(record) => println!(
            "{} was already imported (import #{} at {}); use --force to import it again",
            record.source.file.as_deref().unwrap_or("this file"),
            record.id,
            record.finished_at.format("%Y-%m-%d %H:%M:%S UTC"),
        ),
        ImportOutcome::Imported(report) => {
            let s = &report.record.summary;
            println!(
                "read {} rows in {:.1}s: {} new events ({} duplicates), {} new orders ({} duplicates), {} lines, \
                 {} users, {} products, {} rejected",
                thousands(report.rows_read),
                seconds,
                thousands(s.events_new),
                thousands(s.events_duplicate),
                thousands(s.orders_new),
                thousands(s.orders_duplicate),
                thousands(s.lines_new),
                thousands(s.users_upserted),
                thousands(s.products_upserted),
                thousands(report.rows_rejected),
            );
            if report.prices_rounded > 0 {
                println!("note: {} prices had digits below one fen and were rounded", report.prices_rounded);
            }
            for row in &report.first_errors {
                println!("rejected {}:{}: {}", row.file, row.line, row.reason);
            }
            if report.rows_rejected > report.first_errors.len() as u64 {
                println!("… see all of them with `cohort rejected`");
            }
        }
    }
}
