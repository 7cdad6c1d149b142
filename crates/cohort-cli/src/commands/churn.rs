//! `cohort churn train | eval | score | list`: churn risk.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohort_duckdb::{ScoreQuery, ScoreRow};
use cohort_predict::churn::{build_sets, default_cut_offs, ChurnModel, ChurnSettings, MODEL_FILE};
use cohort_store::EventStore;
use serde_json::json;

use super::Context;
use crate::output::{table, thousands};

/// Score-table model name of churn risk.
pub const SCORE_MODEL: &str = "churn";

/// Arguments of `cohort churn`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Train at one cut-off, evaluate at a later one, save the model beside the store.
    Train(TrainArgs),
    /// Evaluate the saved model at a cut-off (default: data end − horizon).
    Eval(EvalArgs),
    /// Score every eligible profile with the saved model and store the scores.
    Score(ScoreArgs),
    /// The stored high-risk list.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Forward window in days (overrides `[churn] horizon_days`).
    #[arg(long, value_name = "DAYS")]
    horizon_days: Option<u32>,
    /// Training cut-off (RFC 3339 or shop-local YYYY-MM-DD); default: data end − 2 × horizon.
    #[arg(long, value_name = "WHEN")]
    cut_off: Option<String>,
    /// Evaluation cut-off; default: training cut-off + horizon.
    #[arg(long, value_name = "WHEN")]
    eval_cut_off: Option<String>,
    /// Print the model as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// Evaluation cut-off (RFC 3339 or shop-local YYYY-MM-DD); default: data end − horizon.
    #[arg(long, value_name = "WHEN")]
    cut_off: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ScoreArgs {
    /// Print the scores as JSON lines.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Lowest risk listed (0–100).
    #[arg(long, default_value_t = 80.0)]
    min_risk: f64,
    /// At most this many people.
    #[arg(short = 'n', long, default_value_t = 50)]
    limit: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Train(a) => train(ctx, a),
        Sub::Eval(a) => eval(ctx, a),
        Sub::Score(a) => score(ctx, a),
        Sub::List(a) => list(ctx, a),
    }
}

/// The model file beside the store's database.
pub fn model_path(store_dir: &Path) -> PathBuf {
    store_dir.join(MODEL_FILE)
}

fn path(ctx: &Context) -> anyhow::Result<PathBuf> {
    let db = ctx.store.path().context("the store is in memory: no place for a model file")?;
    Ok(model_path(db.parent().unwrap_or(Path::new("."))))
}

fn load(ctx: &Context) -> anyhow::Result<ChurnModel> {
    let path = path(ctx)?;
    anyhow::ensure!(path.exists(), "no churn model at {}: run `cohort churn train` first", path.display());
    Ok(ChurnModel::load(&path)?)
}

fn parse_instant(ctx: &Context, flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{flag} {text:?} is not an RFC 3339 instant or a YYYY-MM-DD date"))?;
    Ok(ctx.shop.start_of_day(date))
}

fn data_end(ctx: &Context) -> anyhow::Result<DateTime<Utc>> {
    ctx.store.stats()?.last_at.context("the store is empty: import orders first")
}

