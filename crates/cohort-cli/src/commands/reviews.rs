//! `cohort reviews train | eval | topics | classify | score`: the review
//! sentiment model (trained on a labelled corpus, saved beside the store),
//! complaint topics, and per-person sentiment written to `person_scores`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use cohort_duckdb::ScoreRow;
use cohort_mining::reviews::{
    complaint_topics, read_labelled_reviews, score_people, store_reviews, stratified_split, Evaluation, LabelledReview,
    Segmenter, SentimentModel, TopicLexicon, TopicOptions, TopicReport, TrainSettings, CORPUS, MODEL_FILE, TOPICS_FILE,
};
use serde_json::json;

use super::Context;
use crate::output::{percent, table, thousands};

/// The `person_scores` model name of review sentiment.
pub const SCORE_MODEL: &str = "sentiment";

/// Arguments of `cohort reviews`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The model file (default: sentiment.model.json.gz beside the store).
    #[arg(long, global = true, value_name = "FILE")]
    model: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Train the sentiment classifier on a labelled corpus, report the held-out split, save the model.
    Train(TrainArgs),
    /// Evaluate the saved model on the held-out split of a labelled corpus.
    Eval(DataArgs),
    /// Complaint topics and keywords of bad reviews: of a labelled file, or of the store's reviews.
    Topics(TopicArgs),
    /// Classify texts with the saved model.
    Classify(ClassifyArgs),
    /// Score every person's reviews and write them to the profile (`person_scores`, model "sentiment").
    Score,
}

#[derive(Debug, clap::Args)]
struct DataArgs {
    /// Labelled reviews, CSV with `cat,label,review` (.gz ok); default: the corpus under COHORT_DATA_DIR.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Passes over the training reviews.
    #[arg(long, value_name = "N")]
    epochs: Option<u32>,
    /// Share of each (category, label) held out for evaluation, [0, 1).
    #[arg(long, value_name = "SHARE")]
    held_out: Option<f64>,
}

#[derive(Debug, clap::Args)]
struct TopicArgs {
    /// Labelled reviews to read instead of the store's (labels from the file, not the model).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Complaint keywords listed.
    #[arg(long, default_value_t = 20, value_name = "N")]
    top: usize,
}

#[derive(Debug, clap::Args)]
struct ClassifyArgs {
    /// Texts to classify.
    #[arg(required = true, value_name = "TEXT")]
    texts: Vec<String>,
}

/// Runs `cohort reviews`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let model_file = match &args.model {
        Some(f) => f.clone(),
        None => store_dir(ctx)?.join(MODEL_FILE),
    };
    match args.command {
        Sub::Train(t) => train(&model_file, t, args.json),
        Sub::Eval(d) => eval(&model_file, d, args.json),
        Sub::Topics(t) => topics(ctx, &model_file, t, args.json),
        Sub::Classify(c) => classify(&model_file, c, args.json),
        Sub::Score => score(ctx, &model_file, args.json),
    }
}

fn store_dir(ctx: &Context) -> anyhow::Result<&Path> {
    ctx.store.path().and_then(|p| p.parent()).context("the store has no directory")
}

fn corpus_path(data: &DataArgs) -> PathBuf {
    data.data.clone().unwrap_or_else(|| {
        let root = std::env::var_os("COHORT_DATA_DIR").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
        root.join(CORPUS)
    })
}

fn load_model(file: &Path) -> anyhow::Result<SentimentModel> {
    anyhow::ensure!(file.exists(), "no sentiment model at {}: run `cohort reviews train` first", file.display());
    Ok(SentimentModel::load(file)?)
}

/// The train and held-out reviews of a corpus under `settings`.
fn split(data: &DataArgs, settings: &TrainSettings) -> anyhow::Result<(Vec<LabelledReview>, Vec<LabelledReview>)> {
    let path = corpus_path(data);
    let reviews = read_labelled_reviews(&path)?;
    anyhow::ensure!(!reviews.is_empty(), "{} holds no reviews", path.display());
    let (train, test) = stratified_split(&reviews, settings.held_out, settings.seed);
    let pick = |idx: Vec<usize>| idx.into_iter().map(|i| reviews[i].clone()).collect::<Vec<_>>();
    Ok((pick(train), pick(test)))
}

