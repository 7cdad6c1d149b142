//! `cohort clv`: fit BG/NBD + Gamma-Gamma on the store's orders, score every
//! customer's lifetime value into `person_scores` (model `clv`, score in
//! fen), and read the scores back.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{NaiveDate, Utc};
use cohort_duckdb::{PersonScore, ScoreOrder, ScoreQuery, ScoreRow};
use cohort_model::PersonId;
use cohort_predict::clv::{purchase_days, ClvModel, ClvScore, ClvSettings, MODEL_FILE};
use serde_json::json;

use super::Context;
use crate::output::{table, thousands};

/// The `person_scores` model name.
pub const MODEL: &str = "clv";

/// Arguments of `cohort clv`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Fit the models, print the diagnostics and store every customer's score.
    Fit(FitArgs),
    /// One person's CLV, P(alive) and expected purchases.
    Show(ShowArgs),
    /// The customers with the highest predicted CLV.
    Top(TopArgs),
}

#[derive(Debug, clap::Args)]
struct FitArgs {
    /// Last day of history (shop time, YYYY-MM-DD); default the day of the last order.
    #[arg(long, value_name = "DATE")]
    as_of: Option<NaiveDate>,
    /// CLV horizon in 30-day months [default: `[clv] horizon_months`, 12].
    #[arg(long, value_name = "N")]
    horizon_months: Option<u32>,
    /// Discount rate per 30-day month [default: `[clv] monthly_discount_rate`, 0.01].
    #[arg(long, value_name = "R")]
    monthly_discount_rate: Option<f64>,
    /// Report expected purchases in the next N days [default: `[clv] expected_days`, 90].
    #[arg(long, value_name = "N")]
    expected_days: Option<u32>,
    /// Days held out at the end to check predicted against actual purchases, 0 = none
    /// [default: `[clv] holdout_days`, 90].
    #[arg(long, value_name = "N")]
    holdout_days: Option<u32>,
    /// Also write the RFM summary the models were fitted on (CSV: person_id,frequency,recency,T,monetary_value).
    #[arg(long, value_name = "FILE")]
    export_summary: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ShowArgs {
    /// Person id.
    user: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct TopArgs {
    /// How many.
    #[arg(long, short, default_value_t = 20, value_name = "N")]
    n: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Fit(a) => fit(ctx, a),
        Sub::Show(a) => show(ctx, a),
        Sub::Top(a) => top(ctx, a),
    }
}

/// The model file beside the store's database.
fn model_path(ctx: &Context) -> anyhow::Result<PathBuf> {
    let db = ctx.store.path().context("the store is in memory: no place for a model file")?;
    Ok(db.parent().unwrap_or(Path::new(".")).join(MODEL_FILE))
}

fn score_row(model: &ClvModel, s: &ClvScore) -> ScoreRow {
    ScoreRow {
        person_id: s.person_id.clone(),
        score: s.clv_fen as f64,
        label: Some(s.alive_label().to_string()),
        detail: s.detail(model),
    }
}

fn fit(ctx: &Context, a: FitArgs) -> anyhow::Result<()> {
    let base = ctx.config.clv;
    let settings = ClvSettings {
        horizon_months: a.horizon_months.unwrap_or(base.horizon_months),
        monthly_discount_rate: a.monthly_discount_rate.unwrap_or(base.monthly_discount_rate),
        expected_days: a.expected_days.unwrap_or(base.expected_days),
        holdout_days: a.holdout_days.unwrap_or(base.holdout_days),
    };
    let days = purchase_days(&ctx.store, &ctx.shop)?;
    let as_of = match (a.as_of, days.last_purchase_at) {
        (Some(d), _) => d,
        (None, Some(at)) => ctx.shop.date(at),
        (None, None) => anyhow::bail!("the store has no paid orders: nothing to fit"),
    };
    if let Some(path) = &a.export_summary {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
        );
        writeln!(out, "person_id,frequency,recency,T,monetary_value")?;
        for c in &days.customers {
            if let Some(r) = c.rfm(as_of) {
                writeln!(out, "{},{},{},{},{}", c.person_id, r.frequency, r.recency, r.age, r.monetary)?;
            }
        }
        out.flush()?;
    }
    let (model, scores) = ClvModel::fit(&days, as_of, settings)?;
    let rows: Vec<ScoreRow> = scores.iter().map(|s| score_row(&model, s)).collect();
    ctx.store.replace_scores(MODEL, Utc::now(), &rows)?;
    let path = model_path(ctx)?;
    model.save(&path)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "model": model, "scored": rows.len() }))?);
        return Ok(());
    }
    let bg = &model.bgnbd;
    let gg = &model.gamma_gamma;
    println!(
        "CLV as of {as_of} (days): {} customers, {} repeat; {} scored, {} unscored; model {}",
        thousands(bg.customers as u64),
        thousands(gg.customers as u64),
        thousands(rows.len() as u64),
        model.unscored,
        path.display()
    );
    println!(
        "BG/NBD       r {:.4}  alpha {:.4}  a {:.4}  b {:.4}  LL {:.2}  {} iterations, {}  ({:.3}s)",
        bg.params.r,
        bg.params.alpha,
        bg.params.a,
        bg.params.b,
        bg.log_likelihood,
        bg.iterations,
        if bg.converged { "converged" } else { "NOT CONVERGED" },
        model.bgnbd_seconds
    );
    println!(
        "Gamma-Gamma  p {:.4}  q {:.4}  gamma {:.4}  LL {:.2}  {} iterations, {}  ({:.3}s)",
        gg.params.p,
        gg.params.q,
        gg.params.gamma,
        gg.log_likelihood,
        gg.iterations,
        if gg.converged { "converged" } else { "NOT CONVERGED" },
        model.gamma_gamma_seconds
    );
    let corr = gg.frequency_spend_correlation;
    println!(
        "frequency–spend correlation {corr:.3}{}",
        if corr.abs() > 0.3 { " — above 0.3: Gamma-Gamma's independence assumption is doubtful" } else { "" }
    );
    if let Some(h) = &model.holdout {
        println!(
            "holdout: fitted to {}, predicted {:.1} vs actual {} purchase days in the last {} days ({} customers), \
             MAE {:.3}, correlation {:.3}",
            h.calibration_end,
            h.predicted_total,
            h.actual_total,
            h.days,
            h.customers,
            h.mean_absolute_error,
            h.correlation
        );
        let rows: Vec<Vec<String>> = h
            .by_frequency
            .iter()
            .map(|r| {
                vec![
                    if r.frequency == 7 { "7+".into() } else { r.frequency.to_string() },
                    r.customers.to_string(),
                    format!("{:.2}", r.predicted),
                    format!("{:.2}", r.actual),
                ]
            })
            .collect();
        print!("{}", table(&["calibration x", "customers", "predicted", "actual"], &rows));
    }
    Ok(())
}