fn train(ctx: &Context, args: TrainArgs) -> anyhow::Result<()> {
    let mut settings: ChurnSettings = ctx.config.churn.clone();
    if let Some(h) = args.horizon_days {
        settings.horizon_days = h;
    }
    settings.validate()?;
    let h = Duration::days(i64::from(settings.horizon_days));
    let (train_at, eval_at) = match (&args.cut_off, &args.eval_cut_off) {
        (None, None) => default_cut_offs(data_end(ctx)?, settings.horizon_days),
        (Some(t), None) => {
            let t = parse_instant(ctx, "--cut-off", t)?;
            (t, t + h)
        }
        (t, Some(e)) => {
            let e = parse_instant(ctx, "--eval-cut-off", e)?;
            let t = match t {
                Some(t) => parse_instant(ctx, "--cut-off", t)?,
                None => e - h,
            };
            (t, e)
        }
    };
    anyhow::ensure!(
        train_at + h <= eval_at,
        "--cut-off must be at least horizon_days ({}) before the evaluation cut-off, so training labels do not \
         overlap the evaluation features",
        settings.horizon_days
    );
    let sets = build_sets(&ctx.store, &ctx.config.segments, &settings, &[train_at, eval_at])?;
    let mut model = ChurnModel::train(&sets[0], &settings)?;
    let end = data_end(ctx)?;
    if eval_at + h <= end && !sets[1].is_empty() {
        model.evaluation = Some(model.evaluate(&sets[1]));
    } else {
        eprintln!("note: the data ends before evaluation cut-off + horizon; no out-of-time evaluation");
    }
    let path = path(ctx)?;
    model.save(&path)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&model)?);
        return Ok(());
    }
    println!("churn model saved to {} (horizon {} days)", path.display(), settings.horizon_days);
    println!("\ntraining (in-sample):\n{}", model.training.table());
    if let Some(e) = &model.evaluation {
        println!("evaluation (out-of-time):\n{}", e.table());
    }
    let mut coef: Vec<(&String, &f64)> = model.features.iter().zip(&model.coefficients).collect();
    coef.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let rows: Vec<Vec<String>> = coef.iter().map(|(f, c)| vec![f.to_string(), format!("{c:+.3}")]).collect();
    print!("{}", table(&["feature", "coefficient (per SD)"], &rows));
    Ok(())
}

fn eval(ctx: &Context, args: EvalArgs) -> anyhow::Result<()> {
    let model = load(ctx)?;
    let at = match &args.cut_off {
        Some(t) => parse_instant(ctx, "--cut-off", t)?,
        None => default_cut_offs(data_end(ctx)?, model.settings.horizon_days).1,
    };
    let sets = build_sets(&ctx.store, &ctx.config.segments, &model.settings, &[at])?;
    let report = model.evaluate(&sets[0]);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// The risk band stored as the score's label.
fn band(risk: f64, high: f64) -> &'static str {
    if risk >= high {
        "high"
    } else if risk >= high / 2.0 {
        "medium"
    } else {
        "low"
    }
}

fn score(ctx: &Context, args: ScoreArgs) -> anyhow::Result<()> {
    let model = load(ctx)?;
    let mut profiles = Vec::new();
    ctx.store.scan_profiles(&mut |p| {
        profiles.push(p);
        Ok(())
    })?;
    anyhow::ensure!(!profiles.is_empty(), "no profiles: run `cohort compute` first");
    let scores = model.score_all(&profiles);
    let high = model.settings.high_risk;
    let rows: Vec<ScoreRow> = scores
        .iter()
        .map(|s| ScoreRow {
            person_id: s.person_id.clone(),
            score: s.risk,
            label: Some(band(s.risk, high).to_string()),
            detail: json!({ "top_features": s.top_features }),
        })
        .collect();
    ctx.store.replace_scores(SCORE_MODEL, Utc::now(), &rows)?;
    if args.json {
        for s in &scores {
            println!("{}", serde_json::to_string(s)?);
        }
        return Ok(());
    }
    let n_high = scores.iter().filter(|s| s.risk >= high).count();
    println!(
        "{} people scored ({} of {} profiles eligible), {} at risk >= {high}",
        thousands(scores.len() as u64),
        thousands(scores.len() as u64),
        thousands(profiles.len() as u64),
        thousands(n_high as u64)
    );
    Ok(())
}

fn list(ctx: &Context, args: ListArgs) -> anyhow::Result<()> {
    anyhow::ensure!((0.0..=100.0).contains(&args.min_risk), "--min-risk {} is outside 0..=100", args.min_risk);
    let rows = ctx.store.model_scores(
        SCORE_MODEL,
        ScoreQuery { min_score: Some(args.min_risk), limit: Some(args.limit), ..Default::default() },
    )?;
    if args.json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| json!({ "person_id": r.person_id, "risk": r.score, "band": r.label, "detail": r.detail }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    if rows.is_empty() && ctx.store.count_scores(SCORE_MODEL)? == 0 {
        anyhow::bail!("no churn scores stored: run `cohort churn score` first");
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let top = r.detail["top_features"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f["feature"].as_str()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            vec![r.person_id.to_string(), format!("{:.1}", r.score), top]
        })
        .collect();
    print!("{}", table(&["person", "risk", "top features"], &table_rows));
    Ok(())
}
