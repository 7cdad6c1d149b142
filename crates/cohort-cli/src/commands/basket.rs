//! `cohort basket`: frequent itemsets, association rules, "also bought"
//! lists and bundle suggestions from the store's orders or a transactions
//! file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use cohort_mining::{
    also_bought, association_rules, bundles, fp_growth, BasketLevel, BasketOptions, BasketUnit, Baskets,
};
use serde::Serialize;

use super::Context;
use crate::output::{percent, table, thousands};

/// Arguments of `cohort basket`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Smallest share of baskets an itemset must be in, (0, 1].
    #[arg(long, default_value_t = 0.01, value_name = "S")]
    min_support: f64,
    /// Smallest confidence P(B | A) of a rule, [0, 1].
    #[arg(long, default_value_t = 0.5, value_name = "C")]
    min_confidence: f64,
    /// Items are products or their categories.
    #[arg(long, default_value = "product", value_parser = ["product", "category"])]
    level: String,
    /// A basket is one order, or everything one person bought.
    #[arg(long, default_value = "order", value_parser = ["order", "user"])]
    per: String,
    /// Rules and bundles shown.
    #[arg(long, default_value_t = 20, value_name = "N")]
    top: usize,
    /// Largest right-hand side of a rule (1 = "A ⇒ b", as arules).
    #[arg(long, default_value_t = 1, value_name = "N")]
    max_consequent: usize,
    /// Largest itemset mined.
    #[arg(long, value_name = "N")]
    max_len: Option<usize>,
    /// Also show "customers who bought ITEM also bought" (a product id or category).
    #[arg(long, value_name = "ITEM")]
    item: Option<String>,
    /// Mine a transactions file (one basket per line, items comma-separated, .gz ok) instead of the store.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Report {
    baskets: usize,
    items: usize,
    min_support: f64,
    min_count: u64,
    min_confidence: f64,
    itemsets: usize,
    itemsets_by_size: Vec<usize>,
    rules_total: usize,
    mining_ms: f64,
    rules: Vec<RuleRow>,
    bundles: Vec<BundleRow>,
    also_bought: Option<Vec<AlsoRow>>,
}

#[derive(Debug, Serialize)]
struct RuleRow {
    antecedent: Vec<String>,
    consequent: Vec<String>,
    count: u64,
    support: f64,
    confidence: f64,
    lift: f64,
    leverage: f64,
    /// `null` = infinite (confidence 1).
    conviction: Option<f64>,
}

#[derive(Debug, Serialize)]
struct BundleRow {
    items: Vec<String>,
    count: u64,
    support: f64,
    lift: f64,
    price_fen: Option<i64>,
    revenue_fen: i64,
    score: f64,
}

#[derive(Debug, Serialize)]
struct AlsoRow {
    item: String,
    count: u64,
    confidence: f64,
    lift: f64,
}

/// Runs `cohort basket`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let baskets = match &args.file {
        Some(path) => Baskets::read_transactions(path)?,
        None => {
            let options = BasketOptions {
                level: if args.level == "category" { BasketLevel::Category } else { BasketLevel::Product },
                per: if args.per == "user" { BasketUnit::User } else { BasketUnit::Order },
            };
            Baskets::from_store(&ctx.store, options)?
        }
    };
    anyhow::ensure!(!baskets.is_empty(), "no baskets: import or generate orders first (or pass --file)");
    let started = Instant::now();
    let sets = fp_growth(baskets.transactions(), args.min_support, args.max_len)?;
    let mining_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rules = association_rules(&sets, args.min_confidence, args.max_consequent)?;
    let labels = |items: &[u32]| items.iter().map(|&i| baskets.label(i).to_string()).collect::<Vec<_>>();
    let also = match &args.item {
        Some(label) => {
            let item = baskets.item(label).with_context(|| format!("--item {label:?} is in no basket"))?;
            let list = also_bought(&sets, item, args.min_confidence, args.top);
            Some(
                list.into_iter()
                    .map(|a| AlsoRow {
                        item: baskets.label(a.item).to_string(),
                        count: a.count,
                        confidence: a.confidence,
                        lift: a.lift,
                    })
                    .collect::<Vec<_>>(),
            )
        }
        None => None,
    };
    let report = Report {
        baskets: baskets.len(),
        items: baskets.item_count(),
        min_support: args.min_support,
        min_count: sets.min_count,
        min_confidence: args.min_confidence,
        itemsets: sets.itemsets.len(),
        itemsets_by_size: sets.count_by_size(),
        rules_total: rules.len(),
        mining_ms,
        rules: rules
            .iter()
            .take(args.top)
            .map(|r| RuleRow {
                antecedent: labels(&r.antecedent),
                consequent: labels(&r.consequent),
                count: r.count,
                support: r.support,
                confidence: r.confidence,
                lift: r.lift,
                leverage: r.leverage,
                conviction: r.conviction,
            })
            .collect(),
        bundles: bundles(&sets, &baskets, 1.0, args.top)
            .into_iter()
            .map(|b| BundleRow {
                items: labels(&b.items),
                count: b.count,
                support: b.support,
                lift: b.lift,
                price_fen: b.price_fen,
                revenue_fen: b.revenue_fen,
                score: b.score,
            })
            .collect(),
        also_bought: also,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_tables(&report, args.item.as_deref());
    }
    Ok(())
}

fn print_tables(report: &Report, item: Option<&str>) {
    let sizes: Vec<String> = report.itemsets_by_size.iter().map(|&n| thousands(n as u64)).collect();
    println!(
        "{} baskets, {} items; support ≥ {} ({} baskets): {} frequent itemsets (by size {}); confidence ≥ {}: {} rules; mined in {:.1} ms",
        thousands(report.baskets as u64),
        thousands(report.items as u64),
        report.min_support,
        thousands(report.min_count),
        thousands(report.itemsets as u64),
        sizes.join("/"),
        report.min_confidence,
        thousands(report.rules_total as u64),
        report.mining_ms,
    );
    let rows: Vec<Vec<String>> = report
        .rules
        .iter()
        .map(|r| {
            vec![
                format!("{} ⇒ {}", r.antecedent.join(" + "), r.consequent.join(" + ")),
                thousands(r.count),
                percent(r.support),
                percent(r.confidence),
                format!("{:.2}", r.lift),
                r.conviction.map_or("∞".to_string(), |c| format!("{c:.2}")),
            ]
        })
        .collect();
    println!("\nrules by lift\n{}", table(&["rule", "baskets", "support", "confidence", "lift", "conviction"], &rows));
    let rows: Vec<Vec<String>> = report
        .bundles
        .iter()
        .map(|b| {
            vec![
                b.items.join(" + "),
                thousands(b.count),
                format!("{:.2}", b.lift),
                b.price_fen.map_or("-".to_string(), yuan),
                b.price_fen.map_or("-".to_string(), |_| yuan(b.revenue_fen)),
            ]
        })
        .collect();
    println!("bundles by lift × revenue\n{}", table(&["bundle", "baskets", "lift", "price", "revenue"], &rows));
    if let (Some(list), Some(item)) = (&report.also_bought, item) {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|a| vec![a.item.clone(), thousands(a.count), percent(a.confidence), format!("{:.2}", a.lift)])
            .collect();
        println!(
            "customers who bought {item} also bought\n{}",
            table(&["item", "baskets", "confidence", "lift"], &rows)
        );
    }
}

fn yuan(fen: i64) -> String {
    format!("¥{}.{:02}", fen / 100, (fen % 100).abs())
}
