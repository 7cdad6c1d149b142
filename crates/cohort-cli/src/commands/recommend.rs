//! `cohort recommend train | eval | for | similar`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cohort_model::{PersonId, ProductId};
use cohort_recommend::{
    evaluate, interactions_from_store, EvalOptions, Placement, PlacementKind, RecommendConfig, Recommendation,
    Recommender, Similarity, TrainProgress, MODEL_FILE,
};
use cohort_store::EventStore;
use indicatif::ProgressBar;

use super::Context;
use crate::output::{table, thousands};
use crate::progress;

/// Arguments of `cohort recommend`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Train every candidate source on the store and save the model beside it.
    Train(TrainArgs),
    /// Offline evaluation on a time split: each source and the hybrid against popularity.
    Eval(EvalArgs),
    /// Recommendations for one person at a placement (uses the saved model).
    For(ForArgs),
    /// Products similar to one product (uses the saved model).
    Similar(SimilarArgs),
}

/// Settings shared by `train` and `eval`.
#[derive(Debug, clap::Args)]
struct Settings {
    /// A TOML file of recommender settings (the fields of `[recommend]`, see docs/recommend.md);
    /// replaces the `[recommend]` section of cohort.toml.
    #[arg(long, value_name = "FILE")]
    settings: Option<PathBuf>,
    /// Products left out of training and never recommended (postage, fees), comma separated.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    hide: Vec<String>,
    /// Item-to-item similarity: cosine, jaccard or lift.
    #[arg(long, value_name = "KIND")]
    similarity: Option<String>,
    /// ALS latent factors.
    #[arg(long, value_name = "N")]
    factors: Option<usize>,
    /// ALS sweeps.
    #[arg(long, value_name = "N")]
    iterations: Option<usize>,
}

impl Settings {
    /// `[recommend]` of cohort.toml (`base`), or the `--settings` file, then the flags.
    fn config(&self, base: &RecommendConfig) -> anyhow::Result<RecommendConfig> {
        let mut config = match &self.settings {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("settings file {}", path.display()))?
            }
            None => base.clone(),
        };
        for id in &self.hide {
            config.hidden.push(ProductId::new(id.trim()).with_context(|| format!("--hide {id:?}"))?);
        }
        if let Some(s) = &self.similarity {
            config.similarity = match s.as_str() {
                "cosine" => Similarity::Cosine,
                "jaccard" => Similarity::Jaccard,
                "lift" => Similarity::Lift,
                other => anyhow::bail!("--similarity {other:?}: expected cosine, jaccard or lift"),
            };
        }
        if let Some(f) = self.factors {
            config.als.factors = f;
        }
        if let Some(i) = self.iterations {
            config.als.iterations = i;
        }
        config.validate()?;
        Ok(config)
    }
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    settings: Settings,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    #[command(flatten)]
    settings: Settings,
    /// Train before this instant (RFC 3339, or a shop-local date YYYY-MM-DD);
    /// default: `--test-days` before the latest interaction.
    #[arg(long, value_name = "WHEN")]
    cut_off: Option<String>,
    /// Length of the test period after the cut-off, days.
    #[arg(long, default_value_t = 30)]
    test_days: i64,
    /// List length scored.
    #[arg(short, long, default_value_t = 10)]
    k: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct ForArgs {
    /// The person (user id or resolved person id).
    person: String,
    /// home, cart, order, similar or bought-together.
    #[arg(long, default_value = "home")]
    placement: String,
    /// Products in the cart / order (cart and order placements), comma separated.
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    items: Vec<String>,
    /// The product shown (similar and bought-together placements).
    #[arg(long, value_name = "ID")]
    product: Option<String>,
    /// How many.
    #[arg(short, default_value_t = 10)]
    n: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
struct SimilarArgs {
    /// The product.
    product: String,
    /// How many.
    #[arg(short, default_value_t = 10)]
    n: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    match args.command {
        Sub::Train(a) => train(ctx, a),
        Sub::Eval(a) => eval(ctx, a),
        Sub::For(a) => recommend_for(ctx, a),
        Sub::Similar(a) => similar(ctx, a),
    }
}

/// The model file: beside the store's database, in the store directory.
fn model_path(ctx: &Context) -> anyhow::Result<PathBuf> {
    let db = ctx.store.path().context("the store is in memory: no place for a model file")?;
    Ok(db.parent().unwrap_or(Path::new(".")).join(MODEL_FILE))
}

/// Training progress on one bar, relabelled per stage.
struct Bar(ProgressBar);

impl TrainProgress for Bar {
    fn stage(&self, name: &str, total: u64) {
        self.0.set_message(name.to_string());
        self.0.set_length(total);
        self.0.set_position(0);
    }

    fn advance(&self, done: u64) {
        self.0.set_position(done);
    }
}

fn train(ctx: &Context, args: TrainArgs) -> anyhow::Result<()> {
    let config = args.settings.config(&ctx.config.recommend)?;
    let started = Instant::now();
    let bar = Bar(progress::items(ctx.quiet, "training", 0));
    let model = Recommender::train_from_store(&ctx.store, &config, &bar)?;
    bar.0.finish_and_clear();
    let path = model_path(ctx)?;
    model.save(&path)?;
    let s = model.summary();
    println!(
        "trained on {} people × {} products ({} pairs, {} baskets) as of {} in {:.1}s",
        thousands(s.people as u64),
        thousands(s.items as u64),
        thousands(s.pairs as u64),
        thousands(s.baskets as u64),
        ctx.shop_time_fmt(model.as_of()),
        started.elapsed().as_secs_f64()
    );
    println!(
        "neighbour links: co-occurrence {}, bought together {}, content {}; ALS {} factors",
        thousands(s.co_occurrence_links as u64),
        thousands(s.bought_together_links as u64),
        thousands(s.content_links as u64),
        config.als.factors
    );
    println!("model saved to {}", path.display());
    Ok(())
}

fn parse_instant(ctx: &Context, text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("--cut-off {text:?} is not an RFC 3339 instant or a YYYY-MM-DD date"))?;
    Ok(ctx.shop.start_of_day(date))
}