fn train(model_file: &Path, args: TrainArgs, json: bool) -> anyhow::Result<()> {
    let mut settings = TrainSettings::default();
    if let Some(e) = args.epochs {
        settings.epochs = e;
    }
    if let Some(h) = args.held_out {
        settings.held_out = h;
    }
    let started = Instant::now();
    let (train, test) = split(&args.data, &settings)?;
    let seg = Segmenter::new();
    let mut model = SentimentModel::train(&train, settings, &seg)?;
    let train_s = started.elapsed().as_secs_f64();
    let eval = (!test.is_empty()).then(|| model.evaluate(&test, &seg));
    model.summary.evaluation = eval.clone();
    if let Some(dir) = model_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    model.save(model_file)?;
    if json {
        let out = json!({"model": model_file, "train_reviews": train.len(), "terms": model.summary.terms,
            "train_seconds": train_s, "evaluation": eval});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "trained on {} reviews ({} terms) in {train_s:.1} s; saved {}",
        thousands(train.len() as u64),
        thousands(model.summary.terms as u64),
        model_file.display()
    );
    if let Some(e) = &eval {
        print_evaluation(e);
    }
    let (bad, good) = model.strongest_terms(12);
    let show = |terms: Vec<(String, f32)>| terms.into_iter().map(|(t, _)| t).collect::<Vec<_>>().join(" · ");
    println!("strongest towards negative: {}", show(bad));
    println!("strongest towards positive: {}", show(good));
    Ok(())
}

fn eval(model_file: &Path, data: DataArgs, json: bool) -> anyhow::Result<()> {
    let model = load_model(model_file)?;
    let (_, test) = split(&data, &model.settings)?;
    anyhow::ensure!(!test.is_empty(), "the model was trained with no held-out share");
    let e = model.evaluate(&test, &Segmenter::new());
    if json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        print_evaluation(&e);
    }
    Ok(())
}

fn print_evaluation(e: &Evaluation) {
    println!(
        "held-out {} reviews: accuracy {:.4}, F1 {:.4} (positive), {:.4} (negative), macro {:.4}; precision {:.4}, recall {:.4}",
        thousands(e.reviews as u64),
        e.accuracy,
        e.f1,
        e.negative_f1,
        e.macro_f1,
        e.precision,
        e.recall
    );
    let rows: Vec<Vec<String>> = e
        .per_category
        .iter()
        .map(|c| vec![c.category.clone(), thousands(c.reviews as u64), format!("{:.4}", c.accuracy)])
        .collect();
    print!("{}", table(&["category", "reviews", "accuracy"], &rows));
}

