//! `cohort replenish`: re-purchase intervals of consumables, and who is
//! about to run out of what. Stores one row per person in `person_scores`
//! (model `replenishment`: score = days from the as-of day to their next
//! run-out, label = that item, detail = every consumable with its run-out day).

use anyhow::Context as _;
use chrono::{Duration, NaiveDate, Utc};
use cohort_duckdb::ScoreRow;
use cohort_model::PersonId;
use cohort_predict::replenish::{DueItem, ReplenishLevel, ReplenishSettings, Replenishment};
use serde_json::json;

use super::Context;
use crate::output::table;

/// The `person_scores` model name.
pub const MODEL: &str = "replenishment";

/// Arguments of `cohort replenish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// List (person, item) pairs whose run-out day falls within this many days after the as-of day.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    due_within: u32,
    /// Show one person's consumables and run-out days instead.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// The day to count from (shop time, YYYY-MM-DD); default today.
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,
    /// Items are products or their categories [default: `[replenish] level`, product].
    #[arg(long, value_parser = ["product", "category"])]
    level: Option<String>,
    /// Repeat buyers an item needs for its interval to be used [default: `[replenish] min_repeat_buyers`, 5].
    #[arg(long, value_name = "N")]
    min_repeat_buyers: Option<usize>,
    /// Share of buyers re-buying an item for it to count as a consumable
    /// [default: `[replenish] min_repeat_rate`, 0.2].
    #[arg(long, value_name = "R")]
    min_repeat_rate: Option<f64>,
    /// Items shown in the interval table.
    #[arg(long, default_value_t = 10, value_name = "N")]
    top: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn due_rows(due: &[DueItem]) -> Vec<Vec<String>> {
    due.iter()
        .map(|d| {
            vec![
                d.person_id.to_string(),
                d.item.clone(),
                d.name.clone().unwrap_or_default(),
                d.last_purchase.to_string(),
                d.interval_days.to_string(),
                d.run_out.to_string(),
            ]
        })
        .collect()
}

const DUE_HEADER: [&str; 6] = ["person", "item", "name", "last bought", "every (days)", "runs out"];

pub fn run(ctx: &Context, a: Args) -> anyhow::Result<()> {
    let base = ctx.config.replenish;
    let settings = ReplenishSettings {
        level: match a.level.as_deref() {
            Some("category") => ReplenishLevel::Category,
            Some(_) => ReplenishLevel::Product,
            None => base.level,
        },
        min_repeat_buyers: a.min_repeat_buyers.unwrap_or(base.min_repeat_buyers),
        min_repeat_rate: a.min_repeat_rate.unwrap_or(base.min_repeat_rate),
        ..base
    };
    settings.validate().map_err(|e| anyhow::anyhow!("--{}", e.replace('_', "-")))?;
    let as_of = a.as_of.unwrap_or_else(|| ctx.shop.date(Utc::now()));
    let model = Replenishment::from_store(&ctx.store, &ctx.shop, settings)?;
    // Store every person's consumables (one row each) for HTTP and journeys.
    let rows: Vec<ScoreRow> = model
        .persons()
        .map(|p| {
            let items = model.for_person(p);
            let next = items.iter().find(|d| d.run_out >= as_of).or(items.last()).expect("non-empty");
            ScoreRow {
                person_id: p.clone(),
                score: (next.run_out - as_of).num_days() as f64,
                label: Some(next.item.clone()),
                detail: json!({ "as_of": as_of, "items": items }),
            }
        })
        .collect();
    ctx.store.replace_scores(MODEL, Utc::now(), &rows)?;

    if let Some(user) = &a.user {
        let person = PersonId::new(user.clone()).context("--user")?;
        let items = model.for_person(&person);
        if a.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "person_id": person, "as_of": as_of, "items": items }))?
            );
        } else if items.is_empty() {
            println!("{user}: no consumable with a known re-purchase interval");
        } else {
            print!("{}", table(&DUE_HEADER, &due_rows(&items)));
        }
        return Ok(());
    }
    let to = as_of + Duration::days(i64::from(a.due_within));
    let due = model.due_between(as_of, to);
    let mut items: Vec<_> = model.items().filter(|i| i.consumable).collect();
    items.sort_by(|x, y| y.repeat_buyers.cmp(&x.repeat_buyers).then_with(|| x.item.cmp(&y.item)));
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "as_of": as_of,
                "to": to,
                "consumables": items.len(),
                "people_stored": rows.len(),
                "items": items.iter().take(a.top).collect::<Vec<_>>(),
                "due": due,
            }))?
        );
        return Ok(());
    }
    println!(
        "{} consumables with a re-purchase interval ({} items with one); {} people stored",
        items.len(),
        model.items().count(),
        rows.len()
    );
    let top: Vec<Vec<String>> = items
        .iter()
        .take(a.top)
        .map(|i| {
            vec![
                i.item.clone(),
                i.name.clone().unwrap_or_default(),
                i.buyers.to_string(),
                i.repeat_buyers.to_string(),
                format!("{:.1}", i.interval_days),
            ]
        })
        .collect();
    print!("{}", table(&["item", "name", "buyers", "repeat buyers", "median interval (days)"], &top));
    println!("due {as_of} .. {to}: {} (person, item) pairs", due.len());
    print!("{}", table(&DUE_HEADER, &due_rows(&due)));
    Ok(())
}