fn yuan(fen: f64) -> String {
    format!("{:.2}", fen / 100.0)
}

fn print_scores(scores: &[PersonScore]) {
    let rows: Vec<Vec<String>> = scores
        .iter()
        .map(|s| {
            let d = &s.detail;
            let f = |k: &str| d.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
            vec![
                s.person_id.to_string(),
                yuan(s.score),
                format!("{:.3}", f("p_alive")),
                s.label.clone().unwrap_or_default(),
                format!("{:.2}", f("expected_purchases")),
                yuan(f("expected_spend_fen")),
                format!("{}", f("frequency")),
            ]
        })
        .collect();
    print!(
        "{}",
        table(&["person", "CLV (yuan)", "P(alive)", "status", "E[purchases]", "spend (yuan)", "repeat days"], &rows)
    );
}

fn to_json(s: &PersonScore) -> serde_json::Value {
    json!({
        "person_id": s.person_id,
        "clv_fen": s.score,
        "status": s.label,
        "computed_at": s.computed_at,
        "detail": s.detail,
    })
}

fn show(ctx: &Context, a: ShowArgs) -> anyhow::Result<()> {
    let person = PersonId::new(a.user.clone()).context("USER")?;
    let Some(score) = ctx.store.person_score(&person, MODEL)? else {
        anyhow::bail!("no CLV score for {:?} (run `cohort clv fit`; only people with a paid order are scored)", a.user);
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&score))?);
    } else {
        print_scores(&[score]);
    }
    Ok(())
}

fn top(ctx: &Context, a: TopArgs) -> anyhow::Result<()> {
    let scores = ctx
        .store
        .model_scores(MODEL, ScoreQuery { order: ScoreOrder::Descending, min_score: None, limit: Some(a.n) })?;
    if scores.is_empty() {
        anyhow::bail!("no CLV scores stored: run `cohort clv fit` first");
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&scores.iter().map(to_json).collect::<Vec<_>>())?);
    } else {
        print_scores(&scores);
    }
    Ok(())
}