fn eval(ctx: &Context, args: EvalArgs) -> anyhow::Result<()> {
    let config = args.settings.config(&ctx.config.recommend)?;
    anyhow::ensure!(args.test_days > 0, "--test-days must be at least 1");
    anyhow::ensure!(args.k > 0, "-k must be at least 1");
    let interactions = interactions_from_store(&ctx.store)?;
    let products = ctx.store.products()?;
    let last = interactions.iter().map(|i| i.at).max().context("the store holds no interactions")?;
    let cut_off = match &args.cut_off {
        Some(text) => parse_instant(ctx, text)?,
        None => last - Duration::days(args.test_days),
    };
    let opts = EvalOptions { cut_off, test_end: Some(cut_off + Duration::days(args.test_days)), k: args.k };
    let bar = Bar(progress::items(ctx.quiet, "evaluating", 0));
    let report = evaluate(&interactions, &products, &config, &opts, &bar)?;
    bar.0.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "train before {}, test {} days: {} training interactions, {} people evaluated ({} new in the test period, \
         not scored), {} relevant (person, product) pairs; trained in {:.1}s",
        ctx.shop_time_fmt(cut_off),
        args.test_days,
        thousands(report.train_interactions as u64),
        thousands(report.people as u64),
        thousands(report.cold_people as u64),
        thousands(report.relevant_pairs as u64),
        report.train_seconds
    );
    println!();
    print!("{}", report.table());
    Ok(())
}

fn load(ctx: &Context) -> anyhow::Result<Recommender> {
    let path = model_path(ctx)?;
    anyhow::ensure!(path.exists(), "no model at {}: run `cohort recommend train` first", path.display());
    Ok(Recommender::load(&path)?)
}

fn recommend_for(ctx: &Context, args: ForArgs) -> anyhow::Result<()> {
    let model = load(ctx)?;
    let person = PersonId::new(&args.person).with_context(|| format!("person {:?}", args.person))?;
    let kind = PlacementKind::parse(&args.placement).with_context(|| {
        format!("--placement {:?}: expected home, cart, order, similar or bought-together", args.placement)
    })?;
    let items = || -> anyhow::Result<Vec<ProductId>> {
        anyhow::ensure!(!args.items.is_empty(), "--placement {} needs --items", kind.as_str());
        args.items.iter().map(|i| ProductId::new(i.trim()).with_context(|| format!("--items {i:?}"))).collect()
    };
    let product = || -> anyhow::Result<ProductId> {
        let p = args.product.as_deref().with_context(|| format!("--placement {} needs --product", kind.as_str()))?;
        ProductId::new(p).with_context(|| format!("--product {p:?}"))
    };
    let placement = match kind {
        PlacementKind::Home => Placement::Home,
        PlacementKind::Cart => Placement::Cart { items: items()? },
        PlacementKind::Order => Placement::Order { items: items()? },
        PlacementKind::Similar => Placement::Similar { product: product()? },
        PlacementKind::BoughtTogether => Placement::BoughtTogether { product: product()? },
    };
    let list = model.recommend(&person, &placement, args.n);
    if !model.knows(&person) && !args.json {
        eprintln!("note: {person} has no history in the model: cold-start list");
    }
    print_list(ctx, &list, args.json)
}

fn similar(ctx: &Context, args: SimilarArgs) -> anyhow::Result<()> {
    let model = load(ctx)?;
    let product = ProductId::new(&args.product).with_context(|| format!("product {:?}", args.product))?;
    print_list(ctx, &model.similar(&product, args.n), args.json)
}

fn print_list(ctx: &Context, list: &[Recommendation], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(list)?);
        return Ok(());
    }
    let names: HashMap<ProductId, String> =
        ctx.store.products()?.into_iter().filter_map(|p| Some((p.id, p.name?))).collect();
    let rows: Vec<Vec<String>> = list
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                (i + 1).to_string(),
                r.product_id.to_string(),
                names.get(&r.product_id).cloned().unwrap_or_default(),
                r.category.clone().unwrap_or_default(),
                format!("{:.3}", r.score),
                r.source.as_str().to_string(),
            ]
        })
        .collect();
    print!("{}", table(&["#", "product", "name", "category", "score", "source"], &rows));
    Ok(())
}