fn topics(ctx: &Context, model_file: &Path, args: TopicArgs, json: bool) -> anyhow::Result<()> {
    let seg = Segmenter::new();
    let reviews = match &args.data {
        Some(path) => read_labelled_reviews(path)?,
        None => store_reviews(&ctx.store, &load_model(model_file)?, &seg)?,
    };
    anyhow::ensure!(!reviews.is_empty(), "no reviews with text: import or generate some (or pass --data)");
    let options = TopicOptions { top_keywords: args.top, ..TopicOptions::default() };
    let report = complaint_topics(&reviews, &TopicLexicon::builtin(), &seg, options);
    if args.data.is_none() {
        // The store's report is kept for `GET /v1/reviews/topics`.
        let file = store_dir(ctx)?.join(TOPICS_FILE);
        std::fs::write(&file, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", file.display()))?;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_topics(&report);
    }
    Ok(())
}

fn print_topics(r: &TopicReport) {
    println!(
        "{} bad and {} good reviews; {} of bad reviews name no topic",
        thousands(r.negatives as u64),
        thousands(r.positives as u64),
        percent(r.untagged_share)
    );
    let rows: Vec<Vec<String>> = r
        .topics
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                thousands(t.negatives as u64),
                percent(t.share),
                percent(t.positive_share),
                format!("{:.2}", t.lift),
            ]
        })
        .collect();
    print!("{}", table(&["topic", "bad reviews", "share of bad", "share of good", "lift"], &rows));
    println!();
    let rows: Vec<Vec<String>> = r
        .keywords
        .iter()
        .map(|k| {
            vec![
                k.word.clone(),
                thousands(k.negatives as u64),
                percent(k.negative_share),
                percent(k.positive_share),
                format!("{:.2}", k.lift),
                format!("{:.0}", k.chi2),
                k.topic.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", table(&["complaint keyword", "bad", "of bad", "of good", "lift", "χ²", "topic"], &rows));
    println!();
    let rows: Vec<Vec<String>> = r
        .per_category
        .iter()
        .map(|c| {
            let top: Vec<String> = c
                .topics
                .iter()
                .filter(|t| t.negatives > 0)
                .take(3)
                .map(|t| format!("{} {}", t.key, percent(t.share)))
                .collect();
            let words: Vec<&str> = c.keywords.iter().map(|k| k.word.as_str()).collect();
            let name = if c.category.is_empty() { "(none)".to_string() } else { c.category.clone() };
            vec![name, thousands(c.negatives as u64), top.join(", "), words.join(" ")]
        })
        .collect();
    print!("{}", table(&["category", "bad reviews", "top topics", "top keywords"], &rows));
}

fn classify(model_file: &Path, args: ClassifyArgs, json: bool) -> anyhow::Result<()> {
    let model = load_model(model_file)?;
    let seg = Segmenter::new();
    let lexicon = TopicLexicon::builtin();
    let mut out = Vec::new();
    for text in &args.texts {
        let words = seg.words(text);
        let s = model.classify_words(&words);
        let topics: Vec<&str> =
            lexicon.mentions(text, &words).into_iter().map(|i| lexicon.topics[i].key.as_str()).collect();
        out.push(json!({"text": text, "positive_probability": s.positive_probability, "positive": s.positive,
            "topics": topics, "words": words}));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = out
        .iter()
        .map(|o| {
            let topics: Vec<&str> = o["topics"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
            vec![
                o["text"].as_str().unwrap_or_default().to_string(),
                if o["positive"].as_bool() == Some(true) { "positive" } else { "negative" }.to_string(),
                format!("{:.3}", o["positive_probability"].as_f64().unwrap_or_default()),
                topics.join(", "),
            ]
        })
        .collect();
    print!("{}", table(&["text", "sentiment", "P(positive)", "topics"], &rows));
    Ok(())
}

fn score(ctx: &Context, model_file: &Path, json: bool) -> anyhow::Result<()> {
    let model = load_model(model_file)?;
    let started = Instant::now();
    let people = score_people(&ctx.store, &model, &TopicLexicon::builtin(), &Segmenter::new())?;
    let rows: Vec<ScoreRow> = people
        .iter()
        .map(|p| ScoreRow {
            person_id: p.person_id.clone(),
            score: p.mean_positive_probability,
            label: Some(p.label().to_string()),
            detail: json!({"reviews": p.reviews, "positive": p.positive, "negative": p.negative,
                "mean_rating": p.mean_rating, "top_complaint": p.top_complaint, "complaints": p.complaints}),
        })
        .collect();
    let written = ctx.store.replace_scores(SCORE_MODEL, chrono::Utc::now(), &rows)?;
    let secs = started.elapsed().as_secs_f64();
    let reviews: usize = people.iter().map(|p| p.reviews).sum();
    let negative = people.iter().filter(|p| p.label() == "negative").count();
    if json {
        let out = json!({"people": written, "reviews": reviews, "negative_people": negative, "seconds": secs});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "scored {} reviews of {} people in {secs:.1} s ({} mostly negative); written to person_scores as model \"{SCORE_MODEL}\"",
            thousands(reviews as u64),
            thousands(written),
            thousands(negative as u64)
        );
    }
    Ok(())
}
